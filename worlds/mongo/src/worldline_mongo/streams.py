"""Streams (SPEC §6): each chunk is one document ``<run>|<name>|<idx>``; closing appends an
``end`` marker. Inserting at ``idx = last + 1`` under the unique ``_id`` is the atomic step
(a racing writer gets a duplicate key and retries at the next index), so indexes are dense,
and nothing can be appended after the marker."""

from __future__ import annotations

from typing import Any

from pymongo.errors import DuplicateKeyError
from worldline.errors import Conflict, ValidationError
from worldline.model import StreamInfo

from .log import is_tombstone, last_event
from .store import Store

END = "end"


def _chunk_id(run_id: str, name: str, idx: int) -> str:
    return f"{run_id}|{name}|{idx:012d}"


def _check(run_id: Any, name: Any) -> None:
    if not isinstance(run_id, str) or not run_id:
        raise ValidationError(f"stream run id must be a non-empty string, got {run_id!r}")
    if not isinstance(name, str) or not name:
        raise ValidationError(f"stream name must be a non-empty string, got {name!r}",
                              run_id=run_id)


async def _last(store: Store, run_id: str, name: str) -> dict[str, Any] | None:
    return await store.chunks.find_one({"run_id": run_id, "name": name},
                                       {"idx": 1, "kind": 1}, sort=[("idx", -1)])


async def _append(store: Store, run_id: str, name: str, kind: str, data: Any) -> int | None:
    """Append at the next index; None if the stream is already closed."""
    while True:
        last = await _last(store, run_id, name)
        if last is not None and last["kind"] == END:
            return None
        idx = last["idx"] + 1 if last is not None else 0
        try:
            await store.chunks.insert_one({"_id": _chunk_id(run_id, name, idx), "run_id": run_id,
                                           "name": name, "idx": idx, "kind": kind, "data": data})
            return idx
        except DuplicateKeyError:
            continue


async def write(store: Store, run_id: str, name: str, chunk: bytes | str) -> int:
    _check(run_id, name)
    if not isinstance(chunk, bytes | str):
        raise ValidationError(f"stream chunk must be bytes or str, got {type(chunk).__name__}",
                              run_id=run_id, entity_id=name)
    kind = "text" if isinstance(chunk, str) else "bytes"
    idx = await _append(store, run_id, name, kind, chunk)
    if idx is None:
        raise Conflict("stream is closed", run_id=run_id, entity_id=name, state="closed")
    return idx


async def close(store: Store, run_id: str, name: str) -> None:
    _check(run_id, name)
    await _append(store, run_id, name, END, None)


async def chunks(store: Store, run_id: str, name: str, start: int,
                 limit: int = 256) -> tuple[list[bytes | str], int, bool]:
    """Chunks from ``start`` (negative: from the end), the index after the last one
    returned, and whether the stream is closed and fully read."""
    last = await _last(store, run_id, name)
    closed = last is not None and last["kind"] == END
    total = 0 if last is None else last["idx"] + (0 if closed else 1)
    if start < 0:
        start = max(0, total + start)
    out: list[bytes | str] = []
    cursor = store.chunks.find({"run_id": run_id, "name": name, "idx": {"$gte": start}}) \
        .sort("idx", 1).limit(limit)
    async for doc in cursor:
        if doc["kind"] == END or doc["idx"] != start + len(out):
            break
        data = doc["data"]
        out.append(data if doc["kind"] == "text" else bytes(data))
    end = start + len(out)
    return out, end, closed and end >= total


async def list_streams(store: Store, run_id: str) -> list[StreamInfo]:
    """The run's streams; none while the run is being deleted. A stream may belong to a run
    id without events, so the run's last event is read before and after the chunks: the
    listing is hidden if it is the deletion tombstone, or if the events vanished meanwhile."""
    before = await last_event(store, run_id)
    if is_tombstone(before):
        return []
    found: dict[str, list[int]] = {}
    async for doc in store.chunks.find({"run_id": run_id}, {"name": 1, "idx": 1, "kind": 1}):
        entry = found.setdefault(doc["name"], [0, 0])
        if doc["kind"] == END:
            entry[1] = 1
        else:
            entry[0] += 1
    if found:
        after = await last_event(store, run_id)
        if is_tombstone(after) or (before is not None and after is None):
            return []
    return [StreamInfo(run_id=run_id, name=name, chunks=n, closed=bool(c))
            for name, (n, c) in sorted(found.items())]
