"""Workflows, steps and contender moves for runtime-level races (SPEC §7, §8).

Importing this module registers the workflows, so a spawned contender process that
unpickles one of these moves has them too. Every step-body execution leaves a marker
message on ``bodies_queue(run_id)``: the world itself counts body runs across processes.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from dataclasses import dataclass
from typing import Any

from worldline import (
    NewEvent,
    NotFound,
    Worker,
    World,
    WorldError,
    create_hook,
    sleep,
    step,
    workflow,
)
from worldline.runtime import resume_hook
from worldline.runtime.steps import STEP_ENV

#: seconds a runtime contender waits for the run to end before calling it a lost wake-up
RUN_TIMEOUT = 30.0
#: seconds a worker may take to stop once the run is over
STOP_TIMEOUT = 15.0
CLEAN = "clean"


def bodies_queue(run_id: str) -> str:
    return f"race.bodies.{run_id}"


@step(name="race_tick", max_retries=0)
async def tick(i: int) -> str:
    """Leave a marker for this execution; return a value unique to the attempt."""
    env = STEP_ENV.get()
    assert env is not None
    await env.world.queue.enqueue(bodies_queue(env.run_id),
                                  {"step_id": env.step_id, "attempt": env.attempt, "i": i})
    return f"{i}:{env.step_id}#{env.attempt}"


@workflow(name="race_steps")
async def race_steps(n: int, nap_at: int = -1) -> list[str]:
    """``n`` steps in sequence, with a durable sleep before step ``nap_at``."""
    results = []
    for i in range(n):
        if i == nap_at:
            await sleep(0.02)
        results.append(await tick(i))
    return results


@workflow(name="race_hook")
async def race_hook(token: str) -> Any:
    """Wait for one payload on a hook; return it."""
    hook = create_hook(token)
    return await hook


class _ErrorCount(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def _until_over(world: World, run_id: str, timeout: float = RUN_TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    pause = 0.002
    while time.monotonic() < deadline:
        if (await world.runs.get(run_id, with_data=False)).status.terminal:
            return True
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, 0.05)
    return False


def _pending() -> str:
    """Where this loop's unfinished tasks are stuck (for a failure message)."""
    out = io.StringIO()
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task():
            task.print_stack(limit=8, file=out)
    return out.getvalue()


@dataclass(frozen=True)
class DriveWorker:
    """Run a :class:`worldline.Worker` on this contender's world until ``run_id`` is over.
    Outcome ``clean``; ``retried: …`` if the worker logged an error (it retries the message
    then: e.g. a 409/410 treated as a failure); ``lost wake-up`` if the run never ended."""

    run_id: str

    async def perform(self, world: World) -> str:
        counter = _ErrorCount()
        loggers = [logging.getLogger(n) for n in ("worldline.worker", "worldline.runtime")]
        for logger in loggers:
            logger.addHandler(counter)
        worker = Worker(world, poll=0.05, concurrency=4)
        try:
            await worker.start()
            over = await _until_over(world, self.run_id)
            try:
                await asyncio.wait_for(asyncio.shield(worker.stop()), STOP_TIMEOUT)
            except TimeoutError:
                return f"worker did not stop within {STOP_TIMEOUT}s: {_pending()}"
        finally:
            for logger in loggers:
                logger.removeHandler(counter)
        if counter.records:
            return "retried: " + "; ".join(r.getMessage() for r in counter.records[:3])
        return CLEAN if over else "lost wake-up"


@dataclass(frozen=True)
class CancelAfter:
    """Cancel the run once ``steps`` of its steps have started (0: at once)."""

    run_id: str
    steps: int

    async def perform(self, world: World) -> str:
        deadline = time.monotonic() + RUN_TIMEOUT
        while self.steps and time.monotonic() < deadline:
            page = await world.steps.list(self.run_id, with_data=False)
            if sum(s.attempt > 0 for s in page.items) >= self.steps:
                break
            if (await world.runs.get(self.run_id, with_data=False)).status.terminal:
                break
            await asyncio.sleep(0.001)
        try:
            res = await world.events.create(self.run_id, NewEvent("run_cancelled"))
        except WorldError as err:
            return type(err).__name__
        return "won" if res.event is not None else "noop"


@dataclass(frozen=True)
class Resume:
    """``resume_hook(token, payload)`` as soon as the hook exists."""

    token: str
    payload: Any

    async def perform(self, world: World) -> str:
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            try:
                await world.hooks.get_by_token(self.token)
                break
            except NotFound:
                await asyncio.sleep(0.001)
        try:
            await resume_hook(self.token, self.payload, world=world)
        except WorldError as err:
            return type(err).__name__
        return "won"
