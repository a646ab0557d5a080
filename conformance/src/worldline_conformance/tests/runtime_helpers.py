"""Shared fixtures and helpers of the runtime end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
import worldline as wl
from worldline import World

from ..runtime_app import PROBE


@pytest_asyncio.fixture
async def worker(world: World) -> AsyncIterator[wl.Worker]:
    """An embedded worker on the test's world (idle wake-ups every 50 ms at most)."""
    PROBE.reset()
    async with wl.Worker(world, concurrency=8, poll=0.05) as w:
        yield w
    PROBE.gate.set()


async def event_types(world: World, run_id: str) -> list[tuple[str, str | None]]:
    items, _ = await world.events.list(run_id, limit=10_000)
    return [(e.type.value, e.correlation_id) for e in items]


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    """Poll an async predicate until true (the run's progress is only visible in the log)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def has_event(world: World, run_id: str, etype: str) -> bool:
    return any(t == etype for t, _ in await event_types(world, run_id))
