"""Rendering for the CLI: rich tables by default, JSON with ``--json``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from .model import Event, Run

console = Console()
STATUS_STYLE = {"completed": "green", "failed": "red", "cancelled": "yellow",
                "running": "cyan", "pending": "white"}


def dump_json(value: Any) -> None:
    click_echo(json.dumps(value, indent=2, default=str))


def click_echo(text: str) -> None:
    import click
    click.echo(text)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if value else "-"


def runs_table(runs: Sequence[Run]) -> Table:
    table = Table("run id", "workflow", "status", "created", "completed")
    for run in runs:
        style = STATUS_STYLE.get(run.status, "")
        table.add_row(run.run_id, run.workflow_name, f"[{style}]{run.status}[/]",
                      _when(run.created_at), _when(run.completed_at))
    return table


def _short(value: Any, width: int = 60) -> str:
    if value is None:
        return ""
    text = json.dumps(value, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def short_cid(cid: str | None) -> str:
    """``step_<run ulid>_00004`` -> ``step #4`` (ids the runtime derived); others unchanged."""
    if not cid:
        return ""
    kind, _, rest = cid.partition("_")
    _ulid, _, position = rest.rpartition("_")
    return f"{kind} #{int(position)}" if position.isdigit() and _ulid else cid


def events_table(events: Sequence[Event], title: str | None = None) -> Table:
    table = Table("seq", "+ms", "event", "correlation id", "data", title=title)
    start = events[0].created_at if events else None
    for event in events:
        offset = (event.created_at - start).total_seconds() * 1000 if start else 0.0
        data = {k: v for k, v in event.data.items() if k != "input"}
        table.add_row(str(event.seq), f"{offset:.0f}", event.type.value,
                      short_cid(event.correlation_id), _short(data))
    return table


def run_details(run: Run) -> Table:
    table = Table(show_header=False)
    for key, value in run.to_doc().items():
        table.add_row(key, _short(value, 100))
    return table
