"""SPEC §3 last row: a malformed event is a ValidationError (400) and writes nothing."""

from __future__ import annotations

from typing import Any, cast

import pytest
from worldline import NewEvent, ValidationError
from worldline.ids import new_id

from ..helpers import ERROR, assert_refused, ev, make_hook, make_run, make_step

LATER = "2030-01-01T00:00:00+00:00"

#: (id, event builder given the ids of a running run's pending step / live hook)
MALFORMED = {
    "unknown type": lambda s, h: ev("run_exploded"),
    "unknown step type": lambda s, h: ev("step_paused", s),
    "hook_conflict from client": lambda s, h: ev("hook_conflict", h, token="t",
                                                 owner_run_id="run_x"),
    "step missing correlation": lambda s, h: ev("step_started"),
    "wait missing correlation": lambda s, h: ev("wait_created", resume_at=LATER),
    "hook missing correlation": lambda s, h: ev("hook_received", payload=1),
    "step with wait id": lambda s, h: ev("step_started", "wait_" + s[5:]),
    "hook with step id": lambda s, h: ev("hook_received", s),
    "bare prefix": lambda s, h: ev("step_created", "step_", step_name="x"),
    "non-str correlation": lambda s, h: NewEvent("step_started", correlation_id=cast(Any, 42)),
    "run event with foreign id": lambda s, h: ev("run_completed", "run_other"),
    "workflow_name not str": lambda s, h: ev("run_created", workflow_name=5),
    "empty workflow_name": lambda s, h: ev("run_created", workflow_name=""),
    "step error not dict": lambda s, h: ev("step_failed", s, error="boom"),
    "run error not dict": lambda s, h: ev("run_failed", error=["boom"]),
    "resume_at not str": lambda s, h: ev("wait_created", "wait_a", resume_at=1234),
    "token not str": lambda s, h: ev("hook_created", "hook_a", token=7),
    "empty token": lambda s, h: ev("hook_created", "hook_a", token=""),
    "reason not str": lambda s, h: ev("run_cancelled", reason=1),
    "unknown key run": lambda s, h: ev("run_completed", output=1, result=2),
    "unknown key step": lambda s, h: ev("step_started", s, attempt=3),
    "unknown key hook": lambda s, h: ev("hook_received", h, payload=1, extra=True),
    "missing workflow_name": lambda s, h: ev("run_created", input=1),
    "missing step_name": lambda s, h: ev("step_created", "step_new"),
    "missing step error": lambda s, h: ev("step_failed", s),
    "missing retrying error": lambda s, h: ev("step_retrying", s, retry_after=LATER),
    "missing run error": lambda s, h: ev("run_failed"),
    "missing resume_at": lambda s, h: ev("wait_created", "wait_new"),
    "missing token": lambda s, h: ev("hook_created", "hook_new"),
    "resume_at not ISO": lambda s, h: ev("wait_created", "wait_a", resume_at="tomorrow"),
    "resume_at naive": lambda s, h: ev("wait_created", "wait_a",
                                       resume_at="2030-01-01T00:00:00"),
    "retry_after not ISO": lambda s, h: ev("step_retrying", s, error=ERROR,
                                           retry_after="soon"),
    "data is a list": lambda s, h: NewEvent("run_completed", data=cast(Any, [1])),
    "data is None": lambda s, h: NewEvent("step_started", s, data=cast(Any, None)),
}


@pytest.mark.parametrize("name", list(MALFORMED))
async def test_malformed_event_is_validation_error(world, raw_events, name):
    run_id = await make_run(world, "running")
    step_id = await make_step(world, run_id, "running")
    hook_id, _ = await make_hook(world, run_id)
    before = (await world.runs.get(run_id), await world.steps.get(run_id, step_id),
              await world.hooks.get(run_id, hook_id))
    err = await assert_refused(world, raw_events, run_id, MALFORMED[name](step_id, hook_id),
                               ValidationError, status=400)
    assert str(err)
    after = (await world.runs.get(run_id), await world.steps.get(run_id, step_id),
             await world.hooks.get(run_id, hook_id))
    assert after == before


@pytest.mark.parametrize("run_id", [None, "", "run_", "abc", "step_01ABC", 5, b"run_x"],
                         ids=repr)
async def test_bad_run_id_is_validation_error(world, run_id):
    for event in (NewEvent("run_created", data={"workflow_name": "wf"}), ev("run_started")):
        with pytest.raises(ValidationError) as info:
            await world.events.create(run_id, event)
        assert info.value.status == 400 and "run id" in str(info.value)
    assert (await world.runs.list()).items == []


@pytest.mark.parametrize("event", [{"type": "run_created", "data": {"workflow_name": "w"}},
                                   "run_created", None], ids=repr)
async def test_event_must_be_a_new_event(world, raw_events, event):
    run_id = new_id("run")
    with pytest.raises(ValidationError) as info:
        await world.events.create(run_id, event)
    assert info.value.status == 400 and info.value.run_id == run_id
    assert await raw_events(run_id) == []
    assert (await world.runs.list()).items == []


async def test_malformed_run_created_creates_no_run(world, raw_events):
    run_id = new_id("run")
    for data in ({}, {"workflow_name": 1}, {"workflow_name": "w", "idempotency_key": 3},
                 {"workflow_name": "w", "colour": "red"}):
        with pytest.raises(ValidationError):
            await world.events.create(run_id, NewEvent("run_created", data=data))
    assert await raw_events(run_id) == []
    assert (await world.runs.list()).items == []
