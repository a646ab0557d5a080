"""Write-behind of step results (worlds with ``batch_events``): a finished inline step's
``step_completed`` is written in one unit with the run's next transition, guarded by
``expect_seq``. On other worlds every result is written on its own; the outcomes asserted
here hold on both."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import worldline as wl
from worldline import World

from .. import runtime_app as app
from ..runtime_app import PROBE
from .runtime_helpers import event_types, has_event, wait_for, worker  # noqa: F401

pytestmark = pytest.mark.usefixtures("worker")


def count_writes(world: World, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count the world's write calls and how they ended (``create`` / ``create_batch``)."""
    calls: Counter[str] = Counter()
    for name in ("create", "create_batch"):
        original = getattr(world.events, name, None)
        if original is None:
            continue

        async def counted(*args: Any, _original: Any = original, _name: str = name,
                          **kwargs: Any) -> Any:
            try:
                result = await _original(*args, **kwargs)
            except Exception as exc:
                calls[f"{_name}:{type(exc).__name__}"] += 1
                raise
            calls[_name] += 1
            return result

        monkeypatch.setattr(world.events, name, counted)
    return calls


async def test_each_step_costs_one_atomic_write(world, monkeypatch):
    calls = count_writes(world, monkeypatch)
    handle = await wl.start(app.sequential, 1, world=world)
    assert await handle.result(timeout=20) == 112
    types = [t for t, _ in await event_types(world, handle.run_id)]
    assert types == ["run_created", "run_started"] + \
        ["step_created", "step_started", "step_completed"] * 3 + ["run_completed"]
    if world.capabilities.batch_events:
        # run_created, run_started, a batch per step (the previous result with the next
        # step's creation and start), the last result with run_completed
        assert calls == Counter(create=2, create_batch=4), calls


async def test_now_after_a_step_is_the_same_in_every_replay(world):
    handle = await wl.start(app.clock_after_step_wf, world=world)
    result = await handle.result(timeout=20)
    seen = PROBE.flags["seen"]
    assert len(seen) >= 2, "the run was not replayed after its sleep"
    assert all(times == result for times in seen), seen
    assert result == sorted(result), "now() went backwards"


@pytest.mark.parametrize("then", ["await", "step"])
async def test_a_result_whose_log_moved_is_written_alone_then_replayed(world, monkeypatch,
                                                                       then, tmp_path):
    calls = count_writes(world, monkeypatch)
    token = f"moved-{tmp_path.name}"
    handle = await wl.start(app.log_moves_under_step_wf, token, then, world=world)
    await wait_for(lambda: has_event(world, handle.run_id, "step_started"))
    assert await wl.resume_hook(token, {"paid": True}, world=world) == handle.run_id
    PROBE.gate.set()  # step a returns only now, after the hook's payload is in the log
    assert await handle.result(timeout=20) == ["hook", "a", {"paid": True}], \
        "the outcome disagrees with the log's order (the hook's payload came first)"
    types = [t for t, _ in await event_types(world, handle.run_id)]
    assert types.index("hook_received") < types.index("step_completed")
    assert types.count("step_completed") == (2 if then == "step" else 1)
    steps, _ = await world.steps.list(handle.run_id)
    assert all((s.status, s.attempt) == ("completed", 1) for s in steps)
    if world.capabilities.batch_events and then == "step":
        assert calls["create_batch:LogMoved"] == 1, calls  # then written alone, replayed


async def test_steps_finishing_while_others_are_created_are_all_recorded(world):
    """A step that finishes while the driver is creating the next ones writes its own
    result (the driver is busy: a handed-back result would be applied out of order)."""
    for _ in range(10):
        handle = await wl.start(app.fast_gather_wf, 10, world=world)
        assert await handle.result(timeout=15) == [f"s{i}" for i in range(10)]
        steps, _ = await world.steps.list(handle.run_id)
        assert [s.status for s in steps] == ["completed"] * 10
