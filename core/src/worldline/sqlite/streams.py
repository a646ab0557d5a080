"""Streams (SPEC §6): per (run, name) ordered chunk logs in the SQLite-dialect database."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import Conflict, ValidationError
from ..model import StreamInfo
from .connection import write_transaction

if TYPE_CHECKING:
    from .store import SqliteDialectStore


def write(store: SqliteDialectStore, run_id: str, name: str, chunk: bytes | str) -> int:
    if not isinstance(chunk, bytes | str):
        raise ValidationError(f"stream chunk must be bytes or str, got {type(chunk).__name__}",
                              run_id=run_id, entity_id=name)
    with write_transaction(store.conn) as conn:
        row = conn.execute("SELECT chunks, closed FROM streams WHERE run_id = ? AND name = ?",
                           (run_id, name)).fetchone()
        if row is not None and row[1]:
            raise Conflict("stream is closed", run_id=run_id, entity_id=name, state="closed")
        index = row[0] if row else 0
        conn.execute("INSERT INTO stream_chunks (run_id, name, idx, is_text, chunk)"
                     " VALUES (?, ?, ?, ?, ?)",
                     (run_id, name, index, isinstance(chunk, str),
                      chunk.encode() if isinstance(chunk, str) else chunk))
        conn.execute("INSERT INTO streams (run_id, name, chunks, closed) VALUES (?, ?, 1, 0)"
                     " ON CONFLICT (run_id, name) DO UPDATE SET chunks = chunks + 1",
                     (run_id, name))
    return int(index)


def close(store: SqliteDialectStore, run_id: str, name: str) -> None:
    with write_transaction(store.conn) as conn:
        conn.execute("INSERT INTO streams (run_id, name, chunks, closed) VALUES (?, ?, 0, 1)"
                     " ON CONFLICT (run_id, name) DO UPDATE SET closed = 1", (run_id, name))


def chunks(store: SqliteDialectStore, run_id: str, name: str, start: int,
           limit: int = 256) -> tuple[list[bytes | str], int, bool]:
    """Chunks from index ``start`` (negative: from the end), the absolute index after the
    last one returned, and whether the stream is closed."""
    row = store.conn.execute("SELECT chunks, closed FROM streams WHERE run_id = ? AND name = ?",
                             (run_id, name)).fetchone()
    total, closed = (int(row[0]), bool(row[1])) if row else (0, False)
    if start < 0:
        start = max(0, total + start)
    rows = store.conn.execute(
        "SELECT is_text, chunk FROM stream_chunks WHERE run_id = ? AND name = ? AND idx >= ?"
        " ORDER BY idx LIMIT ?", (run_id, name, start, limit)).fetchall()
    out: list[bytes | str] = [bytes(c).decode() if t else bytes(c) for t, c in rows]
    end = start + len(out)
    return out, end, closed and end >= total


def list_streams(store: SqliteDialectStore, run_id: str) -> list[StreamInfo]:
    rows = store.conn.execute(
        "SELECT name, chunks, closed FROM streams WHERE run_id = ? ORDER BY name",
        (run_id,)).fetchall()
    return [StreamInfo(run_id=run_id, name=r[0], chunks=int(r[1]), closed=bool(r[2]))
            for r in rows]
