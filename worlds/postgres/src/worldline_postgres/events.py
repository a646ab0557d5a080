"""``events.create`` on Postgres: one transaction, two round trips (pipeline mode, see :mod:`.tx`).

Round trip 1: ``BEGIN``; ``SELECT … FOR UPDATE`` of the run row (the lock every writer of
the run queues on); then, in a separate statement so its snapshot is taken *after* the
lock is granted, the entity, the live token / idempotency holders and ``clock_timestamp()``.
:func:`worldline.rules.decide` answers; round trip 2 sends the event insert, the run
update, the entity upsert/delete, the clean-up of a terminal run, the queue message with
its ``NOTIFY``, and ``COMMIT``. Unique constraints back the decision where no row can be
locked (``run_created``, hook tokens): a violation rolls back and the whole transaction is
retried, so ``decide`` then sees the winner and answers Conflict / ``hook_conflict``.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from psycopg import AsyncConnection, errors
from psycopg.types.json import Json
from worldline import rules
from worldline.faults import fault_point
from worldline.model import (
    Enqueue,
    EventResult,
    Hook,
    NewEvent,
    Run,
    Step,
    Wait,
)

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


async def create_event(conn: AsyncConnection, channel: str, run_id: str, event: NewEvent,
                       enqueue: Enqueue | None, retention: float) -> EventResult:
    """Validate, decide and write one event atomically (plus ``enqueue`` if appended)."""
    [result] = await create_batch(conn, channel, run_id, [event], [enqueue], retention)
    return result


async def create_batch(conn: AsyncConnection, channel: str, run_id: str,
                       batch: list[NewEvent], enqueues: list[Enqueue | None],
                       retention: float) -> list[EventResult]:
    """Several events in one transaction, each decided on the state the previous ones left
    (one more round trip per extra event, one commit); all or nothing."""
    batch = [rules.validate(run_id, event) for event in batch]
    for attempt in range(_RETRIES):
        try:
            async with pipelined(conn):
                return [await _append(conn, channel, run_id, event, enqueue, retention)
                        for event, enqueue in zip(batch, enqueues, strict=True)]
        except errors.UniqueViolation:
            # a concurrent writer won a row no lock protects (a new run, a token, a key):
            # replay the transaction so decide() sees it and answers the typed outcome
            if attempt == _RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def _state_query(kind: str, event: NewEvent) -> tuple[str, list[Any]]:
    """The post-lock read: server time, the entity, the token and idempotency holders."""
    cols, params = ["clock_timestamp()"], []
    if kind != "run":
        table, column, _ = ENTITIES[kind]
        cols.append(f"(SELECT doc FROM {table} WHERE run_id = %s AND {column} = %s)")
        params += [None, event.correlation_id]  # run id filled by the caller
    else:
        cols.append("NULL")
    if event.type == "hook_created":
        cols.append("(SELECT doc FROM hooks WHERE token = %s)")
        params.append(event.data["token"])
    else:
        cols.append("NULL")
    if event.type == "run_created" and event.data.get("idempotency_key"):
        cols.append(f"(SELECT run_id FROM runs WHERE idempotency_key = %s AND status IN {_LIVE}"
                    " LIMIT 1)")
        params.append(event.data["idempotency_key"])
    else:
        cols.append("NULL")
    return "SELECT " + ", ".join(cols), params


async def _append(conn: AsyncConnection, channel: str, run_id: str, event: NewEvent,
                  enqueue: Enqueue | None, retention: float) -> EventResult:
    """Lock, read, decide and write one event inside the caller's pipelined transaction."""
    kind = event.type.split("_", 1)[0]
    state_sql, state_params = _state_query(kind, event)
    if kind != "run":
        state_params[0] = run_id
    run_cur = await conn.execute("SELECT doc FROM runs WHERE run_id = %s FOR UPDATE",
                                 (run_id,))
    state_cur = await conn.execute(state_sql, state_params)
    run_row = await run_cur.fetchone()
    state = await state_cur.fetchone()
    assert state is not None
    run = Run.from_doc(run_row[0]) if run_row else None
    now = state[0].astimezone(UTC)
    entity = ENTITIES[kind][2].from_doc(state[1]) if state[1] is not None else None
    token_holder = Hook.from_doc(state[2]) if state[2] is not None else None
    decision = rules.decide(run_id, event, run, entity, now=now,
                            token_holder=token_holder, idempotency_holder=state[3])
    if decision.event_type is None:
        return EventResult(None, decision.run, decision.entity)
    new_run, recorded = decision.record(run_id, event.correlation_id, now)
    await _save_run(conn, new_run, insert=run is None)
    await conn.execute(
        "INSERT INTO events (run_id, seq, event_id, type, correlation_id, created_at, data)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (run_id, recorded.seq, recorded.event_id, recorded.type.value, recorded.correlation_id,
         now, Json(recorded.data)))
    if decision.entity_changed and decision.entity is not None:
        await _save_entity(conn, kind, decision.entity)
    if decision.delete_entity:
        await conn.execute("DELETE FROM hooks WHERE run_id = %s AND hook_id = %s",
                           (run_id, event.correlation_id))
    if decision.clear_run_children:
        await conn.execute("DELETE FROM hooks WHERE run_id = %s", (run_id,))
        await conn.execute("DELETE FROM waits WHERE run_id = %s", (run_id,))
    if enqueue is not None:
        if recorded.type == "run_created":
            fault_point("start.enqueue")  # a failure here must leave no run behind
        await queue.enqueue_in(conn, channel, enqueue.queue, enqueue.payload,
                               enqueue.idempotency_key, enqueue.delay, retention)
    return EventResult(recorded, new_run, decision.entity)


async def _save_run(conn: AsyncConnection, run: Run, *, insert: bool) -> None:
    if insert:
        await conn.execute(
            "INSERT INTO runs (run_id, workflow_name, status, idempotency_key, doc, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (run.run_id, run.workflow_name, run.status.value, run.idempotency_key,
             Json(run.to_doc()), run.updated_at))
        return
    await conn.execute("UPDATE runs SET status = %s, doc = %s, updated_at = %s"
                       " WHERE run_id = %s",
                       (run.status.value, Json(run.to_doc()), run.updated_at, run.run_id))


async def _save_entity(conn: AsyncConnection, kind: str, entity: Step | Wait | Hook) -> None:
    table, column, _ = ENTITIES[kind]
    doc = entity.to_doc()
    if isinstance(entity, Hook):
        await conn.execute(
            "INSERT INTO hooks (run_id, hook_id, token, created_at, doc)"
            " VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (run_id, hook_id) DO UPDATE SET doc = excluded.doc",
            (entity.run_id, entity.hook_id, entity.token, entity.created_at, Json(doc)))
        return
    await conn.execute(
        f"INSERT INTO {table} (run_id, {column}, created_at, doc) VALUES (%s, %s, %s, %s)"
        f" ON CONFLICT (run_id, {column}) DO UPDATE SET doc = excluded.doc",
        (entity.run_id, doc[column], entity.created_at, Json(doc)))
