"""A transaction in pipeline mode with the fewest round trips."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import psycopg
from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus


@contextlib.asynccontextmanager
async def pipelined(conn: AsyncConnection) -> AsyncIterator[AsyncConnection]:
    """``BEGIN`` … ``COMMIT`` on an autocommit connection in pipeline mode.

    ``BEGIN`` travels with the first statements and ``COMMIT`` with the last, so a
    read-decide-write transaction costs two round trips (psycopg's ``transaction()`` in a
    pipeline syncs on entry and on commit). Any error — raised by the block or reported by
    the server at the final sync — rolls back.
    """
    try:
        async with conn.pipeline():
            await conn.execute("BEGIN")
            yield conn
            await conn.execute("COMMIT")
    except BaseException:
        if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
            with contextlib.suppress(psycopg.Error):
                await conn.rollback()
        raise
