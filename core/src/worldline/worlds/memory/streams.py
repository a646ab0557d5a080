"""Streams of a ``memory://`` namespace: per (run, name) lists of chunks."""

from __future__ import annotations

from ...errors import Conflict, ValidationError
from ...model import StreamInfo
from .state import MemoryState, StoredStream


def _check(run_id: object, name: object) -> None:
    if not isinstance(run_id, str) or not isinstance(name, str):
        raise ValidationError(f"stream run id and name must be strings, got {run_id!r}, "
                              f"{name!r}")


def write(state: MemoryState, run_id: str, name: str, chunk: bytes | str) -> int:
    _check(run_id, name)
    if not isinstance(chunk, bytes | str):
        raise ValidationError(f"stream chunk must be bytes or str, got {type(chunk).__name__}",
                              run_id=run_id, entity_id=name)
    with state.lock:
        stream = state.streams.setdefault((run_id, name), StoredStream())
        if stream.closed:
            raise Conflict("stream is closed", run_id=run_id, entity_id=name, state="closed")
        stream.chunks.append(chunk)
        return len(stream.chunks) - 1


def close(state: MemoryState, run_id: str, name: str) -> None:
    _check(run_id, name)
    with state.lock:
        state.streams.setdefault((run_id, name), StoredStream()).closed = True


def chunks(state: MemoryState, run_id: str, name: str,
           start: int) -> tuple[list[bytes | str], int, bool]:
    """Chunks from index ``start`` (negative: from the end), the index after the last one,
    and whether the stream is closed and fully read."""
    with state.lock:
        stream = state.streams.get((run_id, name), StoredStream())
        total = len(stream.chunks)
        start = max(0, total + start) if start < 0 else start
        out = stream.chunks[start:]
        return out, start + len(out), stream.closed and start + len(out) >= total


def list_streams(state: MemoryState, run_id: str) -> list[StreamInfo]:
    with state.lock:
        return [StreamInfo(run_id, name, len(s.chunks), s.closed)
                for (rid, name), s in sorted(state.streams.items()) if rid == run_id]
