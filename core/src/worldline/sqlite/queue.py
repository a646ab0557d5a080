"""The queue (SPEC §5) in the same SQLite-dialect database as the log.

A message is *ready* when ``acked_at IS NULL AND visible_at <= now``; a lease sets
``lease_id`` and pushes ``visible_at`` out by the visibility timeout, so an expired lease is
simply ready again. Acked messages with an idempotency key stay (``acked_at`` set) for the
de-duplication window; the others are deleted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from ..ids import new_id
from ..model import Message
from .connection import SqlConnection, write_transaction

if TYPE_CHECKING:
    from .store import SqliteDialectStore

Settlement = Literal["ack", "retry", "defer", "extend"]


def enqueue(conn: SqlConnection, queue: str, payload: dict[str, Any], key: str | None,
            delay: float, retention: float) -> str:
    """Insert a message inside the caller's write transaction; de-duplicate by ``key``."""
    now = time.time()
    if key is not None:
        row = conn.execute("SELECT message_id, acked_at FROM messages WHERE idempotency_key = ?",
                           (key,)).fetchone()
        if row is not None:
            if row[1] is None or row[1] > now - retention:
                return str(row[0])
            conn.execute("DELETE FROM messages WHERE message_id = ?", (row[0],))
    message_id = new_id("msg")
    conn.execute(
        "INSERT INTO messages (message_id, queue, payload, idempotency_key, visible_at,"
        " enqueued_at) VALUES (?, ?, ?, ?, ?, ?)",
        (message_id, queue, json.dumps(payload, separators=(",", ":")), key,
         now + max(0.0, delay), now))
    return message_id


def lease(store: SqliteDialectStore, queues: Sequence[str], visibility_timeout: float,
          limit: int) -> list[Message]:
    """Lease up to ``limit`` ready messages in one transaction."""
    if not queues:
        return []
    marks = ", ".join("?" * len(queues))
    ready = (f"SELECT 1 FROM messages WHERE queue IN ({marks}) AND acked_at IS NULL"
             f" AND visible_at <= ? LIMIT 1")
    if store.conn.execute(ready, (*queues, time.time())).fetchone() is None:
        return []  # a read, no write lock: idle polling never blocks the writers
    with write_transaction(store.conn) as conn:
        now = time.time()
        rows = conn.execute(
            f"SELECT message_id, queue, payload, attempt, deliveries, idempotency_key"
            f" FROM messages WHERE queue IN ({marks}) AND acked_at IS NULL"
            f" AND visible_at <= ? ORDER BY visible_at LIMIT ?",
            (*queues, now, limit)).fetchall()
        leased = []
        for message_id, queue, payload, attempt, deliveries, key in rows:
            lease_id = new_id("lease")
            conn.execute(
                "UPDATE messages SET lease_id = ?, visible_at = ?, deliveries = deliveries + 1"
                " WHERE message_id = ?", (lease_id, now + visibility_timeout, message_id))
            leased.append(Message(message_id=message_id, queue=queue,
                                  payload=json.loads(payload), attempt=attempt,
                                  deliveries=deliveries + 1, lease_id=lease_id,
                                  idempotency_key=key))
    return leased


def settle(store: SqliteDialectStore, message: Message, how: Settlement,
           seconds: float = 0.0) -> bool:
    """Ack, retry, defer or extend a leased message; False if the lease was lost."""
    now = time.time()
    fence = "message_id = ? AND lease_id = ? AND acked_at IS NULL"
    ids = (message.message_id, message.lease_id)
    with write_transaction(store.conn) as conn:
        if how == "ack":
            if message.idempotency_key is None:
                cur = conn.execute(f"DELETE FROM messages WHERE {fence}", ids)
            else:
                cur = conn.execute(
                    f"UPDATE messages SET acked_at = ?, lease_id = NULL WHERE {fence}",
                    (now, *ids))
            conn.execute("DELETE FROM messages WHERE acked_at IS NOT NULL AND acked_at < ?",
                         (now - store.dedupe_retention,))
        elif how == "extend":
            cur = conn.execute(f"UPDATE messages SET visible_at = ? WHERE {fence}",
                               (now + seconds, *ids))
        else:
            bump = ", attempt = attempt + 1" if how == "retry" else ""
            cur = conn.execute(
                f"UPDATE messages SET visible_at = ?, lease_id = NULL, deliveries = 0{bump}"
                f" WHERE {fence}", (now + max(0.0, seconds), *ids))
        return cur.rowcount == 1


def next_visible_in(store: SqliteDialectStore, queues: Sequence[str]) -> float | None:
    """Seconds until the next message of ``queues`` becomes visible (None if there is none)."""
    if not queues:
        return None
    marks = ", ".join("?" * len(queues))
    row = store.conn.execute(
        f"SELECT MIN(visible_at) FROM messages WHERE queue IN ({marks}) AND acked_at IS NULL",
        tuple(queues)).fetchone()
    if row is None or row[0] is None:
        return None
    return max(0.0, float(row[0]) - time.time())
