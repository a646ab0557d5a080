"""``@workflow`` and ``@step``: registration of authoring functions by name."""

from __future__ import annotations

import asyncio
import functools
import inspect
import random as _random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, Protocol, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")
R = TypeVar("R")


class StepDecorator(Protocol):
    """What ``@step(...)`` returns: sync and async functions both become awaitable."""

    @overload
    def __call__(self, fn: Callable[P, Awaitable[R]], /) -> Callable[P, Awaitable[R]]: ...
    @overload
    def __call__(self, fn: Callable[P, R], /) -> Callable[P, Awaitable[R]]: ...


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off with full jitter: ``min(cap, base * factor**(attempt-1))``."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    jitter: bool = True

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        raw = min(self.cap, self.base * self.factor ** max(0, attempt - 1))
        return raw * (0.5 + _random.random() / 2) if self.jitter else raw


@dataclass(frozen=True)
class StepDef:
    name: str
    fn: Callable[..., Any]
    max_retries: int = 3
    backoff: Backoff = field(default_factory=Backoff)
    is_async: bool = False


@dataclass(frozen=True)
class WorkflowDef:
    name: str
    fn: Callable[..., Any]


WORKFLOWS: dict[str, WorkflowDef] = {}
STEPS: dict[str, StepDef] = {}


def _qualified(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


@overload
def workflow(fn: F, /) -> F: ...
@overload
def workflow(*, name: str | None = None) -> Callable[[F], F]: ...
def workflow(fn: Any = None, /, *, name: str | None = None) -> Any:
    """Register an ``async def`` as a durable workflow (``@workflow`` or
    ``@workflow(name="…")``). Start it with :func:`worldline.start`; called inside another
    workflow it runs as a child workflow."""
    def wrap(func: F) -> F:
        if not inspect.iscoroutinefunction(func):
            raise TypeError(f"@workflow needs an async function, got {func!r}")
        wf = WorkflowDef(name or func.__name__, func)
        WORKFLOWS[wf.name] = wf

        @functools.wraps(func)
        def call(*args: Any, **kwargs: Any) -> Any:
            from .context import current_context
            ctx = current_context()
            if ctx is None:
                return func(*args, **kwargs)
            return ctx.call_child(wf, args, kwargs)

        call.__worldline_workflow__ = wf  # type: ignore[attr-defined]
        return call  # type: ignore[return-value]
    return wrap(fn) if fn is not None else wrap


@overload
def step(fn: Callable[P, Awaitable[R]], /) -> Callable[P, Awaitable[R]]: ...
@overload
def step(fn: Callable[P, R], /) -> Callable[P, Awaitable[R]]: ...
@overload
def step(*, name: str | None = None, max_retries: int = 3,
         backoff: Backoff | None = None) -> StepDecorator: ...
def step(fn: Any = None, /, *, name: str | None = None, max_retries: int = 3,
         backoff: Backoff | None = None) -> Any:
    """Register a step (sync functions run in a thread, async ones on the loop). A call
    returns an awaitable: inside a workflow its result is recorded once and replayed; outside
    it simply runs the function. ``max_retries`` retries after the first attempt."""
    if max_retries < 0:
        raise ValueError(f"max_retries must be >= 0, got {max_retries}")

    def wrap(func: F) -> F:
        sd = StepDef(name or func.__name__, func, max_retries, backoff or Backoff(),
                     inspect.iscoroutinefunction(func))
        STEPS[sd.name] = sd

        @functools.wraps(func)
        def call(*args: Any, **kwargs: Any) -> Any:
            from .context import current_context
            ctx = current_context()
            if ctx is None:
                return call_step_body(sd, args, kwargs)
            return ctx.call_step(sd, args, kwargs)

        call.__worldline_step__ = sd  # type: ignore[attr-defined]
        return call  # type: ignore[return-value]
    return wrap(fn) if fn is not None else wrap


def workflow_def(target: Any) -> WorkflowDef:
    """The definition behind a decorated workflow or a registered name."""
    if isinstance(target, str):
        if target not in WORKFLOWS:
            raise LookupError(f"no workflow named {target!r} is registered "
                              f"(known: {', '.join(sorted(WORKFLOWS)) or 'none'})")
        return WORKFLOWS[target]
    wf = getattr(target, "__worldline_workflow__", None)
    if wf is None:
        raise TypeError(f"{target!r} is not a @workflow")
    assert isinstance(wf, WorkflowDef)
    return wf


async def call_step_body(sd: StepDef, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run a step's function: async on the loop, sync in a thread."""
    if sd.is_async:
        return await sd.fn(*args, **kwargs)
    return await asyncio.to_thread(sd.fn, *args, **kwargs)
