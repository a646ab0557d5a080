"""``worldline runs …`` and ``worldline hooks …``."""

from __future__ import annotations

import json
from typing import Any

import click

from .cli_common import json_option, open_world, run_async, world_option
from .cli_render import console, events_table, run_details, runs_table


@click.group()
def runs() -> None:
    """List, inspect and cancel runs."""


@runs.command("list")
@world_option
@click.option("--workflow", default=None, help="only this workflow")
@click.option("--status", default=None, help="pending, running, completed, failed, cancelled")
@click.option("--limit", default=50, show_default=True)
@json_option
@run_async
async def list_runs(world_url: str | None, workflow: str | None, status: str | None,
                    limit: int, as_json: bool) -> None:
    """The latest runs."""
    world = await open_world(world_url)
    try:
        page = await world.runs.list(workflow_name=workflow, status=status, limit=limit,
                                     order="desc", with_data=False)
    finally:
        await world.close()
    if as_json:
        click.echo(json.dumps([r.to_doc() for r in page.items], default=str))
    else:
        console.print(runs_table(page.items))


@runs.command("show")
@click.argument("run_id")
@world_option
@json_option
@run_async
async def show_run(run_id: str, world_url: str | None, as_json: bool) -> None:
    """One run with its input, output or error."""
    world = await open_world(world_url)
    try:
        run = await world.runs.get(run_id)
    finally:
        await world.close()
    if as_json:
        click.echo(json.dumps(run.to_doc(), default=str))
    else:
        console.print(run_details(run))


@runs.command("events")
@click.argument("run_id")
@world_option
@json_option
@run_async
async def run_events(run_id: str, world_url: str | None, as_json: bool) -> None:
    """The run's event log (its timeline)."""
    world = await open_world(world_url)
    events: list[Any] = []
    try:
        await world.runs.get(run_id, with_data=False)
        cursor = None
        while True:
            items, cursor = await world.events.list(run_id, cursor=cursor)
            events.extend(items)
            if cursor is None:
                break
    finally:
        await world.close()
    if as_json:
        click.echo(json.dumps([e.to_doc() for e in events], default=str))
    else:
        console.print(events_table(events, title=run_id))


@runs.command("cancel")
@click.argument("run_id")
@world_option
@click.option("--reason", default=None)
@run_async
async def cancel_run(run_id: str, world_url: str | None, reason: str | None) -> None:
    """Cancel a pending or running run."""
    from .runtime import RunHandle
    world = await open_world(world_url)
    try:
        await RunHandle(world, run_id).cancel(reason)
    finally:
        await world.close()
    click.echo(f"cancelled {run_id}")


@click.group()
def hooks() -> None:
    """Resume hooks."""


@hooks.command("resume")
@click.argument("token")
@click.argument("payload_json", default="null")
@world_option
@run_async
async def resume(token: str, payload_json: str, world_url: str | None) -> None:
    """Send PAYLOAD_JSON to the live hook holding TOKEN."""
    from .runtime import resume_hook
    try:
        payload = json.loads(payload_json)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}") from None
    world = await open_world(world_url)
    try:
        run_id = await resume_hook(token, payload, world=world)
    finally:
        await world.close()
    click.echo(f"resumed hook {token!r} of {run_id}")


__all__ = ["hooks", "runs"]
