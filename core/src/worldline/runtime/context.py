"""The replay context: deterministic positions and ids, recorded results, now/random/uuid4.

The k-th durable call of a run (step, sleep, hook, child workflow) gets the correlation id
``<kind>_<run ulid>_<k>`` in every replay. A call whose entity is already in the log only
waits for its recorded resolution; a new one becomes a :class:`Command` for the driver.
"""

from __future__ import annotations

import asyncio
import contextvars
import random as _random
import uuid as _uuid
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..model import Event, EventType, from_iso, to_iso
from .codec import decode, encode_call
from .errors import NonDeterminismError, WorkflowError
from .loop import WorkflowLoop
from .registry import STEPS, StepDef, WorkflowDef

_CURRENT: contextvars.ContextVar[Context | None] = contextvars.ContextVar(
    "worldline_context", default=None)


def current_context() -> Context | None:
    """The replay context of the workflow code running now, or None outside workflows."""
    return _CURRENT.get()


def _require() -> Context:
    ctx = _CURRENT.get()
    if ctx is None:
        raise RuntimeError("this function can only be called inside a @workflow")
    return ctx


@dataclass
class Command:
    """A durable call the log does not have yet: the driver writes it."""

    kind: str  # "step" | "wait" | "hook"
    cid: str
    name: str = ""
    input: Any = None
    resume_at: datetime | None = None
    token: str = ""
    metadata: Any = None
    step: StepDef | None = None


class HookFailed(WorkflowError):
    """The hook could not be created (its token is held by another run's live hook)."""


class Hook:
    """A mailbox inside a workflow: ``await hook`` for the next payload, ``async for`` for
    all of them. Payloads that arrive before the workflow awaits are kept."""

    def __init__(self, cid: str, token: str) -> None:
        self.hook_id = cid
        self.token = token
        self._queue: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue()

    def _push(self, ok: bool, value: Any) -> None:
        self._queue.put_nowait((ok, value))

    async def next(self) -> Any:
        """The next payload."""
        ok, value = await self._queue.get()
        if not ok:
            self._queue.put_nowait((ok, value))
            raise value
        return value

    def __await__(self) -> Generator[Any, None, Any]:
        return self.next().__await__()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        return await self.next()


@dataclass
class _Recorded:
    kind: str
    name: str
    data: dict[str, Any] = field(default_factory=dict)


class Context:
    """One activation's view of a run: what the log recorded and what the code asked for."""

    def __init__(self, run_id: str, loop: WorkflowLoop, started: datetime) -> None:
        self.run_id = run_id
        self._ulid = run_id.partition("_")[2]
        self.loop = loop
        self._position = 0
        self._now = started
        self._rng = _random.Random(run_id)
        self.recorded: dict[str, _Recorded] = {}
        self._by_position: dict[int, str] = {}
        self.futures: dict[str, asyncio.Future[Any]] = {}
        self.hooks: dict[str, Hook] = {}
        self._early: dict[str, list[tuple[bool, Any]]] = {}
        self.commands: list[Command] = []
        self.waits: dict[str, datetime] = {}  # open waits: cid -> resume_at
        self.terminal: str | None = None

    # -- positions -------------------------------------------------------------------------
    def _next(self, kind: str, name: str) -> str:
        self._position += 1
        k = self._position
        cid = f"{kind}_{self._ulid}_{k:05d}"
        recorded_cid = self._by_position.get(k)
        if recorded_cid is not None:
            rec = self.recorded[recorded_cid]
            if rec.kind != kind or rec.name != name:
                raise NonDeterminismError(
                    f"run {self.run_id}: call #{k} is {kind} {name!r} but the log recorded "
                    f"{rec.kind} {rec.name!r} at that position")
        return cid

    def _future(self, cid: str) -> asyncio.Future[Any]:
        fut = self.loop.create_future()
        self.futures[cid] = fut
        for ok, value in self._early.pop(cid, []):
            _settle(fut, ok, value)
        return fut

    # -- calls from workflow code -------------------------------------------------------------
    def call_step(self, sd: StepDef, args: tuple[Any, ...], kwargs: dict[str, Any],
                  ) -> asyncio.Future[Any]:
        cid = self._next("step", sd.name)
        doc = encode_call(args, kwargs)
        fut = self._future(cid)
        if cid not in self.recorded:
            self.commands.append(Command("step", cid, sd.name, doc, step=sd))
        return fut

    def call_child(self, wf: WorkflowDef, args: tuple[Any, ...], kwargs: dict[str, Any],
                   ) -> asyncio.Future[Any]:
        from .children import child_step
        return self.call_step(child_step(wf), args, kwargs)

    def sleep(self, duration: float | timedelta | datetime) -> asyncio.Future[Any]:
        cid = self._next("wait", "sleep")
        rec = self.recorded.get(cid)
        if rec is not None:
            resume_at = from_iso(rec.data["resume_at"])
            assert resume_at is not None
        elif isinstance(duration, datetime):
            resume_at = duration if duration.tzinfo else duration.replace(tzinfo=UTC)
        else:
            seconds = duration.total_seconds() if isinstance(duration, timedelta) \
                else float(duration)
            resume_at = self._now + timedelta(seconds=max(0.0, seconds))
        fut = self._future(cid)
        if not fut.done():
            self.waits[cid] = resume_at
        if rec is None:
            self.commands.append(Command("wait", cid, "sleep", resume_at=resume_at))
        return fut

    def create_hook(self, token: str | None, metadata: Any) -> Hook:
        cid = self._next("hook", "hook")
        rec = self.recorded.get(cid)
        if rec is not None:
            token = rec.data.get("token", token)
        token = token or f"{cid}"
        hook = Hook(cid, token)
        self.hooks[cid] = hook
        for ok, value in self._early.pop(cid, []):
            hook._push(ok, value)
        if rec is None:
            self.commands.append(Command("hook", cid, "hook", token=token, metadata=metadata))
        return hook

    def now(self) -> datetime:
        return self._now

    def random(self) -> float:
        return self._rng.random()

    def uuid4(self) -> _uuid.UUID:
        return _uuid.UUID(int=self._rng.getrandbits(128), version=4)

    # -- events from the log -------------------------------------------------------------------
    def index(self, event: Event) -> bool:
        """Record a creation event (step / wait / hook); True if it was one."""
        cid, data = event.correlation_id, event.data
        if event.type not in _CREATIONS:
            return False
        assert cid is not None
        kind = cid.partition("_")[0]
        name = data.get("step_name", "sleep" if kind == "wait" else "hook")
        self.recorded[cid] = _Recorded(kind, name, dict(data))
        self._by_position[int(cid.rsplit("_", 1)[1])] = cid
        return True

    def observe(self, event: Event) -> None:
        """Apply one log event (in sequence order)."""
        et, cid, data = event.type, event.correlation_id, event.data
        if self.index(event):
            if et is EventType.HOOK_CONFLICT:
                err = HookFailed({"type": "HookConflict",
                                  "message": f"hook token {data.get('token')!r} is held by "
                                             f"run {data.get('owner_run_id')}"},
                                 run_id=self.run_id)
                self._deliver(cid, False, err)
            return
        if et in (EventType.RUN_COMPLETED, EventType.RUN_FAILED, EventType.RUN_CANCELLED):
            self.terminal = et.value
            return
        if et is EventType.STEP_COMPLETED:
            at = data.get("at")  # written with the next transition: the worker's clock
            self._advance(datetime.fromisoformat(at) if isinstance(at, str) else event.created_at)
            self._deliver(cid, True, decode(data.get("output")))
        elif et is EventType.STEP_FAILED:
            self._advance(event.created_at)
            self._deliver(cid, False, WorkflowError(data["error"], run_id=self.run_id))
        elif et is EventType.WAIT_COMPLETED:
            self._advance(event.created_at)
            assert cid is not None
            self.waits.pop(cid, None)
            self._deliver(cid, True, None)
        elif et is EventType.HOOK_RECEIVED:
            self._advance(event.created_at)
            self._deliver(cid, True, decode(data.get("payload")))
        elif et is EventType.RUN_STARTED:
            self._advance(event.created_at)

    def _advance(self, when: datetime) -> None:
        """``now()`` moves to the time of the event that resumed the code, never back (a
        step's completion carries the worker's clock, the other events the world's)."""
        self._now = max(self._now, when)

    def _deliver(self, cid: str | None, ok: bool, value: Any) -> None:
        assert cid is not None
        if cid.startswith("hook_"):
            hook = self.hooks.get(cid)
            if hook is not None:
                hook._push(ok, value)
                return
        else:
            fut = self.futures.get(cid)
            if fut is not None:
                if not fut.done():
                    _settle(fut, ok, value)
                return
        self._early.setdefault(cid, []).append((ok, value))

    def take_commands(self) -> list[Command]:
        commands, self.commands = self.commands, []
        return commands

    def due_waits(self, now: datetime) -> list[str]:
        return [cid for cid, at in self.waits.items() if at <= now]

    def next_wait_in(self, now: datetime) -> float | None:
        if not self.waits:
            return None
        return max(0.0, (min(self.waits.values()) - now).total_seconds())

    def resume_at_iso(self, cid: str) -> str | None:
        at = self.waits.get(cid)
        return to_iso(at)

    def unresolved_steps(self) -> list[str]:
        return [cid for cid, fut in self.futures.items()
                if cid.startswith("step_") and not fut.done()]


_CREATIONS = frozenset({EventType.STEP_CREATED, EventType.WAIT_CREATED, EventType.HOOK_CREATED,
                        EventType.HOOK_CONFLICT})


def _settle(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


def activate(ctx: Context) -> contextvars.Token[Context | None]:
    return _CURRENT.set(ctx)


def deactivate(token: contextvars.Token[Context | None]) -> None:
    _CURRENT.reset(token)


# -- the public helpers for workflow code ---------------------------------------------------

def sleep(duration: float | timedelta | datetime) -> asyncio.Future[Any]:
    """Durably sleep for seconds / a timedelta, or until a datetime (inside a workflow)."""
    return _require().sleep(duration)


def create_hook(token: str | None = None, *, metadata: Any = None) -> Hook:
    """Create a hook inside a workflow; external code resumes it with
    :func:`worldline.resume_hook` and its ``token``."""
    return _require().create_hook(token, metadata)


def now() -> datetime:
    """The workflow's deterministic current time (the time of the last event replayed)."""
    return _require().now()


def random() -> float:
    """A deterministic random float in [0, 1) (same sequence in every replay)."""
    return _require().random()


def uuid4() -> _uuid.UUID:
    """A deterministic random UUID (same sequence in every replay)."""
    return _require().uuid4()


def step_definition(name: str) -> StepDef | None:
    return STEPS.get(name)
