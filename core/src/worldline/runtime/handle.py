"""Starting runs and watching them: :func:`start`, :class:`RunHandle`, :func:`get_run`,
:func:`resume_hook`, and the default world they use."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from ..errors import Conflict, NotFound, StartFailed, WorldError, WorldUnavailable
from ..ids import new_id
from ..model import Event, NewEvent, Run, RunStatus
from ..plugins import connect
from ..protocol import World
from ..wakeup import WAKEUPS, run_finished_key
from .codec import decode, encode, encode_call
from .errors import RunCancelled, RunTimeout, WorkflowError
from .names import wake
from .registry import workflow_def

_DEFAULT: World | None = None
_OPENED: dict[str, World] = {}


def configure(world: World | str | None) -> None:
    """Set the world that :func:`start` & co. use when none is passed (a World or a URL)."""
    global _DEFAULT
    _DEFAULT = connect(world) if isinstance(world, str) or world is None else world


async def resolve_world(world: World | str | None) -> World:
    """A World object, the configured default, or an opened world for a URL."""
    if world is not None and not isinstance(world, str):
        return world
    if world is None and _DEFAULT is not None:
        world = _DEFAULT
        await world.open()
        return world
    built = connect(world)
    if built.url not in _OPENED:
        await built.open()
        _OPENED[built.url] = built
    return _OPENED[built.url]


class RunHandle:
    """A run's handle: ``await status()``, ``await result()``, ``await cancel()``,
    ``events()``."""

    def __init__(self, world: World, run_id: str) -> None:
        self.world = world
        self.run_id = run_id

    def __repr__(self) -> str:
        return f"RunHandle({self.run_id!r})"

    async def run(self, *, with_data: bool = True) -> Run:
        """The run's current projection."""
        return await self.world.runs.get(self.run_id, with_data=with_data)

    async def status(self) -> RunStatus:
        return (await self.run(with_data=False)).status

    async def result(self, timeout: float | None = None) -> Any:
        """Wait for the run to finish; return its output or raise its error
        (:class:`WorkflowError` with type, message and traceback; :class:`RunCancelled`).
        While the world is unreachable it keeps waiting; if the timeout ends during an
        outage, the :class:`WorldUnavailable` is raised."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.005
        with WAKEUPS.listen(run_finished_key(self.run_id)) as listener:
            while True:
                try:
                    run = await self.world.runs.get(self.run_id)
                except WorldUnavailable:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise
                    await listener.wait(0.1)
                    continue
                if run.status is RunStatus.COMPLETED:
                    return decode(run.output)
                if run.status is RunStatus.FAILED:
                    raise WorkflowError(run.error or {}, run_id=self.run_id)
                if run.status is RunStatus.CANCELLED:
                    raise RunCancelled(f"run {self.run_id} was cancelled")
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise RunTimeout(f"run {self.run_id} is still {run.status} after "
                                     f"{timeout}s")
                # woken at once when the run ends in this process; polled otherwise
                await listener.wait(pause if left is None else min(pause, left))
                pause = min(pause * 1.5, 0.1)

    async def cancel(self, reason: str | None = None) -> None:
        """Cancel the run (idempotent; Conflict if it already completed or failed)."""
        await self.world.events.create(self.run_id, NewEvent("run_cancelled",
                                                             data={"reason": reason}))
        WAKEUPS.notify(run_finished_key(self.run_id))

    async def events(self) -> AsyncIterator[Event]:
        """The run's log in order."""
        cursor = None
        while True:
            items, cursor = await self.world.events.list(self.run_id, cursor=cursor)
            for event in items:
                yield event
            if cursor is None:
                return


async def start(workflow: Any, *args: Any, idempotency_key: str | None = None,
                world: World | str | None = None, **kwargs: Any) -> RunHandle:
    """Record ``run_created`` and hand the run to the queue in one atomic unit. With an
    ``idempotency_key`` a live or completed run holding it is returned instead.
    ``workflow`` is a ``@workflow`` function or a workflow name (run by whichever worker has
    it registered). Arguments that cannot be serialised raise before anything is written."""
    name = workflow if isinstance(workflow, str) else workflow_def(workflow).name
    data: dict[str, Any] = {"workflow_name": name, "input": encode_call(args, kwargs)}
    if idempotency_key is not None:
        data["idempotency_key"] = idempotency_key
    target = await resolve_world(world)
    run_id = new_id("run")
    try:
        await target.events.create(run_id, NewEvent("run_created", data=data),
                                   enqueue=wake(name, run_id, run_id))
    except Conflict as exc:
        if exc.existing_run_id:
            return RunHandle(target, exc.existing_run_id)
        raise
    except WorldError:
        raise
    except (OSError, ConnectionError) as exc:
        raise StartFailed(f"could not start {name}: {exc}") from exc
    return RunHandle(target, run_id)


async def get_run(run_id: str, *, world: World | str | None = None) -> RunHandle:
    """A handle on an existing run (NotFound if there is none)."""
    target = await resolve_world(world)
    await target.runs.get(run_id, with_data=False)
    return RunHandle(target, run_id)


async def resume_hook(token: str, payload: Any = None, *,
                      world: World | str | None = None) -> str:
    """Deliver ``payload`` to the live hook holding ``token`` and wake its run; returns the
    run id. NotFound names the token if no live hook holds it."""
    doc = encode(payload, "payload")
    target = await resolve_world(world)
    try:
        hook = await target.hooks.get_by_token(token)
    except NotFound:
        raise NotFound(f"no live hook holds token {token!r}") from None
    run = await target.runs.get(hook.run_id, with_data=False)
    await target.events.create(hook.run_id, NewEvent("hook_received", hook.hook_id,
                                                     {"payload": doc}),
                               enqueue=wake(run.workflow_name, hook.run_id, None))
    return hook.run_id
