"""``create_batch`` decides every event on the state the earlier events of the batch left,
from one read (round trip 1) and one write (round trip 2): the overlay of runs, entities
and hook tokens must answer as event-by-event writes would."""

from __future__ import annotations

import pytest
from worldline import Conflict, NewEvent, NotFound
from worldline.ids import new_id


def ev(type: str, correlation_id: str | None = None, **data: object) -> NewEvent:
    return NewEvent(type=type, correlation_id=correlation_id, data=dict(data))


async def running_run(world) -> str:
    run_id = new_id("run")
    await world.events.create_batch(run_id, [ev("run_created", workflow_name="w"),
                                             ev("run_started")])
    return run_id


async def test_a_run_is_created_started_and_given_a_step_in_one_batch(pworld):
    run_id, step_id = new_id("run"), new_id("step")
    results = await pworld.events.create_batch(run_id, [
        ev("run_created", workflow_name="w", idempotency_key="k1"), ev("run_started"),
        ev("step_created", step_id, step_name="s"), ev("step_started", step_id)],
        expect_seq=0)
    assert [(r.event.type, r.event.seq) for r in results if r.event] == [
        ("run_created", 1), ("run_started", 2), ("step_created", 3), ("step_started", 4)]
    assert [r.run.last_seq for r in results] == [1, 2, 3, 4]
    assert (await pworld.runs.get(run_id)).status == "running"
    assert (await pworld.steps.get(run_id, step_id)).attempt == 1
    with pytest.raises(Conflict):  # the key is held by the run just written
        await pworld.events.create_batch(new_id("run"), [
            ev("run_created", workflow_name="w", idempotency_key="k1")])


async def test_a_token_freed_earlier_in_the_batch_can_be_claimed(pworld):
    run_id, old, new = await running_run(pworld), new_id("hook"), new_id("hook")
    await pworld.events.create(run_id, ev("hook_created", old, token="tok"))
    results = await pworld.events.create_batch(run_id, [
        ev("hook_disposed", old), ev("hook_created", new, token="tok")])
    assert [r.event.type for r in results if r.event] == ["hook_disposed", "hook_created"]
    assert [h.hook_id for h in (await pworld.hooks.list(run_id)).items] == [new]
    assert (await pworld.hooks.get_by_token("tok")).hook_id == new


async def test_a_hook_id_disposed_can_be_created_again_with_another_token(pworld):
    run_id, hook_id, other = await running_run(pworld), new_id("hook"), new_id("hook")
    await pworld.events.create(run_id, ev("hook_created", hook_id, token="a"))
    results = await pworld.events.create_batch(run_id, [
        ev("hook_disposed", hook_id), ev("hook_created", other, token="a"),
        ev("hook_created", hook_id, token="b")])
    assert [r.event.type for r in results if r.event] == [
        "hook_disposed", "hook_created", "hook_created"]
    assert (await pworld.hooks.get_by_token("a")).hook_id == other
    assert (await pworld.hooks.get_by_token("b")).hook_id == hook_id


async def test_a_token_claimed_earlier_in_the_batch_is_a_hook_conflict(pworld):
    run_id, first, second = await running_run(pworld), new_id("hook"), new_id("hook")
    results = await pworld.events.create_batch(run_id, [
        ev("hook_created", first, token="tok"), ev("hook_created", second, token="tok"),
        ev("hook_received", first, payload=1)])
    assert [r.event.type for r in results if r.event] == [
        "hook_created", "hook_conflict", "hook_received"]
    assert results[1].event is not None and results[1].event.data["owner_hook_id"] == first
    assert [h.hook_id for h in (await pworld.hooks.list(run_id)).items] == [first]


async def test_a_terminal_run_clears_its_waits_and_hooks_for_the_rest_of_the_batch(pworld):
    run_id, hook_id, wait_id = await running_run(pworld), new_id("hook"), new_id("wait")
    await pworld.events.create_batch(run_id, [
        ev("hook_created", hook_id, token="tok"),
        ev("wait_created", wait_id, resume_at="2000-01-01T00:00:00+00:00")])
    with pytest.raises(NotFound):  # the hook went with run_completed
        await pworld.events.create_batch(run_id, [ev("run_completed", output=1),
                                                  ev("hook_disposed", hook_id)])
    assert (await pworld.runs.get(run_id)).status == "running", "a refused batch wrote"
    fresh = new_id("hook")
    results = await pworld.events.create_batch(run_id, [
        ev("hook_created", fresh, token="tok2"), ev("run_cancelled"), ev("run_cancelled")])
    assert [r.event.type if r.event else None for r in results] == [
        "hook_created", "run_cancelled", None]
    assert (await pworld.hooks.list(run_id)).items == []
    assert (await pworld.waits.list(run_id)).items == []
    other = await running_run(pworld)
    for token in ("tok", "tok2"):  # both tokens are free again
        result = await pworld.events.create(other, ev("hook_created", new_id("hook"),
                                                      token=token))
        assert result.event is not None and result.event.type == "hook_created"
