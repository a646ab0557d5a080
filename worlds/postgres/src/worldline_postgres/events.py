"""``events.create`` / ``create_batch`` on Postgres: one transaction, two round trips
whatever the batch's length (pipeline mode, see :mod:`.tx`).

Round trip 1: ``BEGIN``; ``SELECT … FOR UPDATE`` of the run row (the lock every writer of
the run queues on); then, in a separate statement so its snapshot is taken *after* the
lock is granted, ``clock_timestamp()``, every step / wait / hook the batch's events name,
the live holders of the tokens its ``hook_created`` events claim and of the idempotency
keys its ``run_created`` events carry. ``expect_seq`` is checked against the locked run;
then :func:`worldline.rules.decide` answers each event in order, in Python, on the run and
entities the previous decisions left (an overlay: a hook disposed, or a wait / hook cleared
by a terminal run, is None; a token freed or taken earlier in the batch is seen as such).
Every event of a batch gets the same ``now``. Round trip 2 sends the writes — the run row
(its final state, once), the event inserts, the deletes (hooks disposed, the waits and
hooks of a terminal run), the final state of each changed entity, the queue messages with
their ``NOTIFY`` — and ``COMMIT``. A refusal raises before anything is sent, so a batch is all or
nothing. Unique constraints back the decision where no row can be locked (``run_created``,
hook tokens): a violation rolls back and the whole transaction is retried, so ``decide``
then sees the winner and answers Conflict / ``hook_conflict``.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from psycopg import AsyncConnection, errors
from psycopg.types.json import Json
from worldline import rules
from worldline.errors import WorldError
from worldline.faults import fault_point
from worldline.known import KnownRuns
from worldline.model import (
    Enqueue,
    Event,
    EventResult,
    Hook,
    NewEvent,
    Run,
    Step,
    Wait,
)
from worldline.overlay import Entity, Key, Names, Overlay

from . import queue
from .tx import pipelined

#: entity kind -> (table, id column, class)
ENTITIES: dict[str, tuple[str, str, type[Any]]] = {
    "step": ("steps", "step_id", Step),
    "wait": ("waits", "wait_id", Wait),
    "hook": ("hooks", "hook_id", Hook),
}
_LIVE = "('pending', 'running', 'completed')"
_RETRIES = 5

#: the post-lock read of round trip 1 (one shape for every batch, so it is prepared once)
_STATE_SQL = "SELECT clock_timestamp(), " + ", ".join([
    *(f"(SELECT json_agg(doc) FROM {table}"
      f" WHERE run_id = %(run_id)s AND {column} = ANY(%({kind})s::text[]))"
      for kind, (table, column, _) in ENTITIES.items()),
    "(SELECT json_agg(doc) FROM hooks WHERE token = ANY(%(tokens)s::text[]))",
    "(SELECT json_object_agg(idempotency_key, run_id) FROM runs"
    f" WHERE idempotency_key = ANY(%(keys)s::text[]) AND status IN {_LIVE})",
])


async def create_event(conn: AsyncConnection, channel: str, run_id: str, event: NewEvent,
                       enqueue: Enqueue | None, retention: float,
                       known: KnownRuns | None = None) -> EventResult:
    """Decide and write one validated event atomically (plus ``enqueue`` if appended)."""
    [result] = await create_batch(conn, channel, run_id, [event], [enqueue], retention,
                                  known=known)
    return result


async def create_batch(conn: AsyncConnection, channel: str, run_id: str,
                       batch: list[NewEvent], enqueues: list[Enqueue | None],
                       retention: float, expect_seq: int | None = None,
                       known: KnownRuns | None = None) -> list[EventResult]:
    """Several validated events in one transaction, each decided on the state the previous
    ones left; all or nothing, two round trips (one when ``known`` holds the state the log
    ends with at ``expect_seq``: see :mod:`worldline.known`; the events' primary key, the run
    row and insert-only creation are the guards). LogMoved (nothing written) unless the
    run's log ends at ``expect_seq`` when it is given."""
    if known is not None and expect_seq is not None:
        results = await _create_on_known(conn, channel, run_id, batch, enqueues, retention,
                                         expect_seq, known)
        if results is not None:
            return results
    for attempt in range(_RETRIES):
        try:
            async with pipelined(conn):
                state = await _read(conn, run_id, batch)
                if known is not None:
                    known.saw_server_time(state.now)
                rules.check_expected_seq(run_id, state.run, expect_seq)
                results = [state.decide(run_id, event)[0] for event in batch]
                await _write(conn, channel, run_id, state, results, enqueues, retention)
        except errors.UniqueViolation:
            # a concurrent writer won a row no lock protects (a new run, a token, a key):
            # replay the transaction so decide() sees it and answers the typed outcome
            if attempt == _RETRIES - 1:
                raise
            continue
        if known is not None:
            known.remember(state)
        return results
    raise AssertionError("unreachable")


async def _create_on_known(conn: AsyncConnection, channel: str, run_id: str,
                           batch: list[NewEvent], enqueues: list[Enqueue | None],
                           retention: float, expect_seq: int,
                           known: KnownRuns) -> list[EventResult] | None:
    """The batch decided on the state this process last wrote, in one round trip; None
    when it must be read instead (nothing remembered, or a guard refused the write)."""
    prepared = known.overlay_for(run_id, batch, expect_seq)
    if prepared is None:
        return None
    state, absent = prepared
    try:
        results = [state.decide(run_id, event)[0] for event in batch]
    except WorldError:
        return None  # the reading path gives the authoritative answer
    try:
        async with pipelined(conn):
            await _write(conn, channel, run_id, state, results, enqueues, retention,
                         insert_only=absent, guarded=True)
    except (errors.UniqueViolation, errors.DivisionByZero):
        known.forget(run_id)  # the run moved (or is gone) since we wrote it
        return None
    except BaseException:
        known.forget(run_id)
        raise
    known.remember(state)
    return results


async def _read(conn: AsyncConnection, run_id: str, batch: list[NewEvent]) -> Overlay:
    """Round trip 1: lock the run row, then read everything the batch's decisions need."""
    names = Names.of(batch)
    named, tokens, keys = names.entities, names.tokens, names.keys
    run_cur = await conn.execute("SELECT doc FROM runs WHERE run_id = %s FOR UPDATE",
                                 (run_id,))
    state_cur = await conn.execute(_STATE_SQL, {"run_id": run_id, **named, "tokens": tokens,
                                                "keys": keys})
    run_row = await run_cur.fetchone()
    row = await state_cur.fetchone()
    assert row is not None
    now, *docs, token_docs, key_holders = row
    entities: dict[Key, Entity | None] = {
        (kind, cid): None for kind, ids in named.items() for cid in ids}
    for (kind, (_, column, cls)), found in zip(ENTITIES.items(), docs, strict=True):
        for doc in found or ():
            entities[(kind, doc[column])] = cls.from_doc(doc)
    holders: dict[str, Hook | None] = dict.fromkeys(tokens)
    for doc in token_docs or ():
        hook = Hook.from_doc(doc)
        holders[hook.token] = hook
    return Overlay(run=Run.from_doc(run_row[0]) if run_row else None,
                   now=now.astimezone(UTC), entities=entities, holders=holders,
                   idempotency=key_holders or {})


async def _write(conn: AsyncConnection, channel: str, run_id: str, state: Overlay,
                 results: list[EventResult], enqueues: list[Enqueue | None],
                 retention: float, *, insert_only: set[Key] | frozenset[Key] = frozenset(),
                 guarded: bool = False) -> None:
    """Round trip 2 (sent with ``COMMIT``): the final state the decisions left. Entities
    in ``insert_only`` are inserted (a row already there fails the transaction);
    ``guarded``: the run row must exist (the transaction fails otherwise)."""
    recorded = [r.event for r in results if r.event is not None]
    if not recorded:
        return
    assert state.run is not None
    await _save_run(conn, state.run, insert=state.before is None, guarded=guarded)
    await conn.cursor().executemany(
        "INSERT INTO events (run_id, seq, event_id, type, correlation_id, created_at, data)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [_event_row(event) for event in recorded])
    # deletes first: what is left is a subset of the hooks live at the end of the batch,
    # whose tokens are unique, so no upsert below can collide (a hook id disposed and
    # created again, maybe with another token, is a fresh insert)
    if state.disposed:
        await conn.execute("DELETE FROM hooks WHERE run_id = %s AND hook_id = ANY(%s)",
                           (run_id, sorted(state.disposed)))
    if state.cleared:
        await conn.execute("DELETE FROM hooks WHERE run_id = %s", (run_id,))
        await conn.execute("DELETE FROM waits WHERE run_id = %s", (run_id,))
    for key, entity in state.saved():
        await _save_entity(conn, key[0], entity, insert_only=key in insert_only)
    for result, enqueue in zip(results, enqueues, strict=True):
        if enqueue is None or result.event is None:
            continue
        if result.event.type == "run_created":
            fault_point("start.enqueue")  # a failure here must leave no run behind
        await queue.enqueue_in(conn, channel, enqueue.queue, enqueue.payload,
                               enqueue.idempotency_key, enqueue.delay, retention)


def _event_row(event: Event) -> tuple[Any, ...]:
    return (event.run_id, event.seq, event.event_id, event.type.value, event.correlation_id,
            event.created_at, Json(event.data))


async def _save_run(conn: AsyncConnection, run: Run, *, insert: bool,
                    guarded: bool = False) -> None:
    if insert:
        await conn.execute(
            "INSERT INTO runs (run_id, workflow_name, status, idempotency_key, doc, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (run.run_id, run.workflow_name, run.status.value, run.idempotency_key,
             Json(run.to_doc()), run.updated_at))
        return
    update = ("UPDATE runs SET status = %s, doc = %s, updated_at = %s WHERE run_id = %s")
    if guarded:  # no row: 1 / 0 fails the transaction
        update = f"WITH updated AS ({update} RETURNING 1) SELECT 1 / count(*) FROM updated"
    await conn.execute(update,
                       (run.status.value, Json(run.to_doc()), run.updated_at, run.run_id))


async def _save_entity(conn: AsyncConnection, kind: str, entity: Entity, *,
                       insert_only: bool = False) -> None:
    table, column, _ = ENTITIES[kind]
    doc = entity.to_doc()
    if isinstance(entity, Hook):
        await conn.execute(
            "INSERT INTO hooks (run_id, hook_id, token, created_at, doc)"
            " VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (run_id, hook_id) DO UPDATE SET doc = excluded.doc",
            (entity.run_id, entity.hook_id, entity.token, entity.created_at, Json(doc)))
        return
    upsert = "" if insert_only else \
        f" ON CONFLICT (run_id, {column}) DO UPDATE SET doc = excluded.doc"
    await conn.execute(
        f"INSERT INTO {table} (run_id, {column}, created_at, doc) VALUES (%s, %s, %s, %s)"
        + upsert, (entity.run_id, doc[column], entity.created_at, Json(doc)))
