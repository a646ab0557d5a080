"""``worldline migrate`` and ``worldline reconcile``: operating a world's storage."""

from __future__ import annotations

import json
from datetime import timedelta

import click

from .cli_common import json_option, open_world, run_async, world_option
from .plugins import connect
from .runtime.reconcile import GRACE, RETENTION, reconcile


@click.command()
@world_option
@run_async
async def migrate(world_url: str | None) -> None:
    """Create or upgrade the world's storage (worlds also do it on first connect unless
    their URL says otherwise)."""
    world = connect(world_url)
    upgrade = getattr(world, "migrate", None)  # worlds whose open() may only check
    if upgrade is not None:
        version = await upgrade()
        click.echo(f"{world.url}: schema version {version}")
        return
    await world.open()
    await world.close()
    click.echo(f"{world.url}: storage up to date")


@click.command("reconcile")
@world_option
@click.option("--retention-days", default=RETENTION.days, show_default=True, type=float,
              help="delete terminal runs that finished longer ago than this")
@click.option("--grace", default=GRACE.total_seconds(), show_default=True, type=float,
              help="seconds a live run may go without a message before it is woken")
@click.option("--limit", default=1000, show_default=True, help="most runs deleted per pass")
@json_option
@run_async
async def reconcile_command(world_url: str | None, retention_days: float, grace: float,
                            limit: int, as_json: bool) -> None:
    """Run one reconciliation pass: delete expired runs, wake orphaned runs, settle what
    dead owners left (workers also run it every --reconcile-interval seconds)."""
    world = await open_world(world_url)
    try:
        report = await reconcile(world, retention=timedelta(days=retention_days),
                                 grace=timedelta(seconds=grace), limit=limit)
    finally:
        await world.close()
    if as_json:
        click.echo(json.dumps({"deleted": report.deleted, "woken": report.woken,
                               "settled": report.settled}))
    else:
        click.echo(report.summary())
