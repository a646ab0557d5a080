"""Housekeeping (SPEC §7): deleting a terminal run, the runs queue messages name, and
settling what dead owners left — without multi-document transactions.

A deletion has one commit point, in the spirit of :mod:`worldline_mongo.log`: a tombstone
event (type :data:`~worldline_mongo.log.TOMBSTONE`) inserted at ``last_seq + 1`` of a terminal
run. The unique ``_id`` makes it a compare-and-swap on the log: a writer that races for the
same seq (a late step completion, another deleter) makes exactly one of them win. Once it is
in, the run is gone for every reader:

- projecting the tombstone (any roll-forward does it) marks the run and its steps, waits and
  hooks ``deleted``: ``runs.get`` / ``runs.list`` / entity reads / token lookups skip them and
  a writer rolling forward onto it gets NotFound;
- event, entity and stream listings check the run's last event after reading, and show
  nothing if it is the tombstone (or if the run's events vanished meanwhile);
- ``queued_run_ids`` leaves out runs with a tombstone;
- the idempotency key is free: its claim's run is no longer live.

The deleter then removes, in this order, the run's claims (before the events they could
re-insert by helping), messages, stream chunks, steps, waits, hooks, the events below the
tombstone, the run projection, and last the tombstone. Each step is idempotent; a crash
leaves the tombstone, which stays ``applied: false`` so ``settle_leftovers`` finds it through
the ``(applied, ts)`` index and finishes the job (so does the next ``delete_run``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from worldline.faults import fault_point
from worldline.ids import new_id
from worldline.model import to_iso

from .log import (
    TOMBSTONE,
    holds_token,
    insert_event,
    is_tombstone,
    keeps_key,
    key_holder_of,
    last_event,
    sync,
    token_holder_of,
)
from .store import ENTITY_COLLECTIONS, Store, entity_key, event_key

#: claims looked at per round trip by settle_leftovers
CLAIM_BATCH = 500
_UNFINISHED = {"applied": False, "type": TOMBSTONE}  # tombstones are never marked applied


async def delete_run(store: Store, run_id: str) -> bool:
    """Delete a terminal run with all it owns; False (nothing changed) if it is live or
    absent. A deletion left unfinished by a crash is finished here, and False returned."""
    while True:
        run = await sync(store, run_id)
        if run is None:
            await _finish_if_deleting(store, run_id)
            return False
        if not run.status.terminal:
            return False
        tomb = _tombstone_doc(store, run_id, run.last_seq + 1)
        if await insert_event(store, tomb):  # the commit point
            break
        # another event took that seq (a late step completion, another deleter): look again
    fault_point("reconcile.mid_delete")
    await _finish(store, run_id, tomb)
    return True


def _tombstone_doc(store: Store, run_id: str, seq: int) -> dict[str, Any]:
    now = store.now()
    return {"_id": event_key(run_id, seq), "run_id": run_id, "seq": seq,
            "event_id": new_id("evt"), "type": TOMBSTONE, "correlation_id": None,
            "created_at": to_iso(now), "ts": now.timestamp(), "data": "{}", "post": "{}",
            "applied": False}


async def _finish_if_deleting(store: Store, run_id: str) -> bool:
    """Finish the run's deletion if its last event is a tombstone."""
    last = await last_event(store, run_id)
    if not is_tombstone(last):
        return False
    assert last is not None
    await _finish(store, run_id, last)
    return True


async def _finish(store: Store, run_id: str, tomb: dict[str, Any]) -> None:
    """Remove what a committed deletion still leaves, tombstone last (idempotent, and safe
    to run concurrently with another finisher)."""
    await sync(store, run_id)  # projects the tombstone if nobody has yet
    for claims in (store.run_keys, store.hook_tokens):
        await claims.delete_many({"run_id": run_id})
    for collection in (store.messages, store.chunks,
                       *(store.entities(kind) for kind in ENTITY_COLLECTIONS)):
        await collection.delete_many({"run_id": run_id})
    await store.events.delete_many({"run_id": run_id, "seq": {"$lt": tomb["seq"]}})
    await store.runs.delete_one({"_id": run_id, "deleted": True})
    await store.events.delete_one({"_id": tomb["_id"], "event_id": tomb["event_id"]})


async def deleting_run_ids(store: Store) -> set[str]:
    """Runs whose deletion is committed but not finished."""
    return {doc["run_id"] async for doc in store.events.find(_UNFINISHED, {"run_id": 1})}


async def queued_run_ids(store: Store) -> set[str]:
    """The ``run_id`` of every un-acked message, less runs being deleted."""
    named = {r for r in await store.messages.distinct("run_id", {"acked": False})
             if isinstance(r, str) and r}
    return named - await deleting_run_ids(store) if named else named


async def settle_leftovers(store: Store) -> int:
    """Finish unfinished deletions, then settle dead key and token claims; the count."""
    settled = 0
    for tomb in await store.events.find(_UNFINISHED).to_list(None):
        await _finish(store, tomb["run_id"], tomb)
        settled += 1
    settled += await _settle_claims(store, store.run_keys, _live_keys, key_holder_of)
    settled += await _settle_claims(store, store.hook_tokens, _live_tokens, token_holder_of)
    return settled


async def _settle_claims(store: Store, claims: Any,
                         live: Callable[[Store, list[dict[str, Any]]], Awaitable[set[str]]],
                         holder_of: Callable[[Store, str], Awaitable[Any]]) -> int:
    """Put every claim the projections do not show live through ``holder_of`` (the log's
    own judge: it helps the claim's event in, or deletes the claim as dead); the number of
    claims it found dead. The projections may lag, so they only ever spare a claim."""
    settled = 0
    async for batch in _batches(claims):
        spared = await live(store, batch)
        for claim in batch:
            if claim["_id"] not in spared and await holder_of(store, claim["_id"]) is None:
                settled += 1
    return settled


async def _batches(claims: Any) -> AsyncIterator[list[dict[str, Any]]]:
    """All claims (``_id``, ``run_id``, ``hook_id``) in ``_id`` order, a page at a time."""
    after: Any = None
    while True:
        filt = {} if after is None else {"_id": {"$gt": after}}
        batch = await claims.find(filt, {"run_id": 1, "hook_id": 1}).sort("_id", 1) \
            .limit(CLAIM_BATCH).to_list(None)
        if not batch:
            return
        yield batch
        after = batch[-1]["_id"]


async def _live_keys(store: Store, batch: list[dict[str, Any]]) -> set[str]:
    """The keys whose run is live in the ``runs`` projection."""
    runs = {doc["_id"]: doc async for doc in store.runs.find(
        {"_id": {"$in": [c["run_id"] for c in batch]}}, {"status": 1, "deleted": 1})}
    return {c["_id"] for c in batch
            if keeps_key(_status(runs.get(c["run_id"])))}


def _status(run_doc: dict[str, Any] | None) -> str | None:
    """The status of a ``runs`` projection; None if it is absent or marked deleted."""
    return None if run_doc is None or run_doc.get("deleted") else run_doc["status"]


async def _live_tokens(store: Store, batch: list[dict[str, Any]]) -> set[str]:
    """The tokens whose hook is live in the ``hooks`` projection."""
    keys = {c["_id"]: entity_key(c["run_id"], c["hook_id"]) for c in batch}
    hooks = {doc["_id"]: doc async for doc in store.entities("hook").find(
        {"_id": {"$in": list(keys.values())}}, {"deleted": 1, "token": 1})}
    return {token for token, key in keys.items() if holds_token(hooks.get(key), token)}


__all__ = ["delete_run", "deleting_run_ids", "queued_run_ids", "settle_leftovers"]
