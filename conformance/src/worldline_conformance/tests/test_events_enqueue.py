"""``events.create(..., enqueue=Enqueue(...))``: the message exists iff the event was
appended (SPEC §3, §7 Start)."""

from __future__ import annotations

import pytest
from worldline import Conflict, Enqueue, Gone, NewEvent
from worldline.ids import new_id

from ..helpers import ERROR, assert_appended, assert_noop, assert_refused, ev, make_run


def message(tag: str) -> Enqueue:
    return Enqueue(queue=f"q-{tag}", payload={"tag": tag}, idempotency_key=f"k-{tag}")


async def leased(world, enqueue: Enqueue):
    got = await world.queue.lease([enqueue.queue], limit=10)
    for msg in got:
        assert await world.queue.ack(msg)
    return got


async def test_appended_event_enqueues_its_message(world, raw_events):
    run_id = new_id("run")
    enq = message("start")
    await assert_appended(world, raw_events, run_id,
                          NewEvent("run_created", data={"workflow_name": "wf"}), enqueue=enq)
    got = await leased(world, enq)
    assert [(m.queue, m.payload, m.idempotency_key) for m in got] == \
        [(enq.queue, {"tag": "start"}, "k-start")]


async def test_delayed_enqueue_with_event(world, raw_events):
    run_id = await make_run(world, "running")
    enq = Enqueue(queue="q-delay", payload={}, delay=3600)
    await assert_appended(world, raw_events, run_id, ev("run_completed"), enqueue=enq)
    assert await world.queue.lease(["q-delay"]) == []


async def test_refused_event_enqueues_nothing(world, raw_events):
    run_id = await make_run(world, "completed")
    enq = message("refused")
    await assert_refused(world, raw_events, run_id, ev("run_failed", error=ERROR), Conflict,
                         status=409, enqueue=enq)
    await assert_refused(world, raw_events, run_id, ev("run_started"), Gone, status=410,
                         enqueue=enq)
    with pytest.raises(Conflict):
        await world.events.create(run_id, NewEvent("run_created", data={"workflow_name": "w"}),
                                  enqueue=enq)
    assert await leased(world, enq) == []
    # nothing was held back: the key is free for a real enqueue
    assert await world.queue.enqueue(enq.queue, {}, idempotency_key=enq.idempotency_key)
    assert len(await leased(world, enq)) == 1


async def test_idempotent_noop_enqueues_nothing(world, raw_events):
    running = await make_run(world, "running")
    cancelled = await make_run(world, "cancelled")
    enq = message("noop")
    await assert_noop(world, raw_events, running, ev("run_started"), enqueue=enq)
    await assert_noop(world, raw_events, cancelled, ev("run_cancelled"), enqueue=enq)
    assert await leased(world, enq) == []


async def test_hook_conflict_is_appended_with_its_message(world, raw_events):
    owner = await make_run(world, "running")
    await world.events.create(owner, ev("hook_created", new_id("hook"), token="shared"))
    run_id = await make_run(world, "running")
    enq = message("conflict")
    await assert_appended(world, raw_events, run_id,
                          ev("hook_created", new_id("hook"), token="shared"),
                          expect_type="hook_conflict", enqueue=enq)
    assert len(await leased(world, enq)) == 1
