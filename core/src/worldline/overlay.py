"""Deciding a batch of one run's events on an overlay of the state read for it.

A world that writes a batch in one unit reads everything the batch names up front (the run,
each step / wait / hook, the live holders of the hook tokens and idempotency keys it
claims), decides every event in order with :func:`worldline.rules.decide` on an
:class:`Overlay` of that state, updated by each decision in turn, and then writes what the
overlay ends with. The SQLite-dialect store, Postgres and Redis share it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from . import rules
from .model import EventResult, Hook, NewEvent, Run, Step, Wait

Entity = Step | Wait | Hook
Key = tuple[str, str]  # (kind, correlation id)
KINDS = ("step", "wait", "hook")


def event_kind(event: NewEvent) -> str:
    """``run``, ``step``, ``wait`` or ``hook``."""
    return str(event.type).split("_", 1)[0]


def entity_key(event: NewEvent) -> Key:
    """The (kind, correlation id) an event is about (``("run", "")`` for run events)."""
    return event_kind(event), str(event.correlation_id or "")


def claimed_token(event: NewEvent) -> str | None:
    """The token a ``hook_created`` claims."""
    token = event.data.get("token") if event.type == "hook_created" else None
    return token if isinstance(token, str) and token else None


def claimed_key(event: NewEvent) -> str | None:
    """The idempotency key a ``run_created`` claims."""
    key = event.data.get("idempotency_key") if event.type == "run_created" else None
    return key if isinstance(key, str) and key else None


@dataclass(frozen=True)
class Names:
    """What a batch's decisions will look at, each once, in order of first mention."""

    entities: dict[str, list[str]]  # kind -> correlation ids
    tokens: list[str]
    keys: list[str]

    @classmethod
    def of(cls, batch: Sequence[NewEvent]) -> Names:
        entities: dict[str, dict[str, None]] = {kind: {} for kind in KINDS}
        for event in batch:
            kind, cid = entity_key(event)
            if kind != "run":
                entities[kind][cid] = None
        tokens = dict.fromkeys(t for t in map(claimed_token, batch) if t)
        keys = dict.fromkeys(k for k in map(claimed_key, batch) if k)
        return cls({kind: list(ids) for kind, ids in entities.items()}, list(tokens),
                   list(keys))


@dataclass
class Overlay:
    """What the batch's decisions see, updated by each one in turn."""

    run: Run | None
    now: datetime
    entities: dict[Key, Entity | None]  # every entity the batch names (None: absent)
    holders: dict[str, Hook | None]  # token -> live hook holding it
    idempotency: dict[str, str]  # key -> live run holding it ('' or absent: none)
    before: Run | None = field(init=False)  # the run as read, before the batch
    changed: dict[Key, None] = field(default_factory=dict)  # entities to save, in order
    disposed: set[str] = field(default_factory=set)  # hook ids to delete
    cleared: bool = False  # the run became terminal: its waits and hooks go

    def __post_init__(self) -> None:
        self.before = self.run

    def decide(self, run_id: str, event: NewEvent) -> tuple[EventResult, rules.Decision]:
        """Decide one validated event on the current state and apply what it changed."""
        key = entity_key(event)
        kind = key[0]
        token, idem = claimed_token(event), claimed_key(event)
        decision = rules.decide(
            run_id, event, self.run, self.entities.get(key) if kind != "run" else None,
            now=self.now, token_holder=self.holders.get(token) if token else None,
            idempotency_holder=(self.idempotency.get(idem) or None) if idem else None)
        if decision.event_type is None:
            return EventResult(None, decision.run, decision.entity), decision
        self.run, recorded = decision.record(run_id, event.correlation_id, self.now)
        entity = decision.entity
        if decision.entity_changed and entity is not None:
            self.entities[key] = entity
            self.changed[key] = None
            if isinstance(entity, Hook):
                self.holders[entity.token] = entity
        if decision.delete_entity:
            assert isinstance(entity, Hook)
            self.entities[key] = None
            self.disposed.add(entity.hook_id)
            self.holders[entity.token] = None  # tokens are unique: it held its own
        if decision.clear_run_children:  # the run is over: no later hook_created can
            self.cleared = True            # succeed, so the token holders may stay stale
            for gone in [k for k in self.entities if k[0] in ("wait", "hook")]:
                self.entities[gone] = None
        if idem and recorded.type == "run_created":
            self.idempotency[idem] = run_id
        return EventResult(recorded, self.run, entity), decision

    def saved(self) -> list[tuple[Key, Entity]]:
        """The entities to write, by key, as the batch left them (disposed and cleared ones
        out)."""
        out = []
        for key in self.changed:
            entity = self.entities[key]
            if entity is not None:
                out.append((key, entity))
        return out
