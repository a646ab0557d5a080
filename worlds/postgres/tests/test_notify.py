"""LISTEN/NOTIFY: an idle consumer wakes on a commit made through another connection,
long before its back-off poll would have found the work.

After 3 s idle the poll's doubling back-off (2 ms, 4 ms, … capped by ``max_poll=30``)
next looks at ~4.1 s, so a wake-up within 0.5 s of the commit can only come from NOTIFY.
"""

from __future__ import annotations

import asyncio

from worldline.ids import new_id

IDLE = 3.0


async def test_idle_lease_wakes_on_enqueue_through_another_world(make_world):
    consumer = await make_world("max_poll=30")
    # a different application_name: a different in-process wake-up key, so only the
    # server's NOTIFY can wake the consumer
    producer = await make_world("application_name=producer")
    loop = asyncio.get_running_loop()
    for _ in range(2):
        lease = asyncio.create_task(consumer.queue.lease(["q"], wait=20))
        await asyncio.sleep(IDLE)  # let the consumer find nothing and back off
        start = loop.time()
        await producer.queue.enqueue("q", {"n": 1})
        messages = await lease
        assert len(messages) == 1 and messages[0].payload == {"n": 1}
        assert loop.time() - start < 0.5
        assert await consumer.queue.ack(messages[0])


async def test_stream_tail_wakes_on_write_through_another_world(make_world):
    reader = await make_world("max_poll=30")
    writer = await make_world("application_name=writer")
    run_id = new_id("run")
    loop = asyncio.get_running_loop()

    async def tail() -> list[bytes | str]:
        return [chunk async for chunk in reader.streams.read(run_id, "out")]

    task = asyncio.create_task(tail())
    await asyncio.sleep(IDLE)
    start = loop.time()
    await writer.streams.write(run_id, "out", "a")
    await writer.streams.write(run_id, "out", b"b")
    await writer.streams.close(run_id, "out")
    assert await asyncio.wait_for(task, 5) == ["a", b"b"]
    assert loop.time() - start < 0.5
