import asyncio
import time

import pytest
from worldline_mongo import queue as mqueue


async def test_idle_lease_wakes_on_a_write_from_another_client(open_world):
    """The write bypasses the world API (no in-process notification), so only the change
    stream can wake the consumer before its next poll (polls back off to 1 s)."""
    consumer, producer = await open_world(), await open_world()
    store = await producer.store()
    task = asyncio.create_task(consumer.queue.lease(["q"], wait=10.0))
    await asyncio.sleep(1.5)  # let the consumer's back-off reach its 1 s cap
    if (await consumer.store()).change_streams is False:
        task.cancel()
        pytest.skip("server has no change streams (standalone mongod): polling only")
    started = time.monotonic()
    await mqueue.put(store, "q", {"n": 1}, None, store.epoch())
    got = await task
    assert [m.payload for m in got] == [{"n": 1}]
    assert time.monotonic() - started < 0.6


async def test_cancelled_idle_lease_leaves_nothing_running(open_world):
    world = await open_world()
    before = len(asyncio.all_tasks())
    task = asyncio.create_task(world.queue.lease(["q"], wait=10.0))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(asyncio.all_tasks()) == before
    assert await world.queue.lease(["q"]) == []
