"""The database handle every module shares: collections, indexes and the clock.

Payload-bearing documents (run / step / wait / hook projections, event data, message
payloads) are stored as JSON text in a ``doc`` / ``data`` / ``payload`` field next to the
few scalar fields that are queried or compared; the world never depends on how a server
encodes nested user data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

#: collection -> indexes created idempotently at open()
INDEXES: dict[str, list[IndexModel]] = {
    "runs": [IndexModel([("run_id", ASCENDING)]),
             IndexModel([("workflow_name", ASCENDING), ("run_id", ASCENDING)]),
             IndexModel([("status", ASCENDING), ("run_id", ASCENDING)])],
    "events": [IndexModel([("run_id", ASCENDING), ("seq", ASCENDING)], unique=True),
               IndexModel([("applied", ASCENDING), ("ts", ASCENDING)])],
    "steps": [IndexModel([("run_id", ASCENDING), ("created_at", ASCENDING), ("eid", ASCENDING)])],
    "waits": [IndexModel([("run_id", ASCENDING), ("created_at", ASCENDING), ("eid", ASCENDING)])],
    "hooks": [IndexModel([("run_id", ASCENDING), ("created_at", ASCENDING), ("eid", ASCENDING)])],
    # _id = token / idempotency key: at most one claim each; run_id: a deletion drops its own
    "hook_tokens": [IndexModel([("run_id", ASCENDING)])],
    "run_keys": [IndexModel([("run_id", ASCENDING)])],
    "messages": [IndexModel([("dedupe_key", ASCENDING)], unique=True),
                 IndexModel([("run_id", ASCENDING), ("acked", ASCENDING)]),
                 IndexModel([("queue", ASCENDING), ("acked", ASCENDING),
                             ("visible_at", ASCENDING)]),
                 IndexModel([("acked", ASCENDING), ("acked_at", ASCENDING)])],
    "stream_chunks": [IndexModel([("run_id", ASCENDING), ("name", ASCENDING),
                                  ("idx", ASCENDING)], unique=True)],
}

ENTITY_COLLECTIONS = {"step": "steps", "wait": "waits", "hook": "hooks"}


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def entity_key(run_id: str, entity_id: str) -> str:
    """``_id`` of a step / wait / hook projection (correlation ids are unique per run)."""
    return f"{run_id}|{entity_id}"


def event_key(run_id: str, seq: int) -> str:
    """``_id`` of event ``seq`` of a run: exactly one insert can win it."""
    return f"{run_id}|{seq:012d}"


class Store:
    """A database plus the server-corrected clock and the queue's retention window."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], *, dedupe_retention: float = 300.0,
                 max_poll: float = 0.1) -> None:
        self.db = db
        self.dedupe_retention = dedupe_retention
        self.max_poll = max_poll
        self.offset = timedelta(0)
        self.change_streams: bool | None = None  # None: not probed yet
        self.last_purge = 0.0
        self.runs = db["runs"]
        self.events = db["events"]
        self.hook_tokens = db["hook_tokens"]
        self.run_keys = db["run_keys"]
        self.messages = db["messages"]
        self.chunks = db["stream_chunks"]

    def entities(self, kind: str) -> Any:
        return self.db[ENTITY_COLLECTIONS[kind]]

    def now(self) -> datetime:
        """UTC time corrected by the server clock's offset measured at open()."""
        return datetime.now(UTC) + self.offset

    def epoch(self) -> float:
        return self.now().timestamp()

    async def create_indexes(self) -> None:
        for name, indexes in INDEXES.items():
            if indexes:
                await self.db[name].create_indexes(indexes)

    async def sync_clock(self) -> None:
        """Measure the server clock (``hello.localTime``) against ours, half a round trip
        corrected; all timestamps and queue times then follow the server."""
        before = datetime.now(UTC)
        reply = await self.db.client.admin.command("hello")
        after = datetime.now(UTC)
        server = reply.get("localTime")
        if isinstance(server, datetime):
            server = server.replace(tzinfo=UTC) if server.tzinfo is None else server
            self.offset = server - (before + (after - before) / 2)

    def collection_names(self) -> Iterable[str]:
        return INDEXES.keys()
