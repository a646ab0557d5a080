"""The queue (SPEC §5) as the ``messages`` collection; semantics identical to
``worldline.sqlite.queue``, each operation one single-document atomic update.

A message is *ready* when ``acked`` is false and ``visible_at <= now`` (epoch seconds on
the server-corrected clock). ``lease`` is a ``find_one_and_update`` on a ready message that
sets a fresh ``lease_id``, pushes ``visible_at`` out by the visibility timeout and bumps
``deliveries``; ack / extend / retry / defer are updates filtered by ``lease_id`` (fencing).
``dedupe_key`` (the idempotency key, or the message id when there is none) has a unique
index; ``run_id`` (the payload's, "" if none) is an indexed copy that housekeeping queries.
Acked messages stay, invisible, for the retention window so that a key still
de-duplicates and a late replay of the event that enqueued a message cannot add it twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError
from worldline.ids import new_id
from worldline.model import Message

from .store import Store, dumps

Settlement = Literal["ack", "retry", "defer", "extend"]
PURGE_EVERY = 10.0  # seconds between purges of expired acked messages (per world)


async def put(store: Store, queue: str, payload: dict[str, Any], key: str | None,
              visible_at: float, message_id: str | None = None) -> str:
    """Insert a message (idempotent for a given ``message_id``); de-duplicate by ``key``."""
    message_id = message_id or new_id("msg")
    doc = {"_id": message_id, "queue": queue, "payload": dumps(payload),
           "run_id": run_id_of(payload), "idempotency_key": key,
           "dedupe_key": key if key is not None else message_id,
           "visible_at": visible_at, "attempt": 0, "deliveries": 0, "lease_id": "",
           "acked": False, "acked_at": 0.0, "enqueued_at": store.epoch()}
    while True:
        try:
            await store.messages.insert_one(dict(doc))
            return message_id
        except DuplicateKeyError:
            pass
        if key is None:
            return message_id  # our own earlier insert (a replayed event)
        existing = await store.messages.find_one({"dedupe_key": key},
                                                 {"acked": 1, "acked_at": 1})
        if existing is None:
            continue  # it was purged between our insert and our read
        if not existing["acked"] or existing["acked_at"] > store.epoch() - store.dedupe_retention:
            return str(existing["_id"])
        await store.messages.delete_one({"_id": existing["_id"], "acked": True})


def run_id_of(payload: dict[str, Any]) -> str:
    """The ``run_id`` a payload names, stored as an indexed scalar ("" when it names none)."""
    run_id = payload.get("run_id")
    return run_id if isinstance(run_id, str) else ""


async def backfill_run_ids(store: Store) -> int:
    """Give ``run_id`` to messages enqueued before the field existed (run at open; a no-op,
    one indexed lookup, once they are all done). Returns how many were updated."""
    done = 0
    async for doc in store.messages.find({"run_id": None}, {"payload": 1}):
        result = await store.messages.update_one(
            {"_id": doc["_id"], "run_id": None},
            {"$set": {"run_id": run_id_of(json.loads(doc["payload"]))}})
        done += result.modified_count
    return done


async def lease(store: Store, queues: Sequence[str], visibility_timeout: float,
                limit: int) -> list[Message]:
    """Lease up to ``limit`` ready messages, each by one atomic ``find_one_and_update``."""
    leased: list[Message] = []
    if not queues:
        return leased
    while len(leased) < limit:
        now = store.epoch()
        lease_id = new_id("lease")
        doc = await store.messages.find_one_and_update(
            {"queue": {"$in": list(queues)}, "acked": False, "visible_at": {"$lte": now}},
            {"$set": {"lease_id": lease_id, "visible_at": now + visibility_timeout},
             "$inc": {"deliveries": 1}},
            sort=[("visible_at", 1)], return_document=ReturnDocument.AFTER)
        if doc is None:
            break
        leased.append(Message(message_id=doc["_id"], queue=doc["queue"],
                              payload=json.loads(doc["payload"]), attempt=doc["attempt"],
                              deliveries=doc["deliveries"], lease_id=lease_id,
                              idempotency_key=doc["idempotency_key"]))
    return leased


async def settle(store: Store, message: Message, how: Settlement, seconds: float = 0.0) -> bool:
    """Ack, retry, defer or extend a leased message; False if the lease was lost."""
    now = store.epoch()
    fence = {"_id": message.message_id, "lease_id": message.lease_id, "acked": False}
    if how == "ack":
        update: dict[str, Any] = {"$set": {"acked": True, "acked_at": now, "lease_id": ""}}
    elif how == "extend":
        update = {"$set": {"visible_at": now + seconds}}
    else:
        update = {"$set": {"visible_at": now + max(0.0, seconds), "lease_id": "",
                           "deliveries": 0}}
        if how == "retry":
            update["$inc"] = {"attempt": 1}
    result = await store.messages.update_one(fence, update)
    if how == "ack" and now - store.last_purge > PURGE_EVERY:
        store.last_purge = now
        await purge(store, now)
    return result.modified_count == 1


async def purge(store: Store, now: float) -> None:
    """Delete acked messages older than the retention window."""
    await store.messages.delete_many(
        {"acked": True, "acked_at": {"$lt": now - store.dedupe_retention}})


async def next_visible_in(store: Store, queues: Sequence[str]) -> float | None:
    """Seconds until the next message of ``queues`` becomes visible (None if there is none)."""
    if not queues:
        return None
    doc = await store.messages.find_one({"queue": {"$in": list(queues)}, "acked": False},
                                        {"visible_at": 1}, sort=[("visible_at", 1)])
    if doc is None:
        return None
    return max(0.0, float(doc["visible_at"]) - store.epoch())
