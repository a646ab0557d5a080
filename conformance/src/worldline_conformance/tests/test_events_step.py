"""SPEC §3: step events — creation, attempts, retries, terminal steps, terminal runs."""

from __future__ import annotations

import asyncio

import pytest
from worldline import Conflict, Gone, NotFound, TooEarly
from worldline.ids import new_id
from worldline.model import Step

from ..helpers import (
    ERROR,
    assert_appended,
    assert_refused,
    entity_of,
    ev,
    iso_in,
    make_run,
    make_step,
    types_of,
)

STEP_EVENTS = [ev("step_started"), ev("step_completed", output=2),
               ev("step_failed", error=ERROR), ev("step_retrying", error=ERROR)]


def on(event, step_id):
    return ev(event.type, step_id, **event.data)


async def test_step_created_records_pending_step(world, raw_events):
    run_id = await make_run(world, "running")
    step_id = new_id("step")
    result = await assert_appended(world, raw_events, run_id,
                                   ev("step_created", step_id, step_name="add", input=[1, 2]))
    assert entity_of(result, Step).step_id == step_id
    step = await world.steps.get(run_id, step_id)
    assert (step.step_name, step.status, step.input, step.attempt) == ("add", "pending", [1, 2], 0)
    assert step.output is None and step.error is None and step.retry_after is None


@pytest.mark.parametrize("status", ["pending", "running", "completed", "failed"])
async def test_second_step_created_same_id_is_conflict(world, raw_events, status):
    run_id = await make_run(world, "running")
    step_id = await make_step(world, run_id, status, step_name="first")
    before = await world.steps.get(run_id, step_id)
    await assert_refused(world, raw_events, run_id,
                         ev("step_created", step_id, step_name="second"), Conflict,
                         status=409, entity_id=step_id, state=status)
    assert await world.steps.get(run_id, step_id) == before


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
async def test_step_created_on_terminal_run_is_conflict(world, raw_events, status):
    run_id = await make_run(world, status)
    step_id = new_id("step")
    await assert_refused(world, raw_events, run_id, ev("step_created", step_id, step_name="s"),
                         Conflict, status=409, entity_id=step_id, state=status)
    with pytest.raises(NotFound):
        await world.steps.get(run_id, step_id)


async def test_attempt_increments_on_every_step_started(world, raw_events):
    run_id = await make_run(world, "running")
    step_id = await make_step(world, run_id)
    for attempt in (1, 2, 3):
        result = await assert_appended(world, raw_events, run_id, ev("step_started", step_id))
        started = entity_of(result, Step)
        assert (started.attempt, started.status) == (attempt, "running")
        step = await world.steps.get(run_id, step_id)
        assert (step.status, step.attempt) == ("running", attempt)
        if attempt == 1:
            first_started = step.started_at
            assert first_started is not None
        assert step.started_at == first_started, "only the first start sets started_at"
        await assert_appended(world, raw_events, run_id,
                              ev("step_retrying", step_id, error={"n": attempt},
                                 retry_after=iso_in(-1)))
    step = await world.steps.get(run_id, step_id)
    assert (step.status, step.attempt, step.error) == ("pending", 3, {"n": 3})
    assert (await types_of(raw_events, run_id)).count("step_started") == 3


async def test_step_retrying_sets_retry_after_and_records_error_only(world, raw_events):
    run_id = await make_run(world, "running")
    step_id = await make_step(world, run_id, "running")
    resume = iso_in(3600)
    await assert_appended(world, raw_events, run_id,
                          ev("step_retrying", step_id, error=ERROR, retry_after=resume))
    step = await world.steps.get(run_id, step_id)
    assert step.status == "pending" and step.error == ERROR and step.output is None
    assert step.retry_after is not None and step.retry_after.isoformat()[:19] == resume[:19]


async def test_step_started_before_retry_after_is_too_early_then_succeeds(world, raw_events):
    run_id = await make_run(world, "running")
    step_id = await make_step(world, run_id, "running")
    await world.events.create(run_id, ev("step_retrying", step_id, error=ERROR,
                                         retry_after=iso_in(2)))
    err = await assert_refused(world, raw_events, run_id, ev("step_started", step_id),
                               TooEarly, status=425, entity_id=step_id, state="pending")
    assert isinstance(err, TooEarly) and 0 < err.retry_in <= 2
    assert (await world.steps.get(run_id, step_id)).attempt == 1
    for _ in range(50):  # the world's own clock decides; follow its retry_in
        try:
            result = await world.events.create(run_id, ev("step_started", step_id))
            break
        except TooEarly as again:
            assert isinstance(again, TooEarly) and again.retry_in > 0
            await asyncio.sleep(again.retry_in)
    else:
        pytest.fail("step_started stayed TooEarly after retry_after")
    assert result.event is not None and entity_of(result, Step).attempt == 2


async def test_failed_attempt_records_error_and_no_output(world, raw_events):
    run_id = await make_run(world, "running")
    step_id = await make_step(world, run_id, "running")
    await assert_appended(world, raw_events, run_id, ev("step_failed", step_id, error=ERROR))
    step = await world.steps.get(run_id, step_id)
    assert (step.status, step.error, step.output, step.attempt) == ("failed", ERROR, None, 1)


async def test_step_completed_records_output(world, raw_events):
    run_id = await make_run(world, "running")
    step_id = await make_step(world, run_id, "running")
    await assert_appended(world, raw_events, run_id, ev("step_completed", step_id, output=None))
    step = await world.steps.get(run_id, step_id)
    assert (step.status, step.output, step.error) == ("completed", None, None)
    assert step.completed_at is not None


@pytest.mark.parametrize("status", ["completed", "failed"])
@pytest.mark.parametrize("event", STEP_EVENTS, ids=lambda e: e.type)
async def test_any_step_event_on_finished_step_is_conflict(world, raw_events, status, event):
    run_id = await make_run(world, "running")
    step_id = await make_step(world, run_id, status)
    before = await world.steps.get(run_id, step_id)
    await assert_refused(world, raw_events, run_id, on(event, step_id), Conflict, status=409,
                         entity_id=step_id, state=status)
    assert await world.steps.get(run_id, step_id) == before


@pytest.mark.parametrize("run_status", ["completed", "failed", "cancelled"])
@pytest.mark.parametrize("event", [ev("step_started"), ev("step_retrying", error=ERROR)],
                         ids=lambda e: e.type)
async def test_start_or_retry_of_idle_step_of_terminal_run_is_gone(world, raw_events,
                                                                   run_status, event):
    run_id = await make_run(world, "running")
    step_id = await make_step(world, run_id, "pending")
    await world.events.create(run_id, _finish(run_status))
    await assert_refused(world, raw_events, run_id, on(event, step_id), Gone, status=410,
                         entity_id=step_id, state=run_status)


@pytest.mark.parametrize("run_status", ["completed", "failed", "cancelled"])
@pytest.mark.parametrize("event", [ev("step_completed", output=7),
                                   ev("step_failed", error=ERROR)], ids=lambda e: e.type)
async def test_running_step_may_finish_after_run_is_terminal(world, raw_events, run_status,
                                                             event):
    run_id = await make_run(world, "running")
    step_id = await make_step(world, run_id, "running")
    await world.events.create(run_id, _finish(run_status))
    await assert_appended(world, raw_events, run_id, on(event, step_id))
    step = await world.steps.get(run_id, step_id)
    assert step.status == event.type.removeprefix("step_")
    assert (await world.runs.get(run_id)).status == run_status


@pytest.mark.parametrize("event", STEP_EVENTS, ids=lambda e: e.type)
async def test_step_event_on_unknown_step_is_not_found(world, raw_events, event):
    run_id = await make_run(world, "running")
    step_id = new_id("step")
    await assert_refused(world, raw_events, run_id, on(event, step_id), NotFound, status=404,
                         entity_id=step_id)


@pytest.mark.parametrize("event", [ev("step_completed", output=1),
                                   ev("step_failed", error=ERROR),
                                   ev("step_retrying", error=ERROR)], ids=lambda e: e.type)
async def test_finishing_a_pending_step_is_conflict(world, raw_events, event):
    run_id = await make_run(world, "running")
    step_id = await make_step(world, run_id, "pending")
    await assert_refused(world, raw_events, run_id, on(event, step_id), Conflict, status=409,
                         entity_id=step_id, state="pending")


def _finish(status):
    return {"completed": ev("run_completed", output=None),
            "failed": ev("run_failed", error=ERROR),
            "cancelled": ev("run_cancelled")}[status]
