"""Fixtures of the mongo world's own tests: a server URL (``$WORLDLINE_MONGO_URL``, a genuine
server, or the nx-27017 stand-in started by ``scripts/mongo-standin.sh``) and opened worlds
on a database unique to the test, dropped afterwards."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from worldline_mongo import MongoWorld, namespaced

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def mongo_url() -> str:
    url = os.environ.get("WORLDLINE_MONGO_URL")
    if url:
        return url
    port = os.environ.get("WORLDLINE_MONGO_PORT", "27018")
    subprocess.run([str(ROOT / "scripts" / "mongo-standin.sh")], check=True,
                   env={**os.environ, "WORLDLINE_MONGO_PORT": port})
    return f"mongodb://127.0.0.1:{port}/worldline"


@pytest.fixture
def db_url(mongo_url: str) -> str:
    return namespaced(mongo_url, f"wl_mongo_{uuid.uuid4().hex[:12]}")


@pytest_asyncio.fixture
async def open_world(db_url: str) -> AsyncIterator[Callable[[], Awaitable[MongoWorld]]]:
    """Open worlds on the test's database (each a separate client, like separate workers)."""
    opened: list[MongoWorld] = []

    async def make() -> MongoWorld:
        world = MongoWorld(db_url)
        await world.open()
        opened.append(world)
        return world

    yield make
    if opened:
        await opened[0].destroy()
    for world in opened:
        await world.close()
