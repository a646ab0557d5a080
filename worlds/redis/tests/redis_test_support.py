"""Helpers shared by the Redis world's own tests."""

from __future__ import annotations

from typing import Any

from worldline import NewEvent
from worldline.ids import new_id


def created(workflow: str = "wf", **data: Any) -> NewEvent:
    return NewEvent("run_created", data={"workflow_name": workflow, **data})


async def running_run(world) -> str:
    run_id = new_id("run")
    await world.events.create(run_id, created())
    await world.events.create(run_id, NewEvent("run_started"))
    return run_id


def interleave(world, competitor):
    """After ``world``'s next LOAD, let ``competitor()`` write, then hand back the stale
    read: the decision ``world`` takes on it is stale by construction."""
    original = world.scripts.load
    calls = {"n": 0}

    async def load(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        read = await original(*args, **kwargs)
        if calls["n"] == 1:
            await competitor()
        return read

    world.scripts.load = load
    return calls


def record_appends(world: Any) -> tuple[Any, list[dict[str, Any]]]:
    """Wrap ``world.scripts.append`` to keep each call's arguments; returns the original
    script and the list of calls (to resend one, as redis-py does after a lost reply)."""
    original, sent = world.scripts.append, []

    async def append(*args: Any, **kwargs: Any) -> Any:
        sent.append(kwargs)
        return await original(*args, **kwargs)

    world.scripts.append = append
    return original, sent
