"""Turn a benchmark run into a Markdown table and a PNG chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

LATENCY_ROWS = ("empty", "sequential_1", "sequential_10", "sequential_25", "sequential_50",
                "gather_10", "gather_25", "gather_50", "race_10", "race_25", "race_50",
                "payload10k_10", "payload10k_50", "start_to_first_step")


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def markdown(run: dict[str, Any]) -> str:
    worlds = run["worlds"]
    names = list(worlds)
    lines = [f"Run {run['started_at']} on {run['machine']['cpus']} CPUs, Python "
             f"{run['machine']['python']}{' (quick)' if run['quick'] else ''}.", "",
             "### Per-step overhead", "",
             "| world | per step (ms, slope) | 10-step / 50-step per step (ms) | floor (ms) | "
             "× floor | DBOS per step (ms, 10 / 50) | DBOS ÷ worldline |",
             "|---|---|---|---|---|---|---|"]
    for name in names:
        w = worlds[name]
        sc, per = w["scenarios"], w["scenarios"]["per_step_ms"]
        dbos = w.get("dbos") or {}
        d10 = dbos.get("sequential_10", {}).get("per_step_ms")
        d50 = dbos.get("sequential_50", {}).get("per_step_ms")
        ratio = None if d10 is None else d10 / max(sc["per_step_ms_10"], 1e-9)
        lines.append(
            f"| {name} | {_fmt(per)} | {_fmt(sc['per_step_ms_10'])} / "
            f"{_fmt(sc['per_step_ms_50'])} | {_fmt(w['floor_ms'], 3)} | "
            f"{_fmt(per / w['floor_ms'], 1)} | {_fmt(d10)} / {_fmt(d50)} | {_fmt(ratio, 1)} |")
    lines += ["", "### Latency (median / p95, ms)", "",
              "| scenario | " + " | ".join(names) + " |",
              "|---|" + "---|" * len(names)]
    for row in LATENCY_ROWS:
        cells = []
        for name in names:
            s = worlds[name]["scenarios"].get(row)
            cells.append("—" if s is None else f"{s['median_ms']:.1f} / {s['p95_ms']:.1f}")
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    lines += ["", "### Throughput (runs/s of 10-step workflows)", "",
              "| world | 1 worker | 2 workers | 4 workers | 4 ÷ 1 | DBOS |",
              "|---|---|---|---|---|---|"]
    for name in names:
        t = worlds[name]["throughput"]
        dbos = (worlds[name].get("dbos") or {}).get("throughput_10_steps_rps")
        lines.append(f"| {name} | {_fmt(t['throughput_1w_rps'], 1)} | "
                     f"{_fmt(t['throughput_2w_rps'], 1)} | {_fmt(t['throughput_4w_rps'], 1)} | "
                     f"{_fmt(t['throughput_4w_rps'] / t['throughput_1w_rps'], 2)} | "
                     f"{_fmt(dbos, 1)} |")
    return "\n".join(lines) + "\n"


def chart(run: dict[str, Any], path: Path) -> None:
    """Per-step overhead by world, with the backend floor and DBOS beside each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    worlds = run["worlds"]
    names = list(worlds)
    ours = [worlds[n]["scenarios"]["per_step_ms_10"] for n in names]
    floors = [worlds[n]["floor_ms"] for n in names]
    dbos = [((worlds[n].get("dbos") or {}).get("sequential_10") or {}).get("per_step_ms", 0.0)
            for n in names]
    xs = range(len(names))
    width = 0.27
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.bar([x - width for x in xs], floors, width, label="backend floor (1 commit)",
           color="#9aa5b1")
    ax.bar(list(xs), ours, width, label="worldline", color="#2f6fde")
    ax.bar([x + width for x in xs], dbos, width, label="DBOS 3.4", color="#e07b39")
    ax.set_xticks(list(xs), names)
    ax.set_ylabel("ms per step (10-step workflow)")
    ax.set_title("Per-step overhead of a durable step")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
