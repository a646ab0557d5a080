"""``create_batch(..., expect_seq=N)`` from a world instance that wrote the run last, after
another instance (another worker process) changed it: a world may decide such a batch on
what its own last write left (skipping a read), but it must still refuse, with nothing
written, whatever it did not see — the log moved on, a step created by the other instance,
the run deleted."""

from __future__ import annotations

from itertools import pairwise

import pytest
from worldline import Conflict
from worldline.errors import LogMoved
from worldline.ids import new_id

from ..helpers import ev

pytestmark = [pytest.mark.requires("batch_events"), pytest.mark.requires("multiprocess")]


async def started_step(world) -> tuple[str, str]:
    """A running run with a running step, written as the runtime writes it (seq 4)."""
    run_id, step_id = new_id("run"), new_id("step")
    await world.events.create_batch(run_id, [ev("run_created", workflow_name="w"),
                                             ev("run_started")])
    await world.events.create_batch(run_id, [ev("step_created", step_id, step_name="s"),
                                             ev("step_started", step_id, inline=True)])
    return run_id, step_id


def next_step(done: str) -> list:
    new = new_id("step")
    return [ev("step_completed", done, output=1), ev("step_created", new, step_name="s"),
            ev("step_started", new, inline=True)]


async def types(world, run_id: str) -> list[str]:
    items, _ = await world.events.list(run_id)
    return [e.type for e in items]


async def test_the_next_batches_of_one_writer_follow_each_other(world):
    run_id, first = await started_step(world)
    batch = next_step(first)
    results = await world.events.create_batch(run_id, batch, expect_seq=4)
    assert [r.event.seq for r in results if r.event] == [5, 6, 7]
    done = await world.events.create_batch(
        run_id, [ev("step_completed", batch[1].correlation_id, output=2),
                 ev("run_completed", output=3)], expect_seq=7)
    assert done[-1].run.status == "completed" and done[-1].run.last_seq == 9
    steps, _ = await world.steps.list(run_id)
    assert [(s.status, s.attempt, s.output) for s in steps] == [
        ("completed", 1, 1), ("completed", 1, 2)]
    items, _ = await world.events.list(run_id)
    assert [e.seq for e in items] == list(range(1, 10))
    assert all(a.created_at <= b.created_at for a, b in pairwise(items))


async def test_a_log_moved_by_another_writer_is_refused(world_factory):
    here, there = await world_factory(), await world_factory()
    run_id, first = await started_step(here)
    await there.events.create(run_id, ev("run_cancelled"))  # seq 5, not seen here
    with pytest.raises(LogMoved):
        await here.events.create_batch(run_id, next_step(first), expect_seq=4)
    assert await types(here, run_id) == [
        "run_created", "run_started", "step_created", "step_started", "run_cancelled"]


async def test_a_step_another_writer_created_is_not_created_again(world_factory):
    here, there = await world_factory(), await world_factory()
    run_id, step_id = new_id("run"), new_id("step")
    await there.events.create_batch(run_id, [
        ev("run_created", workflow_name="w"), ev("run_started"),
        ev("step_created", step_id, step_name="s")])
    await here.events.create(run_id, ev("step_created", new_id("step"), step_name="s"))
    with pytest.raises(Conflict):  # seq 4 is this writer's, step_id it never saw
        await here.events.create_batch(run_id, [ev("step_created", step_id, step_name="s")],
                                       expect_seq=4)
    assert (await here.runs.get(run_id)).last_seq == 4


async def test_a_run_another_writer_deleted_is_not_written_again(world_factory):
    here, there = await world_factory(), await world_factory()
    run_id, first = await started_step(here)
    await there.events.create(run_id, ev("run_cancelled"))
    assert await there.housekeeping.delete_run(run_id)
    with pytest.raises(LogMoved):
        await here.events.create_batch(run_id, next_step(first), expect_seq=4)
    assert await types(here, run_id) == []
    steps, _ = await here.steps.list(run_id)
    assert steps == []
