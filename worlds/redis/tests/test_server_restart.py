"""A server that goes away mid-use: calls fail with WorldUnavailable naming it; when it is
back, the same world object reconnects (redis-py Retry + ExponentialBackoff) and its Lua
scripts are reloaded by SHA on NOSCRIPT. Runs a private redis-server on a free port."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import Iterator

import pytest
from worldline import NewEvent, WorldUnavailable
from worldline.ids import new_id
from worldline_redis import RedisWorld

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="needs the redis-server binary")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def private_port() -> Iterator[int]:
    yield _free_port()


async def _ready(world: RedisWorld) -> None:
    for _ in range(200):
        try:
            await world.open()
            return
        except WorldUnavailable:
            await asyncio.sleep(0.02)  # waiting for a process to listen, not for a race
    raise AssertionError("private redis-server did not start")


async def test_server_gone_then_back(private_port):
    server = _start(private_port)
    world = RedisWorld(f"redis://127.0.0.1:{private_port}/0?prefix=restart")
    try:
        await _ready(world)
        run_id = new_id("run")
        await world.events.create(run_id, NewEvent("run_created", data={"workflow_name": "w"}))
        server.terminate()
        server.wait(10)
        with pytest.raises(WorldUnavailable) as info:
            await world.events.create(run_id, NewEvent("run_started"))
        assert f"127.0.0.1:{private_port}" in str(info.value)
        server = _start(private_port)  # a fresh server without data nor scripts
        for _ in range(200):
            try:
                await world.client.ping()
                break
            except Exception:
                await asyncio.sleep(0.02)
        other = new_id("run")
        result = await world.events.create(other, NewEvent("run_created",
                                                           data={"workflow_name": "w"}))
        assert result.event is not None and result.event.seq == 1
        assert [e["type"] for e in await world.raw_events(other)] == ["run_created"]
    finally:
        await world.close()
        server.terminate()
        server.wait(10)
