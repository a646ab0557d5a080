"""The benchmark workflows (importable by `worldline worker benchmarks.workflows`)."""

from __future__ import annotations

import asyncio
import time

from worldline import step, workflow

PAYLOAD_10KB = "x" * 10_240

#: wall-clock time at which a run's first step body started, by run input tag (in-process)
FIRST_STEP_AT: dict[str, float] = {}


@step
async def noop(i: int) -> int:
    return i


@step
async def echo(blob: str) -> str:
    return blob


@step
async def mark_first(tag: str) -> str:
    FIRST_STEP_AT.setdefault(tag, time.perf_counter())
    return tag


@workflow(name="bench.empty")
async def empty() -> int:
    return 0


@workflow(name="bench.sequential")
async def sequential(n: int) -> int:
    total = 0
    for i in range(n):
        total += await noop(i)
    return total


@workflow(name="bench.gather")
async def gather(n: int) -> int:
    return sum(await asyncio.gather(*(noop(i) for i in range(n))))


@workflow(name="bench.race")
async def race(n: int) -> int:
    tasks = [asyncio.ensure_future(noop(i)) for i in range(n)]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return next(iter(done)).result()


@workflow(name="bench.payload")
async def payload(n: int) -> int:
    size = 0
    for _ in range(n):
        size += len(await echo(PAYLOAD_10KB))
    return size


@workflow(name="bench.first_step")
async def first_step(tag: str) -> str:
    return await mark_first(tag)
