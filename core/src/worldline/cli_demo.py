"""``worldline demo``: the bundled order workflow with an embedded worker and a live view."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import click
from rich.live import Live
from rich.table import Table

from .cli_render import STATUS_STYLE, console, events_table
from .model import Event, EventType
from .protocol import World

_STATE = {EventType.STEP_CREATED: "queued", EventType.STEP_STARTED: "running",
          EventType.STEP_RETRYING: "retrying", EventType.STEP_COMPLETED: "completed",
          EventType.STEP_FAILED: "failed", EventType.WAIT_CREATED: "sleeping",
          EventType.WAIT_COMPLETED: "completed"}


def _progress(events: list[Event], status: str, elapsed: float) -> Table:
    rows: dict[str, list[str]] = {}
    for event in events:
        cid = event.correlation_id
        if cid is None or event.type not in _STATE:
            continue
        row = rows.setdefault(cid, [event.data.get("step_name", "sleep"), "", "0"])
        row[1] = _STATE[event.type]
        if event.type is EventType.STEP_STARTED:
            row[2] = str(int(row[2]) + 1)
    style = STATUS_STYLE.get(status, "")
    table = Table("#", "step", "state", "attempts",
                  title=f"demo.order — run [{style}]{status}[/] — {elapsed:.2f}s")
    for i, (name, state, attempts) in enumerate(rows.values(), 1):
        colour = {"completed": "green", "failed": "red", "retrying": "yellow",
                  "running": "cyan", "sleeping": "magenta"}.get(state, "")
        table.add_row(str(i), name, f"[{colour}]{state}[/]", attempts)
    return table


async def _all_events(world: World, run_id: str) -> list[Event]:
    out: list[Event] = []
    cursor = None
    while True:
        items, cursor = await world.events.list(run_id, cursor=cursor)
        out.extend(items)
        if cursor is None:
            return out


async def run_demo(world: World, as_json: bool) -> None:
    from .demo import DEMO_ORDER, demo_order
    from .runtime import Worker, start
    began = time.perf_counter()
    try:
        async with Worker(world, concurrency=8, poll=0.2):
            handle = await start(demo_order, DEMO_ORDER, world=world)
            result_task = asyncio.create_task(handle.result(timeout=30))
            with Live(console=console, refresh_per_second=20, transient=as_json) as live:
                while True:
                    events = await _all_events(world, handle.run_id)
                    status = (await handle.status()).value
                    live.update(_progress(events, status, time.perf_counter() - began))
                    if result_task.done():
                        break
                    await asyncio.sleep(0.05)
            result: Any = await result_task
        events = await _all_events(world, handle.run_id)
    finally:
        await world.close()
    elapsed = time.perf_counter() - began
    if as_json:
        click.echo(json.dumps({"run_id": handle.run_id, "result": result,
                               "seconds": round(elapsed, 3),
                               "events": [e.to_doc() for e in events]}, default=str))
        return
    console.print_json(json.dumps(result, default=str))
    console.print(events_table(events, title=f"timeline of {handle.run_id}"))
    steps = sum(1 for e in events if e.type is EventType.STEP_COMPLETED)
    console.print(f"[green]done[/] in {elapsed:.2f}s: {steps} steps, {len(events)} events "
                  f"on {world.url}")
