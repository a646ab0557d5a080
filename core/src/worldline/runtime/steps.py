"""Executing one step: ``step_started`` before the body, then completed / retrying / failed."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..errors import Conflict, Gone, NotFound, TooEarly
from ..faults import fault_point
from ..model import Enqueue, Event, EventResult, NewEvent, to_iso, utcnow
from ..protocol import World
from .codec import SerializationError, decode_call, encode
from .errors import FatalError, RetryableError, error_doc
from .registry import StepDef, call_step_body


@dataclass(frozen=True)
class StepEnv:
    """What a running step body can learn about itself (used by child workflows)."""

    world: World
    run_id: str
    step_id: str
    attempt: int


STEP_ENV: contextvars.ContextVar[StepEnv | None] = contextvars.ContextVar(
    "worldline_step", default=None)


@dataclass(frozen=True)
class Outcome:
    """``done``: the step is settled (by us or someone else); else retry after ``defer``.
    ``completion``: the step succeeded and its ``step_completed`` is left to the caller to
    write (with the run's next transition)."""

    done: bool
    defer: float = 0.0
    completion: NewEvent | None = None


async def execute_step(world: World, run_id: str, step_id: str, sd: StepDef, input_doc: Any,
                       *, continuation: Enqueue | None, inline: bool,
                       emit: Callable[[Event], None] = lambda e: None,
                       inline_retry_limit: float = 60.0,
                       started: EventResult | None = None,
                       hand_back: Callable[[], bool] = lambda: False) -> Outcome:
    """Run the step until it is settled. Inline, back-off waits happen here; from the queue
    they are returned as ``Outcome(done=False, defer=seconds)``. ``started``: the first
    ``step_started`` is already written (together with ``step_created``). ``hand_back``:
    asked when the body has succeeded; True returns the unwritten ``step_completed`` as
    ``Outcome.completion`` (its ``at`` fixes the workflow's clock) instead of writing it."""
    while True:
        if started is not None:
            res, started = started, None
        else:
            try:
                res = await world.events.create(
                    run_id, NewEvent("step_started", step_id, {"inline": True} if inline else {}))
            except TooEarly as exc:
                if inline and exc.retry_in <= inline_retry_limit:
                    await asyncio.sleep(exc.retry_in)
                    continue
                return Outcome(False, exc.retry_in)
            except (Conflict, Gone, NotFound):
                return Outcome(True)
            if res.event is not None:
                emit(res.event)
        fault_point("step.after_started")  # crash here: the attempt is recorded, body not run
        attempt = res.entity.attempt if res.entity is not None else 1  # type: ignore[union-attr]
        event, delay = await _attempt(world, run_id, step_id, sd, input_doc, attempt,
                                      continuation, hand_back)
        if isinstance(event, NewEvent):
            return Outcome(True, completion=event)
        if event is not None:
            emit(event)
        if delay is None:
            return Outcome(True)
        if inline and delay <= inline_retry_limit:
            await asyncio.sleep(delay)
            continue
        return Outcome(False, delay)


async def _attempt(world: World, run_id: str, step_id: str, sd: StepDef, input_doc: Any,
                   attempt: int, continuation: Enqueue | None,
                   hand_back: Callable[[], bool]) -> tuple[Event | NewEvent | None,
                                                           float | None]:
    """One attempt of the body; returns the event written (or, handed back, the unwritten
    completion) and the retry delay (None: settled)."""
    token = STEP_ENV.set(StepEnv(world, run_id, step_id, attempt))
    try:
        args, kwargs = decode_call(input_doc)
        value = await call_step_body(sd, args, kwargs)
        output = encode(value, "step result")
    except Exception as exc:
        fatal = isinstance(exc, FatalError | SerializationError) or attempt > sd.max_retries
        if fatal:
            return await _write(world, run_id, NewEvent(
                "step_failed", step_id, {"error": error_doc(exc)}), continuation), None
        delay = exc.retry_after if isinstance(exc, RetryableError) and \
            exc.retry_after is not None else sd.backoff.delay(attempt)
        retry_at = to_iso(utcnow() + timedelta(seconds=delay))
        event = await _write(world, run_id, NewEvent(
            "step_retrying", step_id, {"error": error_doc(exc), "retry_after": retry_at}), None)
        return event, delay
    finally:
        STEP_ENV.reset(token)
    if hand_back():
        return NewEvent("step_completed", step_id, {"output": output,
                                                    "at": to_iso(utcnow())}), None
    event = await _write(world, run_id, NewEvent("step_completed", step_id, {"output": output}),
                         continuation)
    fault_point("step.after_completed")  # crash here: the result is recorded, not yet used
    return event, None


async def _write(world: World, run_id: str, event: NewEvent,
                 continuation: Enqueue | None) -> Event | None:
    try:
        res = await world.events.create(run_id, event, enqueue=continuation)
    except (Conflict, Gone, NotFound):
        return None
    return res.event


async def fail_exhausted(world: World, run_id: str, step_id: str, attempt: int,
                         continuation: Enqueue | None) -> None:
    """A running step whose attempts are used up (its worker died inside the body)."""
    error = {"type": "StepAttemptsExhausted",
             "message": f"step {step_id} used all {attempt} attempts (a worker stopped "
                        f"inside the body)", "traceback": ""}
    await _write(world, run_id, NewEvent("step_failed", step_id, {"error": error}),
                 continuation)
