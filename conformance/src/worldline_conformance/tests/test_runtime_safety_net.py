"""The safety net of inline steps. An inline step's start is marked ``inline``; on worlds
with ``batch_events`` its creation carries no queue message (the run's own message, held
while the step runs, brings the run back if its worker dies, and that replay lays the net);
a step whose retry is due later than the inline grace is handed to the queue."""

from __future__ import annotations

import pytest
import worldline as wl
from worldline.ids import new_id
from worldline.runtime.names import step_queue
from worldline.runtime.safety import lay_nets

from .. import runtime_app as app
from ..helpers import ev, make_run
from ..runtime_app import PROBE


async def _steps(world: wl.World, run_id: str) -> list[wl.Step]:
    steps, _ = await world.steps.list(run_id)
    return steps


async def test_inline_starts_are_marked_and_queued_starts_are_not(world):
    PROBE.reset()
    async with wl.Worker(world, poll=0.05, inline_grace=0.3):
        handle = await wl.start(app.late_retry_wf, "late", 0.6, world=world)
        assert await handle.result(timeout=30) == 2  # the queue ran attempt 2
    events, _ = await world.events.list(handle.run_id)
    starts = [e.data for e in events if e.type == "step_started"]
    assert starts == [{"inline": True}, {}]
    assert [e.type for e in events if e.type.startswith("step_")] == [
        "step_created", "step_started", "step_retrying", "step_started", "step_completed"]


async def test_a_batch_world_enqueues_no_message_with_an_inline_step(world):
    if not world.capabilities.batch_events:
        pytest.skip("without batch_events the message rides on step_created")
    async with wl.Worker(world, poll=0.05, inline_grace=60):
        handle = await wl.start(app.sequential, 1, world=world)
        assert await handle.result(timeout=20) == 112
    for step in await _steps(world, handle.run_id):
        queue = step_queue(step.step_name)
        # a message under the step's key would swallow this one (idempotency), and a
        # safety net due in 60 s could not be leased now
        await world.queue.enqueue(queue, {"probe": step.step_id},
                                  idempotency_key=step.step_id)
        [message] = await world.queue.lease([queue], visibility_timeout=5)
        assert message.payload == {"probe": step.step_id}
        await world.queue.ack(message)


async def test_a_replay_lays_the_net_of_each_unattended_inline_step(world):
    """The log inline steps leave when their worker dies: the replay enqueues a message for
    each step still unsettled after an inline start, and for no other step."""
    run_id = await make_run(world, "running", workflow_name="rt.sequential")
    name = f"net.{new_id('step')}"  # a queue of this test's own
    gone, settled, queued = (new_id("step") for _ in range(3))
    for step_id in (gone, settled, queued):
        await world.events.create(run_id, ev("step_created", step_id, step_name=name))
    await world.events.create(run_id, ev("step_started", gone, inline=True))
    await world.events.create(run_id, ev("step_started", settled, inline=True))
    await world.events.create(run_id, ev("step_completed", settled, output=1))
    await world.events.create(run_id, ev("step_started", queued))
    events, _ = await world.events.list(run_id)
    await lay_nets(world, "rt.sequential", run_id, events, grace=0.0)
    await lay_nets(world, "rt.sequential", run_id, events, grace=0.0)  # de-duplicated
    messages = await world.queue.lease([step_queue(name)], visibility_timeout=5, limit=10)
    assert [(m.idempotency_key, m.payload["step_id"], m.payload["run_id"])
            for m in messages] == [(gone, gone, run_id)]
    await world.queue.ack(messages[0])


async def test_an_inline_result_that_cannot_be_written_is_run_again_from_the_queue(
        world, monkeypatch):
    """The world fails the write of an inline step's result (an outage): the activation
    fails, its message comes back, the replay lays the step's net and the queue runs the
    step again; the run completes."""
    failed: list[str] = []

    def failing(original):
        async def write(run_id, events, *args, **kwargs):
            batch = events if isinstance(events, list | tuple) else [events]
            if not failed and any(e.type == "step_completed" for e in batch):
                failed.append(run_id)
                raise wl.WorldUnavailable("injected: the result's write is lost")
            return await original(run_id, events, *args, **kwargs)
        return write

    for name in ("create", "create_batch"):
        if hasattr(world.events, name):
            monkeypatch.setattr(world.events, name, failing(getattr(world.events, name)))
    async with wl.Worker(world, poll=0.05, inline_grace=0.3):
        handle = await wl.start(app.sequential, 1, world=world)
        assert await handle.result(timeout=30) == 112
    assert failed == [handle.run_id]
    events, _ = await world.events.list(handle.run_id)
    first = events[[e.type for e in events].index("step_started")].correlation_id
    starts = [e.data for e in events if e.type == "step_started" and e.correlation_id == first]
    assert starts == [{"inline": True}, {}]  # the lost attempt, then the queue's
