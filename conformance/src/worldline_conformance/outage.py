"""A worker outlives its world's server going away — the scenario every world's outage test
shares. The world's own test supplies the outage (stop and restart a private server,
terminate backends, …); :func:`assert_worker_survives` does the rest:

a run takes a step and sleeps; while it sleeps the outage happens and lasts until the
worker has seen its calls fail; afterwards the same worker — still running — wakes the run,
which completes with each step's body run once and one attempt per step.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import worldline as wl
from worldline import World, connect

T = TypeVar("T")
TIMEOUT = 60.0
SLEEP = 1.5  # the durable sleep the outage happens in
OUTAGE = 1.0  # the least time the server stays away

#: executions of each step body, by "<label>.<step>"
BODIES: Counter[str] = Counter()

#: takes the server away, waits with :func:`hold` until the worker has seen it, restores it
Outage = Callable[[Callable[[], bool]], Awaitable[None]]


@wl.step(name="conformance.outage.before")
def before(label: str) -> str:
    BODIES[f"{label}.before"] += 1
    return f"{label}-before"


@wl.step(name="conformance.outage.after")
def after(label: str) -> str:
    BODIES[f"{label}.after"] += 1
    return f"{label}-after"


@wl.workflow(name="conformance.outage")
async def outage_wf(label: str) -> list[str]:
    first = await before(label)
    await wl.sleep(SLEEP)
    return [first, await after(label)]


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll ``check`` until it holds (a deadline, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def hold(seen: Callable[[], bool], *, every: float = 0.05,
               tick: Callable[[], Awaitable[Any]] | None = None) -> None:
    """Keep the outage for at least :data:`OUTAGE` seconds and until ``seen()`` (the worker
    logged that the world is unreachable), calling ``tick`` every ``every`` seconds."""
    loop = asyncio.get_running_loop()
    ends, deadline = loop.time() + OUTAGE, loop.time() + TIMEOUT
    while loop.time() < ends or not seen():
        assert loop.time() < deadline, "the worker never saw the outage"
        if tick is not None:
            await tick()
        await asyncio.sleep(every)


async def retrying(call: Callable[[], Awaitable[T]]) -> T:
    """``call()``, again while it raises WorldUnavailable (the test's own reads racing the
    end of the outage, not the worker's)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while True:
        try:
            return await call()
        except wl.WorldUnavailable:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.05)


def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(r.name == "worldline.worker" and text in r.getMessage() for r in caplog.records)


async def assert_worker_survives(world: World, outage: Outage,
                                 caplog: pytest.LogCaptureFixture) -> None:
    """Run the scenario on an opened ``world`` with ``outage`` in the middle of a sleep."""
    caplog.set_level(logging.WARNING, logger="worldline.worker")
    label = f"{world.name}-{uuid.uuid4().hex[:8]}"
    async with wl.Worker(world, poll=0.05, visibility_timeout=2, inline_grace=30,
                         reconcile_interval=0) as worker:
        handle = await wl.start(outage_wf, label, world=world)

        async def sleeping() -> bool:
            events = (await world.events.list(handle.run_id)).items
            return any(e.type == "wait_created" for e in events)

        async def idle() -> bool:  # the workflow message is settled: only leasing goes on
            return not worker._tasks

        await until(sleeping, "the run to sleep")
        await until(idle, "the worker to settle the workflow message")
        await outage(lambda: _logged(caplog, "unreachable"))
        assert worker._main is not None and not worker._main.done(), \
            "the worker's lease loop ended during the outage"
        result = await handle.result(timeout=TIMEOUT)  # waits through a late outage too
        assert result == [f"{label}-before", f"{label}-after"]
        assert not worker._main.done(), "the worker's lease loop ended"
        assert _logged(caplog, "reachable again")
    # nothing ran during the outage (the run slept, no message was in flight), so no step's
    # completion can have been lost and redelivered: one attempt each
    steps = (await retrying(lambda: world.steps.list(handle.run_id))).items
    assert [(s.status.value, s.attempt) for s in steps] == [("completed", 1)] * 2
    assert BODIES[f"{label}.before"] == 1 and BODIES[f"{label}.after"] == 1, BODIES
    events = (await retrying(lambda: world.events.list(handle.run_id))).items
    types = [e.type.value for e in events]
    assert types.count("wait_completed") == 1 and types.count("step_completed") == 2
    assert types[-1] == "run_completed"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateServer:
    """A server process of one test alone, on a free port, writing its data and output
    under ``directory``; stopped and started again (same port, same data) for an outage."""

    def __init__(self, name: str, directory: Path, command: Callable[[int, Path], list[str]],
                 answers: Callable[[int], Awaitable[bool]] | None = None) -> None:
        self.name, self.directory, self.command = name, directory, command
        self.answers = answers  # port -> whether it serves (default: accepts connections)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.process is None
        self.process = subprocess.Popen(
            self.command(self.port, self.directory),
            stdout=(self.directory / "server.out").open("ab"), stderr=subprocess.STDOUT)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    async def ready(self) -> None:
        """Wait until the server answers."""
        async def accepts(port: int) -> bool:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                return False
            writer.close()
            await writer.wait_closed()
            return True

        probe = self.answers or accepts

        async def up() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.process.returncode}); "
                                     f"see {self.directory / 'server.out'}")
            return await probe(self.port)

        await until(up, f"{self.name} on port {self.port}")

    async def restart(self, seen: Callable[[], bool]) -> None:
        """An :data:`Outage`: stop, hold until the worker saw it, start, wait until ready."""
        self.stop()
        await hold(seen)
        self.start()
        await self.ready()


async def assert_worker_survives_restart(server: PrivateServer, url: str,
                                         caplog: pytest.LogCaptureFixture) -> None:
    """:func:`assert_worker_survives` on the world at ``url`` (a URL naming ``server``'s
    port), with the outage a restart of ``server``."""
    server.start()
    await server.ready()
    world = connect(url)
    await world.open()
    try:
        await assert_worker_survives(world, server.restart, caplog)
    finally:
        await world.close()
