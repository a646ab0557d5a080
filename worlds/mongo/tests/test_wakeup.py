import asyncio

import pytest
from worldline_mongo import notify
from worldline_mongo import queue as mqueue


async def test_a_write_from_another_client_reaches_an_idle_consumer(open_world):
    """The write bypasses the world API (no in-process notification): the change stream
    a waiting consumer holds sees it, and the waiting lease returns the message."""
    consumer, producer = await open_world(), await open_world()
    store, consumer_store = await producer.store(), await consumer.store()
    stream = await notify._open_stream(consumer_store, consumer_store.messages)
    if stream is None:
        pytest.skip("server has no change streams (standalone mongod): polling only")
    try:
        task = asyncio.create_task(consumer.queue.lease(["q"], wait=30.0))
        await mqueue.put(store, "q", {"n": 1}, None, store.epoch())
        change = None
        for _ in range(100):  # each try_next blocks up to notify.AWAIT_MS
            change = await stream.try_next()
            if change is not None:
                break
        assert change is not None, "the change stream never reported the insert"
        assert change["operationType"] == "insert"
        got = await task
        assert [m.payload for m in got] == [{"n": 1}]
    finally:
        await stream.close()


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
