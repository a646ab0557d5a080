"""Streams (SPEC §6): per (run, name) ordered chunk logs; writes ``NOTIFY`` the tailers.

A write is one statement: an upsert of the stream row (``chunks + 1`` unless closed, which
row-locks it, so concurrent writers get dense indexes) feeding the chunk insert.
"""

from __future__ import annotations

from psycopg import AsyncConnection
from worldline.errors import Conflict, ValidationError
from worldline.model import StreamInfo


def stream_payload(run_id: str, name: str) -> str:
    """The NOTIFY payload (and in-process wake-up key suffix) of one stream."""
    return f"s:{run_id}:{name}"


async def write(conn: AsyncConnection, channel: str, run_id: str, name: str,
                chunk: bytes | str) -> int:
    if not isinstance(chunk, bytes | str):
        raise ValidationError(f"stream chunk must be bytes or str, got {type(chunk).__name__}",
                              run_id=run_id, entity_id=name)
    data = chunk.encode() if isinstance(chunk, str) else chunk
    cur = await conn.execute(
        "WITH s AS (INSERT INTO streams (run_id, name, chunks, closed) VALUES (%s, %s, 1, false)"
        "  ON CONFLICT (run_id, name) DO UPDATE SET chunks = streams.chunks + 1"
        "  WHERE NOT streams.closed RETURNING chunks - 1 AS idx),"
        " c AS (INSERT INTO stream_chunks (run_id, name, idx, is_text, chunk)"
        "  SELECT %s, %s, idx, %s, %s FROM s RETURNING idx)"
        " SELECT idx, pg_notify(%s, %s) FROM c",
        (run_id, name, run_id, name, isinstance(chunk, str), data, channel,
         stream_payload(run_id, name)))
    row = await cur.fetchone()
    if row is None:
        raise Conflict("stream is closed", run_id=run_id, entity_id=name, state="closed")
    return int(row[0])


async def close(conn: AsyncConnection, channel: str, run_id: str, name: str) -> None:
    await conn.execute(
        "WITH s AS (INSERT INTO streams (run_id, name, chunks, closed) VALUES (%s, %s, 0, true)"
        "  ON CONFLICT (run_id, name) DO UPDATE SET closed = true RETURNING 1)"
        " SELECT pg_notify(%s, %s) FROM s",
        (run_id, name, channel, stream_payload(run_id, name)))


async def chunks(conn: AsyncConnection, run_id: str, name: str, start: int,
                 limit: int = 256) -> tuple[list[bytes | str], int, bool]:
    """Chunks from index ``start`` (negative: from the end), the absolute index after the
    last one returned, and whether the stream is closed and fully read."""
    cur = await conn.execute("SELECT chunks, closed FROM streams WHERE run_id = %s AND name = %s",
                             (run_id, name))
    row = await cur.fetchone()
    total, closed = (int(row[0]), bool(row[1])) if row else (0, False)
    if start < 0:
        start = max(0, total + start)
    cur = await conn.execute(
        "SELECT is_text, chunk FROM stream_chunks WHERE run_id = %s AND name = %s AND idx >= %s"
        " ORDER BY idx LIMIT %s", (run_id, name, start, limit))
    out: list[bytes | str] = [bytes(c).decode() if t else bytes(c)
                              for t, c in await cur.fetchall()]
    end = start + len(out)
    return out, end, closed and end >= total


async def list_streams(conn: AsyncConnection, run_id: str) -> list[StreamInfo]:
    cur = await conn.execute(
        "SELECT name, chunks, closed FROM streams WHERE run_id = %s ORDER BY name", (run_id,))
    return [StreamInfo(run_id=run_id, name=r[0], chunks=int(r[1]), closed=bool(r[2]))
            for r in await cur.fetchall()]
