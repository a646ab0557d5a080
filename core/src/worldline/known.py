"""What this process last wrote to each run, so that the run's next batch can be decided
without reading the run back (one round trip fewer).

After a batch commits, a world remembers the state its decisions left (the run and every
entity the batch named) as of the run's last sequence number ``N``. A later batch that
expects the log to end at ``N`` (``expect_seq``, the runtime's write-behind) and names only
entities remembered, or entities it creates, can be decided on that state. The world's
write must then refuse, atomically and with nothing written, when

- the log is no longer at ``N`` (every change to a run or its entities appends an event,
  so an unchanged log means an unchanged state), or the run is gone;
- an entity the batch creates already exists (one this process never saw).

On a refusal the world forgets the run and takes its reading path, which gives the
authoritative answer (LogMoved, Conflict, …). Only batches whose decisions do not depend on
the server's clock beyond ordering qualify; their ``now`` is the local clock corrected by
the skew measured at the world's last read, never earlier than the previous write's.
Postgres and Redis use it (see their ``events`` / ``log`` modules for the guards).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from worldline.model import EventType, NewEvent, Run, Step, utcnow
from worldline.overlay import Entity, Key, Names, Overlay, entity_key

#: the event types a remembered state may decide (no hooks, tokens or idempotency keys)
_DECIDABLE = frozenset({
    EventType.STEP_CREATED, EventType.STEP_STARTED, EventType.STEP_COMPLETED,
    EventType.STEP_FAILED, EventType.STEP_RETRYING, EventType.WAIT_CREATED,
    EventType.RUN_COMPLETED, EventType.RUN_FAILED})
_CREATES = {"step": EventType.STEP_CREATED, "wait": EventType.WAIT_CREATED}


@dataclass(frozen=True)
class Known:
    """A run as this process's last committed write to it left it."""

    run: Run
    entities: dict[Key, Entity | None]
    at: datetime  # that write's ``now``


class KnownRuns:
    """The last state written to each of the ``size`` most recently written runs (a worker
    drives far fewer at once; each entry holds a run and the entities of its last batch)."""

    def __init__(self, size: int = 1024) -> None:
        self._runs: OrderedDict[str, Known] = OrderedDict()
        self._size = size
        self._skew = timedelta(0)  # the server's clock minus ours, at the last read

    def saw_server_time(self, server_now: datetime) -> None:
        self._skew = server_now - utcnow()

    def remember(self, state: Overlay) -> None:
        """Keep what a committed batch left (unless a newer write is already kept)."""
        run = state.run
        if run is None:
            return
        held = self._runs.get(run.run_id)
        if held is not None and held.run.last_seq > run.last_seq:
            return
        self._runs[run.run_id] = Known(run, dict(state.entities), state.now)
        self._runs.move_to_end(run.run_id)
        while len(self._runs) > self._size:
            self._runs.popitem(last=False)

    def forget(self, run_id: str) -> None:
        self._runs.pop(run_id, None)

    def overlay_for(self, run_id: str, batch: list[NewEvent],
                    expect_seq: int) -> tuple[Overlay, set[Key]] | None:
        """An overlay to decide ``batch`` on without reading, and the entities it assumes
        absent (to be inserted, never upserted); None when the batch must read."""
        known = self._runs.get(run_id)
        if known is None or known.run.last_seq != expect_seq:
            return None
        if any(event.type not in _DECIDABLE for event in batch):
            return None
        entities: dict[Key, Entity | None] = {}
        absent: set[Key] = set()
        for kind, ids in Names.of(batch).entities.items():
            for cid in ids:
                key = (kind, cid)
                if key in known.entities:
                    entity = known.entities[key]
                    if isinstance(entity, Step) and entity.retry_after is not None:
                        return None  # a retry's start is checked against the server's clock
                    entities[key] = entity
                elif _first_event_for(batch, key) == _CREATES.get(kind):
                    entities[key] = None
                    absent.add(key)
                else:
                    return None
        now = max(utcnow() + self._skew, known.at)
        return Overlay(run=known.run, now=now, entities=entities, holders={},
                       idempotency={}), absent


def _first_event_for(batch: list[NewEvent], key: Key) -> str | None:
    for event in batch:
        if entity_key(event) == key:
            return str(event.type)
    return None
