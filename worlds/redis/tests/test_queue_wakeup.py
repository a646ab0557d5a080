"""Idle consumers block on the server (BLPOP on the queue's notification list) instead of
polling: they wake at once on an enqueue from another connection, and at the due time of
a delayed message, with only a handful of lease attempts."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from worldline_redis import RedisWorld


def count_leases(world: RedisWorld) -> dict[str, int]:
    original, calls = world.scripts.lease, {"n": 0}

    async def lease(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        return await original(*args, **kwargs)

    world.scripts.lease = lease
    return calls


async def _slow_world(redis_url: str) -> RedisWorld:
    world = RedisWorld(redis_url + "&max_poll=30")
    await world.open()
    return world


async def test_idle_lease_wakes_on_enqueue_from_another_connection(make_world, redis_url):
    producer = await make_world()
    consumer = await _slow_world(redis_url)
    try:
        calls = count_leases(consumer)
        for _ in range(5):
            waiting = asyncio.create_task(consumer.queue.lease(["q"], wait=20))
            await asyncio.sleep(0.05)  # let the consumer block (no correctness depends on it)
            started = time.monotonic()
            await producer.queue.enqueue("q", {"hello": 1})
            got = await asyncio.wait_for(waiting, 5)
            assert len(got) == 1 and time.monotonic() - started < 1.0
            assert await consumer.queue.ack(got[0])
        assert calls["n"] <= 15, f"{calls['n']} lease attempts for 5 messages: polling?"
    finally:
        await consumer.close()


async def test_idle_lease_wakes_when_a_delayed_message_is_due(make_world, redis_url):
    producer = await make_world()
    consumer = await _slow_world(redis_url)
    try:
        await producer.queue.enqueue("q", {}, delay=0.4)
        calls = count_leases(consumer)
        started = time.monotonic()
        got = await consumer.queue.lease(["q"], wait=10)
        elapsed = time.monotonic() - started
        assert len(got) == 1 and 0.3 <= elapsed < 1.5, elapsed
        assert calls["n"] <= 4, calls
    finally:
        await consumer.close()


async def test_idle_lease_times_out_without_busy_polling(redis_url):
    consumer = await _slow_world(redis_url)
    try:
        calls = count_leases(consumer)
        started = time.monotonic()
        assert await consumer.queue.lease(["q1", "q2"], wait=1.0) == []
        assert 0.9 <= time.monotonic() - started < 2.0
        assert calls["n"] <= 3, calls
    finally:
        await consumer.destroy()
        await consumer.close()


async def test_an_expired_lease_is_redelivered_with_fencing(rworld):
    await rworld.queue.enqueue("q", {"n": 1})
    first = (await rworld.queue.lease(["q"], visibility_timeout=0.2))[0]
    second = (await rworld.queue.lease(["q"], visibility_timeout=30, wait=3))[0]
    assert second.message_id == first.message_id and second.deliveries == 2
    assert await rworld.queue.ack(first) is False
    assert await rworld.queue.extend(first, 10) is False
    assert await rworld.queue.ack(second) is True
