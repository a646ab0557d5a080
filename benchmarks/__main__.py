"""`python -m benchmarks [--world X ...] [--quick]`: every scenario on every world, the
backend floor and DBOS in the same run; writes JSON, Markdown and a PNG chart to
benchmarks/results/."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from worldline.plugins import find_world

from . import floor, report, scenarios

TMP = Path(tempfile.gettempdir()) / "worldline-bench"
BASE_URLS = {
    "local": f"sqlite:///{TMP}/local.db",
    "postgres": "postgresql://127.0.0.1:5432/test",
    "redis": "redis://127.0.0.1:6379/0",
    "mongo": "mongodb://127.0.0.1:27018/worldline",
    "turso": f"file:{TMP}/turso.db",
}
DBOS_URLS = {
    "local": f"sqlite:///{TMP}/dbos.sqlite",
    "postgres": "postgresql://postgres@127.0.0.1:5432/worldline_bench_dbos",
}
RESULTS = Path(__file__).parent / "results"


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def dbos_peer(world: str, runs: int) -> dict | None:
    url = DBOS_URLS.get(world)
    if url is None:
        return None
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, "-m", "benchmarks.dbos_peer", url, str(runs)],
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        progress(f"  DBOS on {world} failed: {proc.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--world", action="append", choices=sorted(BASE_URLS),
                        help="world(s) to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="few runs, for a smoke check")
    parser.add_argument("--no-dbos", action="store_true", help="skip the DBOS peer")
    parser.add_argument("--runs", type=int, help="runs per latency scenario (default 30)")
    parser.add_argument("--throughput-runs", type=int,
                        help="runs per throughput measurement (default 200)")
    args = parser.parse_args()
    worlds = args.world or list(BASE_URLS)
    runs = args.runs or (5 if args.quick else 30)
    throughput_runs = args.throughput_runs or (20 if args.quick else 200)
    TMP.mkdir(parents=True, exist_ok=True)
    out: dict = {"started_at": datetime.now(UTC).isoformat(), "quick": args.quick,
                 "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                             "platform": platform.platform()},
                 "worlds": {}}
    for world in worlds:
        spec = find_world(BASE_URLS[world])
        url = spec.namespaced(BASE_URLS[world], "bench")
        progress(f"{world}: floor")
        entry: dict = {"url": url, "floor_ms": floor.measure(world, BASE_URLS[world])}
        entry["scenarios"] = asyncio.run(scenarios.latency_scenarios(
            url, runs, lambda name, w=world: progress(f"{w}: {name}")))
        entry["throughput"] = scenarios.throughput(
            url, throughput_runs, lambda name, w=world: progress(f"{w}: {name}"))
        if not args.no_dbos and world in DBOS_URLS:
            progress(f"{world}: DBOS peer")
            entry["dbos"] = dbos_peer(world, runs)
        out["worlds"][world] = entry
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"{stamp}.json").write_text(json.dumps(out, indent=2))
    (RESULTS / "latest.json").write_text(json.dumps(out, indent=2))
    (RESULTS / "latest.md").write_text(report.markdown(out))
    report.chart(out, RESULTS / "latest.png")
    print(report.markdown(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
