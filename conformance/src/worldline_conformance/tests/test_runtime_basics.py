"""End-to-end runtime behaviour on the world under test: steps, parallelism, races, retries,
sleeps, determinism (SPEC §7)."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
import worldline as wl

from .. import runtime_app as app
from ..runtime_app import PROBE
from .runtime_helpers import event_types, has_event, wait_for, worker  # noqa: F401

pytestmark = pytest.mark.usefixtures("worker")


async def test_sequential_steps(world):
    handle = await wl.start(app.sequential, 1, world=world)
    assert await handle.result(timeout=20) == 112
    types = [t for t, _ in await event_types(world, handle.run_id)]
    assert types == ["run_created", "run_started"] + \
        ["step_created", "step_started", "step_completed"] * 3 + ["run_completed"]
    assert await handle.status() == wl.RunStatus.COMPLETED


async def test_gather_runs_steps_in_parallel(world):
    PROBE.barrier = threading.Barrier(3)  # passes only if all three run at once
    handle = await wl.start(app.gather_wf, world=world)
    assert await handle.result(timeout=20) == ["left", "right", "middle"]
    steps, _ = await world.steps.list(handle.run_id)
    assert [s.status for s in steps] == ["completed"] * 3
    assert all(s.attempt == 1 for s in steps)


async def test_race_first_completed_then_replay_agrees(world):
    handle = await wl.start(app.race_wf, world=world)
    await wait_for(lambda: has_event(world, handle.run_id, "wait_created"))
    PROBE.gate.set()
    result = await handle.result(timeout=20)
    assert result["winner"] == "fast" and result["slow"] == "slow"
    assert result["then"] in ("s2", "f2")


async def test_retryable_step_attempts_are_exact(world):
    handle = await wl.start(app.retries_wf, "k1", 2, world=world)
    assert await handle.result(timeout=20) == 3
    types = [t for t, _ in await event_types(world, handle.run_id)]
    assert types.count("step_started") == 3 and types.count("step_retrying") == 2
    (step,), _ = await world.steps.list(handle.run_id)
    assert step.attempt == 3 and step.status == "completed"
    assert PROBE.calls["k1"] == 3


async def test_retries_exhausted_fail_the_run(world):
    handle = await wl.start(app.retries_wf, "k2", 10, world=world)
    with pytest.raises(wl.WorkflowError) as info:
        await handle.result(timeout=20)
    assert info.value.type == "RuntimeError" and "flaky failure 4" in info.value.message
    assert "Traceback" in info.value.traceback
    (step,), _ = await world.steps.list(handle.run_id)
    assert step.attempt == 4 and step.status == "failed"  # max_retries=3: 4 attempts
    assert PROBE.calls["k2"] == 4


async def test_fatal_error_fails_step_at_once(world):
    handle = await wl.start(app.fatal_wf, "k3", True, world=world)
    assert await handle.result(timeout=20) == "caught FatalError: card declined"
    (step,), _ = await world.steps.list(handle.run_id)
    assert step.attempt == 1 and step.status == "failed"
    failed = await wl.start(app.fatal_wf, "k4", False, world=world)
    with pytest.raises(wl.WorkflowError, match="card declined"):
        await failed.result(timeout=20)
    assert PROBE.calls["k3"] == 1 and PROBE.calls["k4"] == 1


async def test_short_sleep(world):
    handle = await wl.start(app.sleep_wf, 0.3, world=world)
    result = await handle.result(timeout=20)
    elapsed = datetime.fromisoformat(result["after"]) - datetime.fromisoformat(result["before"])
    assert elapsed.total_seconds() >= 0.3
    types = [t for t, _ in await event_types(world, handle.run_id)]
    assert types.count("wait_created") == 1 and types.count("wait_completed") == 1


async def test_step_returning_none_is_never_rerun(world):
    handle = await wl.start(app.none_step_wf, "n", world=world)
    assert await handle.result(timeout=20) == "None-None"
    assert PROBE.calls["n"] == 1 and PROBE.calls["n.2"] == 1


async def test_now_random_uuid_are_deterministic_across_replays(world):
    handle = await wl.start(app.deterministic_wf, world=world)
    result = await handle.result(timeout=20)
    seen = PROBE.flags["seen"]
    assert len(seen) >= 2 and all(s == result for s in seen)


async def test_non_determinism_names_both_calls(world):
    handle = await wl.start(app.nondeterministic_wf, world=world)
    with pytest.raises(wl.WorkflowError) as info:
        await handle.result(timeout=20)
    assert info.value.type == "NonDeterminismError"
    assert "step_b" in info.value.message and "step_a" in info.value.message


async def test_child_workflow(world):
    handle = await wl.start(app.parent_wf, 21, world=world)
    assert await handle.result(timeout=20) == {"doubled": 42, "plus": 43}
    runs, _ = await world.runs.list(workflow_name="rt.child")
    assert len(runs) == 1 and runs[0].status == "completed"
