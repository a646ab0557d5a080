"""``events.create_batch`` on Redis: one LOAD of everything the batch names, the decisions
taken in Python on an overlay, then ONE APPEND script call that re-checks the run's seq and
every token / idempotency holder read, and applies the events in order — or writes nothing
and the whole batch is re-read and re-decided."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis_test_support import created, interleave, record_appends, running_run
from worldline import Conflict, Enqueue, NewEvent
from worldline.errors import LogMoved
from worldline.ids import new_id


def step_events(step_id: str) -> list[NewEvent]:
    return [NewEvent("step_created", step_id, {"step_name": "s", "input": None}),
            NewEvent("step_started", step_id)]


async def types(world, run_id: str) -> list[str]:
    return [e["type"] for e in await world.raw_events(run_id)]


async def test_the_write_behind_unit_is_one_append(rworld):
    run_id = await running_run(rworld)
    a, b = new_id("step"), new_id("step")
    await rworld.events.create_batch(run_id, step_events(a))
    original, calls = rworld.scripts.append, {"n": 0}

    async def append(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        return await original(*args, **kwargs)

    rworld.scripts.append = append
    results = await rworld.events.create_batch(
        run_id, [NewEvent("step_completed", a, {"output": 1}), *step_events(b)],
        enqueues=[None, Enqueue("steps", {"run_id": run_id, "step_id": b}, b), None])
    assert calls["n"] == 1
    assert [r.event.seq for r in results if r.event] == [5, 6, 7]
    assert results[-1].run.last_seq == 7
    assert await rworld.client.hget(rworld.keys.run(run_id), "seq") == b"7"
    assert (await rworld.steps.get(run_id, a)).status == "completed"
    assert (await rworld.steps.get(run_id, b)).status == "running"
    [message] = await rworld.queue.lease(["steps"], visibility_timeout=5)
    assert message.idempotency_key == b


async def test_stale_batch_is_refused_and_redecided(make_world):
    world, rival = await make_world(), await make_world()
    run_id = await running_run(world)
    step_id = new_id("step")
    calls = interleave(world, lambda: rival.events.create(
        run_id, NewEvent("step_created", step_id, {"step_name": "s", "input": None})))
    with pytest.raises(Conflict):
        await world.events.create_batch(run_id, step_events(step_id))
    assert calls["n"] == 2, "the stale batch was not sent back for a re-read"
    assert await types(world, run_id) == ["run_created", "run_started", "step_created"]


async def test_stale_batch_with_expect_seq_raises_log_moved(make_world):
    world, rival = await make_world(), await make_world()
    run_id = await running_run(rival)  # nothing remembered here: the batch loads
    calls = interleave(world, lambda: rival.events.create(
        run_id, NewEvent("step_created", new_id("step"), {"step_name": "s", "input": None})))
    with pytest.raises(LogMoved):
        await world.events.create_batch(run_id, step_events(new_id("step")), expect_seq=2)
    assert calls["n"] == 2
    assert len(await types(world, run_id)) == 3


async def test_stale_token_in_batch_is_refused(make_world):
    world, rival = await make_world(), await make_world()
    mine, theirs = await running_run(world), await running_run(world)
    calls = interleave(world, lambda: rival.events.create(
        theirs, NewEvent("hook_created", "hook_theirs", {"token": "tok"})))
    results = await world.events.create_batch(mine, [
        *step_events("step_1"), NewEvent("hook_created", "hook_mine", {"token": "tok"})])
    assert calls["n"] == 2
    assert results[-1].event is not None and results[-1].event.type == "hook_conflict"
    assert (await world.hooks.get_by_token("tok")).run_id == theirs


async def test_token_freed_and_taken_again_in_one_batch(rworld):
    run_id = await running_run(rworld)
    await rworld.events.create(run_id, NewEvent("hook_created", "hook_1", {"token": "t"}))
    results = await rworld.events.create_batch(run_id, [
        NewEvent("hook_disposed", "hook_1"),
        NewEvent("hook_created", "hook_2", {"token": "t"})])
    assert [r.event.type for r in results if r.event] == ["hook_disposed", "hook_created"]
    assert (await rworld.hooks.get_by_token("t")).hook_id == "hook_2"
    assert [h.hook_id for h in (await rworld.hooks.list(run_id)).items] == ["hook_2"]


async def test_run_created_and_cancelled_in_one_batch_frees_its_key(rworld):
    run_id = new_id("run")
    await rworld.events.create_batch(run_id, [
        created(idempotency_key="k"), NewEvent("run_cancelled")])
    assert (await rworld.runs.get(run_id)).status == "cancelled"
    assert await rworld.client.hget(rworld.keys.idempotency, "k") is None
    assert [r.run_id for r in (await rworld.runs.list(status="cancelled")).items] == [run_id]
    assert (await rworld.runs.list(status="pending")).items == []


async def test_a_resent_batch_is_recognised_not_doubled(rworld):
    run_id = await running_run(rworld)
    original, sent = record_appends(rworld)
    await rworld.events.create_batch(run_id, step_events("step_x"))
    reply = await original(**sent[0])  # what redis-py does after a lost reply
    assert [r.decode() for r in reply] == ["ok", "resent"]
    assert len(await types(rworld, run_id)) == 4


async def test_messages_to_two_queues_in_one_batch(rworld):
    run_id = await running_run(rworld)
    events = [*step_events("step_1"), *step_events("step_2")]
    enqueues = [Enqueue("qa", {"n": 1}, "a"), None, Enqueue("qb", {"n": 2}, "b"),
                Enqueue("qa", {"n": 3}, "c")]
    await rworld.events.create_batch(run_id, events, enqueues=enqueues)
    got = await rworld.queue.lease(["qa"], visibility_timeout=5, limit=10)
    assert sorted(m.idempotency_key for m in got) == ["a", "c"]
    [other] = await rworld.queue.lease(["qb"], visibility_timeout=5, limit=10)
    assert other.payload == {"n": 2}


async def test_the_runtimes_next_batches_do_not_load(rworld):
    run_id, first, second = await running_run(rworld), new_id("step"), new_id("step")
    await rworld.events.create_batch(run_id, step_events(first))
    calls = interleave(rworld, lambda: asyncio.sleep(0))  # counts LOADs
    await rworld.events.create_batch(run_id, [
        NewEvent("step_completed", first, {"output": 1}), *step_events(second)],
        expect_seq=4)
    await rworld.events.create_batch(run_id, [
        NewEvent("step_completed", second, {"output": 2}),
        NewEvent("run_completed", None, {"output": 3})], expect_seq=7)
    assert calls["n"] == 0
    assert (await rworld.runs.get(run_id)).status == "completed"
