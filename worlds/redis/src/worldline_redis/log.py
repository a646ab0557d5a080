"""``events.create`` / ``create_batch`` as an optimistic compare-and-swap, and the log /
projection reads.

One write (one event, or a batch of events of one run) = one ``LOAD`` round trip (server
time, the run, every step / wait / hook the events name, the holders of the tokens their
``hook_created`` claim and of the idempotency keys their ``run_created`` carry, read
atomically), ``rules.decide`` for each event in order in Python on an overlay of what the
earlier events of the batch changed, then one ``APPEND`` script that re-checks the run's
``seq`` (the version of the run *and* of everything it owns: every change to a run's
steps, waits and hooks appends an event to that run) and every token / idempotency holder
read, and only then writes all the events (with their messages) in order. If a version
moved, ``APPEND`` writes nothing and we re-read and re-decide the whole batch. A refusal
raises before ``APPEND`` runs, so a batch is all or nothing. ``create`` is a batch of one.

A batch that expects the log where this process's last write left it (the runtime's
write-behind) skips ``LOAD``: it is decided on that remembered state
(:mod:`worldline.known`), and ``APPEND`` also checks that every entity the batch creates
does not exist yet. If anything moved, the batch loads and is decided again.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import worldline.rules as rules
from worldline import checks
from worldline.cursor import check_page_args, decode_cursor, encode_cursor
from worldline.errors import Conflict, NotFound, ValidationError, WorldError
from worldline.faults import fault_point
from worldline.ids import new_id
from worldline.model import (
    Enqueue,
    Event,
    EventResult,
    Hook,
    NewEvent,
    Page,
    Run,
    RunStatus,
    Step,
    Wait,
)
from worldline.overlay import Key, Names, Overlay, claimed_key, claimed_token, event_kind
from worldline.strip import strip_data

if TYPE_CHECKING:
    from .world import RedisWorld

#: entity kind -> (id field, class)
ENTITIES: dict[str, tuple[str, type[Any]]] = {
    "step": ("step_id", Step), "wait": ("wait_id", Wait), "hook": ("hook_id", Hook)}
#: compare-and-swap attempts before giving up (each failed attempt means another writer won)
MAX_ATTEMPTS = 64


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def create_event(world: RedisWorld, run_id: str, event: NewEvent,
                       enqueue: Enqueue | None) -> EventResult:
    """Validate, decide and append one event atomically (plus ``enqueue`` if appended)."""
    event = checks.event_args(run_id, event, enqueue)
    [result] = await _create(world, run_id, [event], [enqueue], None)
    return result


async def create_batch(world: RedisWorld, run_id: str, events: Sequence[NewEvent],
                       enqueues: Sequence[Enqueue | None] | None,
                       expect_seq: int | None) -> list[EventResult]:
    """Several events of one run decided in order, written by one script call (all or
    nothing); LogMoved (nothing written) unless the log ends at ``expect_seq`` if given."""
    batch, messages = checks.batch_args(run_id, events, enqueues, expect_seq)
    return await _create(world, run_id, batch, messages, expect_seq)


async def _create(world: RedisWorld, run_id: str, batch: list[NewEvent],
                  enqueues: list[Enqueue | None], expect_seq: int | None) -> list[EventResult]:
    if expect_seq is not None:
        results = await _try_on_known(world, run_id, batch, enqueues, expect_seq)
        if results is not None:
            return results
    for attempt in range(MAX_ATTEMPTS):
        results = await _try_once(world, run_id, batch, enqueues, expect_seq)
        if results is not None:
            return results
        if attempt >= 2:  # heavy contention: let the winners through
            await asyncio.sleep(random.uniform(0, 0.001 * min(attempt, 20)))
    raise Conflict(f"{batch[0].type}: gave up after {MAX_ATTEMPTS} contended attempts",
                   run_id=run_id, entity_id=batch[0].correlation_id)


#: entity kind -> index of its hash among the APPEND script's KEYS (1-based)
_ENTITY_KEY = {"step": 3, "wait": 4, "hook": 5}


async def _try_once(world: RedisWorld, run_id: str, batch: list[NewEvent],
                    enqueues: list[Enqueue | None],
                    expect_seq: int | None) -> list[EventResult] | None:
    keys = world.keys
    names = Names.of(batch)
    named, tokens, idem_keys = names.entities, names.tokens, names.keys
    groups = [named["step"], named["wait"], named["hook"], tokens, idem_keys]
    raw = await world.scripts.load(
        keys=[keys.run(run_id), keys.entities("step", run_id), keys.entities("wait", run_id),
              keys.entities("hook", run_id), keys.tokens, keys.idempotency],
        args=[*(len(g) for g in groups), *(x for g in groups for x in g)])
    sec, usec, run_doc, seq = map(_text, raw[:4])
    found = [[None if v is None else _text(v) for v in group] for group in raw[4:9]]
    now = datetime.fromtimestamp(int(sec), UTC).replace(microsecond=int(usec))
    run = Run.from_doc(json.loads(run_doc)) if run_doc else None
    rules.check_expected_seq(run_id, run, expect_seq)
    world.known.saw_server_time(now)
    entities: dict[Key, Any] = {}
    for kind, ids, docs in zip(("step", "wait", "hook"), groups, found, strict=False):
        cls = ENTITIES[kind][1]
        for cid, doc in zip(ids, docs, strict=True):
            entities[(kind, cid)] = cls.from_doc(json.loads(doc)) if doc else None
    token_docs = dict(zip(tokens, (d or "" for d in found[3]), strict=True))
    idem_holders = dict(zip(idem_keys, (d or "" for d in found[4]), strict=True))
    state = Overlay(run, now, entities,
                    {t: Hook.from_doc(json.loads(d)) if d else None
                     for t, d in token_docs.items()}, dict(idem_holders))
    decided = [state.decide(run_id, event) for event in batch]
    if not await _append(world, run_id, state, batch, decided, enqueues, int(seq),
                         token_docs, idem_holders):
        return None
    world.known.remember(state)
    return [result for result, _ in decided]


async def _try_on_known(world: RedisWorld, run_id: str, batch: list[NewEvent],
                        enqueues: list[Enqueue | None],
                        expect_seq: int) -> list[EventResult] | None:
    """The batch decided on the state this process last wrote, without ``LOAD`` (see
    :mod:`worldline.known`; ``APPEND`` refuses unless the run's seq is still
    ``expect_seq`` and every entity the batch creates is new); None when it must load."""
    prepared = world.known.overlay_for(run_id, batch, expect_seq)
    if prepared is None:
        return None
    state, absent = prepared
    try:
        decided = [state.decide(run_id, event) for event in batch]
    except WorldError:
        return None  # the loading path gives the authoritative answer
    if not await _append(world, run_id, state, batch, decided, enqueues, expect_seq, {}, {},
                         absent):
        world.known.forget(run_id)
        return None
    world.known.remember(state)
    return [result for result, _ in decided]


async def _append(world: RedisWorld, run_id: str, state: Overlay, batch: list[NewEvent],
                  decided: list[tuple[EventResult, rules.Decision]],
                  enqueues: list[Enqueue | None], seq: int, token_docs: dict[str, str],
                  idem_holders: dict[str, str], absent: set[Key] | None = None) -> bool:
    """One ``APPEND`` of what the decisions left, if the run is still at ``seq``, the
    token and key holders are still those read and the ``absent`` entities still do not
    exist; False (nothing written) otherwise."""
    keys = world.keys
    run = state.before
    ops: list[dict[str, Any]] = []
    queue_keys: list[str] = []
    queue_at: dict[str, int] = {}
    created_key, start_enqueue = "", False
    for event, (result, decision), enqueue in zip(batch, decided, enqueues, strict=True):
        recorded = result.event
        if recorded is None:
            continue
        kind, token = event_kind(event), claimed_token(event) or ""
        entity_out = decision.entity if decision.entity_changed else None
        ev: dict[str, Any] = {
            "event": dumps(recorded.to_doc()), "ek": _ENTITY_KEY.get(kind, 3),
            "entity_id": event.correlation_id or "",
            "entity_doc": dumps(entity_out.to_doc()) if entity_out is not None else "",
            "new_token": token if kind == "hook" and entity_out is not None else "",
            "delete_hook": decision.delete_entity,
            "clear_children": decision.clear_run_children}
        if recorded.type == "run_created" and run is None:
            created_key = claimed_key(event) or ""
        if enqueue is not None:
            if enqueue.queue not in queue_at:
                queue_at[enqueue.queue] = 14 + len(queue_keys)
                queue_keys.extend(keys.queue_keys(enqueue.queue))
            ev["enqueue"] = {"queue": enqueue.queue, "qk": queue_at[enqueue.queue],
                             "message_id": new_id("msg"), "payload": dumps(enqueue.payload),
                             "key": enqueue.idempotency_key or "",
                             "delay": float(enqueue.delay)}
            start_enqueue = start_enqueue or recorded.type == "run_created"
        ops.append(ev)
    if not ops:
        return True
    new_run = state.run
    assert new_run is not None
    old_status = run.status.value if run is not None else ""
    new_status = new_run.status.value
    released = new_run.status in (RunStatus.FAILED, RunStatus.CANCELLED) \
        and (run is None or not run.status.terminal) and new_run.idempotency_key
    op: dict[str, Any] = {
        "run_id": run_id, "expect_seq": int(seq), "run_doc": dumps(new_run.to_doc()),
        "created": run is None,
        "status_changed": run is not None and old_status != new_status,
        "tokens": [[t, d] for t, d in token_docs.items()],
        "idem": [[k, h] for k, h in idem_holders.items()],
        "idem_key": created_key, "release_key": new_run.idempotency_key if released else "",
        "absent": [[_ENTITY_KEY[kind], cid] for kind, cid in sorted(absent or ())],
        "retention": world.options.dedupe_retention, "events": ops,
    }
    if start_enqueue:
        fault_point("start.enqueue")  # events and messages go in one script call below
    wf = new_run.workflow_name
    reply = await world.scripts.append(keys=[
        keys.run(run_id), keys.events(run_id), keys.entities("step", run_id),
        keys.entities("wait", run_id), keys.entities("hook", run_id), keys.tokens,
        keys.idempotency, keys.all_runs, keys.runs_by(wf, None),
        keys.runs_by(None, old_status or new_status), keys.runs_by(None, new_status),
        keys.runs_by(wf, old_status or new_status), keys.runs_by(wf, new_status),
        *queue_keys], args=[dumps(op)])
    return _text(reply[0]) == "ok"


# -- reads ------------------------------------------------------------------------------

def check_text(value: Any, what: str) -> str:
    """``value`` if it is a string, else ValidationError (ids, tokens, names)."""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, got {type(value).__name__}")
    return value


async def get_run(world: RedisWorld, run_id: str, with_data: bool = True) -> Run:
    check_text(run_id, "run id")
    doc = await world.client.hget(world.keys.run(run_id), "doc")
    if doc is None:
        raise NotFound("no such run", run_id=run_id)
    run = Run.from_doc(json.loads(doc))
    return run if with_data else strip_data(run)


async def list_runs(world: RedisWorld, workflow_name: str | None, status: str | None,
                    limit: int, cursor: str | None, order: str, with_data: bool) -> Page[Run]:
    check_page_args(limit, order)
    if status is not None and (not isinstance(status, str)
                               or status not in RunStatus._value2member_map_):
        raise ValidationError(f"unknown run status {status!r}")
    if workflow_name is not None:
        check_text(workflow_name, "workflow name")
    index = world.keys.runs_by(workflow_name, None if status is None else str(status))
    after = None if cursor is None else str(decode_cursor(cursor, 1, (str,))[0])
    if order == "asc":
        bounds = ["-" if after is None else "(" + after, "+"]
    else:
        bounds = ["+" if after is None else "(" + after, "-", "REV"]
    ids = await world.client.execute_command("ZRANGE", index, bounds[0], bounds[1], "BYLEX",
                                             *bounds[2:], "LIMIT", 0, limit + 1)
    ids = [_text(i) for i in ids]
    more = len(ids) > limit
    ids = ids[:limit]
    docs = await _hget_many(world, [(world.keys.run(i), "doc") for i in ids])
    runs = [Run.from_doc(json.loads(d)) for d in docs if d is not None]
    if not with_data:
        runs = [strip_data(r) for r in runs]
    return Page(runs, encode_cursor(ids[-1]) if more and ids else None)


async def _hget_many(world: RedisWorld, fields: list[tuple[str, str]]) -> list[Any]:
    if not fields:
        return []
    async with world.client.pipeline(transaction=False) as pipe:
        for key, field in fields:
            pipe.hget(key, field)
        return list(await pipe.execute())


async def get_entity(world: RedisWorld, kind: str, run_id: str, entity_id: str,
                     with_data: bool = True) -> Any:
    check_text(run_id, "run id")
    check_text(entity_id, f"{kind} id")
    doc = await world.client.hget(world.keys.entities(kind, run_id), entity_id)
    if doc is None:
        raise NotFound(f"no such {kind}", run_id=run_id, entity_id=entity_id)
    entity = ENTITIES[kind][1].from_doc(json.loads(doc))
    return entity if with_data else strip_data(entity)


async def list_entities(world: RedisWorld, kind: str, run_id: str, limit: int,
                        cursor: str | None, order: str, with_data: bool = True) -> Page[Any]:
    """A run's steps / waits / hooks by ``(created_at, id)`` (the whole hash is read: a
    run's entities are few compared with a run list)."""
    check_page_args(limit, order)
    check_text(run_id, "run id")
    column, cls = ENTITIES[kind]
    docs = [json.loads(d) for d in await world.client.hvals(world.keys.entities(kind, run_id))]

    def key(doc: dict[str, Any]) -> tuple[str, str]:
        return (doc["created_at"], doc[column])

    docs.sort(key=key, reverse=order == "desc")
    if cursor is not None:
        mark = tuple(str(v) for v in decode_cursor(cursor, 2, (str, str)))
        docs = [d for d in docs if (key(d) > mark if order == "asc" else key(d) < mark)]
    page, more = docs[:limit], len(docs) > limit
    items = [cls.from_doc(d) for d in page]
    if not with_data:
        items = [strip_data(i) for i in items]
    return Page(items, encode_cursor(*key(page[-1])) if more and page else None)


async def get_hook_by_token(world: RedisWorld, token: str) -> Hook:
    check_text(token, "hook token")
    doc = await world.client.hget(world.keys.tokens, token)
    if doc is None:
        raise NotFound(f"no live hook holds token {token!r}")
    return Hook.from_doc(json.loads(doc))


async def list_events(world: RedisWorld, run_id: str, limit: int, cursor: str | None,
                      order: str, with_data: bool) -> Page[Event]:
    """Element ``i`` of the events list has ``seq = i + 1``, so a page is one LRANGE."""
    check_page_args(limit, order)
    key = world.keys.events(check_text(run_id, "run id"))
    after = None if cursor is None else decode_cursor(cursor, 1, (int,))[0]
    if after is not None and after < 0:
        raise ValidationError(f"malformed cursor {cursor!r}")
    if order == "asc":
        start = 0 if after is None else after
        raw = await world.client.lrange(key, start, start + limit)
        more, raw = len(raw) > limit, raw[:limit]
    else:
        if after is None:
            raw = await world.client.lrange(key, -(limit + 1), -1)
            more = len(raw) > limit
            raw = raw[-limit:] if more else raw
        else:
            end = after - 2
            start = max(0, end - limit + 1)
            raw = await world.client.lrange(key, start, end) if end >= 0 else []
            more = start > 0
        raw.reverse()
    events = [Event.from_doc(json.loads(r)) for r in raw]
    if not with_data:
        events = [strip_data(e) for e in events]
    return Page(events, encode_cursor(events[-1].seq) if more and events else None)


async def raw_events(world: RedisWorld, run_id: str) -> list[dict[str, Any]]:
    return [json.loads(r) for r in await world.client.lrange(world.keys.events(run_id), 0, -1)]
