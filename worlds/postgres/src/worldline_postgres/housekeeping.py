"""Housekeeping for the reconciler (SPEC §7): delete a terminal run whole, list queued runs.

``delete_run`` is one transaction in pipeline mode (see :mod:`.tx`), two round trips like
``events.create``: ``BEGIN`` and ``SELECT status … FOR UPDATE`` of the run row (so it queues
behind, and then shuts out, every writer of the run); then the deletes of its children,
of its queue messages (by their indexed ``run_id`` column, which the queue fills from
``payload["run_id"]`` at insert) and of the run row itself, whose ``idempotency_key``
column goes with it; ``COMMIT``. A failure anywhere rolls everything back: readers see the
run whole or gone.
"""

from __future__ import annotations

from psycopg import AsyncConnection
from worldline.faults import fault_point
from worldline.model import RunStatus

from .tx import pipelined

#: tables whose rows a run owns outright, keyed by ``run_id``
CHILDREN = ("events", "steps", "waits", "hooks", "streams", "stream_chunks")


async def delete_run(conn: AsyncConnection, run_id: str) -> bool:
    """Delete a terminal run with everything it owns; False (nothing changed) if it is
    live or absent."""
    async with pipelined(conn):
        cur = await conn.execute("SELECT status FROM runs WHERE run_id = %s FOR UPDATE",
                                 (run_id,))
        row = await cur.fetchone()
        if row is None or not RunStatus(row[0]).terminal:
            return False
        for table in CHILDREN:
            await conn.execute(f"DELETE FROM {table} WHERE run_id = %s", (run_id,))
        fault_point("reconcile.mid_delete")  # inside the transaction: a failure rolls back
        await conn.execute("DELETE FROM messages WHERE run_id = %s", (run_id,))
        await conn.execute("DELETE FROM runs WHERE run_id = %s", (run_id,))
    return True


async def queued_run_ids(conn: AsyncConnection) -> set[str]:
    """The run id of every message not yet acked (ready, delayed or leased)."""
    cur = await conn.execute("SELECT DISTINCT run_id FROM messages"
                             " WHERE acked_at IS NULL AND run_id IS NOT NULL")
    return {row[0] for row in await cur.fetchall()}
