"""The queue (SPEC §5) in the same database as the log; semantics of
``worldline.sqlite.queue`` with server time.

A message is *ready* when ``acked_at IS NULL AND visible_at <= clock_timestamp()``. A lease
is one ``UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED)`` statement: it sets a fresh
``lease_id``, pushes ``visible_at`` out by the visibility timeout and counts the delivery,
so concurrent consumers never take the same message and an expired lease is simply ready
again. ack / extend / retry / defer are single statements fenced by ``lease_id``. Every
write that makes a message ready sends ``NOTIFY`` in its transaction. The ``run_id``
column copies ``payload["run_id"]`` at insert, so housekeeping finds a run's messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from psycopg import AsyncConnection, AsyncCursor
from psycopg.types.json import Json
from worldline.ids import new_id
from worldline.model import Message

from .tx import pipelined

Settlement = Literal["ack", "retry", "defer", "extend"]
QUEUE_PAYLOAD = "q"


async def enqueue_in(conn: AsyncConnection, channel: str, queue: str, payload: dict[str, Any],
                     key: str | None, delay: float, retention: float) -> AsyncCursor[Any]:
    """Queue the insert of a message in the caller's transaction (pipeline-friendly: fetch
    the returned cursor for the id); de-duplicate by ``key`` while pending, leased or
    acked less than ``retention`` seconds ago."""
    if key is not None:
        await conn.execute(
            "DELETE FROM messages WHERE idempotency_key = %s"
            " AND acked_at < clock_timestamp() - make_interval(secs => %s)", (key, retention))
    return await conn.execute(
        "INSERT INTO messages (message_id, queue, payload, run_id, idempotency_key, visible_at)"
        " VALUES (%s, %s, %s, %s, %s, clock_timestamp() + make_interval(secs => %s))"
        " ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = excluded.idempotency_key"
        " RETURNING message_id, pg_notify(%s, %s)",
        (new_id("msg"), queue, Json(payload), payload_run_id(payload), key, max(0.0, delay),
         channel, QUEUE_PAYLOAD))


def payload_run_id(payload: dict[str, Any]) -> str | None:
    """The run a message names (its ``run_id`` column): ``payload["run_id"]`` when it is a
    string a run row could hold (PostgreSQL text holds no NUL), else None."""
    run_id = payload.get("run_id")
    return run_id if isinstance(run_id, str) and "\x00" not in run_id else None


async def enqueue(conn: AsyncConnection, channel: str, queue: str, payload: dict[str, Any],
                  key: str | None, delay: float, retention: float) -> str:
    """Enqueue in its own transaction; returns the new or the existing message id."""
    async with pipelined(conn):
        cur = await enqueue_in(conn, channel, queue, payload, key, delay, retention)
        row = await cur.fetchone()
    assert row is not None
    return str(row[0])


async def lease(conn: AsyncConnection, queues: Sequence[str], visibility_timeout: float,
                limit: int) -> list[Message]:
    """Lease up to ``limit`` ready messages in one statement."""
    if not queues:
        return []
    cur = await conn.execute(
        "UPDATE messages m SET lease_id = 'lease_' || gen_random_uuid(),"
        " visible_at = clock_timestamp() + make_interval(secs => %s),"
        " deliveries = m.deliveries + 1"
        " FROM (SELECT message_id FROM messages WHERE queue = ANY(%s) AND acked_at IS NULL"
        "  AND visible_at <= clock_timestamp() ORDER BY visible_at LIMIT %s"
        "  FOR UPDATE SKIP LOCKED) ready"
        " WHERE m.message_id = ready.message_id"
        " RETURNING m.message_id, m.queue, m.payload, m.attempt, m.deliveries, m.lease_id,"
        " m.idempotency_key",
        (visibility_timeout, list(queues), limit))
    return [Message(message_id=r[0], queue=r[1], payload=r[2], attempt=r[3], deliveries=r[4],
                    lease_id=r[5], idempotency_key=r[6]) for r in await cur.fetchall()]


_FENCE = "message_id = %s AND lease_id = %s AND acked_at IS NULL"


async def settle(conn: AsyncConnection, channel: str, message: Message, how: Settlement,
                 seconds: float, retention: float) -> bool:
    """Ack, retry, defer or extend a leased message; False if the lease was lost."""
    ids = (message.message_id, message.lease_id)
    if how == "ack":
        done = ("UPDATE messages SET acked_at = clock_timestamp(), lease_id = NULL"
                if message.idempotency_key is not None else "DELETE FROM messages")
        cur = await conn.execute(
            f"WITH done AS ({done} WHERE {_FENCE} RETURNING 1),"
            f" gc AS (DELETE FROM messages WHERE acked_at IS NOT NULL"
            f"  AND acked_at < clock_timestamp() - make_interval(secs => %s))"
            f" SELECT count(*) FROM done", (*ids, retention))
        row = await cur.fetchone()
        return bool(row and row[0] == 1)
    if how == "extend":
        cur = await conn.execute(
            f"UPDATE messages SET visible_at = clock_timestamp() + make_interval(secs => %s)"
            f" WHERE {_FENCE}", (seconds, *ids))
        return cur.rowcount == 1
    bump = ", attempt = attempt + 1" if how == "retry" else ""
    cur = await conn.execute(
        f"UPDATE messages SET visible_at = clock_timestamp() + make_interval(secs => %s),"
        f" lease_id = NULL, deliveries = 0{bump} WHERE {_FENCE} RETURNING pg_notify(%s, %s)",
        (max(0.0, seconds), *ids, channel, QUEUE_PAYLOAD))
    return cur.rowcount == 1


async def next_visible_in(conn: AsyncConnection, queues: Sequence[str]) -> float | None:
    """Seconds until the next message of ``queues`` becomes visible (None if there is none)."""
    if not queues:
        return None
    cur = await conn.execute(
        "SELECT extract(epoch FROM min(visible_at) - clock_timestamp()) FROM messages"
        " WHERE queue = ANY(%s) AND acked_at IS NULL", (list(queues),))
    row = await cur.fetchone()
    if row is None or row[0] is None:
        return None
    return max(0.0, float(row[0]))
