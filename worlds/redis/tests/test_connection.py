"""Connection handling: URLs, unreachable servers, script cache flushes, destroy."""

from __future__ import annotations

import socket
import time

import pytest
from worldline import NewEvent, ValidationError, WorldUnavailable, connect
from worldline.ids import new_id
from worldline_redis import RedisWorld, namespaced, parse_url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_url_options_are_split_from_redis_py_options():
    opts = parse_url("redis://u:p@10.0.0.5:6380/3?prefix=app&socket_timeout=4&max_poll=0.5")
    assert (opts.prefix, opts.max_poll, opts.where) == ("app", 0.5, "10.0.0.5:6380")
    assert "prefix" not in opts.driver_url and "socket_timeout=4" in opts.driver_url
    assert parse_url("unix:///run/redis.sock?db=1").where == "/run/redis.sock"
    assert parse_url("redis://h").prefix == "worldline"


@pytest.mark.parametrize("url", ["http://h", "redis://h?prefix={x}", "redis://h?prefix=",
                                 "redis://h?max_poll=soon", "redis://h?dedupe_retention=-1"])
def test_bad_urls_are_refused_by_name(url):
    with pytest.raises(ValidationError):
        parse_url(url)


def test_namespaced_replaces_the_prefix():
    url = namespaced("redis://h:1/2?prefix=old&socket_timeout=3", "new")
    assert parse_url(url).prefix == "new" and "socket_timeout=3" in url


def test_connect_finds_the_redis_world():
    assert isinstance(connect("redis://127.0.0.1:6379/0"), RedisWorld)
    assert isinstance(connect("rediss://example.com/0"), RedisWorld)


async def test_unreachable_server_is_world_unavailable_naming_host_port_quickly():
    port = _free_port()
    world = RedisWorld(f"redis://127.0.0.1:{port}/0")
    started = time.monotonic()
    with pytest.raises(WorldUnavailable) as info:
        await world.open()
    assert time.monotonic() - started < 5
    assert f"127.0.0.1:{port}" in str(info.value)


async def test_script_flush_mid_use_still_works(rworld):
    run_id = new_id("run")
    await rworld.events.create(run_id, NewEvent("run_created", data={"workflow_name": "wf"}))
    await rworld.queue.enqueue("q", {"n": 1})
    await rworld.client.script_flush()
    await rworld.events.create(run_id, NewEvent("run_started"))
    msgs = await rworld.queue.lease(["q"])
    await rworld.client.script_flush()
    assert await rworld.queue.ack(msgs[0]) is True
    await rworld.client.script_flush()
    await rworld.streams.write(run_id, "out", "x")
    await rworld.client.script_flush()
    await rworld.streams.close(run_id, "out")
    assert [c async for c in rworld.streams.read(run_id, "out")] == ["x"]
    assert [e["type"] for e in await rworld.raw_events(run_id)] == ["run_created",
                                                                   "run_started"]
    await rworld.events.create(run_id, NewEvent("run_completed", data={"output": 1}))
    await rworld.client.script_flush()
    assert await rworld.housekeeping.delete_run(run_id) is True


async def test_destroy_deletes_every_key_of_the_prefix_and_only_those(make_world, redis_url):
    world = await make_world()
    other = RedisWorld(namespaced(redis_url, parse_url(redis_url).prefix + "_other"))
    await other.open()
    try:
        for w in (world, other):
            run_id = new_id("run")
            await w.events.create(run_id, NewEvent("run_created", data={"workflow_name": "w"}),)
            await w.queue.enqueue("q", {}, idempotency_key="k")
            await w.streams.write(run_id, "s", b"\x00")
        await world.destroy()
        assert await world.client.keys(world.keys.pattern()) == []
        assert await other.client.keys(other.keys.pattern()) != []
    finally:
        await other.destroy()
        await other.close()
