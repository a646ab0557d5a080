"""The log checker on hand-made logs: every rule it enforces, one bad log each, plus good
logs that must pass (an in-flight step finishing after the run ended, retries)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from worldline.model import (
    Hook,
    HookStatus,
    Run,
    RunStatus,
    Step,
    StepStatus,
    Wait,
    WaitStatus,
)

from worldline_conformance.logcheck import check_log

T0 = datetime(2026, 1, 1, tzinfo=UTC)
R = "run_01"


def log(*items: str) -> list[dict[str, Any]]:
    """Events from ``"type"`` or ``"type cid"`` strings, seq 1, 2, …"""
    events = []
    for seq, item in enumerate(items, 1):
        etype, _, cid = item.partition(" ")
        events.append({"seq": seq, "type": etype, "correlation_id": cid or None})
    return events


def run(status: str = "running") -> Run:
    return Run(run_id=R, workflow_name="wf", status=RunStatus(status), input=None,
               created_at=T0, updated_at=T0)


def step(step_id: str, attempt: int, status: str = "completed") -> Step:
    return Step(run_id=R, step_id=step_id, step_name="s", status=StepStatus(status), input=None,
                created_at=T0, updated_at=T0, attempt=attempt)


def hook(hook_id: str, token: str) -> Hook:
    return Hook(run_id=R, hook_id=hook_id, token=token, status=HookStatus.ACTIVE, created_at=T0,
                updated_at=T0)


def wait(wait_id: str) -> Wait:
    return Wait(run_id=R, wait_id=wait_id, status=WaitStatus.WAITING, resume_at=T0, created_at=T0,
                updated_at=T0)


START = ("run_created", "run_started")


def test_good_logs_pass() -> None:
    check_log(log(*START, "step_created step_a", "step_started step_a",
                  "step_retrying step_a", "step_started step_a", "step_completed step_a",
                  "wait_created wait_a", "wait_completed wait_a", "hook_created hook_a",
                  "hook_received hook_a", "hook_disposed hook_a", "run_completed"),
              [step("step_a", 2)], [], [], run("completed"))
    # an in-flight step may finish after cancel
    check_log(log(*START, "step_created step_a", "step_started step_a", "run_cancelled",
                  "step_completed step_a"), [step("step_a", 1)], [], [], run("cancelled"))
    check_log([], run=None)


BAD: list[tuple[str, list[dict[str, Any]], dict[str, Any], str]] = [
    ("gap in seq", [{"seq": 1, "type": "run_created"}, {"seq": 3, "type": "run_started"}],
     {}, "dense"),
    ("seq from 0", [{"seq": 0, "type": "run_created"}], {}, "dense"),
    ("seq repeated", [{"seq": 1, "type": "run_created"}, {"seq": 1, "type": "run_started"}],
     {}, "dense"),
    ("first not run_created", log("run_started"), {}, "first event"),
    ("two run terminals", log(*START, "run_completed", "run_failed"),
     {"run": run("completed")}, "second run terminal"),
    ("step created after terminal", log(*START, "run_completed", "step_created step_a"),
     {"run": run("completed"), "steps": [step("step_a", 0, "pending")]}, "after the run's"),
    ("step completes after terminal but was not running",
     log(*START, "step_created step_a", "run_cancelled", "step_completed step_a"),
     {"run": run("cancelled")}, "after the run's"),
    ("step started after terminal",
     log(*START, "step_created step_a", "run_cancelled", "step_started step_a"),
     {"run": run("cancelled")}, "after the run's"),
    ("hook received after terminal",
     log(*START, "hook_created hook_a", "run_completed", "hook_received hook_a"),
     {"run": run("completed")}, "after the run's"),
    ("two step terminals",
     log(*START, "step_created step_a", "step_started step_a", "step_completed step_a",
         "step_failed step_a"), {"steps": [step("step_a", 1)]}, "2 terminal events"),
    ("wait completed twice",
     log(*START, "wait_created wait_a", "wait_completed wait_a", "wait_completed wait_a"), {},
     "2 wait_completed"),
    ("attempt above starts", log(*START, "step_created step_a", "step_started step_a"),
     {"steps": [step("step_a", 2, "running")]}, "attempt=2 but 1 step_started"),
    ("attempt below starts",
     log(*START, "step_created step_a", "step_started step_a", "step_started step_a"),
     {"steps": [step("step_a", 1, "running")]}, "attempt=1 but 2 step_started"),
    ("step without step_created", log(*START), {"steps": [step("step_a", 0, "pending")]},
     "no step_created"),
    ("step created twice", log(*START, "step_created step_a", "step_created step_a"),
     {"steps": [step("step_a", 0, "pending")]}, "2 step_created"),
    ("wait created twice", log(*START, "wait_created wait_a", "wait_created wait_a"), {},
     "2 wait_created"),
    ("hook created twice", log(*START, "hook_created hook_a", "hook_created hook_a"), {},
     "2 hook_created"),
    ("live hook on terminal run", log(*START, "hook_created hook_a", "run_completed"),
     {"run": run("completed"), "hooks": [hook("hook_a", "t")]}, "live hook hook_a"),
    ("waiting wait on terminal run", log(*START, "wait_created wait_a", "run_failed"),
     {"run": run("failed"), "waits": [wait("wait_a")]}, "waiting wait wait_a"),
    ("token held twice", log(*START, "hook_created hook_a", "hook_created hook_b"),
     {"hooks": [hook("hook_a", "t"), hook("hook_b", "t")]}, "held by 2 live hooks"),
    ("status terminal without terminal event", log(*START), {"run": run("completed")},
     "no terminal event"),
    ("status disagrees with terminal event", log(*START, "run_failed"),
     {"run": run("completed")}, "ends it with run_failed"),
]


@pytest.mark.parametrize(("log_", "parts", "expected"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_log_is_reported(log_: list[dict[str, Any]], parts: dict[str, Any],
                             expected: str) -> None:
    with pytest.raises(AssertionError) as info:
        check_log(log_, **parts)
    message = str(info.value)
    assert expected in message
    assert "log:\n" in message and f"seq={log_[-1]['seq']} {log_[-1]['type']}" in message, \
        "the offending events are printed"
