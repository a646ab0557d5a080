"""Building the state a race starts from, and reading back what it left, by protocol calls."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from worldline import NewEvent, World
from worldline.ids import new_id
from worldline.model import utcnow

from ..logcheck import check_log, children


async def new_run(world: World, status: str = "running") -> str:
    """A fresh run in ``status`` (pending, running, completed, failed or cancelled)."""
    run_id = new_id("run")
    await world.events.create(run_id, NewEvent("run_created", data={"workflow_name": "race"}))
    if status == "pending":
        return run_id
    if status == "cancelled":
        await world.events.create(run_id, NewEvent("run_cancelled"))
        return run_id
    await world.events.create(run_id, NewEvent("run_started"))
    if status == "completed":
        await world.events.create(run_id, NewEvent("run_completed", data={"output": 1}))
    elif status == "failed":
        await world.events.create(run_id, NewEvent("run_failed", data={"error": {"m": "x"}}))
    return run_id


async def new_step(world: World, run_id: str, status: str = "running") -> str:
    """A fresh step of ``run_id`` in ``status`` (pending, running or completed)."""
    step_id = new_id("step")
    await world.events.create(run_id, NewEvent("step_created", step_id,
                                               {"step_name": "s", "input": None}))
    if status in ("running", "completed"):
        await world.events.create(run_id, NewEvent("step_started", step_id))
    if status == "completed":
        await world.events.create(run_id, NewEvent("step_completed", step_id, {"output": 0}))
    return step_id


async def new_wait(world: World, run_id: str) -> str:
    """A fresh wait of ``run_id`` whose ``resume_at`` has passed."""
    wait_id = new_id("wait")
    past = (utcnow() - timedelta(seconds=1)).isoformat()
    await world.events.create(run_id, NewEvent("wait_created", wait_id, {"resume_at": past}))
    return wait_id


async def new_hook(world: World, run_id: str) -> tuple[str, str]:
    """A fresh live hook of ``run_id``: ``(hook_id, token)``."""
    hook_id, token = new_id("hook"), f"tok-{new_id('hook')}"
    await world.events.create(run_id, NewEvent("hook_created", hook_id, {"token": token}))
    return hook_id, token


async def log(world: World, run_id: str) -> list[dict[str, Any]]:
    """The run's persisted log (the backdoor read)."""
    return await world.raw_events(run_id)


def types(events: list[dict[str, Any]]) -> list[str]:
    return [str(e["type"]) for e in events]


async def drain(world: World, queue: str) -> list[dict[str, Any]]:
    """Lease and ack every visible message of ``queue``; their payloads."""
    payloads: list[dict[str, Any]] = []
    while messages := await world.queue.lease([queue], limit=10):
        for message in messages:
            payloads.append(message.payload)
            await world.queue.ack(message)
    return payloads


async def checked_log(world: World, run_id: str) -> list[dict[str, Any]]:
    """The run's log after :func:`~worldline_conformance.logcheck.check_log` passed on it."""
    events = await world.raw_events(run_id)
    steps, hooks, waits = await children(world, run_id)
    check_log(events, steps, hooks, waits, await world.runs.get(run_id))
    return events
