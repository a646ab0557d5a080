"""The pure transition rules (worldline.rules) without any world."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from worldline import Conflict, Gone, NewEvent, NotFound, TooEarly, ValidationError
from worldline.model import EventType, Hook, HookStatus, Run, RunStatus, Step, StepStatus
from worldline.rules import decide, validate

NOW = datetime(2026, 1, 1, tzinfo=UTC)
RUN = "run_01TEST"
ERROR = {"message": "boom"}


def run(status: str = "running") -> Run:
    return Run(run_id=RUN, workflow_name="wf", status=RunStatus(status), input=None,
               created_at=NOW, updated_at=NOW, last_seq=3)


def step(status: str = "running", **kw) -> Step:
    return Step(run_id=RUN, step_id="step_1", step_name="s", status=StepStatus(status),
                input=None, created_at=NOW, updated_at=NOW, **kw)


def hook(run_id: str = RUN) -> Hook:
    return Hook(run_id=run_id, hook_id="hook_1", token="tok", status=HookStatus.ACTIVE,
                created_at=NOW, updated_at=NOW)


def go(type_, cid=None, entity=None, current=None, now=NOW, **kw):
    data = kw.pop("data", {})
    event = validate(RUN, NewEvent(type_, cid, data))
    return decide(RUN, event, current, entity, now=now, **kw)


def test_run_created_builds_pending_run():
    d = go("run_created", data={"workflow_name": "wf", "input": [1], "idempotency_key": "k"})
    assert d.event_type is EventType.RUN_CREATED and d.run_changed
    assert (d.run.status, d.run.input, d.run.idempotency_key, d.run.created_at) == \
        ("pending", [1], "k", NOW)


def test_run_created_conflicts():
    with pytest.raises(Conflict):
        go("run_created", current=run(), data={"workflow_name": "wf"})
    with pytest.raises(Conflict) as info:
        go("run_created", data={"workflow_name": "wf", "idempotency_key": "k"},
           idempotency_holder="run_other")
    assert info.value.existing_run_id == "run_other"


def test_run_started_transitions():
    d = go("run_started", current=run("pending"))
    assert d.run.status == "running" and d.run.started_at == NOW
    assert go("run_started", current=run("running")).event_type is None
    for status in ("completed", "failed", "cancelled"):
        with pytest.raises(Gone) as info:
            go("run_started", current=run(status))
        assert info.value.state == status and info.value.run_id == RUN


def test_terminal_run_events_clear_children():
    d = go("run_failed", current=run(), data={"error": ERROR})
    assert d.clear_run_children and d.run.status == "failed" and d.run.error == ERROR
    assert go("run_cancelled", current=run("pending")).run.status == "cancelled"
    assert go("run_cancelled", current=run("cancelled")).event_type is None
    with pytest.raises(Conflict):
        go("run_completed", current=run("pending"))
    with pytest.raises(Conflict):
        go("run_cancelled", current=run("completed"))


def test_unknown_run_is_not_found():
    with pytest.raises(NotFound):
        go("run_started")


def test_step_attempts_and_retry_after():
    d = go("step_started", "step_1", step("pending", attempt=2), run())
    assert (d.entity.status, d.entity.attempt, d.entity.started_at) == ("running", 3, NOW)
    later = NOW + timedelta(seconds=10)
    d = go("step_retrying", "step_1", step(attempt=1), run(),
           data={"error": ERROR, "retry_after": later.isoformat()})
    assert (d.entity.status, d.entity.retry_after, d.entity.error) == ("pending", later, ERROR)
    with pytest.raises(TooEarly) as info:
        go("step_started", "step_1", d.entity, run())
    assert info.value.retry_in == pytest.approx(10) and info.value.status == 425
    assert go("step_started", "step_1", d.entity, run(), now=later).entity.attempt == 2


def test_step_retrying_without_time_retries_now():
    d = go("step_retrying", "step_1", step(), run(), data={"error": ERROR})
    assert d.entity.retry_after == NOW and d.data["retry_after"] == NOW.isoformat()


def test_step_on_terminal_run():
    with pytest.raises(Gone):
        go("step_started", "step_1", step("pending"), run("cancelled"))
    d = go("step_completed", "step_1", step(), run("cancelled"), data={"output": 1})
    assert d.entity.status == "completed" and d.entity.output == 1
    with pytest.raises(Conflict):
        go("step_created", "step_2", None, run("failed"), data={"step_name": "s"})


@pytest.mark.parametrize("status", ["completed", "failed"])
def test_finished_step_is_conflict(status):
    with pytest.raises(Conflict) as info:
        go("step_started", "step_1", step(status), run())
    assert info.value.entity_id == "step_1" and info.value.state == status


def test_hook_conflict_names_owner():
    d = go("hook_created", "hook_2", None, run(), data={"token": "tok"},
           token_holder=hook("run_owner"))
    assert d.event_type is EventType.HOOK_CONFLICT and d.entity is None
    assert d.data["owner_run_id"] == "run_owner" and not d.entity_changed


def test_hook_disposed_deletes_and_missing_hook_is_not_found():
    assert go("hook_disposed", "hook_1", hook(), run()).delete_entity
    with pytest.raises(NotFound):
        go("hook_received", "hook_1", None, run())
    with pytest.raises(Gone):
        go("hook_received", "hook_1", hook(), run("completed"))


@pytest.mark.parametrize("run_id, event", [
    ("nope", NewEvent("run_started")),
    (RUN, NewEvent("bogus")),
    (RUN, NewEvent("hook_conflict", "hook_1")),
    (RUN, NewEvent("step_started")),
    (RUN, NewEvent("step_started", "hook_1")),
    (RUN, NewEvent("run_created", data={"workflow_name": "wf", "extra": 1})),
    (RUN, NewEvent("run_created")),
    (RUN, NewEvent("wait_created", "wait_1", {"resume_at": "2026-01-01T00:00:00"})),
    (RUN, NewEvent("step_failed", "step_1", {"error": "text"})),
])
def test_validate_rejects(run_id, event):
    with pytest.raises(ValidationError):
        validate(run_id, event)


def test_validate_normalises_type():
    assert validate(RUN, NewEvent("run_started")).type is EventType.RUN_STARTED
