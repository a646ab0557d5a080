"""Workflows and steps used by the runtime conformance tests (``test_runtime_*``).

Importable by subprocess workers: ``python -m worldline worker worldline_conformance.runtime_app``.
State the tests observe lives in :data:`PROBE` (in-process only).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import worldline as wl


@dataclass
class Probe:
    """Counters and switches the in-process tests read and flip."""

    calls: Counter[str] = field(default_factory=Counter)
    barrier: threading.Barrier | None = None
    gate: threading.Event = field(default_factory=threading.Event)
    flags: dict[str, Any] = field(default_factory=dict)

    def reset(self) -> None:
        self.calls.clear()
        self.barrier = None
        self.gate = threading.Event()
        self.flags.clear()


PROBE = Probe()


@wl.step
def add(a: int, b: int) -> int:
    return a + b


@wl.step
def meet(label: str) -> str:
    """Waits at PROBE.barrier: passes only if the parties run at the same time."""
    assert PROBE.barrier is not None
    PROBE.barrier.wait(timeout=10)
    return label


@wl.step
def slow_until_gate(label: str) -> str:
    PROBE.gate.wait(timeout=10)
    return label


@wl.step
async def fast(label: str) -> str:
    return label


@wl.step(max_retries=3, backoff=wl.Backoff(base=0.01, cap=0.05))
def flaky(key: str, failures: int) -> int:
    """Fails ``failures`` times, then returns the attempt number it succeeded on."""
    PROBE.calls[key] += 1
    if PROBE.calls[key] <= failures:
        raise RuntimeError(f"flaky failure {PROBE.calls[key]}")
    return PROBE.calls[key]


@wl.step(max_retries=3)
def late_retry(key: str, after: float) -> int:
    """Fails once asking to be retried ``after`` seconds later, then returns its attempt."""
    PROBE.calls[key] += 1
    if PROBE.calls[key] == 1:
        raise wl.RetryableError("not yet", retry_after=after)
    return PROBE.calls[key]


@wl.step(max_retries=5)
def fatal(key: str) -> None:
    PROBE.calls[key] += 1
    raise wl.FatalError("card declined")


@wl.step
def counted_none(key: str) -> Any:
    PROBE.calls[key] += 1
    return None


@wl.step
def unserialisable() -> Any:
    return {"ok": [1, object()]}


@wl.step
def which_pid(i: int) -> int:
    return os.getpid()


@wl.step(max_retries=0)
def rendezvous(directory: str, parties: int) -> int:
    """Register this process in ``directory`` and return its pid once ``parties`` distinct
    processes are inside this step at the same time (a cross-process barrier; raises after
    30 s so a runtime that never lets the others in fails instead of hanging)."""
    Path(directory, str(os.getpid())).touch()
    deadline = time.monotonic() + 30
    while len(os.listdir(directory)) < parties:
        if time.monotonic() > deadline:
            raise wl.FatalError(f"only {os.listdir(directory)} of {parties} processes arrived")
        time.sleep(0.01)
    return os.getpid()


@wl.workflow(name="conformance.meet")
async def meet_wf(directory: str, parties: int) -> int:
    return await rendezvous(directory, parties)


def _hang_first_time(marker: str) -> str:
    """The first call (in any process) creates ``marker`` and hangs until it is killed."""
    try:
        with open(marker, "x") as f:
            f.write(str(os.getpid()))
    except FileExistsError:
        return "recovered"
    threading.Event().wait(120)
    return "not killed"


@wl.step(max_retries=1)
def hang_once(marker: str) -> str:
    return _hang_first_time(marker)


@wl.step(max_retries=0)
def hang_no_retry(marker: str) -> str:
    return _hang_first_time(marker)


@wl.workflow(name="rt.crash")
async def crash_wf(marker: str, retry: bool) -> str:
    return await (hang_once(marker) if retry else hang_no_retry(marker))


@wl.step
def step_a() -> str:
    return "a"


@wl.step
def step_b() -> str:
    return "b"


@wl.workflow(name="rt.sequential")
async def sequential(x: int) -> int:
    a = await add(x, 1)
    b = await add(a, 10)
    return await add(b, 100)


@wl.workflow(name="rt.gather")
async def gather_wf() -> list[str]:
    return list(await asyncio.gather(meet("left"), meet("right"), meet("middle")))


@wl.workflow(name="rt.race")
async def race_wf() -> dict[str, Any]:
    slow_f = asyncio.ensure_future(slow_until_gate("slow"))
    fast_f = asyncio.ensure_future(fast("fast"))
    done, _pending = await asyncio.wait({slow_f, fast_f}, return_when=asyncio.FIRST_COMPLETED)
    winner = done.pop().result() if len(done) == 1 else "tie"
    await wl.sleep(0.05)  # suspend: the rest is replayed from the log
    order = [await f for f in asyncio.as_completed([slow_until_gate("s2"), fast("f2")])]
    return {"winner": winner, "then": order[0], "slow": await slow_f}


@wl.workflow(name="rt.retries")
async def retries_wf(key: str, failures: int) -> int:
    return await flaky(key, failures)


@wl.workflow(name="rt.late_retry")
async def late_retry_wf(key: str, after: float) -> int:
    return await late_retry(key, after)


@wl.workflow(name="rt.fatal")
async def fatal_wf(key: str, catch: bool) -> str:
    try:
        await fatal(key)
    except wl.WorkflowError as exc:
        if catch:
            return f"caught {exc.type}: {exc.message}"
        raise
    return "unreachable"


@wl.workflow(name="rt.sleep")
async def sleep_wf(seconds: float) -> dict[str, str]:
    before = wl.now()
    await wl.sleep(seconds)
    return {"before": before.isoformat(), "after": wl.now().isoformat()}


@wl.workflow(name="rt.hooks")
async def hooks_wf(token: str, count: int) -> list[Any]:
    hook = wl.create_hook(token)
    got = []
    async for payload in hook:
        got.append(payload)
        if len(got) == count:
            return got
    return got


@wl.workflow(name="rt.hook_early")
async def hook_early_wf(token: str) -> list[Any]:
    hook = wl.create_hook(token)
    await slow_until_gate("hold")  # payloads arrive while this step runs
    return [await hook, await hook]


@wl.workflow(name="rt.wait_hook")
async def wait_hook_wf(token: str) -> Any:
    payload = await wl.create_hook(token)
    return await add(payload, 1)


@wl.workflow(name="rt.none_step")
async def none_step_wf(key: str) -> str:
    first: Any = await counted_none(key)
    await wl.sleep(0.2)  # suspend: the replay must not run counted_none again
    again: Any = await counted_none(key + ".2")
    await wl.sleep(0.2)
    return f"{first}-{again}"


@wl.workflow(name="rt.nondeterministic")
async def nondeterministic_wf() -> str:
    if PROBE.flags.get("branch") == "b":
        value = await step_b()
    else:
        value = await step_a()
    PROBE.flags["branch"] = "b"  # the replay after the sleep takes the other branch
    await wl.sleep(0.5)  # long enough that the activation suspends and the run replays
    return value


@wl.workflow(name="rt.bad_step_result")
async def bad_step_result_wf() -> Any:
    return await unserialisable()


@wl.workflow(name="rt.bad_result")
async def bad_result_wf() -> Any:
    return {"when": object()}


@wl.workflow(name="rt.child")
async def child_wf(x: int) -> int:
    return await add(x, x)


@wl.workflow(name="rt.parent")
async def parent_wf(x: int) -> dict[str, int]:
    doubled = await child_wf(x)
    return {"doubled": doubled, "plus": await add(doubled, 1)}


@wl.workflow(name="rt.pids")
async def pids_wf(n: int) -> list[int]:
    return [await which_pid(i) for i in range(n)]


@wl.workflow(name="rt.deterministic")
async def deterministic_wf() -> dict[str, Any]:
    first = {"random": wl.random(), "uuid": str(wl.uuid4()), "now": wl.now().isoformat()}
    PROBE.flags.setdefault("seen", []).append(first)
    await wl.sleep(0.3)  # the activation suspends; the replay must see the same values
    return first


@wl.workflow(name="rt.clock_after_step")
async def clock_after_step_wf() -> list[str]:
    """``now()`` after each step, seen live and again by the replay after the sleep."""
    times = []
    for i in range(3):
        await add(i, 1)
        times.append(wl.now().isoformat())
    PROBE.flags.setdefault("seen", []).append(times)
    await wl.sleep(0.2)
    return times


@wl.workflow(name="rt.log_moves_under_step")
async def log_moves_under_step_wf(token: str, then: str) -> list[Any]:
    """A step races a hook whose payload arrives while the step runs, so the log moves
    between the step's start and the write of its result: the hook is first in the log, so
    the hook wins, live and in every replay. ``then``: "await" (the code awaits the hook
    next: nothing carries the result, it is written alone) or "step" (with the next step)."""
    hook = wl.create_hook(token)

    async def payload() -> Any:
        return await hook

    step_f = asyncio.ensure_future(slow_until_gate("a"))
    hook_f = asyncio.ensure_future(payload())
    done, _ = await asyncio.wait({step_f, hook_f}, return_when=asyncio.FIRST_COMPLETED)
    winner = "hook" if hook_f in done else "step"
    if then == "step":
        winner = await fast(winner)
    return [winner, await step_f, await hook_f]


@wl.workflow(name="rt.fast_gather")
async def fast_gather_wf(n: int) -> list[str]:
    """Steps that finish while the driver is still creating the others."""
    return list(await asyncio.gather(*(fast(f"s{i}") for i in range(n))))
