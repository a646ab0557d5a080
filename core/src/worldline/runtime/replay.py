"""The run driver: replay a run from its log, then drive it live until it finishes or can
make no progress here (suspension). New steps run inline while slots are free; the rest go
through the queue. Every event this driver sees is applied in sequence order.

Write-behind of step results: when the one inline step running succeeds on a world with
``batch_events``, the driver applies its ``step_completed`` at the next sequence number
without writing it, lets the code run on, and writes it in one atomic unit with whatever
the code does next (the next step, a sleep, the run's end), guarded by ``expect_seq``: one
commit per step instead of two. If the log moved meanwhile (an event from elsewhere), the
completion is written on its own and the run is replayed from its log. A crash before that
write runs the step again, as a crash inside its body would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from ..batch import create_batch
from ..cursor import encode_cursor
from ..errors import Conflict, Gone, NotFound, WorldError
from ..faults import fault_point
from ..model import (
    Enqueue,
    Event,
    EventResult,
    EventType,
    NewEvent,
    Run,
    from_iso,
    to_iso,
    utcnow,
)
from ..protocol import BatchEventsAPI, World
from ..wakeup import WAKEUPS, run_finished_key
from .codec import SerializationError, decode_call, encode
from .context import Command, Context, activate, deactivate
from .errors import error_doc
from .loop import WorkflowLoop
from .names import step_message, wake
from .registry import WorkflowDef
from .safety import lay_net, lay_nets
from .steps import execute_step

log = logging.getLogger("worldline.runtime")


class _Diverged(Exception):
    """The log moved under completions applied before they were written: replay."""


class InlineStepsUnsettled(RuntimeError):
    """Inline steps whose outcome could not be written, nor their message enqueued: the
    activation fails, so that its message is delivered again."""

    def __init__(self, run_id: str, step_ids: list[str]) -> None:
        super().__init__(f"run {run_id}: inline step(s) {', '.join(step_ids)} could not be "
                         "settled nor queued; the run will be replayed")


@dataclass
class DriverOptions:
    inline: Callable[[], bool]  # may this driver run one more step inline now?
    release: Callable[[], None]  # give back an inline slot
    stopping: Callable[[], bool]
    inline_grace: float = 60.0  # longest an inline step is waited for in-process (back-off
    # included) before the queue may take it (see .safety)


class RunDriver:
    """One activation of one run on this worker."""

    def __init__(self, world: World, run: Run, wf: WorkflowDef, options: DriverOptions):
        self.world = world
        self.run = run
        self.wf = wf
        self.options = options
        self.inline: set[asyncio.Task[Any]] = set()
        self._reset()

    def _reset(self) -> None:
        self.last_seq = 0
        self.loop = WorkflowLoop()
        self.ctx = Context(self.run.run_id, self.loop, self.run.started_at or self.run.created_at)
        self.inbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.running = 0  # inline steps whose "done" the driver has not absorbed yet
        self.task: asyncio.Task[Any] | None = None
        self.pending: list[NewEvent] = []  # completions applied, not written yet
        self.pending_after = 0  # the log's last seq before them
        self.idle = False  # the driver waits for its inline steps, nothing else
        self.unsettled: list[str] = []  # inline steps left neither settled nor queued

    async def drive(self, woken_by: str | None = None) -> float | None:
        """Run until the run ends or suspends. ``woken_by``: the idempotency key of the
        message that brought the run here; when it is the wake-up of a sleep that is not
        due yet (it came early: another machine's clock), the seconds left, so that the
        caller delivers it again instead of losing it. Otherwise None."""
        try:
            while True:
                try:
                    await self._drive()
                    break
                except _Diverged:
                    await self._replay_again()
            if self.unsettled and not self.ctx.terminal:  # replayed, the nets are laid
                raise InlineStepsUnsettled(self.run.run_id, self.unsettled)
            at = self.ctx.waits.get(woken_by) if woken_by and not self.ctx.terminal else None
            return None if at is None else max(0.001, (at - utcnow()).total_seconds())
        finally:
            if self.inline:
                await asyncio.gather(*self.inline, return_exceptions=True)
            self._close()

    async def _replay_again(self) -> None:
        if self.inline:
            await asyncio.gather(*self.inline, return_exceptions=True)
        self._close()
        self._reset()

    async def _drive(self) -> None:
        events = await self._read_after(0)
        for event in events:  # know every recorded call before the code makes one
            self.ctx.index(event)
        args, kwargs = decode_call(self.run.input)
        token = activate(self.ctx)
        try:
            self.task = self.loop.create_task(self.wf.fn(*args, **kwargs))
        finally:
            deactivate(token)
        self.loop.run_until_idle()
        for event in events:
            self._apply(event)
        if not self.ctx.terminal:
            await lay_nets(self.world, self.wf.name, self.run.run_id, events,
                           self.options.inline_grace)
        while True:
            if self.ctx.terminal:
                return
            if self.task.done():
                await self._finish()
                return
            if self.loop.has_timers():
                await self._fail_run({"type": "NonDeterminismError", "message":
                                      "workflow code awaited a real timer; use "
                                      "worldline.sleep()", "traceback": ""})
                return
            progressed = await self._write_commands(self.ctx.take_commands())
            await self._flush()  # no transition to carry them: write them now
            progressed |= await self._complete_due_waits()
            if progressed:
                continue
            if self.running:
                self.idle = True
                try:
                    kind, value = await self.inbox.get()
                finally:
                    self.idle = False
                await self._absorb(kind, value)
                while not self.inbox.empty():
                    await self._absorb(*self.inbox.get_nowait())
                continue
            fresh = await self._read_after(self.last_seq)
            if fresh:
                for event in fresh:
                    self._apply(event)
                continue
            return  # suspended: a message will bring the run back

    # -- events -----------------------------------------------------------------------------
    async def _read_after(self, seq: int) -> list[Event]:
        out: list[Event] = []
        cursor = encode_cursor(seq) if seq else None
        while True:
            items, cursor = await self.world.events.list(self.run.run_id, cursor=cursor)
            out.extend(items)
            if cursor is None:
                return out

    def _apply(self, event: Event) -> None:
        if event.seq <= self.last_seq:
            return
        self.last_seq = event.seq
        self.ctx.observe(event)
        self.loop.run_until_idle()

    async def _see(self, event: Event | None) -> None:
        """Apply an event we wrote, after any events before it that we have not seen."""
        if event is None or event.seq <= self.last_seq:
            return
        if event.seq > self.last_seq + 1:
            for gap in await self._read_after(self.last_seq):
                if gap.seq < event.seq:
                    self._apply(gap)
        self._apply(event)

    async def _absorb(self, kind: str, value: Any) -> None:
        if kind == "event":
            await self._see(value)
        elif kind == "completion":
            self._apply_unwritten(value)
        else:
            self.running -= 1

    # -- write-behind of step completions ---------------------------------------------------------
    def _may_hand_back(self) -> bool:
        """May the inline step finishing now leave its completion to the driver? Only when
        it is the one step running and the driver is idle, waiting for it: then no write of
        the driver is in flight (a step being created) and nothing else is in the inbox, so
        the completion is the next event the driver applies and the next write carries it."""
        return self.world.capabilities.batch_events and self.running == 1 and self.idle \
            and self.inbox.empty() and not self.ctx.terminal

    def _apply_unwritten(self, completion: NewEvent) -> None:
        if not self.pending:
            self.pending_after = self.last_seq
        self.pending.append(completion)
        at = from_iso(str(completion.data["at"]))
        assert at is not None
        self._apply(Event(event_id="unwritten", run_id=self.run.run_id, seq=self.last_seq + 1,
                          type=EventType.STEP_COMPLETED,
                          correlation_id=completion.correlation_id, data=completion.data,
                          created_at=at))

    async def _write(self, events: list[NewEvent],
                     messages: list[Enqueue | None] | None = None) -> list[EventResult]:
        """Write ``events`` (one atomic unit where the world can), behind the unwritten
        completions if there are any."""
        messages = messages if messages is not None else [None] * len(events)
        if not self.pending:
            if len(events) == 1:
                return [await self.world.events.create(self.run.run_id, events[0],
                                                       enqueue=messages[0])]
            return await create_batch(self.world, self.run.run_id, events, messages)
        pending, self.pending = self.pending, []
        batch = cast(BatchEventsAPI, self.world.events)
        try:
            results = await batch.create_batch(
                self.run.run_id, [*pending, *events],
                enqueues=[*([None] * len(pending)), *messages], expect_seq=self.pending_after)
        except WorldError:
            await self._write_alone(pending)
            raise _Diverged() from None
        fault_point("step.after_completed")  # crash here: the result is recorded, not yet used
        return results[len(pending):]

    async def _flush(self) -> None:
        if self.pending:
            pending, self.pending = self.pending, []
            await self._write_alone(pending)
            fault_point("step.after_completed")

    async def _write_alone(self, completions: list[NewEvent]) -> None:
        """Write completions whose batch was refused, or that nothing else carries; if the
        log moved under them, replay (their sequence numbers were guesses)."""
        moved = False
        for completion in completions:
            try:
                res = await self.world.events.create(self.run.run_id, completion)
            except (Conflict, Gone, NotFound):
                moved = True
                continue
            moved |= res.event is None or res.event.seq != self.pending_after + 1
            self.pending_after += 1
        if moved:
            raise _Diverged()

    # -- writing what the code asked for --------------------------------------------------------
    async def _write_commands(self, commands: list[Command]) -> bool:
        progressed = False
        for cmd in commands:
            if self.ctx.terminal:
                return True
            try:
                if cmd.kind == "step":
                    await self._create_step(cmd)
                elif cmd.kind == "wait":
                    delay = max(0.0, (cmd.resume_at - utcnow()).total_seconds()) \
                        if cmd.resume_at else 0.0
                    [res] = await self._write(
                        [NewEvent("wait_created", cmd.cid, {"resume_at": to_iso(cmd.resume_at)})],
                        [wake(self.wf.name, self.run.run_id, cmd.cid, delay)])
                    await self._see(res.event)
                else:
                    data: dict[str, Any] = {"token": cmd.token}
                    if cmd.metadata is not None:
                        data["metadata"] = encode(cmd.metadata, "metadata")
                    [res] = await self._write([NewEvent("hook_created", cmd.cid, data)])
                    await self._see(res.event)
            except Conflict:
                pass  # another activation created it: we wait for its outcome
            except Gone:
                self.ctx.terminal = "gone"
            progressed = True
        return progressed

    async def _create_step(self, cmd: Command) -> None:
        assert cmd.step is not None
        inline = not self.options.stopping() and self.options.inline()
        # an inline step started atomically with its creation needs no message: a replay
        # after its worker is gone lays its safety net (see .safety)
        message = None if inline and self.world.capabilities.batch_events else \
            step_message(self.wf.name, self.run.run_id, cmd.cid, cmd.name,
                         self.options.inline_grace if inline else 0.0)
        created = NewEvent("step_created", cmd.cid, {"step_name": cmd.name, "input": cmd.input})
        try:
            if inline:  # created and started in one unit where the world can
                res, started = await self._write(
                    [created, NewEvent("step_started", cmd.cid, {"inline": True})],
                    [message, None])
            else:
                [res] = await self._write([created], [message])
        except BaseException:
            if inline:
                self.options.release()
            raise
        await self._see(res.event)
        if inline:
            await self._see(started.event)
            self.running += 1
            task = asyncio.create_task(self._inline_step(cmd, started))
            self.inline.add(task)
            task.add_done_callback(self.inline.discard)

    async def _inline_step(self, cmd: Command, started: EventResult) -> None:
        assert cmd.step is not None
        try:
            outcome = await execute_step(
                self.world, self.run.run_id, cmd.cid, cmd.step, cmd.input, continuation=None,
                inline=True, inline_retry_limit=self.options.inline_grace, started=started,
                hand_back=self._may_hand_back,
                emit=lambda e: self.inbox.put_nowait(("event", e)))
            if outcome.completion is not None:
                self.inbox.put_nowait(("completion", outcome.completion))
            elif not outcome.done:  # a retry later than inline waits: the queue takes it
                await lay_net(self.world, self.wf.name, self.run.run_id, cmd.cid, cmd.name,
                              outcome.defer)
        except Exception:
            log.exception("inline step %s of %s failed to settle", cmd.cid, self.run.run_id)
            self.unsettled.append(cmd.cid)
        finally:
            self.options.release()
            self.inbox.put_nowait(("done", cmd.cid))

    async def _complete_due_waits(self) -> bool:
        due = self.ctx.due_waits(utcnow())
        for cid in due:
            try:
                res = await self.world.events.create(self.run.run_id,
                                                     NewEvent("wait_completed", cid))
                await self._see(res.event)
            except Conflict:
                await self._catch_up()
                self.ctx.waits.pop(cid, None)
            except Gone:
                self.ctx.terminal = "gone"
        return bool(due)

    async def _catch_up(self) -> None:
        for event in await self._read_after(self.last_seq):
            self._apply(event)

    # -- the end ----------------------------------------------------------------------------
    async def _finish(self) -> None:
        assert self.task is not None
        if self.task.cancelled():
            return
        exc = self.task.exception()
        if exc is None:
            try:
                output = encode(self.task.result(), "workflow result")
            except SerializationError as err:
                await self._fail_run(error_doc(err))
                return
            await self._terminal(NewEvent("run_completed", data={"output": output}))
        else:
            await self._fail_run(error_doc(exc))

    async def _fail_run(self, error: dict[str, Any]) -> None:
        await self._terminal(NewEvent("run_failed", data={"error": error}))

    async def _terminal(self, event: NewEvent) -> None:
        with contextlib.suppress(Conflict, Gone, NotFound):  # someone else ended the run
            await self._write([event])
        WAKEUPS.notify(run_finished_key(self.run.run_id))

    def _close(self) -> None:
        """Cancel whatever workflow code is still waiting (suspension), then close."""
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            with contextlib.suppress(Exception):
                self.loop.run_until_idle()
        self.loop.close()


async def with_lease(extend: Callable[[], Awaitable[bool]], every: float,
                     work: Awaitable[Any]) -> Any:
    """Run ``work`` while extending a lease every ``every`` seconds."""
    async def keep() -> None:
        while True:
            await asyncio.sleep(every)
            if not await extend():
                return

    keeper = asyncio.create_task(keep())
    try:
        return await work
    finally:
        keeper.cancel()


__all__ = ["DriverOptions", "EventType", "RunDriver", "with_lease"]
