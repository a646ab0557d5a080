"""Runs, the event log and the projections of a ``memory://`` namespace.

:func:`create_event` is the one write: under the namespace lock it loads the run and the
entity, asks :func:`worldline.rules.decide`, and applies the decision (event, projections,
message) with plain dict updates that cannot fail half-way. Payloads go in as JSON copies
and come out as deep copies, so no caller shares mutable state with the world.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from copy import deepcopy
from typing import Any, TypeVar

from ... import rules
from ...cursor import check_page_args, decode_cursor, encode_cursor
from ...errors import NotFound, ValidationError
from ...faults import fault_point
from ...model import (
    Enqueue,
    Event,
    EventResult,
    Hook,
    NewEvent,
    Page,
    Run,
    RunStatus,
    to_iso,
    utcnow,
)
from ...strip import strip_data
from . import queue
from .state import MemoryState, json_copy

T = TypeVar("T")
_KEY_HOLDING = (RunStatus.PENDING, RunStatus.RUNNING, RunStatus.COMPLETED)


def create_event(state: MemoryState, run_id: str, event: NewEvent, enqueue: Enqueue | None,
                 dedupe_retention: float) -> EventResult:
    """Validate, decide and apply one event atomically (plus ``enqueue`` if appended)."""
    event = rules.validate(run_id, event)
    event = NewEvent(event.type, event.correlation_id,
                     json_copy(event.data, f"{event.type} data", run_id=run_id))
    if enqueue is not None:
        rules.validate_message(enqueue.queue, enqueue.payload, enqueue.idempotency_key,
                               enqueue.delay)
    kind = event.type.split("_", 1)[0]
    with state.lock:
        run = state.runs.get(run_id)
        entity = None if kind == "run" else \
            state.entities[kind].get((run_id, str(event.correlation_id)))
        token_holder = _hook_by_token(state, event.data["token"]) \
            if event.type == "hook_created" else None
        key = event.data.get("idempotency_key") if event.type == "run_created" else None
        holder = next((r.run_id for r in state.runs.values()
                       if key and r.idempotency_key == key and r.status in _KEY_HOLDING), None)
        now = utcnow()
        decision = rules.decide(run_id, event, run, entity, now=now,
                                token_holder=token_holder, idempotency_holder=holder)
        if decision.event_type is None:
            return deepcopy(EventResult(None, decision.run, decision.entity))
        new_run, recorded = decision.record(run_id, event.correlation_id, now)
        if enqueue is not None and recorded.type == "run_created":
            fault_point("start.enqueue")  # before any mutation: a failure changes nothing
        state.events.setdefault(run_id, []).append(recorded)
        state.runs[run_id] = new_run
        if decision.entity_changed and decision.entity is not None:
            state.entities[kind][(run_id, str(event.correlation_id))] = decision.entity
        if decision.delete_entity:
            del state.entities[kind][(run_id, str(event.correlation_id))]
        if decision.clear_run_children:
            for children in (state.entities["hook"], state.entities["wait"]):
                for owned in [k for k in children if k[0] == run_id]:
                    del children[owned]
        if enqueue is not None:
            queue.put(state, enqueue.queue, enqueue.payload, enqueue.idempotency_key,
                      enqueue.delay, dedupe_retention)
    return deepcopy(EventResult(recorded, new_run, decision.entity))


def _hook_by_token(state: MemoryState, token: Any) -> Hook | None:
    for hook in state.entities["hook"].values():
        if isinstance(hook, Hook) and hook.token == token:
            return hook
    return None


# -- reads ------------------------------------------------------------------------------

def check_id(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, got {type(value).__name__}")
    return value


def get_run(state: MemoryState, run_id: str, with_data: bool) -> Run:
    run = state.runs.get(check_id(run_id, "run id"))
    if run is None:
        raise NotFound("no such run", run_id=run_id)
    return deepcopy(run) if with_data else strip_data(run)


def list_runs(state: MemoryState, workflow_name: str | None, status: str | None, limit: int,
              cursor: str | None, order: str, with_data: bool) -> Page[Run]:
    if workflow_name is not None:
        check_id(workflow_name, "workflow name")
    if status is not None and (not isinstance(status, str)
                               or status not in RunStatus._value2member_map_):
        raise ValidationError(f"unknown run status {status!r}")
    with state.lock:
        runs = [r for r in state.runs.values()
                if (workflow_name is None or r.workflow_name == workflow_name)
                and (status is None or r.status == status)]
    return paginate(runs, lambda r: (r.run_id,), (str,), limit, cursor, order, with_data)


def get_entity(state: MemoryState, kind: str, run_id: str, entity_id: str,
               with_data: bool = True) -> Any:
    key = (check_id(run_id, "run id"), check_id(entity_id, f"{kind} id"))
    entity = state.entities[kind].get(key)
    if entity is None:
        raise NotFound(f"no such {kind}", run_id=run_id, entity_id=entity_id)
    return deepcopy(entity) if with_data else strip_data(entity)


def list_entities(state: MemoryState, kind: str, run_id: str, limit: int, cursor: str | None,
                  order: str, with_data: bool = True) -> Page[Any]:
    check_id(run_id, "run id")
    with state.lock:
        items = [e for (rid, _), e in state.entities[kind].items() if rid == run_id]
    return paginate(items, lambda e: (to_iso(e.created_at), getattr(e, f"{kind}_id")),
                    (str, str), limit, cursor, order, with_data)


def get_hook_by_token(state: MemoryState, token: str) -> Hook:
    with state.lock:
        hook = _hook_by_token(state, check_id(token, "hook token"))
    if hook is None:
        raise NotFound(f"no live hook holds token {token!r}")
    return deepcopy(hook)


def list_events(state: MemoryState, run_id: str, limit: int, cursor: str | None, order: str,
                with_data: bool) -> Page[Event]:
    check_id(run_id, "run id")
    with state.lock:
        events = list(state.events.get(run_id, ()))
    return paginate(events, lambda e: (e.seq,), (int,), limit, cursor, order, with_data)


def raw_events(state: MemoryState, run_id: str) -> list[dict[str, Any]]:
    with state.lock:
        events = list(state.events.get(run_id, ()))
    return [{"seq": e.seq, "type": e.type.value, "correlation_id": e.correlation_id,
             "data": json_copy(e.data, "event data"), "event_id": e.event_id,
             "created_at": to_iso(e.created_at)} for e in events]


def delete_run(state: MemoryState, run_id: str) -> bool:
    """Delete a terminal run and everything it owns, under the lock; False if it is live."""
    with state.lock:
        run = state.runs.get(run_id)
        if run is None or not run.status.terminal:
            return False
        fault_point("reconcile.mid_delete")  # before any change: all or nothing
        del state.runs[run_id]
        state.events.pop(run_id, None)
        for entities in state.entities.values():
            for key in [k for k in entities if k[0] == run_id]:
                del entities[key]
        for key in [k for k in state.streams if k[0] == run_id]:
            del state.streams[key]
        for message_id in [m.message_id for m in state.messages.values()
                           if m.payload.get("run_id") == run_id]:
            del state.messages[message_id]
        return True


def paginate(items: Iterable[T], key: Callable[[T], tuple[Any, ...]],
             types: tuple[type, ...], limit: int, cursor: str | None, order: str,
             with_data: bool) -> Page[T]:
    """One page of ``items`` sorted by ``key`` (whose values have ``types``), after
    ``cursor``; fetches limit + 1 to know whether there is a next page."""
    check_page_args(limit, order)
    rows = sorted(items, key=key, reverse=order == "desc")
    if cursor is not None:
        after = tuple(decode_cursor(cursor, len(types), types))
        rows = [r for r in rows if (key(r) > after if order == "asc" else key(r) < after)]
    page = rows[:limit]
    out = deepcopy(page) if with_data else [strip_data(item) for item in page]
    return Page(out, encode_cursor(*key(page[-1])) if len(rows) > limit else None)
