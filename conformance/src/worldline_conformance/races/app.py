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
from typing import Any, cast

from worldline import (
    Message,
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


#: seconds of the durable sleep in ``race_nap``
NAP = 0.2


@step(name="race_tick", max_retries=2)
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


@workflow(name="race_nap")
async def race_nap() -> str:
    """A durable sleep, then one step."""
    await sleep(NAP)
    return await tick(0)


class RaceFailure(Exception):
    """What ``race_fail`` raises."""


@workflow(name="race_fail")
async def race_fail() -> None:
    """Fail at once (two handlers race ``run_failed``)."""
    raise RaceFailure("race_fail fails by design")


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


class _ObservedEvents:
    """``events`` of a world, recording how each watched ``create`` ended."""

    def __init__(self, events: Any, watch: tuple[str, ...]) -> None:
        self._events = events
        self._watch = watch
        self.seen: list[str] = []

    async def create(self, run_id: str, event: NewEvent, **kwargs: Any) -> Any:
        try:
            result = await self._events.create(run_id, event, **kwargs)
        except WorldError as err:
            self._note(event, type(err).__name__)
            raise
        self._note(event, "won" if result.event is not None else "noop")
        return result

    async def create_batch(self, run_id: str, events: list[NewEvent], **kwargs: Any) -> Any:
        try:
            results = await self._events.create_batch(run_id, events, **kwargs)
        except WorldError as err:  # nothing written: the refusal stands for the batch
            self._note(events[0], type(err).__name__)
            raise
        for event, result in zip(events, results, strict=True):
            self._note(event, "won" if result.event is not None else "noop")
        return results

    def _note(self, event: NewEvent, outcome: str) -> None:
        if str(event.type) in self._watch:
            self.seen.append(f"{event.type}={outcome}")

    def list(self, *args: Any, **kwargs: Any) -> Any:
        return self._events.list(*args, **kwargs)


class _ObservedWorld:
    """A contender's world as its worker sees it, with ``events`` observed."""

    def __init__(self, world: World, watch: tuple[str, ...]) -> None:
        self._world = world
        self.events = _ObservedEvents(world.events, watch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._world, name)


def calls(outcomes: list[str], event_type: str) -> list[str]:
    """How the watched ``event_type`` calls of every worker contender ended, sorted."""
    return sorted(part.split("=", 1)[1] for outcome in outcomes
                  for part in outcome.split(" ")[1:] if part.startswith(f"{event_type}="))


def clean(outcome: str) -> bool:
    """The worker contender logged no error and saw its run end."""
    return outcome.split(" ")[0] == CLEAN


async def _work_until_over(world: World, run_id: str, first: Message | None = None, *,
                           inline_concurrency: int | None = None,
                           inline_grace: float = 60.0, watch: tuple[str, ...] = ()) -> str:
    """Handle ``first`` (a delivery leased by the set-up) like a worker, then run a
    :class:`worldline.Worker` on this contender's world until ``run_id`` is over.

    Outcome ``clean``, followed by how each of its ``watch`` event calls ended (e.g.
    ``clean run_started=won``); ``retried: …`` if the worker logged an error (it retries
    the message then: e.g. a 409/410 treated as a failure); ``lost wake-up`` if the run
    never ended."""
    counter = _ErrorCount()
    loggers = [logging.getLogger(n) for n in ("worldline.worker", "worldline.runtime")]
    for logger in loggers:
        logger.addHandler(counter)
    observed = _ObservedWorld(world, watch)
    worker = Worker(cast(World, observed), poll=0.05, concurrency=4,
                    inline_concurrency=inline_concurrency, inline_grace=inline_grace)
    try:
        if first is not None:
            await worker.handle(first)
        await worker.start()
        over = await _until_over(world, run_id)
        try:
            await asyncio.wait_for(asyncio.shield(worker.stop()), STOP_TIMEOUT)
        except TimeoutError:
            return f"worker did not stop within {STOP_TIMEOUT}s: {_pending()}"
    finally:
        for logger in loggers:
            logger.removeHandler(counter)
    if counter.records:
        return "retried: " + "; ".join(r.getMessage() for r in counter.records[:3])
    return " ".join([CLEAN, *observed.events.seen]) if over else "lost wake-up"


@dataclass(frozen=True)
class DriveWorker:
    """Run a worker until ``run_id`` is over (see :func:`_work_until_over`)."""

    run_id: str

    async def perform(self, world: World) -> str:
        return await _work_until_over(world, self.run_id)


@dataclass(frozen=True)
class Handle:
    """A worker handed one delivery of a message — as when a lease expired and the same
    message went to a second worker — that then keeps working until the run is over."""

    run_id: str
    message: Message
    #: event types whose outcome (won / noop / Conflict / …) the contender reports
    watch: tuple[str, ...] = ()
    inline_concurrency: int | None = None
    inline_grace: float = 60.0

    async def perform(self, world: World) -> str:
        return await _work_until_over(world, self.run_id, self.message,
                                      inline_concurrency=self.inline_concurrency,
                                      inline_grace=self.inline_grace, watch=self.watch)


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


# -- set-up helpers: bring a run to the state a race starts from --------------------------------
async def lease_for(world: World, queue: str, run_id: str, *, visibility_timeout: float = 30.0,
                    message_id: str | None = None, wait: float = 10.0) -> Message:
    """Lease the next message of ``run_id`` on ``queue`` (or the message ``message_id``).
    Leftovers of earlier rounds (their runs are over) are acknowledged on the way."""
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        for message in await world.queue.lease([queue], visibility_timeout=visibility_timeout,
                                               wait=min(left, 1.0)):
            if message.payload.get("run_id") == run_id and \
                    message_id in (None, message.message_id):
                return message
            await world.queue.ack(message)
    raise AssertionError(f"no message for {run_id} on {queue} within {wait}s")


async def deliver_twice(world: World, queue: str, run_id: str) -> tuple[Message, Message]:
    """The next message of ``run_id`` on ``queue``, delivered twice: leased with a short
    lease that expires, then leased again (the same message; the first lease is stale)."""
    first = await lease_for(world, queue, run_id, visibility_timeout=0.02)
    second = await lease_for(world, queue, run_id, message_id=first.message_id)
    assert second.deliveries == first.deliveries + 1, (first, second)
    return first, second


async def two_handlers(world: World, queue: str, run_id: str, *watch: str,
                       inline_concurrency: int | None = None,
                       inline_grace: float = 60.0) -> list[Handle]:
    """Two workers, each handed one delivery of the next message of ``run_id`` on ``queue``
    (see :func:`deliver_twice`), reporting how their ``watch`` transitions ended."""
    return [Handle(run_id, message, watch, inline_concurrency, inline_grace)
            for message in await deliver_twice(world, queue, run_id)]


async def handle_next(world: World, queue: str, run_id: str) -> None:
    """Let a worker that runs no step inline handle the next message of ``run_id``."""
    message = await lease_for(world, queue, run_id)
    await Worker(world, inline_concurrency=0).handle(message)
