"""worldline scenarios: latency of each workflow shape and throughput with worker processes."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import worldline
from worldline import Worker, start

from . import workflows

SEQUENTIAL = (1, 10, 25, 50)
FANOUT = (10, 25, 50)


@dataclass
class Latency:
    samples_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.samples_ms)
        return {"median_ms": statistics.median(ordered),
                "p95_ms": ordered[int(0.95 * (len(ordered) - 1))],
                "runs": len(ordered)}


async def fresh_world(url: str) -> Any:
    """An opened world on an empty namespace (``destroy`` may drop the storage itself)."""
    old = worldline.connect(url)
    await old.open()
    await old.destroy()
    await old.close()
    world = worldline.connect(url)
    await world.open()
    return world


async def _timed(world: Any, runs: int, make: Callable[[int], Any]) -> Latency:
    latency = Latency()
    for i in range(runs):
        wf, args = make(i)
        started = time.perf_counter()
        handle = await start(wf, *args, world=world)
        await handle.result(timeout=120)
        latency.samples_ms.append((time.perf_counter() - started) * 1000)
    return latency


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of latency (ms) over step count: the per-step overhead."""
    xs, ys = zip(*points, strict=True)
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x in xs)


async def latency_scenarios(url: str, runs: int, progress: Callable[[str], None]) -> dict:
    world = await fresh_world(url)
    results: dict[str, Any] = {}
    try:
        async with Worker(world, concurrency=64):
            await _timed(world, 3, lambda i: (workflows.sequential, (5,)))  # warm-up
            plan: list[tuple[str, Callable[[int], Any]]] = [
                ("empty", lambda i: (workflows.empty, ())),
                *[(f"sequential_{n}", lambda i, n=n: (workflows.sequential, (n,)))
                  for n in SEQUENTIAL],
                *[(f"gather_{n}", lambda i, n=n: (workflows.gather, (n,))) for n in FANOUT],
                *[(f"race_{n}", lambda i, n=n: (workflows.race, (n,))) for n in FANOUT],
                *[(f"payload10k_{n}", lambda i, n=n: (workflows.payload, (n,)))
                  for n in (10, 50)],
            ]
            for name, make in plan:
                progress(name)
                results[name] = (await _timed(world, runs, make)).summary()
            progress("start_to_first_step")
            first = Latency()
            for _ in range(runs):
                tag = uuid.uuid4().hex
                started = time.perf_counter()
                handle = await start(workflows.first_step, tag, world=world)
                await handle.result(timeout=60)
                first.samples_ms.append((workflows.FIRST_STEP_AT[tag] - started) * 1000)
            results["start_to_first_step"] = first.summary()
    finally:
        await world.destroy()
        await world.close()
    points = [(n, results[f"sequential_{n}"]["median_ms"]) for n in SEQUENTIAL]
    results["per_step_ms"] = slope(points)
    results["per_step_ms_10"] = (results["sequential_10"]["median_ms"]
                                 - results["empty"]["median_ms"]) / 10
    results["per_step_ms_50"] = (results["sequential_50"]["median_ms"]
                                 - results["empty"]["median_ms"]) / 50
    return results


async def _throughput(url: str, processes: int, runs: int) -> float:
    world = await fresh_world(url)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    workers = [subprocess.Popen(  # noqa: ASYNC220 - long-lived worker processes
        [sys.executable, "-m", "worldline", "worker", "benchmarks.workflows", "--world", url,
         "--concurrency", "16"], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL) for _ in range(processes)]
    try:
        warm = [await start(workflows.sequential, 1, world=world) for _ in range(processes * 2)]
        for handle in warm:
            await handle.result(timeout=120)
        started = time.perf_counter()
        handles = [await start(workflows.sequential, 10, world=world) for _ in range(runs)]
        for handle in handles:
            await handle.result(timeout=600)
        return runs / (time.perf_counter() - started)
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        await world.destroy()
        await world.close()


def throughput(url: str, runs: int, progress: Callable[[str], None]) -> dict[str, float]:
    out = {}
    for processes in (1, 2, 4):
        progress(f"throughput_{processes}_workers")
        out[f"throughput_{processes}w_rps"] = asyncio.run(_throughput(url, processes, runs))
    return out
