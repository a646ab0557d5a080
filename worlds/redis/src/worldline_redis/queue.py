"""The queue (SPEC §5), with the semantics of ``worldline.sqlite.queue``.

One sorted set per queue scores each message by its visible time; a lease moves the score
to ``now + visibility_timeout`` and sets a fresh ``lease_id``, so an expired lease is simply
visible again. ``ack``/``extend``/``retry``/``defer`` are fenced by ``lease_id``. Acked
messages with an idempotency key keep their key -> id entry for ``dedupe_retention``.
Idle consumers block on the server (``BLPOP`` on per-queue notification lists), bounded by
the next due time and ``max_poll`` as a safety net.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import worldline.rules as rules
from worldline import checks
from worldline.ids import new_id
from worldline.model import JSON, Message

from .log import dumps

if TYPE_CHECKING:
    from .world import RedisWorld

Settlement = Literal["ack", "retry", "defer", "extend"]
#: most messages one lease call takes (each needs a fresh lease id as a script argument)
MAX_BATCH = 1000


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisQueue:
    """``world.queue``."""

    def __init__(self, world: RedisWorld) -> None:
        self.world = world

    async def enqueue(self, queue: str, payload: dict[str, JSON], *,
                      idempotency_key: str | None = None, delay: float = 0.0) -> str:
        """Add a message; a key pending, leased or acked within the retention window returns
        the existing id and adds nothing."""
        delay = rules.validate_message(queue, payload, idempotency_key, delay)
        world = self.world
        message_id = await world.scripts.enqueue(
            keys=world.keys.queue_keys(queue),
            args=[queue, new_id("msg"), dumps(payload), idempotency_key or "", float(delay),
                  world.options.dedupe_retention])
        return _text(message_id)

    async def _lease_once(self, names: list[str], visibility_timeout: float,
                          limit: int) -> tuple[list[Message], float | None]:
        keys = self.world.keys
        leased, due = await self.world.scripts.lease(
            keys=[keys.messages, keys.payloads, *(keys.queue(n) for n in names)],
            args=[visibility_timeout, limit, *(new_id("lease") for _ in range(limit))])
        out = []
        for message_id, raw_meta, payload in leased:
            meta = json.loads(raw_meta)
            out.append(Message(message_id=_text(message_id), queue=meta["queue"],
                               payload=json.loads(payload), attempt=int(meta["attempt"]),
                               deliveries=int(meta["deliveries"]), lease_id=meta["lease_id"],
                               idempotency_key=meta["key"] or None))
        return out, (float(due) if due else None)

    async def lease(self, queues: Sequence[str], *, visibility_timeout: float = 30.0,
                    limit: int = 1, wait: float = 0.0) -> list[Message]:
        """Lease up to ``limit`` visible messages; block up to ``wait`` seconds for one."""
        names = checks.lease_args(queues, visibility_timeout, limit, wait)
        visibility_timeout, wait = float(visibility_timeout), float(wait)
        limit = min(limit, MAX_BATCH)
        if not names:
            return []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        notify = [self.world.keys.notify(n) for n in names]
        while True:
            got, due = await self._lease_once(names, visibility_timeout, limit)
            remaining = deadline - loop.time()
            if got or remaining <= 0:
                return got
            block = min(remaining, self.world.options.max_poll)
            if due is not None:
                block = min(block, max(due, 0.001))
            await self.world.blpop(notify, block)

    async def _settle(self, message: Message, how: Settlement, seconds: float = 0.0) -> bool:
        seconds = checks.settle_args(message, how, seconds)
        world = self.world
        done = await world.scripts.settle(
            keys=world.keys.queue_keys(message.queue),
            args=[how, message.message_id, message.lease_id, float(seconds),
                  world.options.dedupe_retention])
        return bool(int(done))

    async def extend(self, message: Message, visibility_timeout: float) -> bool:
        """Push the lease's expiry out; False if the lease was lost."""
        return await self._settle(message, "extend", visibility_timeout)

    async def ack(self, message: Message) -> bool:
        """Remove the message; False if the lease was lost."""
        return await self._settle(message, "ack")

    async def retry(self, message: Message, delay: float = 0.0) -> bool:
        """Visible again after ``delay`` with ``attempt + 1``; resets deliveries."""
        return await self._settle(message, "retry", delay)

    async def defer(self, message: Message, delay: float) -> bool:
        """Visible again after ``delay``; resets deliveries, keeps ``attempt``."""
        return await self._settle(message, "defer", delay)
