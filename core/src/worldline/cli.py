"""The ``worldline`` command line: demo, worker, start, runs, hooks, migrate, reconcile."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from datetime import timedelta
from typing import Any

import click

from .cli_common import (
    URL_HELP,
    json_option,
    load_app,
    open_world,
    parse_args,
    run_async,
    world_option,
)
from .plugins import DEFAULT_URL


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="log runtime activity")
def main(verbose: bool) -> None:
    """worldline: durable workflows for Python on the database you already run."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--world", "world_url", default=DEFAULT_URL, show_default=True, help=URL_HELP)
@json_option
@run_async
async def demo(world_url: str, as_json: bool) -> None:
    """Run the bundled order demo end to end with an embedded worker."""
    from .cli_demo import run_demo
    await run_demo(await open_world(world_url), as_json)


@main.command()
@click.argument("app")
@world_option
@click.option("--concurrency", "-c", default=8, show_default=True, help="messages at once")
@click.option("--inline", default=None, type=int, help="steps run inline at once")
@click.option("--poll", default=1.0, show_default=True, help="max idle wait per lease (s)")
@click.option("--visibility-timeout", default=30.0, show_default=True,
              help="lease length (s); extended while work runs")
@click.option("--inline-grace", default=60.0, show_default=True,
              help="after this many seconds another worker may retake an inline step")
@click.option("--reconcile-interval", default=300.0, show_default=True,
              help="seconds between reconciliation passes (0: none)")
@click.option("--retention-days", default=30.0, show_default=True,
              help="reconciliation deletes terminal runs older than this")
@run_async
async def worker(app: str, world_url: str | None, concurrency: int, inline: int | None,
                 poll: float, visibility_timeout: float, inline_grace: float,
                 reconcile_interval: float, retention_days: float) -> None:
    """Run workflows and steps registered by APP (module or module:attr) until stopped."""
    from .runtime import Worker
    load_app(app)
    world = await open_world(world_url)
    w = Worker(world, concurrency=concurrency, inline_concurrency=inline, poll=poll,
               visibility_timeout=visibility_timeout, inline_grace=inline_grace,
               reconcile_interval=reconcile_interval,
               retention=timedelta(days=retention_days))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, w.request_stop)
    click.echo(f"worker ready on {world.url} ({len(w.queues())} queues)", err=True)
    try:
        await w.run_forever()
    finally:
        await world.close()
    click.echo(f"worker stopped after {w.handled} messages", err=True)


@main.command()
@click.argument("workflow")
@click.argument("args_json", default="[]")
@world_option
@click.option("--app", default=None, help="module to import first (module or module:attr)")
@click.option("--idempotency-key", default=None)
@click.option("--wait", "wait_seconds", type=float, default=None,
              help="wait up to N seconds for the result")
@json_option
@run_async
async def start(workflow: str, args_json: str, world_url: str | None, app: str | None,
                idempotency_key: str | None, wait_seconds: float | None,
                as_json: bool) -> None:
    """Start WORKFLOW (a registered name) with ARGS_JSON (list, object or value)."""
    from .runtime import start as start_run
    if app:
        load_app(app)
    args, kwargs = parse_args(args_json)
    world = await open_world(world_url)
    try:
        handle = await start_run(workflow, *args, idempotency_key=idempotency_key,
                                 world=world, **kwargs)
        out: dict[str, Any] = {"run_id": handle.run_id}
        if wait_seconds is not None:
            out["result"] = await handle.result(timeout=wait_seconds)
    finally:
        await world.close()
    if as_json:
        click.echo(json.dumps(out, default=str))
    else:
        click.echo(out["run_id"])
        if "result" in out:
            click.echo(json.dumps(out["result"], default=str))


from .cli_admin import migrate, reconcile_command  # noqa: E402 - commands register on import
from .cli_runs import hooks, runs  # noqa: E402

main.add_command(runs)
main.add_command(hooks)
main.add_command(migrate)
main.add_command(reconcile_command)

