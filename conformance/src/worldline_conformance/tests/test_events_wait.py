"""SPEC §3: wait events — created once, completed exactly once, removed with the run."""

from __future__ import annotations

import pytest
from worldline import Conflict, Gone, NotFound
from worldline.ids import new_id
from worldline.model import Wait

from ..helpers import (
    ERROR,
    assert_appended,
    assert_refused,
    entity_of,
    ev,
    iso_in,
    make_run,
    make_wait,
)


async def test_wait_created_then_completed(world, raw_events):
    run_id = await make_run(world, "running")
    wait_id = new_id("wait")
    resume_at = iso_in(60)
    result = await assert_appended(world, raw_events, run_id,
                                   ev("wait_created", wait_id, resume_at=resume_at))
    assert entity_of(result, Wait).wait_id == wait_id
    wait = await world.waits.get(run_id, wait_id)
    assert wait.status == "waiting" and wait.resume_at.isoformat()[:19] == resume_at[:19]
    await assert_appended(world, raw_events, run_id, ev("wait_completed", wait_id))
    wait = await world.waits.get(run_id, wait_id)
    assert wait.status == "completed" and wait.completed_at is not None


async def test_wait_completed_twice_is_conflict(world, raw_events):
    run_id = await make_run(world, "running")
    wait_id = await make_wait(world, run_id)
    await world.events.create(run_id, ev("wait_completed", wait_id))
    await assert_refused(world, raw_events, run_id, ev("wait_completed", wait_id), Conflict,
                         status=409, entity_id=wait_id, state="completed")


@pytest.mark.parametrize("completed", [False, True], ids=["waiting", "completed"])
async def test_second_wait_created_same_id_is_conflict(world, raw_events, completed):
    run_id = await make_run(world, "running")
    wait_id = await make_wait(world, run_id, resume_in=5)
    if completed:
        await world.events.create(run_id, ev("wait_completed", wait_id))
    before = await world.waits.get(run_id, wait_id)
    await assert_refused(world, raw_events, run_id,
                         ev("wait_created", wait_id, resume_at=iso_in(99)), Conflict,
                         status=409, entity_id=wait_id, state=before.status)
    assert await world.waits.get(run_id, wait_id) == before


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
async def test_wait_created_on_terminal_run_is_conflict(world, raw_events, status):
    run_id = await make_run(world, status)
    wait_id = new_id("wait")
    await assert_refused(world, raw_events, run_id, ev("wait_created", wait_id,
                                                       resume_at=iso_in(1)),
                         Conflict, status=409, entity_id=wait_id, state=status)


async def test_wait_completed_for_unknown_wait_is_not_found(world, raw_events):
    run_id = await make_run(world, "running")
    wait_id = new_id("wait")
    await assert_refused(world, raw_events, run_id, ev("wait_completed", wait_id), NotFound,
                         status=404, entity_id=wait_id)


@pytest.mark.parametrize("finish", [ev("run_completed"), ev("run_failed", error=ERROR),
                                    ev("run_cancelled")], ids=lambda e: e.type)
async def test_terminal_run_removes_its_waits(world, raw_events, finish):
    run_id = await make_run(world, "running")
    waits = [await make_wait(world, run_id, resume_in=60) for _ in range(3)]
    await world.events.create(run_id, finish)
    for wait_id in waits:
        with pytest.raises(NotFound):
            await world.waits.get(run_id, wait_id)
    assert (await world.waits.list(run_id)).items == []
    await assert_refused(world, raw_events, run_id, ev("wait_completed", waits[0]),
                         Gone, status=410, entity_id=waits[0],
                         state=finish.type.removeprefix("run_"))
