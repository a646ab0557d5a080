"""Streams (SPEC §6) on Redis Streams: chunk ``i`` is entry ``i+1-0``; closing appends an
``eof`` entry, so a reader tailing with ``XREAD BLOCK`` wakes for chunks and for the close."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from worldline.errors import Conflict, ValidationError
from worldline.model import StreamInfo

if TYPE_CHECKING:
    from .world import RedisWorld

_BATCH = 256


def _check(run_id: Any, name: Any) -> None:
    if not isinstance(run_id, str) or not run_id:
        raise ValidationError(f"stream run id must be a non-empty string, got {run_id!r}")
    if not isinstance(name, str) or not name:
        raise ValidationError(f"stream name must be a non-empty string, got {name!r}",
                              run_id=run_id)


class RedisStreams:
    """``world.streams``."""

    def __init__(self, world: RedisWorld) -> None:
        self.world = world

    def _keys(self, run_id: str, name: str) -> list[str]:
        return [self.world.keys.stream_meta(run_id), self.world.keys.stream(run_id, name)]

    async def write(self, run_id: str, name: str, chunk: bytes | str) -> int:
        """Append a chunk; returns its index. Writing to a closed stream is a Conflict."""
        _check(run_id, name)
        if not isinstance(chunk, bytes | str):
            raise ValidationError(f"stream chunk must be bytes or str, got "
                                  f"{type(chunk).__name__}", run_id=run_id, entity_id=name)
        kind = "s" if isinstance(chunk, str) else "b"
        index = int(await self.world.scripts.stream_write(keys=self._keys(run_id, name),
                                                          args=[name, kind, chunk]))
        if index < 0:
            raise Conflict("stream is closed", run_id=run_id, entity_id=name, state="closed")
        return index

    async def close(self, run_id: str, name: str) -> None:
        """Close the stream (idempotent)."""
        _check(run_id, name)
        await self.world.scripts.stream_close(keys=self._keys(run_id, name), args=[name])

    async def read(self, run_id: str, name: str,
                   start_index: int = 0) -> AsyncGenerator[bytes | str, None]:
        """Chunks from ``start_index`` (negative: from the end), tailing until closed."""
        _check(run_id, name)
        if isinstance(start_index, bool) or not isinstance(start_index, int):
            raise ValidationError(f"start_index must be an integer, got {start_index!r}")
        client = self.world.client
        meta_key, key = self._keys(run_id, name)
        position = start_index
        if position < 0:
            raw = await client.hget(meta_key, name)
            total = int(json.loads(raw)["chunks"]) if raw else 0
            position = max(0, total + position)
        while True:
            entries: Any = await client.xrange(key, f"{position + 1}-0", "+", count=_BATCH)
            if not entries:
                await self.world.xread_block(key, f"{position}-0")
                continue
            for _entry_id, fields in entries:
                if b"eof" in fields:
                    return
                data = fields[b"c"]
                yield data.decode() if fields[b"t"] == b"s" else bytes(data)
                position += 1

    async def list(self, run_id: str) -> list[StreamInfo]:
        """The run's streams, by name."""
        raw: Any = await self.world.client.hgetall(self.world.keys.stream_meta(run_id))
        infos = []
        for name, meta in sorted(raw.items()):
            doc = json.loads(meta)
            infos.append(StreamInfo(run_id=run_id, name=name.decode(), chunks=int(doc["chunks"]),
                                    closed=bool(doc["closed"])))
        return infos
