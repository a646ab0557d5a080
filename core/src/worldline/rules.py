"""The state machines of SPEC §2–§3 as pure functions.

Every world calls :func:`validate` and then :func:`decide` *inside* its own atomic unit
(a transaction, a Lua script, a compare-and-swap on one document): it reads the run, the
entity named by the correlation id and, for ``hook_created``, the live holder of the token;
``decide`` answers what to append and what the projections become, or raises the typed
error. Atomicity is the world's job; the rules live only here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import Conflict, Gone, LogMoved, NotFound, TooEarly, ValidationError
from .ids import new_id
from .model import (
    JSON,
    Event,
    EventType,
    Hook,
    HookStatus,
    NewEvent,
    Run,
    RunStatus,
    Step,
    StepStatus,
    Wait,
    WaitStatus,
    from_iso,
    to_iso,
)

#: Data keys each client event type accepts: name -> (required, allowed JSON types or None=any)
_ANY = None
_SCHEMAS: dict[EventType, dict[str, tuple[bool, tuple[type, ...] | None]]] = {
    EventType.RUN_CREATED: {"workflow_name": (True, (str,)), "input": (False, _ANY),
                            "idempotency_key": (False, (str, type(None)))},
    EventType.RUN_STARTED: {},
    EventType.RUN_COMPLETED: {"output": (False, _ANY)},
    EventType.RUN_FAILED: {"error": (True, (dict,))},
    EventType.RUN_CANCELLED: {"reason": (False, (str, type(None)))},
    EventType.STEP_CREATED: {"step_name": (True, (str,)), "input": (False, _ANY)},
    EventType.STEP_STARTED: {"inline": (False, (bool,))},
    EventType.STEP_COMPLETED: {"output": (False, _ANY), "at": (False, (str,))},
    EventType.STEP_FAILED: {"error": (True, (dict,))},
    EventType.STEP_RETRYING: {"error": (True, (dict,)), "retry_after": (False, (str, type(None)))},
    EventType.WAIT_CREATED: {"resume_at": (True, (str,))},
    EventType.WAIT_COMPLETED: {},
    EventType.HOOK_CREATED: {"token": (True, (str,)), "metadata": (False, _ANY)},
    EventType.HOOK_RECEIVED: {"payload": (False, _ANY)},
    EventType.HOOK_DISPOSED: {},
}

_TIME_FIELDS = {"resume_at", "retry_after", "at"}


@dataclass(frozen=True)
class Decision:
    """What a world must write for one accepted event.

    ``event_type`` is None for an idempotent no-op (nothing is appended, nothing changes).
    ``run`` and ``entity`` are the projections after the event; write them when
    ``run_changed`` / ``entity_changed``. ``delete_entity`` removes the hook it names;
    ``clear_run_children`` removes every hook and wait of the run (the run became terminal).
    """

    event_type: EventType | None
    data: dict[str, JSON]
    run: Run
    entity: Step | Wait | Hook | None = None
    run_changed: bool = False
    entity_changed: bool = False
    delete_entity: bool = False
    clear_run_children: bool = False

    def record(self, run_id: str, correlation_id: str | None,
               now: datetime) -> tuple[Run, Event]:
        """The appended event (next sequence number, a new id) and the run carrying it."""
        assert self.event_type is not None, "a no-op appends nothing"
        seq = self.run.last_seq + 1
        event = Event(event_id=new_id("evt"), run_id=run_id, seq=seq, type=self.event_type,
                      correlation_id=correlation_id, data=self.data, created_at=now)
        return self.run.replace(last_seq=seq), event


def validate(run_id: Any, event: Any) -> NewEvent:
    """Check an event's shape; return it with its type normalised. Raises ValidationError."""
    if not isinstance(run_id, str) or not run_id.startswith("run_") or len(run_id) < 5:
        raise ValidationError(f"run id must be a string 'run_…', got {run_id!r}")
    if not isinstance(event, NewEvent):
        raise ValidationError(f"event must be a NewEvent, got {type(event).__name__}",
                              run_id=run_id)
    try:
        etype = EventType(event.type)
    except ValueError:
        raise ValidationError(f"unknown event type {event.type!r}", run_id=run_id) from None
    if etype is EventType.HOOK_CONFLICT:
        raise ValidationError("hook_conflict is written by the world only", run_id=run_id)
    if not isinstance(event.data, dict):
        raise ValidationError(f"{etype} data must be a dict, got {type(event.data).__name__}",
                              run_id=run_id)
    _check_correlation(run_id, etype, event.correlation_id)
    schema = _SCHEMAS[etype]
    for key, value in event.data.items():
        if key not in schema:
            raise ValidationError(
                f"{etype} does not take data key {key!r} (accepted: {sorted(schema) or 'none'})",
                run_id=run_id, entity_id=event.correlation_id)
        types = schema[key][1]
        if types is not None and not isinstance(value, types):
            raise ValidationError(
                f"{etype} data[{key!r}] must be {' or '.join(t.__name__ for t in types)}, "
                f"got {type(value).__name__}", run_id=run_id, entity_id=event.correlation_id)
        if key in _TIME_FIELDS and value is not None:
            _parse_time(run_id, etype, key, value)
    for key, (required, _types) in schema.items():
        if required and key not in event.data:
            raise ValidationError(f"{etype} requires data key {key!r}", run_id=run_id,
                                  entity_id=event.correlation_id)
    for key in ("workflow_name", "step_name", "token"):
        if key in event.data and not event.data[key]:
            raise ValidationError(f"{etype} data[{key!r}] must not be empty", run_id=run_id)
    if event.data.get("idempotency_key") == "":
        raise ValidationError(f"{etype} idempotency_key must be None or a non-empty string",
                              run_id=run_id)
    check_json(event.data, f"{etype} data", run_id=run_id, entity_id=event.correlation_id)
    return NewEvent(type=etype, correlation_id=event.correlation_id, data=dict(event.data))


def check_json(value: Any, what: str, **where: Any) -> None:
    """ValidationError unless ``value`` is JSON: None, bool, int, finite float, str, and
    lists (or tuples) and dicts with string keys of those. Every world stores the same."""
    stack, seen = [(value, what)], 0
    while stack:
        item, path = stack.pop()
        seen += 1
        if seen > 100_000:
            raise ValidationError(f"{what} is too large or too deeply nested", **where)
        if isinstance(item, dict):
            for key, inner in item.items():
                if not isinstance(key, str):
                    raise ValidationError(f"{path} has a non-string key {key!r}", **where)
                stack.append((inner, f"{path}[{key!r}]"))
        elif isinstance(item, list | tuple):
            stack.extend((inner, f"{path}[{i}]") for i, inner in enumerate(item))
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValidationError(f"{path} is {item!r}, which JSON cannot hold", **where)
        elif item is not None and not isinstance(item, bool | int | float | str):
            raise ValidationError(f"{path} is a {type(item).__name__}, not a JSON value",
                                  **where)


def validate_message(queue: Any, payload: Any, key: Any, delay: Any) -> float:
    """Check the arguments of an enqueue (or an ``Enqueue``); return ``delay`` as a float.
    Raises ValidationError."""
    if not isinstance(queue, str) or not queue:
        raise ValidationError(f"queue name must be a non-empty string, got {queue!r}")
    if not isinstance(payload, dict):
        raise ValidationError(f"message payload must be a dict, got {type(payload).__name__}")
    check_json(payload, "message payload")
    if key is not None and (not isinstance(key, str) or not key):
        raise ValidationError(f"idempotency key must be a non-empty string, got {key!r}")
    if isinstance(delay, bool) or not isinstance(delay, int | float) \
            or not 0 <= delay < math.inf:
        raise ValidationError(f"delay must be a finite number of seconds >= 0, got {delay!r}")
    return float(delay)


def _check_correlation(run_id: str, etype: EventType, correlation_id: Any) -> None:
    kind = etype.kind
    if kind == "run":
        if correlation_id not in (None, run_id):
            raise ValidationError(f"{etype} takes no correlation id, got {correlation_id!r}",
                                  run_id=run_id)
        return
    if correlation_id is None:
        raise ValidationError(f"{etype} requires a correlation id ('{kind}_…')", run_id=run_id)
    if not isinstance(correlation_id, str) or not correlation_id.startswith(f"{kind}_") \
            or len(correlation_id) <= len(kind) + 1:
        raise ValidationError(f"{etype} correlation id must be a string '{kind}_…', "
                              f"got {correlation_id!r}", run_id=run_id)


def _parse_time(run_id: str, etype: EventType, key: str, value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{etype} data[{key!r}] is not an ISO-8601 time: {value!r}",
                              run_id=run_id) from None
    if parsed.tzinfo is None:
        raise ValidationError(f"{etype} data[{key!r}] must carry a UTC offset: {value!r}",
                              run_id=run_id)
    return parsed


def check_expected_seq(run_id: str, run: Run | None, expect_seq: int | None) -> None:
    """``create_batch(..., expect_seq=N)``: LogMoved unless the run's log ends at ``N``.
    Called inside the batch's atomic unit, before the first event is decided."""
    if expect_seq is None:
        return
    actual = run.last_seq if run is not None else 0
    if actual != expect_seq:
        raise LogMoved(f"the log is at seq {actual}, the batch expected {expect_seq}",
                       run_id=run_id, expected=expect_seq, actual=actual)


def decide(
    run_id: str,
    event: NewEvent,
    run: Run | None,
    entity: Step | Wait | Hook | None,
    *,
    now: datetime,
    token_holder: Hook | None = None,
    idempotency_holder: str | None = None,
) -> Decision:
    """Decide the outcome of a validated event against the current state.

    ``entity`` is the step / wait / hook with the event's correlation id in this run (None
    if absent). ``token_holder`` is the live hook holding ``data['token']`` (for
    ``hook_created``); ``idempotency_holder`` the live or completed run holding
    ``data['idempotency_key']`` (for ``run_created``).
    """
    etype = EventType(event.type)
    if etype is EventType.RUN_CREATED:
        return _run_created(run_id, event, run, now, idempotency_holder)
    if run is None:
        raise NotFound(f"{etype}: no such run", run_id=run_id)
    handler = _HANDLERS[etype.kind]
    return handler(etype, event, run, entity, now, token_holder)


def _run_created(run_id: str, event: NewEvent, run: Run | None, now: datetime,
                 idempotency_holder: str | None) -> Decision:
    if run is not None:
        raise Conflict("run_created: run already exists", run_id=run_id, state=run.status)
    key = event.data.get("idempotency_key")
    if idempotency_holder is not None:
        raise Conflict(f"run_created: idempotency key {key!r} is held by {idempotency_holder}",
                       run_id=run_id, existing_run_id=idempotency_holder)
    new = Run(run_id=run_id, workflow_name=event.data["workflow_name"],
              status=RunStatus.PENDING, input=event.data.get("input"), created_at=now,
              updated_at=now, idempotency_key=key)
    return Decision(EventType.RUN_CREATED, event.data, new, run_changed=True)


def _run_event(etype: EventType, event: NewEvent, run: Run, entity: Any, now: datetime,
               token_holder: Hook | None) -> Decision:
    status = run.status
    if etype is EventType.RUN_STARTED:
        if status.terminal:
            raise Gone("run_started: run is over", run_id=run.run_id, state=status)
        if status is RunStatus.RUNNING:
            return Decision(None, {}, run)
        new = run.replace(status=RunStatus.RUNNING, started_at=now, updated_at=now)
        return Decision(etype, event.data, new, run_changed=True)
    if etype is EventType.RUN_CANCELLED and status is RunStatus.CANCELLED:
        return Decision(None, {}, run)
    if status.terminal:
        raise Conflict(f"{etype}: run is already {status}", run_id=run.run_id, state=status)
    if etype is not EventType.RUN_CANCELLED and status is not RunStatus.RUNNING:
        raise Conflict(f"{etype}: run must be running", run_id=run.run_id, state=status)
    changes: dict[str, Any] = {"updated_at": now, "completed_at": now}
    if etype is EventType.RUN_COMPLETED:
        changes.update(status=RunStatus.COMPLETED, output=event.data.get("output"))
    elif etype is EventType.RUN_FAILED:
        changes.update(status=RunStatus.FAILED, error=event.data["error"])
    else:
        changes.update(status=RunStatus.CANCELLED)
    return Decision(etype, event.data, run.replace(**changes), run_changed=True,
                    clear_run_children=True)


def _step_event(etype: EventType, event: NewEvent, run: Run, step: Any, now: datetime,
                token_holder: Hook | None) -> Decision:
    cid = event.correlation_id
    if etype is EventType.STEP_CREATED:
        if run.status.terminal:
            raise Conflict("step_created: run is over", run_id=run.run_id, entity_id=cid,
                           state=run.status)
        if step is not None:
            raise Conflict("step_created: step already exists", run_id=run.run_id,
                           entity_id=cid, state=step.status)
        new = Step(run_id=run.run_id, step_id=str(cid), step_name=event.data["step_name"],
                   status=StepStatus.PENDING, input=event.data.get("input"), created_at=now,
                   updated_at=now)
        return Decision(etype, event.data, run, new, entity_changed=True)
    if step is None:
        raise NotFound(f"{etype}: no such step", run_id=run.run_id, entity_id=cid)
    assert isinstance(step, Step)
    if step.status.terminal:
        raise Conflict(f"{etype}: step is already {step.status}", run_id=run.run_id,
                       entity_id=cid, state=step.status)
    if etype in (EventType.STEP_STARTED, EventType.STEP_RETRYING) and run.status.terminal:
        raise Gone(f"{etype}: run is over", run_id=run.run_id, entity_id=cid,
                   state=run.status)
    if etype is EventType.STEP_STARTED:
        if step.retry_after is not None and now < step.retry_after:
            left = (step.retry_after - now).total_seconds()
            raise TooEarly(f"step_started: retry not before {to_iso(step.retry_after)}",
                           run_id=run.run_id, entity_id=cid, state=step.status, retry_in=left)
        new = step.replace(status=StepStatus.RUNNING, attempt=step.attempt + 1,
                           started_at=step.started_at or now, updated_at=now)
        return Decision(etype, event.data, run, new, entity_changed=True)
    if step.status is not StepStatus.RUNNING:
        raise Conflict(f"{etype}: step must be running", run_id=run.run_id, entity_id=cid,
                       state=step.status)
    if etype is EventType.STEP_COMPLETED:
        new = step.replace(status=StepStatus.COMPLETED, output=event.data.get("output"),
                           error=None, updated_at=now, completed_at=now)
        return Decision(etype, event.data, run, new, entity_changed=True)
    if etype is EventType.STEP_FAILED:
        new = step.replace(status=StepStatus.FAILED, error=event.data["error"], output=None,
                           updated_at=now, completed_at=now)
        return Decision(etype, event.data, run, new, entity_changed=True)
    retry_after = from_iso(event.data.get("retry_after")) or now
    data = {**event.data, "retry_after": to_iso(retry_after)}
    new = step.replace(status=StepStatus.PENDING, error=event.data["error"], output=None,
                       retry_after=retry_after, updated_at=now)
    return Decision(etype, data, run, new, entity_changed=True)


def _wait_event(etype: EventType, event: NewEvent, run: Run, wait: Any, now: datetime,
                token_holder: Hook | None) -> Decision:
    cid = event.correlation_id
    if etype is EventType.WAIT_CREATED:
        if run.status.terminal:
            raise Conflict("wait_created: run is over", run_id=run.run_id, entity_id=cid,
                           state=run.status)
        if wait is not None:
            raise Conflict("wait_created: wait already exists", run_id=run.run_id,
                           entity_id=cid, state=wait.status)
        resume_at = from_iso(event.data["resume_at"])
        assert resume_at is not None
        new = Wait(run_id=run.run_id, wait_id=str(cid), status=WaitStatus.WAITING,
                   resume_at=resume_at, created_at=now, updated_at=now)
        return Decision(etype, event.data, run, new, entity_changed=True)
    if run.status.terminal:
        raise Gone("wait_completed: run is over", run_id=run.run_id, entity_id=cid,
                   state=run.status)
    if wait is None:
        raise NotFound("wait_completed: no such wait", run_id=run.run_id, entity_id=cid)
    if wait.status is WaitStatus.COMPLETED:
        raise Conflict("wait_completed: wait is already completed", run_id=run.run_id,
                       entity_id=cid, state=wait.status)
    new = wait.replace(status=WaitStatus.COMPLETED, completed_at=now, updated_at=now)
    return Decision(etype, event.data, run, new, entity_changed=True)


def _hook_event(etype: EventType, event: NewEvent, run: Run, hook: Any, now: datetime,
                token_holder: Hook | None) -> Decision:
    cid = event.correlation_id
    if etype is EventType.HOOK_CREATED:
        if run.status.terminal:
            raise Conflict("hook_created: run is over", run_id=run.run_id, entity_id=cid,
                           state=run.status)
        if hook is not None:
            raise Conflict("hook_created: hook already exists", run_id=run.run_id,
                           entity_id=cid, state=hook.status)
        token = event.data["token"]
        if token_holder is not None:
            data = {"token": token, "owner_run_id": token_holder.run_id,
                    "owner_hook_id": token_holder.hook_id}
            return Decision(EventType.HOOK_CONFLICT, data, run)
        new = Hook(run_id=run.run_id, hook_id=str(cid), token=token, status=HookStatus.ACTIVE,
                   metadata=event.data.get("metadata"), created_at=now, updated_at=now)
        return Decision(etype, event.data, run, new, entity_changed=True)
    if etype is EventType.HOOK_RECEIVED and run.status.terminal:
        raise Gone("hook_received: run is over", run_id=run.run_id, entity_id=cid,
                   state=run.status)
    if hook is None:
        raise NotFound(f"{etype}: no such live hook", run_id=run.run_id, entity_id=cid,
                       state=run.status)
    if etype is EventType.HOOK_RECEIVED:
        return Decision(etype, event.data, run, hook)
    return Decision(etype, event.data, run, hook, delete_entity=True)


_HANDLERS = {"run": _run_event, "step": _step_event, "wait": _wait_event, "hook": _hook_event}
