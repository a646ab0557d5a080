"""Comparing a world with the reference world (``memory://``) in the model-based and property
tests: a bridge that lets Hypothesis (synchronous) drive async worlds, and normalised views
of answers and state in which only what legitimately differs (ids, clocks) is masked."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from worldline import Event, EventResult, Page, World, WorldlineError
from worldline.model import to_iso
from worldline.protocol import Order
from worldline.worlds.memory import MemoryWorld

T = TypeVar("T")

#: the only fixed times the generated events use; any other time is the world's clock
PAST = "2000-01-01T00:00:00+00:00"
FUTURE = "2999-01-01T00:00:00+00:00"
FIXED_TIMES = frozenset({PAST, FUTURE})
_TIME_KEYS = ("retry_after", "resume_at")


def reference_world() -> MemoryWorld:
    """A fresh, empty reference world in a namespace of its own."""
    return MemoryWorld(f"memory://reference-{uuid.uuid4().hex}")


class Bridge:
    """Run coroutines on the test's event loop from the thread Hypothesis runs in (worlds
    are bound to the loop that opened them)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float = 60.0) -> None:
        self.loop = loop
        self.timeout = timeout

    def __call__(self, awaitable: Awaitable[T]) -> T:
        async def wait() -> T:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wait(), self.loop).result(self.timeout)

    def outcome(self, make: Callable[[], Awaitable[Any]],
                view: Callable[[Any], Any] = lambda x: x) -> tuple[Any, ...]:
        """``("ok", view(result))`` or ``("error", ErrorClass, details)``; an exception that
        is not a WorldlineError propagates (always a defect)."""
        async def go() -> tuple[Any, ...]:
            try:
                return ("ok", view(await make()))
            except WorldlineError as exc:
                return error_view(exc)
        return self(go())


def error_view(exc: WorldlineError) -> tuple[Any, ...]:
    """An error as compared across worlds: its class, and the run that holds an idempotency
    key for a Conflict (TooEarly's seconds left depend on the clock and are left out)."""
    return ("error", type(exc).__name__, getattr(exc, "existing_run_id", None))


def time_view(value: datetime | str | None) -> str | None:
    iso = to_iso(value) if isinstance(value, datetime) else value
    return iso if iso is None or iso in FIXED_TIMES else "<clock>"


def data_view(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    return {k: time_view(v) if k in _TIME_KEYS else v for k, v in data.items()}


def entity_view(entity: Any) -> dict[str, Any] | None:
    """A run, step, wait or hook as a dict with its clock times masked."""
    if entity is None:
        return None
    doc = entity.to_doc()
    return {k: time_view(doc[k]) if k in entity._datetimes else doc[k] for k in doc}


def event_view(event: Event | dict[str, Any] | None) -> tuple[Any, ...] | None:
    """An event (API object or raw dict) without its id and creation time."""
    if event is None:
        return None
    doc = event.to_doc() if isinstance(event, Event) else event
    return (doc["seq"], str(doc["type"]), doc["correlation_id"], data_view(doc["data"]))


def result_view(result: EventResult) -> tuple[Any, ...]:
    return (event_view(result.event), entity_view(result.run), entity_view(result.entity))


async def all_pages(fetch: Callable[[str | None], Awaitable[Page[T]]]) -> list[T]:
    """Every item of a paginated list (``fetch(cursor)``)."""
    items: list[T] = []
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        items.extend(page.items)
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor
        if len(items) > 100_000:
            raise AssertionError("pagination does not end")


async def snapshot(world: World, run_ids: list[str], workflow_names: list[str], *,
                   limit: int = 2, order: Order = "asc") -> dict[str, Any]:
    """Everything a client can read about ``run_ids`` (and the runs of ``workflow_names``),
    normalised; small pages exercise the cursors."""
    async def attempt(make: Callable[[], Awaitable[Any]], view: Callable[[Any], Any]) -> Any:
        try:
            return ("ok", view(await make()))
        except WorldlineError as exc:
            return error_view(exc)

    def views(items: list[Any]) -> list[Any]:
        return [entity_view(i) for i in items]

    out: dict[str, Any] = {}
    for name in workflow_names:
        out[f"runs:{name}"] = views(await all_pages(partial(
            _runs_page, world, name, limit=limit, order=order)))
    for run_id in run_ids:
        out[f"run:{run_id}"] = await attempt(partial(world.runs.get, run_id), entity_view)
        for kind, api in (("steps", world.steps), ("waits", world.waits),
                          ("hooks", world.hooks)):
            out[f"{kind}:{run_id}"] = views(await all_pages(partial(
                _entity_page, api, run_id, limit=limit, order=order)))
        out[f"events:{run_id}"] = [event_view(e) for e in await all_pages(partial(
            _entity_page, world.events, run_id, limit=limit + 1, order=order))]
        out[f"raw:{run_id}"] = [event_view(e) for e in await world.raw_events(run_id)]
    return out


async def _runs_page(world: World, name: str, cursor: str | None, *, limit: int,
                     order: Order) -> Page[Any]:
    return await world.runs.list(workflow_name=name, limit=limit, cursor=cursor, order=order)


async def _entity_page(api: Any, run_id: str, cursor: str | None, *, limit: int,
                       order: Order) -> Page[Any]:
    return await api.list(run_id, limit=limit, cursor=cursor, order=order)
