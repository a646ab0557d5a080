"""Shared helpers for the conformance tests: build runs and entities in a given state
through the public API only, and assert what a refused or accepted event wrote."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from worldline import Enqueue, EventResult, NewEvent, World, WorldError
from worldline.ids import new_id

T = TypeVar("T")

RawEvents = Callable[[str], Awaitable[list[dict[str, Any]]]]

ERROR = {"name": "Boom", "message": "boom"}


def ev(type: str, correlation_id: str | None = None, **data: Any) -> NewEvent:
    """A client event: ``ev("step_created", step_id, step_name="s")``."""
    return NewEvent(type=type, correlation_id=correlation_id, data=data)


def iso_in(seconds: float) -> str:
    """An ISO-8601 UTC time ``seconds`` from now (negative: in the past)."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def make_run(world: World, status: str = "pending", *, workflow_name: str = "wf",
                   input: Any = None, idempotency_key: str | None = None) -> str:
    """Create a run and drive it to ``status`` with the events the runtime would write."""
    run_id = new_id("run")
    data: dict[str, Any] = {"workflow_name": workflow_name, "input": input}
    if idempotency_key is not None:
        data["idempotency_key"] = idempotency_key
    await world.events.create(run_id, NewEvent("run_created", data=data))
    if status in ("running", "completed", "failed"):
        await world.events.create(run_id, ev("run_started"))
    if status == "completed":
        await world.events.create(run_id, ev("run_completed", output={"ok": True}))
    elif status == "failed":
        await world.events.create(run_id, ev("run_failed", error=ERROR))
    elif status == "cancelled":
        await world.events.create(run_id, ev("run_cancelled"))
    elif status not in ("pending", "running"):
        raise ValueError(f"unknown run status {status!r}")
    return run_id


async def make_step(world: World, run_id: str, status: str = "pending", *,
                    step_name: str = "step", input: Any = None) -> str:
    """Create a step in ``run_id`` (which must be running) and drive it to ``status``."""
    step_id = new_id("step")
    await world.events.create(run_id, ev("step_created", step_id, step_name=step_name,
                                         input=input))
    if status in ("running", "completed", "failed"):
        await world.events.create(run_id, ev("step_started", step_id))
    if status == "completed":
        await world.events.create(run_id, ev("step_completed", step_id, output={"v": 1}))
    elif status == "failed":
        await world.events.create(run_id, ev("step_failed", step_id, error=ERROR))
    elif status not in ("pending", "running"):
        raise ValueError(f"unknown step status {status!r}")
    return step_id


async def make_wait(world: World, run_id: str, *, resume_in: float = 0.0) -> str:
    wait_id = new_id("wait")
    await world.events.create(run_id, ev("wait_created", wait_id, resume_at=iso_in(resume_in)))
    return wait_id


async def make_hook(world: World, run_id: str, token: str | None = None) -> tuple[str, str]:
    """Create a live hook; returns ``(hook_id, token)``."""
    hook_id = new_id("hook")
    token = token or f"tok-{new_id('hook')}"
    result = await world.events.create(run_id, ev("hook_created", hook_id, token=token))
    assert result.event is not None and result.event.type == "hook_created", result
    return hook_id, token


def entity_of(result: EventResult, cls: type[T]) -> T:
    """The step / wait / hook an ``events.create`` returned, checked to be a ``cls``."""
    assert isinstance(result.entity, cls), f"expected a {cls.__name__}, got {result.entity!r}"
    return result.entity


async def types_of(raw_events: RawEvents, run_id: str) -> list[str]:
    return [e["type"] for e in await raw_events(run_id)]


async def assert_refused(world: World, raw_events: RawEvents, run_id: str, event: NewEvent,
                         error: type[WorldError], *, status: int,
                         entity_id: str | None = None, state: str | None = None,
                         enqueue: Enqueue | None = None) -> WorldError:
    """``events.create`` raises ``error`` with ``status``, names the run (and the entity and
    state when given), and the persisted log is exactly as it was."""
    before = await raw_events(run_id)
    with pytest.raises(error) as info:
        await world.events.create(run_id, event, enqueue=enqueue)
    err = info.value
    assert err.status == status, err
    assert err.run_id == run_id, f"error does not name the run: {err}"
    assert run_id in str(err)
    if entity_id is not None:
        assert err.entity_id == entity_id, f"error does not name the entity: {err}"
        assert entity_id in str(err)
    if state is not None:
        assert err.state == state, f"error does not name the state {state!r}: {err}"
        assert f"state={state}" in str(err)
    assert await raw_events(run_id) == before, "a refused event changed the log"
    return err


async def assert_appended(world: World, raw_events: RawEvents, run_id: str, event: NewEvent,
                          *, expect_type: str | None = None,
                          enqueue: Enqueue | None = None) -> EventResult:
    """``events.create`` appends exactly one event of ``expect_type`` (default: the event's
    own type) with the next sequence number, and returns it."""
    before = await raw_events(run_id)
    result = await world.events.create(run_id, event, enqueue=enqueue)
    after = await raw_events(run_id)
    assert after[:len(before)] == before, "earlier events changed"
    assert len(after) == len(before) + 1, f"expected one new event, log is {after}"
    new = after[-1]
    want = expect_type or str(event.type)
    assert new["type"] == want
    assert new["seq"] == len(before) + 1
    assert result.event is not None and result.event.type == want
    assert result.event.seq == new["seq"]
    assert result.event.run_id == run_id
    assert result.event.correlation_id == new["correlation_id"]
    if want != "hook_conflict":
        assert new["correlation_id"] in (None, run_id, event.correlation_id)
    return result


async def assert_noop(world: World, raw_events: RawEvents, run_id: str, event: NewEvent,
                      *, enqueue: Enqueue | None = None) -> EventResult:
    """``events.create`` succeeds without appending anything (an idempotent repeat)."""
    before = await raw_events(run_id)
    result = await world.events.create(run_id, event, enqueue=enqueue)
    assert result.event is None, f"expected no new event, got {result.event}"
    assert result.run.run_id == run_id
    assert await raw_events(run_id) == before
    return result
