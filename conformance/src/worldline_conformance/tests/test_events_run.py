"""SPEC §3: run events — creation, start, terminal transitions, unknown runs."""

from __future__ import annotations

import pytest
from worldline import Conflict, Gone, NewEvent, NotFound
from worldline.ids import new_id

from ..helpers import ERROR, assert_appended, assert_noop, assert_refused, ev, make_run

TERMINAL = ["completed", "failed", "cancelled"]


async def test_run_created_records_pending_run(world, raw_events):
    run_id = new_id("run")
    result = await assert_appended(world, raw_events, run_id, NewEvent(
        "run_created", data={"workflow_name": "wf", "input": {"a": [1, 2]}}))
    assert result.run.status == "pending"
    run = await world.runs.get(run_id)
    assert (run.run_id, run.workflow_name, run.status, run.input) == \
        (run_id, "wf", "pending", {"a": [1, 2]})
    assert run.output is None and run.error is None and run.started_at is None
    assert (await raw_events(run_id))[0]["seq"] == 1


@pytest.mark.parametrize("status", ["pending", "running", *TERMINAL])
async def test_run_created_for_existing_run_is_conflict(world, raw_events, status):
    run_id = await make_run(world, status)
    await assert_refused(world, raw_events, run_id,
                         NewEvent("run_created", data={"workflow_name": "other"}),
                         Conflict, status=409, state=status)
    assert (await world.runs.get(run_id)).workflow_name == "wf"


async def test_run_started_moves_pending_to_running(world, raw_events):
    run_id = await make_run(world)
    result = await assert_appended(world, raw_events, run_id, ev("run_started"))
    assert result.run.status == "running"
    run = await world.runs.get(run_id)
    assert run.status == "running" and run.started_at is not None


async def test_run_started_on_running_run_is_idempotent(world, raw_events):
    run_id = await make_run(world, "running")
    started_at = (await world.runs.get(run_id)).started_at
    result = await assert_noop(world, raw_events, run_id, ev("run_started"))
    assert result.run.status == "running"
    assert (await world.runs.get(run_id)).started_at == started_at


@pytest.mark.parametrize("status", TERMINAL)
async def test_run_started_on_terminal_run_is_gone(world, raw_events, status):
    run_id = await make_run(world, status)
    await assert_refused(world, raw_events, run_id, ev("run_started"), Gone, status=410,
                         state=status)


@pytest.mark.parametrize("status", TERMINAL)
@pytest.mark.parametrize("event", [ev("run_completed", output=1), ev("run_failed", error=ERROR)],
                         ids=["run_completed", "run_failed"])
async def test_finishing_a_terminal_run_is_conflict(world, raw_events, status, event):
    run_id = await make_run(world, status)
    before = await world.runs.get(run_id)
    await assert_refused(world, raw_events, run_id, event, Conflict, status=409, state=status)
    assert await world.runs.get(run_id) == before


@pytest.mark.parametrize("status", ["completed", "failed"])
async def test_cancelling_a_finished_run_is_conflict(world, raw_events, status):
    run_id = await make_run(world, status)
    await assert_refused(world, raw_events, run_id, ev("run_cancelled"), Conflict, status=409,
                         state=status)
    assert (await world.runs.get(run_id)).status == status


async def test_cancelling_a_cancelled_run_is_idempotent(world, raw_events):
    run_id = await make_run(world, "cancelled")
    result = await assert_noop(world, raw_events, run_id, ev("run_cancelled", reason="again"))
    assert result.run.status == "cancelled"


@pytest.mark.parametrize("status", ["pending", "running"])
async def test_cancel_from_pending_or_running(world, raw_events, status):
    run_id = await make_run(world, status)
    result = await assert_appended(world, raw_events, run_id, ev("run_cancelled", reason="r"))
    assert result.run.status == "cancelled"
    run = await world.runs.get(run_id)
    assert run.status == "cancelled" and run.completed_at is not None


async def test_run_completed_records_output(world, raw_events):
    run_id = await make_run(world, "running")
    await assert_appended(world, raw_events, run_id, ev("run_completed", output={"x": 1}))
    run = await world.runs.get(run_id)
    assert (run.status, run.output, run.error) == ("completed", {"x": 1}, None)
    assert run.completed_at is not None


async def test_run_failed_records_error_and_no_output(world, raw_events):
    run_id = await make_run(world, "running")
    await assert_appended(world, raw_events, run_id, ev("run_failed", error=ERROR))
    run = await world.runs.get(run_id)
    assert (run.status, run.output, run.error) == ("failed", None, ERROR)


@pytest.mark.parametrize("event", [
    ev("run_started"), ev("run_completed"), ev("run_failed", error=ERROR), ev("run_cancelled"),
    ev("step_created", "step_x", step_name="s"), ev("step_started", "step_x"),
    ev("wait_created", "wait_x", resume_at="2030-01-01T00:00:00+00:00"),
    ev("wait_completed", "wait_x"), ev("hook_created", "hook_x", token="t"),
    ev("hook_received", "hook_x"), ev("hook_disposed", "hook_x"),
], ids=lambda e: e.type)
async def test_event_on_unknown_run_is_not_found(world, raw_events, event):
    run_id = new_id("run")
    await assert_refused(world, raw_events, run_id, event, NotFound, status=404)
    assert await raw_events(run_id) == []
    with pytest.raises(NotFound):
        await world.runs.get(run_id)
