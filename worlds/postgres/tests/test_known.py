"""A batch that expects the log where this process's last write left it is decided on what
that write left, in one round trip; the guards (the events' primary key, the run row, an
insert for every entity the batch creates) turn a stale memory into the reading path's
answer, with nothing written."""

from __future__ import annotations

from itertools import pairwise

import pytest
import worldline_postgres.events as events
from worldline import Conflict, NewEvent
from worldline.errors import LogMoved
from worldline.ids import new_id


def ev(type: str, correlation_id: str | None = None, **data: object) -> NewEvent:
    return NewEvent(type=type, correlation_id=correlation_id, data=dict(data))


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The runs the reading path (round trip 1) read, in order."""
    seen: list[str] = []
    original = events._read

    async def counted(conn, run_id, batch):
        seen.append(run_id)
        return await original(conn, run_id, batch)

    monkeypatch.setattr(events, "_read", counted)
    return seen


async def started_step(world) -> tuple[str, str]:
    """A running run whose step is running, as the runtime writes them (seq 4)."""
    run_id, step_id = new_id("run"), new_id("step")
    await world.events.create_batch(run_id, [ev("run_created", workflow_name="w"),
                                             ev("run_started")])
    await world.events.create_batch(run_id, [ev("step_created", step_id, step_name="s"),
                                             ev("step_started", step_id, inline=True)])
    return run_id, step_id


def next_step_batch(done: str, new: str) -> list[NewEvent]:
    return [ev("step_completed", done, output=1), ev("step_created", new, step_name="s"),
            ev("step_started", new, inline=True)]


async def types(world, run_id: str) -> list[str]:
    items, _ = await world.events.list(run_id)
    return [e.type for e in items]


async def test_the_runtimes_next_batch_reads_nothing(pworld, reads):
    run_id, first = await started_step(pworld)
    reads.clear()
    second, third = new_id("step"), new_id("step")
    results = await pworld.events.create_batch(run_id, next_step_batch(first, second),
                                               expect_seq=4)
    await pworld.events.create_batch(run_id, next_step_batch(second, third), expect_seq=7)
    done = await pworld.events.create_batch(
        run_id, [ev("step_completed", third, output=3), ev("run_completed", output=6)],
        expect_seq=10)
    assert reads == []
    assert [r.event.seq for r in results if r.event] == [5, 6, 7]
    assert done[-1].run.status == "completed" and done[-1].run.output == 6
    assert (await pworld.runs.get(run_id)).last_seq == 12
    steps = (await pworld.steps.list(run_id)).items
    assert [(s.status, s.attempt, s.output) for s in steps] == [
        ("completed", 1, 1), ("completed", 1, 1), ("completed", 1, 3)]
    items, _ = await pworld.events.list(run_id)
    assert [e.seq for e in items] == list(range(1, 13))
    assert all(a.created_at <= b.created_at for a, b in pairwise(items))


async def test_a_log_moved_by_another_process_is_refused_and_nothing_written(
        make_world, reads):
    here, there = await make_world(), await make_world()
    run_id, first = await started_step(here)
    await there.events.create(run_id, ev("run_cancelled"))  # seq 5, unknown here
    reads.clear()
    with pytest.raises(LogMoved):
        await here.events.create_batch(run_id, next_step_batch(first, new_id("step")),
                                       expect_seq=4)
    assert reads == [run_id]  # the guard refused, the reading path answered
    assert await types(here, run_id) == [
        "run_created", "run_started", "step_created", "step_started", "run_cancelled"]


async def test_an_entity_created_elsewhere_is_not_created_again(make_world):
    here, there = await make_world(), await make_world()
    run_id, step_id = new_id("run"), new_id("step")
    await there.events.create_batch(run_id, [
        ev("run_created", workflow_name="w"), ev("run_started"),
        ev("step_created", step_id, step_name="s")])
    mine = new_id("step")
    await here.events.create(run_id, ev("step_created", mine, step_name="s"))  # seq 4
    with pytest.raises(Conflict):  # `here` never saw step_id: its insert is refused
        await here.events.create_batch(run_id, [ev("step_created", step_id, step_name="s")],
                                       expect_seq=4)
    assert (await here.runs.get(run_id)).last_seq == 4


async def test_a_run_deleted_elsewhere_is_not_written_again(make_world):
    here, there = await make_world(), await make_world()
    run_id, first = await started_step(here)
    await there.events.create(run_id, ev("run_cancelled"))
    assert await there.housekeeping.delete_run(run_id)
    with pytest.raises(LogMoved):  # the events would fit: the run row's guard refuses
        await here.events.create_batch(run_id, next_step_batch(first, new_id("step")),
                                       expect_seq=4)
    assert await types(here, run_id) == []
    assert (await here.steps.list(run_id)).items == []
