"""Workers: lease workflow and step messages and handle them. Embedded with
``async with Worker(world): …`` or as a process with ``worldline worker APP``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from types import TracebackType
from typing import Any

from ..errors import Conflict, Gone, NotFound
from ..model import Message, NewEvent, StepStatus, utcnow
from ..protocol import World
from .children import child_step
from .handle import resolve_world
from .names import step_queue, wake, workflow_queue
from .reconcile import RETENTION, reconcile_forever
from .registry import STEPS, WORKFLOWS
from .replay import DriverOptions, RunDriver, with_lease
from .steps import execute_step, fail_exhausted

log = logging.getLogger("worldline.worker")


class Outage:
    """Back-off while the world is unreachable: 0.1 s doubling to 5 s, logged once per
    outage; the worker keeps going and resumes when the world answers again."""

    def __init__(self, where: str, first: float = 0.1, cap: float = 5.0) -> None:
        self.where, self.first, self.cap = where, first, cap
        self.delay = 0.0

    async def wait(self, error: BaseException, stopping: asyncio.Event) -> None:
        if not self.delay:
            log.warning("world %s unreachable (%s); retrying with back-off", self.where, error)
        self.delay = min(self.cap, self.delay * 2 or self.first)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), self.delay)

    def over(self) -> None:
        if self.delay:
            log.warning("world %s reachable again", self.where)
        self.delay = 0.0


class Worker:
    """Runs workflows and steps of every registered ``@workflow`` / ``@step``.

    ``concurrency`` bounds messages handled at once; ``inline_concurrency`` bounds steps run
    in-process by live workflow drivers (extra parallel steps go through the queue);
    ``inline_grace`` is how long such a step may go without progress (its back-off
    included) before the queue may hand it to another worker.
    Every ``reconcile_interval`` seconds the worker runs a :func:`worldline.reconcile`
    pass with ``retention`` (0 disables it)."""

    def __init__(self, world: World | str | None = None, *, concurrency: int = 8,
                 inline_concurrency: int | None = None, visibility_timeout: float = 30.0,
                 poll: float = 1.0, max_deliveries: int = 5, inline_grace: float = 60.0,
                 reconcile_interval: float = 300.0, retention: timedelta = RETENTION):
        self._world_arg = world
        self.world: World | None = None
        self.concurrency = concurrency
        self.inline_slots = inline_concurrency if inline_concurrency is not None \
            else max(1, concurrency)
        self.visibility_timeout = visibility_timeout
        self.poll = poll
        self.max_deliveries = max_deliveries
        self.inline_grace = inline_grace
        self.reconcile_interval = reconcile_interval
        self.retention = retention
        self._inline_used = 0
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._main: asyncio.Task[Any] | None = None
        self.handled = 0

    # -- lifecycle --------------------------------------------------------------------------
    async def __aenter__(self) -> Worker:
        await self.start()
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    async def _attach(self) -> World:
        if self.world is None:
            self.world = await resolve_world(self._world_arg)
            for wf in list(WORKFLOWS.values()):
                child_step(wf)
        return self.world

    async def start(self) -> None:
        world = await self._attach()
        self._main = asyncio.create_task(self._lease_loop())
        if self.reconcile_interval > 0:
            task = asyncio.create_task(reconcile_forever(
                world, self.reconcile_interval, stop=self._stopping, retention=self.retention))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def request_stop(self) -> None:
        """Stop leasing; in-flight work finishes (new steps go to the queue)."""
        self._stopping.set()

    async def stop(self) -> None:
        """Stop leasing and wait for in-flight work to finish."""
        self.request_stop()
        if self._main is not None:
            await self._main

    async def run_forever(self) -> None:
        await self.start()
        assert self._main is not None
        await self._main

    # -- leasing ----------------------------------------------------------------------------
    def queues(self) -> list[str]:
        return [workflow_queue(n) for n in sorted(WORKFLOWS)] + \
            [step_queue(n) for n in sorted(STEPS)]

    async def _lease_loop(self) -> None:
        assert self.world is not None
        queues = self.queues()
        slots = asyncio.Semaphore(self.concurrency)
        outage = Outage(self.world.name)
        stop_wait = asyncio.create_task(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                await slots.acquire()
                free = 1
                while free < self.concurrency and not slots.locked():
                    await slots.acquire()
                    free += 1
                lease = asyncio.ensure_future(self.world.queue.lease(
                    queues, visibility_timeout=self.visibility_timeout, limit=free,
                    wait=self.poll))
                await asyncio.wait({lease, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                try:
                    messages = await lease
                    outage.over()
                except (ConnectionError, OSError) as exc:  # WorldUnavailable is one
                    messages = []
                    await outage.wait(exc, self._stopping)
                for _ in range(free - len(messages)):
                    slots.release()
                for message in messages:
                    task = asyncio.create_task(self.handle(message))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                    task.add_done_callback(lambda _t: slots.release())
        finally:
            stop_wait.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def handle(self, message: Message) -> None:
        """Handle one leased message as the lease loop does: run it, then ack it (or defer
        it, or retry it after an error). Usable without :meth:`start` (custom loops, tests)."""
        world = await self._attach()
        try:
            if message.deliveries > self.max_deliveries:
                await self._poison(message)
                await world.queue.ack(message)
                return
            work = self._workflow(message) if message.queue.startswith("workflow.") \
                else self._step(message)
            defer = await with_lease(
                lambda: world.queue.extend(message, self.visibility_timeout),
                self.visibility_timeout / 3, work)
            if defer is not None:
                await world.queue.defer(message, defer)
            else:
                await world.queue.ack(message)
        except Exception:
            log.exception("handling %s failed; retrying it", message.queue)
            with contextlib.suppress(Exception):
                await world.queue.retry(message, min(30.0, 0.5 * 2 ** message.attempt))
        finally:
            self.handled += 1

    async def _poison(self, message: Message) -> None:
        assert self.world is not None
        run_id = message.payload.get("run_id")
        if not isinstance(run_id, str):
            return
        error = {"type": "MaxDeliveriesExceeded", "traceback": "",
                 "message": f"message {message.message_id} on {message.queue} was delivered "
                            f"{message.deliveries} times (max {self.max_deliveries})"}
        with contextlib.suppress(Conflict, Gone, NotFound):
            await self.world.events.create(run_id, NewEvent("run_started"))
        with contextlib.suppress(Conflict, Gone, NotFound):
            await self.world.events.create(run_id, NewEvent("run_failed", data={"error": error}))

    # -- handlers: return seconds to defer the message, or None to ack it -------------------------
    async def _workflow(self, message: Message) -> float | None:
        assert self.world is not None
        run_id = message.payload["run_id"]
        try:
            res = await self.world.events.create(run_id, NewEvent("run_started"))
        except (Gone, NotFound):
            return None
        run = res.run
        wf = WORKFLOWS[run.workflow_name]
        options = DriverOptions(self._take_inline, self._release_inline,
                                self._stopping.is_set, self.inline_grace)
        driver = RunDriver(self.world, run, wf, options)
        return await driver.drive(woken_by=message.idempotency_key)

    def _take_inline(self) -> bool:
        if self._inline_used >= self.inline_slots:
            return False
        self._inline_used += 1
        return True

    def _release_inline(self) -> None:
        self._inline_used -= 1

    async def _step(self, message: Message) -> float | None:
        assert self.world is not None
        p = message.payload
        run_id, step_id = p["run_id"], p["step_id"]
        sd = STEPS[p["step_name"]]
        continuation = wake(p["workflow_name"], run_id, f"{step_id}.done")
        try:
            step = await self.world.steps.get(run_id, step_id)
        except NotFound:
            return None
        if step.status.terminal:
            return None
        if step.status is StepStatus.RUNNING:
            if step.attempt > sd.max_retries:
                await fail_exhausted(self.world, run_id, step_id, step.attempt, continuation)
                return None
            busy = utcnow() - step.updated_at
            if busy < timedelta(seconds=self.inline_grace):
                return self.inline_grace - busy.total_seconds()
        outcome = await execute_step(self.world, run_id, step_id, sd, step.input,
                                     continuation=continuation, inline=False)
        return None if outcome.done else outcome.defer
