"""Fixtures for the Redis world's own tests: a real server (``$WORLDLINE_REDIS_URL``,
default ``redis://127.0.0.1:6379/0``), one key prefix per test, deleted afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio
from worldline_redis import RedisWorld, namespaced
from worldline_redis.options import SCHEMES

REDIS_URL = os.environ.get("WORLDLINE_REDIS_URL", "redis://127.0.0.1:6379/0")

MakeWorld = Callable[[], Awaitable[RedisWorld]]


@pytest.fixture
def redis_url(request: pytest.FixtureRequest) -> str:
    """A URL of the test server (``--world`` if it is a Redis URL, else
    ``$WORLDLINE_REDIS_URL``) under a prefix unique to this test."""
    given = request.config.getoption("--world", default=None)
    base = given if given and given.split(":", 1)[0] in SCHEMES else REDIS_URL
    return namespaced(base, f"wltest_{uuid.uuid4().hex[:12]}")


@pytest_asyncio.fixture
async def make_world(redis_url: str) -> AsyncIterator[MakeWorld]:
    """Open another connection to this test's world (as another worker would)."""
    opened: list[RedisWorld] = []

    async def make() -> RedisWorld:
        world = RedisWorld(redis_url)
        await world.open()
        opened.append(world)
        return world

    yield make
    if opened:
        await opened[0].destroy()
    for world in opened:
        await world.close()


@pytest_asyncio.fixture
async def rworld(make_world: MakeWorld) -> RedisWorld:
    return await make_world()
