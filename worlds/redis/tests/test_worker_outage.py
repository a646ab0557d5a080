"""The Redis server is stopped while a run sleeps and started again (same port, same data
directory, append-only file fsynced on every write, so the data survives): the worker backs
off without exiting and finishes the run (:mod:`worldline_conformance.outage`).

Runs a private redis-server on a free port; it is stopped afterwards."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from worldline_conformance.outage import PrivateServer, assert_worker_survives_restart

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="needs the redis-server binary")


def redis_command(port: int, directory: Path) -> list[str]:
    return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--appendonly", "yes",
            "--appendfsync", "always", "--dir", str(directory), "--save", ""]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PrivateServer]:
    private = PrivateServer("redis-server", tmp_path, redis_command, answers)
    try:
        yield private
    finally:
        private.stop()


async def answers(port: int) -> bool:
    """PING answered: the data is loaded (a loading server refuses commands)."""
    client = aioredis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except (aioredis.ConnectionError, aioredis.BusyLoadingError, OSError):
        return False
    finally:
        await client.aclose()


async def test_worker_survives_server_restart(server, caplog):
    await assert_worker_survives_restart(server, f"redis://127.0.0.1:{server.port}/0", caplog)
