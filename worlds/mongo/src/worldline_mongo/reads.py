"""Reads (SPEC §4). Each roll the run forward first (:func:`worldline_mongo.log.sync`), so
an event committed by a writer that crashed before projecting it is already visible.

A run being deleted (see :mod:`worldline_mongo.housekeeping`) is absent: its projections are
marked ``deleted`` once the tombstone is rolled in, and listings of what a run owns check,
after reading, that the run's last event is not the tombstone (:func:`run_gone`), so a
reader never sees a half-deleted run."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from worldline import checks
from worldline.cursor import check_page_args, decode_cursor, encode_cursor
from worldline.errors import NotFound, ValidationError
from worldline.model import Event, Hook, Page, Run, RunStatus
from worldline.strip import strip_data

from .log import (
    ENTITY_CLASSES,
    TOMBSTONE,
    is_tombstone,
    last_event,
    load_entity,
    run_from,
    sync,
    sync_if_lagging,
    token_holder_of,
)
from .store import Store

T = TypeVar("T")


async def get_run(store: Store, run_id: str, with_data: bool = True) -> Run:
    run = await sync(store, checks.text(run_id, "run id"))
    if run is None:
        raise NotFound("no such run", run_id=run_id)
    return run if with_data else strip_data(run)


async def list_runs(store: Store, workflow_name: str | None, status: str | None, limit: int,
                    cursor: str | None, order: str, with_data: bool) -> Page[Run]:
    if status is not None and (not isinstance(status, str)
                               or status not in RunStatus._value2member_map_):
        raise ValidationError(f"unknown run status {status!r}")
    filt: dict[str, Any] = {"deleted": {"$ne": True}}
    if workflow_name is not None:
        filt["workflow_name"] = checks.text(workflow_name, "workflow name")
    if status is not None:
        filt["status"] = RunStatus(status).value

    def build(doc: dict[str, Any]) -> Run:
        run = run_from(doc)
        assert run is not None
        return run

    page = await _page(store.runs, filt, ("run_id",), limit, cursor, order, build, with_data)
    lagging = {e["run_id"] async for e in store.events.find(
        {"applied": False, "run_id": {"$in": [r.run_id for r in page.items]}}, {"run_id": 1})}
    if not lagging:
        return page
    for run_id in lagging:
        await sync(store, run_id)
    return await _page(store.runs, filt, ("run_id",), limit, cursor, order, build, with_data)


async def get_entity(store: Store, kind: str, run_id: str, entity_id: str,
                     with_data: bool = True) -> Any:
    checks.text(entity_id, f"{kind} id")
    await sync_if_lagging(store, checks.text(run_id, "run id"))
    entity = await load_entity(store, kind, run_id, entity_id)
    if entity is None or await run_gone(store, run_id):
        raise NotFound(f"no such {kind}", run_id=run_id, entity_id=entity_id)
    return entity if with_data else strip_data(entity)


async def list_entities(store: Store, kind: str, run_id: str, limit: int, cursor: str | None,
                        order: str, with_data: bool = True) -> Page[Any]:
    checks.text(run_id, "run id")
    check_page_args(limit, order)
    if cursor is None:  # later pages continue from the first page's view
        await sync_if_lagging(store, run_id)
    cls = ENTITY_CLASSES[kind]
    page = await _page(store.entities(kind), {"run_id": run_id, "deleted": False},
                       ("created_at", "eid"), limit, cursor, order,
                       lambda doc: cls.from_doc(json.loads(doc["doc"])), with_data)
    return await _unless_gone(store, run_id, page)


async def get_hook_by_token(store: Store, token: str) -> Hook:
    checks.text(token, "hook token")
    hook = await token_holder_of(store, token)
    if hook is None or await run_gone(store, hook.run_id):
        raise NotFound(f"no live hook holds token {token!r}")
    return hook


async def list_events(store: Store, run_id: str, limit: int, cursor: str | None, order: str,
                      with_data: bool) -> Page[Event]:
    checks.text(run_id, "run id")
    page = await _page(store.events, {"run_id": run_id, "type": {"$ne": TOMBSTONE}}, ("seq",),
                       limit, cursor, order, event_from, with_data)
    return await _unless_gone(store, run_id, page)


async def run_gone(store: Store, run_id: str) -> bool:
    """Whether the run is deleted or being deleted: it has no event left, or its last one is
    the deletion tombstone. Called after reading something the run owns, so the read
    happened before the deletion's commit point unless this says otherwise."""
    last = await last_event(store, run_id)
    return last is None or is_tombstone(last)


async def _unless_gone(store: Store, run_id: str, page: Page[T]) -> Page[T]:
    """``page``, or an empty page if the run it belongs to is (being) deleted."""
    if page.items and await run_gone(store, run_id):
        return Page([], None)
    return page


def event_from(doc: dict[str, Any]) -> Event:
    return Event.from_doc({"event_id": doc["event_id"], "run_id": doc["run_id"],
                           "seq": doc["seq"], "type": doc["type"],
                           "correlation_id": doc["correlation_id"],
                           "data": json.loads(doc["data"]), "created_at": doc["created_at"]})


async def raw_events(store: Store, run_id: str) -> list[dict[str, Any]]:
    """The run's committed events straight from the ``events`` collection."""
    docs = await store.events.find({"run_id": run_id}).sort("seq", 1).to_list(None)
    return [{"seq": d["seq"], "type": d["type"], "correlation_id": d["correlation_id"],
             "data": json.loads(d["data"]), "event_id": d["event_id"],
             "created_at": d["created_at"]} for d in docs]


async def _page(collection: Any, filt: dict[str, Any], keys: tuple[str, ...], limit: int,
                cursor: str | None, order: str, build: Callable[[dict[str, Any]], T],
                with_data: bool) -> Page[T]:
    check_page_args(limit, order)
    op, direction = ("$gt", 1) if order == "asc" else ("$lt", -1)
    if cursor is not None:
        types = tuple(int if k == "seq" else str for k in keys)
        values = decode_cursor(cursor, len(keys), types)
        if len(keys) == 1:
            after: dict[str, Any] = {keys[0]: {op: values[0]}}
        else:
            after = {"$or": [{keys[0]: {op: values[0]}},
                             {keys[0]: values[0], keys[1]: {op: values[1]}}]}
        filt = {"$and": [filt, after]} if filt else after
    docs = await collection.find(filt).sort([(k, direction) for k in keys]) \
        .limit(limit + 1).to_list(None)
    more = len(docs) > limit
    docs = docs[:limit]
    items = [build(doc) for doc in docs]
    if not with_data:
        items = [strip_data(item) for item in items]
    next_cursor = encode_cursor(*(docs[-1][k] for k in keys)) if more and docs else None
    return Page(items, next_cursor)
