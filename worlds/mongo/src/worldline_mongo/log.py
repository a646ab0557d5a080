"""``events.create`` on MongoDB without transactions: the event document is the commit point.

A writer reads the run projection and the entity, asks :func:`worldline.rules.decide`, then
inserts the event at ``_id = <run>|<seq>`` with ``seq = run.last_seq + 1``. The ``_id`` is
unique, so exactly one writer wins seq N; a loser rolls the run forward (see :func:`sync`)
and decides again. Because the log is dense, a projection that lags behind the log always
makes that insert fail, so no event is ever decided on stale state; a refusal or a no-op
is returned only after checking that no event ``last_seq + 1`` exists.

The event document carries everything the event implies (``post``: the new run projection,
the entity to write or delete, the children to clear, the message to enqueue). Projections
are then rolled forward idempotently — each entity write guarded by ``_seq < N``, the run by
the compare-and-swap ``last_seq: N-1 -> N`` — by the writer and by every reader that finds
committed events beyond ``runs.last_seq``, so a crash between the commit and the projection
is invisible.

Hook tokens and run idempotency keys are claim documents (``_id`` = token / key) holding the
exact event document their owner is about to insert. Whoever meets a claim decides its fate
by inserting that event itself (helping): it either lands (the claim is committed) or the
seq is taken by another event (the claim is dead and may be deleted). A committed claim is
live while its hook is live / its run is pending, running or completed.

Deleting a terminal run (:mod:`worldline_mongo.housekeeping`) is one more event: a tombstone
of type :data:`TOMBSTONE` at ``last_seq + 1``, the deletion's commit point. Projecting it marks
the run and its steps / waits / hooks deleted, so every reader treats the run as gone from
then on, and a writer that loses that seq rolls forward onto it and gets NotFound.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from typing import Any

import worldline.rules as rules
from pymongo.errors import DuplicateKeyError
from worldline.errors import NotFound, WorldError
from worldline.faults import fault_point
from worldline.ids import new_id
from worldline.model import (
    Enqueue,
    Event,
    EventResult,
    EventType,
    Hook,
    NewEvent,
    Run,
    Step,
    Wait,
    to_iso,
)

from . import queue
from .store import ENTITY_COLLECTIONS, Store, dumps, entity_key, event_key

LIVE_RUN_STATUSES = ("pending", "running", "completed")
#: ``type`` of the event that deletes a run (never listed; see housekeeping)
TOMBSTONE = "run_deleted"
ENTITY_CLASSES: dict[str, type[Any]] = {"step": Step, "wait": Wait, "hook": Hook}


async def create_event(store: Store, run_id: str, event: NewEvent,
                       enqueue: Enqueue | None) -> EventResult:
    """Decide and commit one validated event (plus ``enqueue`` when it is appended)."""
    etype = EventType(event.type)
    kind = etype.kind
    cid = event.correlation_id
    key = event.data.get("idempotency_key") if etype is EventType.RUN_CREATED else None
    while True:
        doc = await store.runs.find_one({"_id": run_id})
        if doc is not None and doc.get("deleted"):
            raise NotFound("no such run (deleted)", run_id=run_id)
        run = run_from(doc)
        last = run.last_seq if run is not None else 0
        entity = await load_entity(store, kind, run_id, cid) if kind != "run" and cid else None
        token_holder = idem_holder = None
        if etype is EventType.HOOK_CREATED:
            token_holder = await token_holder_of(store, event.data["token"])
        if key:
            idem_holder = await key_holder_of(store, key)
        now = store.now()
        try:
            decision = rules.decide(run_id, event, run, entity, now=now,
                                    token_holder=token_holder, idempotency_holder=idem_holder)
        except WorldError:
            if await _behind(store, run_id, last):
                await sync(store, run_id)
                continue  # refused on a lagging projection: decide again on the real state
            raise
        if decision.event_type is None:
            if await _behind(store, run_id, last):
                await sync(store, run_id)
                continue
            return EventResult(None, decision.run, decision.entity)
        new_run, recorded = decision.record(run_id, cid, now)
        doc = _event_doc(recorded, decision, new_run, kind, enqueue)
        if enqueue is not None and recorded.type == "run_created":
            fault_point("start.enqueue")  # the message rides in the event doc written below
        claims = None
        if decision.event_type is EventType.HOOK_CREATED:
            claims = store.hook_tokens
            claim = {"_id": event.data["token"], "run_id": run_id, "hook_id": cid,
                     "event_id": recorded.event_id, "event": doc}
        elif decision.event_type is EventType.RUN_CREATED and key:
            claims = store.run_keys
            claim = {"_id": key, "run_id": run_id, "event_id": recorded.event_id, "event": doc}
        if claims is not None:
            try:
                await claims.insert_one(claim)
            except DuplicateKeyError:
                continue  # someone claimed it since we looked: decide again
        if not await insert_event(store, doc):
            if claims is not None:
                await claims.delete_one({"_id": claim["_id"], "event_id": recorded.event_id})
            await sync(store, run_id)  # seq taken (maybe by a writer that crashed): catch up
            continue  # and decide again on the new state
        await apply(store, doc)  # seq N was free, so `runs` had applied everything up to N-1
        return EventResult(recorded, new_run, decision.entity)


async def _behind(store: Store, run_id: str, last: int) -> bool:
    """Whether an event beyond the projection's ``last_seq`` is committed (the log is
    dense, so looking at ``last + 1`` is enough)."""
    return await store.events.find_one({"_id": event_key(run_id, last + 1)},
                                       {"_id": 1}) is not None


def _event_doc(recorded: Event, decision: rules.Decision, new_run: Run, kind: str,
               enqueue: Enqueue | None) -> dict[str, Any]:
    post: dict[str, Any] = {}
    if decision.run_changed:
        post["run"] = new_run.to_doc()
    if decision.entity_changed and decision.entity is not None:
        post["entity"] = {"kind": kind, "doc": decision.entity.to_doc()}
    if decision.delete_entity:
        post["delete"] = {"kind": kind, "id": recorded.correlation_id}
    if decision.clear_run_children:
        post["clear"] = True
    if enqueue is not None:
        post["message"] = {"message_id": new_id("msg"), "queue": enqueue.queue,
                           "payload": enqueue.payload, "key": enqueue.idempotency_key,
                           "delay": float(enqueue.delay)}
    return {"_id": event_key(recorded.run_id, recorded.seq), "run_id": recorded.run_id,
            "seq": recorded.seq, "event_id": recorded.event_id, "type": recorded.type.value,
            "correlation_id": recorded.correlation_id, "created_at": to_iso(recorded.created_at),
            "ts": recorded.created_at.timestamp(), "data": dumps(recorded.data),
            "post": dumps(post), "applied": False}


async def insert_event(store: Store, doc: dict[str, Any]) -> bool:
    """Insert a prepared event; True if it is (now or already) the event at its seq."""
    try:
        await store.events.insert_one(dict(doc))
        return True
    except DuplicateKeyError:
        existing = await store.events.find_one({"_id": doc["_id"]}, {"event_id": 1})
        return existing is not None and existing["event_id"] == doc["event_id"]


# -- roll-forward ------------------------------------------------------------------------

def run_from(doc: dict[str, Any] | None) -> Run | None:
    """The run a ``runs`` projection holds; None if it is absent or marked deleted."""
    if doc is None or doc.get("deleted"):
        return None
    return Run.from_doc({**json.loads(doc["doc"]), "last_seq": doc["last_seq"]})


async def sync(store: Store, run_id: str) -> Run | None:
    """The run after rolling its projections forward over every committed event."""
    doc = await store.runs.find_one({"_id": run_id})
    last = doc["last_seq"] if doc else 0
    pending = await store.events.find({"run_id": run_id, "seq": {"$gt": last}}) \
        .sort("seq", 1).to_list(None)
    if not pending:
        return run_from(doc)
    for event in pending:
        await apply(store, event)
    return run_from(await store.runs.find_one({"_id": run_id}))


async def sync_if_lagging(store: Store, run_id: str) -> None:
    """Roll the run forward if it has an unapplied event (one cheap indexed lookup)."""
    if await store.events.find_one({"run_id": run_id, "applied": False}, {"_id": 1}):
        await sync(store, run_id)


async def apply(store: Store, event: dict[str, Any]) -> None:
    """Roll one committed event into the projections. Idempotent and safe to replay late:
    entity writes need ``_seq < N``, the run needs ``last_seq == N-1``."""
    run_id, n = event["run_id"], event["seq"]
    if event["type"] == TOMBSTONE:
        await _apply_tombstone(store, run_id, n)
        return
    post = json.loads(event["post"])
    if "entity" in post:
        kind, doc = post["entity"]["kind"], post["entity"]["doc"]
        eid = doc[f"{kind}_id"]
        fields = {"run_id": run_id, "eid": eid, "created_at": doc["created_at"],
                  "doc": dumps(doc), "deleted": False, "_seq": n}
        if kind == "hook":
            fields["token"] = doc["token"]
        with contextlib.suppress(DuplicateKeyError):  # a later event already wrote it
            await store.entities(kind).update_one(
                {"_id": entity_key(run_id, eid), "_seq": {"$lt": n}}, {"$set": fields},
                upsert=True)
    if "delete" in post:
        await store.entities(post["delete"]["kind"]).update_one(
            {"_id": entity_key(run_id, post["delete"]["id"]), "_seq": {"$lt": n}},
            _tombstone(n))
    if post.get("clear"):
        await _tombstone_children(store, run_id, n, ("hook", "wait"))
    if "message" in post:
        msg = post["message"]
        await queue.put(store, msg["queue"], msg["payload"], msg["key"],
                        event["ts"] + msg["delay"], msg["message_id"])
    if n == 1:
        run = post["run"]
        with contextlib.suppress(DuplicateKeyError):
            await store.runs.insert_one({"_id": run_id, "run_id": run_id, **_run_fields(run),
                                         "last_seq": 1})
    else:
        fields = _run_fields(post["run"]) if "run" in post else {}
        await store.runs.update_one({"_id": run_id, "last_seq": n - 1},
                                    {"$set": {**fields, "last_seq": n}})
    await store.events.update_one({"_id": event["_id"], "applied": False},
                                  {"$set": {"applied": True}})


def _tombstone(n: int) -> dict[str, Any]:
    """The update that marks an entity deleted by event ``n``."""
    return {"$set": {"deleted": True, "_seq": n}}


async def _tombstone_children(store: Store, run_id: str, n: int,
                              kinds: Iterable[str]) -> None:
    """Mark the run's entities of ``kinds`` deleted by event ``n`` (later writes win)."""
    for kind in kinds:
        await store.entities(kind).update_many({"run_id": run_id, "_seq": {"$lt": n}},
                                               _tombstone(n))


async def _apply_tombstone(store: Store, run_id: str, n: int) -> None:
    """Project a deletion tombstone: every step / wait / hook, then the run, marked deleted.
    The event stays ``applied: false``: it is what finds an unfinished deletion."""
    await _tombstone_children(store, run_id, n, ENTITY_COLLECTIONS)
    await store.runs.update_one({"_id": run_id, "last_seq": n - 1},
                                {"$set": {"deleted": True, "last_seq": n}})


async def last_event(store: Store, run_id: str) -> dict[str, Any] | None:
    """The run's last committed event (``_id``, ``seq``, ``type``, ``event_id``), or None."""
    return await store.events.find_one({"run_id": run_id},
                                       {"run_id": 1, "seq": 1, "type": 1, "event_id": 1},
                                       sort=[("seq", -1)])


def is_tombstone(event: dict[str, Any] | None) -> bool:
    """Whether ``event`` is a deletion tombstone (False for None)."""
    return event is not None and event["type"] == TOMBSTONE


def _run_fields(run: dict[str, Any]) -> dict[str, Any]:
    return {"workflow_name": run["workflow_name"], "status": run["status"], "doc": dumps(run)}


async def recover(store: Store, older_than: float = 5.0) -> int:
    """Roll forward every run with a committed but unapplied event older than
    ``older_than`` seconds (a writer that crashed after its commit). Returns the count."""
    cutoff = store.epoch() - older_than
    run_ids = {e["run_id"] async for e in store.events.find(
        {"applied": False, "ts": {"$lt": cutoff}}, {"run_id": 1})}
    for run_id in run_ids:
        await sync(store, run_id)
    return len(run_ids)


# -- entities and claims -----------------------------------------------------------------

async def load_entity(store: Store, kind: str, run_id: str, entity_id: str) -> Any:
    """The live step / wait / hook projection, or None (absent or deleted)."""
    doc = await store.entities(kind).find_one({"_id": entity_key(run_id, entity_id)})
    if doc is None or doc.get("deleted"):
        return None
    return ENTITY_CLASSES[kind].from_doc(json.loads(doc["doc"]))


async def token_holder_of(store: Store, token: str) -> Hook | None:
    """The live hook holding ``token``; deletes a dead claim on the way."""
    claim = await store.hook_tokens.find_one({"_id": token})
    if claim is None:
        return None
    hook = None
    if await insert_event(store, claim["event"]):
        await sync(store, claim["run_id"])
        doc = await store.entities("hook").find_one(
            {"_id": entity_key(claim["run_id"], claim["hook_id"])})
        if holds_token(doc, token):
            hook = Hook.from_doc(json.loads(doc["doc"]))
    if hook is None:
        await store.hook_tokens.delete_one({"_id": token, "event_id": claim["event_id"]})
    return hook


def holds_token(hook_doc: dict[str, Any] | None, token: str) -> bool:
    """Whether the hook projection is live and holds ``token`` (a token claim is live)."""
    return hook_doc is not None and not hook_doc.get("deleted") and hook_doc["token"] == token


async def key_holder_of(store: Store, key: str) -> str | None:
    """The run holding idempotency ``key`` (pending, running or completed), or None."""
    claim = await store.run_keys.find_one({"_id": key})
    if claim is None:
        return None
    run = None
    if await insert_event(store, claim["event"]):
        run = await sync(store, claim["run_id"])
    if not keeps_key(run.status.value if run is not None else None):
        await store.run_keys.delete_one({"_id": key, "event_id": claim["event_id"]})
        return None
    assert run is not None
    return run.run_id


def keeps_key(status: str | None) -> bool:
    """Whether a run in ``status`` (None: absent or deleted) holds its idempotency key."""
    return status in LIVE_RUN_STATUSES


__all__ = ["ENTITY_CLASSES", "TOMBSTONE", "create_event", "holds_token", "insert_event",
           "is_tombstone", "keeps_key", "key_holder_of", "last_event", "load_entity",
           "recover", "sync", "sync_if_lagging", "token_holder_of"]
