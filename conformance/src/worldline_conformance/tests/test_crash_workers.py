"""Worker processes killed with SIGKILL at each point of a run's life: another worker
finishes the run, every completed step body's result is used once, killed attempts count.

The workflows below are registered by the subprocess workers too: they load this module
(``python -m worldline worker worldline_conformance.tests.test_crash_workers``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
import worldline as wl
from worldline.faults import ENV_VARIABLE

from .runtime_helpers import event_types, has_event, wait_for

pytestmark = pytest.mark.requires("multiprocess")

APP = "worldline_conformance.tests.test_crash_workers"
TIMEOUT = 60.0


def _log(path: str, line: str) -> None:
    with open(path, "a") as f:
        f.write(line + "\n")


def _lines(path: str) -> list[str]:
    try:
        with open(path) as f:
            return f.read().split()
    except FileNotFoundError:
        return []


@wl.step(max_retries=2)
def logged(log: str, label: str) -> str:
    """Appends ``label`` to ``log`` on every execution of the body."""
    _log(log, label)
    return f"{label}-result"


@wl.step(max_retries=2)
def kill_own_worker(log: str, test_pid: int) -> str:
    """SIGKILLs the worker running it, on every attempt (never the test process)."""
    _log(log, "attempt")
    if os.getpid() == test_pid:
        raise RuntimeError("run by the test process: refusing to kill it")
    os.kill(os.getpid(), signal.SIGKILL)
    return "unreachable"


@wl.workflow(name="crash.steps")
async def steps_wf(log: str) -> list[str]:
    return [await logged(log, "a"), await logged(log, "b")]


@wl.workflow(name="crash.sleep")
async def sleep_wf(log: str) -> list[str]:
    a = await logged(log, "a")
    await wl.sleep(1.0)
    return [a, await logged(log, "b")]


@wl.workflow(name="crash.hook")
async def hook_wf(log: str, token: str) -> list[Any]:
    a = await logged(log, "a")
    payload = await wl.create_hook(token)
    return [a, payload, await logged(log, "b")]


@wl.workflow(name="crash.suicide")
async def suicide_wf(log: str, test_pid: int) -> str:
    return await kill_own_worker(log, test_pid)


async def _spawn(url: str, faults: str | None = None) -> asyncio.subprocess.Process:
    """A ``worldline worker`` subprocess with short leases (redelivery within a second)."""
    env = dict(os.environ)
    env.pop(ENV_VARIABLE, None)
    if faults:
        env[ENV_VARIABLE] = faults
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "worldline", "worker", APP, "--world", url, "--poll", "0.05",
        "--visibility-timeout", "1", "--inline-grace", "1", env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGKILL)
    await proc.wait()


@pytest.fixture
def log(tmp_path: Any) -> str:
    return str(tmp_path / "bodies.log")


async def _recover(world: wl.World, handle: wl.RunHandle) -> Any:
    """A fresh worker (this process) finishes the run."""
    async with wl.Worker(world, poll=0.05, visibility_timeout=1, inline_grace=1):
        return await handle.result(timeout=TIMEOUT)


@pytest.mark.parametrize("point", ["step.after_started", "step.after_completed"])
async def test_worker_killed_at_fault_point(world, world_namespace_url, log, point):
    handle = await wl.start(steps_wf, log, world=world)
    proc = await _spawn(world_namespace_url, f"{point}=kill")
    try:
        code = await asyncio.wait_for(proc.wait(), TIMEOUT)
    finally:
        await _kill(proc)
    assert code == -signal.SIGKILL, f"the worker was not killed at {point} (exit {code})"
    # a's result is written with b's creation and start on worlds with batch_events (the
    # runtime's write-behind), on its own elsewhere
    with_b = point == "step.after_completed" and world.capabilities.batch_events
    steps, _ = await world.steps.list(handle.run_id)
    if point == "step.after_started":
        assert [(s.status, s.attempt) for s in steps] == [("running", 1)]
    elif with_b:
        assert [(s.status, s.attempt) for s in steps] == [("completed", 1), ("running", 1)]
    else:
        assert [(s.status, s.attempt) for s in steps] == [("completed", 1)]
    assert _lines(log) == ([] if point == "step.after_started" else ["a"])

    assert await _recover(world, handle) == ["a-result", "b-result"]
    assert _lines(log) == ["a", "b"], "a completed step's body ran again (or never)"
    steps, _ = await world.steps.list(handle.run_id)
    # an attempt counts once it is started, so a killed start counts
    expected = {"step.after_started": [2, 1], "step.after_completed": [1, 2 if with_b else 1]}
    assert [s.attempt for s in steps] == expected[point]
    types = [t for t, _ in await event_types(world, handle.run_id)]
    assert types.count("step_completed") == 2 and types[-1] == "run_completed"


async def _killed_while_suspended(world: wl.World, url: str, handle: wl.RunHandle,
                                  marker: str) -> None:
    """Run ``handle`` in a worker process until ``marker`` is in the log, then kill -9 it."""
    proc = await _spawn(url)
    try:
        await wait_for(lambda: has_event(world, handle.run_id, marker), TIMEOUT)
    finally:
        await _kill(proc)


async def test_worker_killed_during_sleep(world, world_namespace_url, log):
    handle = await wl.start(sleep_wf, log, world=world)
    await _killed_while_suspended(world, world_namespace_url, handle, "wait_created")
    assert await _recover(world, handle) == ["a-result", "b-result"]
    assert _lines(log) == ["a", "b"]
    types = [t for t, _ in await event_types(world, handle.run_id)]
    assert types.count("wait_completed") == 1


async def test_worker_killed_while_hook_awaited(world, world_namespace_url, log, tmp_path):
    token = f"crash-hook-{tmp_path.name}"
    handle = await wl.start(hook_wf, log, token, world=world)
    await _killed_while_suspended(world, world_namespace_url, handle, "hook_created")
    assert await wl.resume_hook(token, {"paid": True}, world=world) == handle.run_id
    assert await _recover(world, handle) == ["a-result", {"paid": True}, "b-result"]
    assert _lines(log) == ["a", "b"]


@pytest.fixture
async def supervisor(world_namespace_url: str) -> AsyncIterator[list[int]]:
    """Keeps one worker process alive (restarting it when it dies); yields the exit codes
    of the workers that died, and stops the last one afterwards."""
    exits: list[int] = []
    stop = asyncio.Event()

    async def supervise() -> None:
        while not stop.is_set():
            proc = await _spawn(world_namespace_url)
            try:
                waiter = asyncio.ensure_future(proc.wait())
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                if waiter.done():
                    exits.append(waiter.result())
                assert len(exits) < 10, "the step keeps killing workers: it loops"
            finally:
                await _kill(proc)

    task = asyncio.ensure_future(supervise())
    try:
        yield exits
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_step_killing_its_worker_fails_after_its_attempts(world, log, supervisor):
    handle = await wl.start(suicide_wf, log, os.getpid(), world=world)
    with pytest.raises(wl.WorkflowError) as info:
        await handle.result(timeout=TIMEOUT)
    assert info.value.type == "StepAttemptsExhausted"
    assert supervisor == [-signal.SIGKILL] * 3, f"worker exits: {supervisor}"
    assert _lines(log) == ["attempt"] * 3
    types = [t for t, _ in await event_types(world, handle.run_id)]
    assert types.count("step_started") == 3
    assert types.count("step_failed") == 1 and types[-1] == "run_failed"
    (step,), _ = await world.steps.list(handle.run_id)
    assert step.status.value == "failed" and step.attempt == 3
    assert step.output is None and step.error["type"] == "StepAttemptsExhausted"
