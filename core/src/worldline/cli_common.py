"""Shared pieces of the CLI: world opening, app loading, JSON arguments, error handling."""

from __future__ import annotations

import asyncio
import functools
import importlib
import json
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click

from .errors import WorldlineError
from .plugins import connect
from .protocol import World

T = TypeVar("T")
URL_HELP = "world URL (default: $WORLDLINE_URL, else sqlite:///.worldline/world.db)"


def run_async(fn: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    """Run an async command; turn worldline errors into one-line messages and exit 1."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return asyncio.run(fn(*args, **kwargs))
        except (WorldlineError, LookupError, ValueError, TypeError, OSError) as exc:
            raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    return wrapper


async def open_world(url: str | None) -> World:
    if url and url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):].split("?", 1)[0]
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
    elif not url and not os.environ.get("WORLDLINE_URL"):
        os.makedirs(".worldline", exist_ok=True)
    world = connect(url)
    await world.open()
    return world


def load_app(app: str) -> None:
    """Import ``module`` or ``module:attr`` so its workflows and steps register."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module, _, attr = app.partition(":")
    loaded = importlib.import_module(module)
    if attr:
        getattr(loaded, attr)


def parse_args(text: str) -> tuple[list[Any], dict[str, Any]]:
    """JSON input: a list -> positional args, an object -> keyword args, else one arg."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}") from None
    if isinstance(value, list):
        return value, {}
    if isinstance(value, dict):
        return [], value
    return [value], {}


world_option = click.option("--world", "world_url", envvar="WORLDLINE_URL", default=None,
                            help=URL_HELP)
json_option = click.option("--json", "as_json", is_flag=True, help="machine-readable output")
