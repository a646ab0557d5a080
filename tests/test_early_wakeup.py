"""A sleep's wake-up that arrives before the sleep is due (the queue's clock runs ahead of
the worker's) is delivered again when the sleep is due — never acknowledged and lost."""

from __future__ import annotations

import time

import worldline as wl
from worldline.runtime.names import workflow_queue
from worldline.worlds.memory import MemoryWorld

NAP = 1.0


@wl.workflow(name="early.nap")
async def nap() -> str:
    await wl.sleep(NAP)
    return "awake"


async def test_an_early_wake_up_is_deferred_not_lost():
    world = MemoryWorld("memory://early-wakeup")
    queue = workflow_queue("early.nap")
    worker = wl.Worker(world, reconcile_interval=0)
    handle = await wl.start(nap, world=world)
    [start] = await world.queue.lease([queue])
    await worker.handle(start)  # the run sleeps; its wake-up message waits NAP seconds
    [wait] = (await world.waits.list(handle.run_id)).items
    stored = next(m for m in world.state.messages.values()
                  if m.idempotency_key == wait.wait_id)
    stored.visible_at = time.time()  # a queue whose clock is NAP seconds ahead
    [early] = await world.queue.lease([queue])
    assert early.idempotency_key == wait.wait_id
    await worker.handle(early)
    assert (await world.waits.get(handle.run_id, wait.wait_id)).status == "waiting"
    assert stored.acked_at is None, "the early wake-up was acknowledged: a lost wake-up"
    assert stored.visible_at >= wait.resume_at.timestamp() - 0.05, "not deferred to the due time"
    async with worker:
        assert await handle.result(timeout=10) == "awake"
    await world.destroy()
