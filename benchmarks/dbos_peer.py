"""The peer: DBOS Transact running the same sequential and throughput scenarios.

DBOS is a process-wide singleton, so each backend runs in its own process:
``python -m benchmarks.dbos_peer URL RUNS`` prints one JSON object on stdout.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from dbos import DBOS, DBOSConfig


@DBOS.step()
def noop_step(i: int) -> int:
    return i


@DBOS.workflow()
def sequential(n: int) -> int:
    total = 0
    for i in range(n):
        total += noop_step(i)
    return total


def timed_runs(steps: int, runs: int) -> list[float]:
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        DBOS.start_workflow(sequential, steps).get_result()
        durations.append(time.perf_counter() - started)
    return durations


def throughput(runs: int, concurrency: int = 8) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        handles = list(pool.map(lambda _: DBOS.start_workflow(sequential, 10), range(runs)))
    for handle in handles:
        handle.get_result()
    return runs / (time.perf_counter() - started)


def main() -> None:
    url, runs = sys.argv[1], int(sys.argv[2])
    config: DBOSConfig = {"name": "worldline-bench", "system_database_url": url,
                          "run_admin_server": False}  # type: ignore[typeddict-unknown-key]
    DBOS(config=config)
    DBOS.launch()
    try:
        timed_runs(10, 3)  # warm-up
        result = {}
        for steps in (10, 50):
            durations = timed_runs(steps, runs)
            result[f"sequential_{steps}"] = {
                "median_ms": statistics.median(durations) * 1000,
                "p95_ms": sorted(durations)[int(0.95 * (len(durations) - 1))] * 1000,
                "per_step_ms": statistics.median(durations) * 1000 / steps,
            }
        result["throughput_10_steps_rps"] = throughput(max(20, runs))
        print(json.dumps(result))
    finally:
        DBOS.destroy()


if __name__ == "__main__":
    main()
