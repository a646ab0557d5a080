"""The World protocol: the only interface the runtime talks to (SPEC §3–§6, §9).

A world is an object with the attributes below. Each sub-API is small and async. Worlds
keep every state transition atomic on their backend; the transition *rules* come from
:mod:`worldline.rules`, so a world only supplies storage primitives.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Literal, Protocol, runtime_checkable

from .model import (
    JSON,
    Capabilities,
    Enqueue,
    Event,
    EventResult,
    Hook,
    Message,
    NewEvent,
    Page,
    Run,
    RunStatus,
    Step,
    StreamInfo,
    Wait,
)

Order = Literal["asc", "desc"]


class RunsAPI(Protocol):
    def get(self, run_id: str, *, with_data: bool = True) -> Awaitable[Run]:
        """The run, or NotFound."""

    def list(self, *, workflow_name: str | None = None,
                   status: RunStatus | str | None = None, limit: int = 100,
                   cursor: str | None = None, order: Order = "asc",
                   with_data: bool = True) -> Awaitable[Page[Run]]:
        """Runs by id (creation time), filtered by workflow name and status."""


class StepsAPI(Protocol):
    def get(self, run_id: str, step_id: str, *, with_data: bool = True) -> Awaitable[Step]:
        """The step, or NotFound."""

    def list(self, run_id: str, *, limit: int = 100, cursor: str | None = None,
                   order: Order = "asc", with_data: bool = True) -> Awaitable[Page[Step]]:
        """The run's steps by creation time."""


class EventsAPI(Protocol):
    def create(self, run_id: str, event: NewEvent, *,
                     enqueue: Enqueue | None = None) -> Awaitable[EventResult]:
        """The one write (SPEC §3). With ``enqueue``, the message is enqueued in the same
        atomic unit when the event is appended (worlds with ``atomic_start``), or right
        after it otherwise; nothing is enqueued when the event is refused or a no-op."""

    def list(self, run_id: str, *, limit: int = 1000, cursor: str | None = None,
                   order: Order = "asc", with_data: bool = True) -> Awaitable[Page[Event]]:
        """The run's log by sequence number."""


class BatchEventsAPI(EventsAPI, Protocol):
    """The events API of a world with ``capabilities.batch_events``."""

    def create_batch(self, run_id: str, events: Sequence[NewEvent], *,
                     enqueues: Sequence[Enqueue | None] | None = None,
                     expect_seq: int | None = None,
                     ) -> Awaitable[builtins.list[EventResult]]:
        """Several events of one run decided in order, as by consecutive ``create`` calls,
        in ONE atomic unit — all written (each with its message from ``enqueues``) or, when
        one is refused, none and its error raised. With ``expect_seq``, the unit first
        checks that the run's log ends at that sequence number (0: no run) and otherwise
        raises :class:`~worldline.errors.LogMoved`, writing nothing. Callers use
        :func:`worldline.batch.create_batch`, which falls back to ``create`` calls on
        other worlds."""


class WaitsAPI(Protocol):
    def get(self, run_id: str, wait_id: str) -> Awaitable[Wait]:
        """The wait, or NotFound (waits of a terminal run are removed)."""

    def list(self, run_id: str, *, limit: int = 100, cursor: str | None = None,
                   order: Order = "asc") -> Awaitable[Page[Wait]]:
        """The run's waits by creation time."""


class HooksAPI(Protocol):
    def get(self, run_id: str, hook_id: str) -> Awaitable[Hook]:
        """The live hook, or NotFound."""

    def get_by_token(self, token: str) -> Awaitable[Hook]:
        """The live hook holding the token, or NotFound."""

    def list(self, run_id: str, *, limit: int = 100, cursor: str | None = None,
                   order: Order = "asc") -> Awaitable[Page[Hook]]:
        """The run's live hooks by creation time."""


class QueueAPI(Protocol):
    def enqueue(self, queue: str, payload: dict[str, JSON], *,
                      idempotency_key: str | None = None, delay: float = 0.0) -> Awaitable[str]:
        """Add a message; with a key already pending, leased or recently acked, return the
        existing message id and add nothing."""

    def lease(self, queues: Sequence[str], *, visibility_timeout: float = 30.0,
                    limit: int = 1, wait: float = 0.0) -> Awaitable[builtins.list[Message]]:
        """Lease up to ``limit`` visible messages; block up to ``wait`` seconds for one.
        Each lease increments ``deliveries``."""

    def extend(self, message: Message, visibility_timeout: float) -> Awaitable[bool]:
        """Push the lease's expiry out; False if the lease was lost."""

    def ack(self, message: Message) -> Awaitable[bool]:
        """Remove the message; False if the lease was lost (someone else holds it now)."""

    def retry(self, message: Message, delay: float = 0.0) -> Awaitable[bool]:
        """Make it visible again after ``delay`` with ``attempt + 1``; resets deliveries."""

    def defer(self, message: Message, delay: float) -> Awaitable[bool]:
        """Deliver the same message again after ``delay`` (sleeps, TooEarly); resets
        deliveries, keeps ``attempt``."""


class StreamsAPI(Protocol):
    def write(self, run_id: str, name: str, chunk: bytes | str) -> Awaitable[int]:
        """Append a chunk; returns its index. Writing to a closed stream is a Conflict."""

    def close(self, run_id: str, name: str) -> Awaitable[None]:
        """Close the stream (idempotent)."""

    def read(self, run_id: str, name: str, start_index: int = 0) -> AsyncIterator[bytes | str]:
        """Chunks from ``start_index`` (negative counts from the end), tailing live until
        the stream is closed."""

    def list(self, run_id: str) -> Awaitable[builtins.list[StreamInfo]]:
        """The run's streams."""


class HousekeepingAPI(Protocol):
    """What :func:`worldline.reconcile.reconcile` needs beyond the other APIs (SPEC §7)."""

    def delete_run(self, run_id: str) -> Awaitable[bool]:
        """Delete a terminal run with everything it owns — events, steps, waits, hooks,
        streams and the queue messages naming it — as one atomic unit (a reader sees all of
        it or none of it). False, with nothing deleted, when the run is live or absent."""

    def queued_run_ids(self) -> Awaitable[builtins.set[str]]:
        """The ``run_id`` of every message not yet acked (ready, delayed or leased)."""

    def settle_leftovers(self) -> Awaitable[int]:
        """Settle what owners that died left behind: idempotency-key and hook-token claims
        kept apart from the run and hook records, a deletion a crashed pass left unfinished
        (never visible to readers); the number of items settled. 0 where there are none."""


@runtime_checkable
class World(Protocol):
    """A backend. Build one with :func:`worldline.connect`; ``await open()`` before use."""

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def capabilities(self) -> Capabilities: ...
    @property
    def runs(self) -> RunsAPI: ...
    @property
    def steps(self) -> StepsAPI: ...
    @property
    def events(self) -> EventsAPI: ...
    @property
    def waits(self) -> WaitsAPI: ...
    @property
    def hooks(self) -> HooksAPI: ...
    @property
    def queue(self) -> QueueAPI: ...
    @property
    def streams(self) -> StreamsAPI: ...
    @property
    def housekeeping(self) -> HousekeepingAPI: ...

    def open(self) -> Awaitable[None]:
        """Connect and create or upgrade storage. Idempotent."""

    def close(self) -> Awaitable[None]:
        """Release connections. Idempotent."""

    def destroy(self) -> Awaitable[None]:
        """Delete everything in this world's namespace (tests and tear-down)."""

    def raw_events(self, run_id: str) -> Awaitable[builtins.list[dict[str, JSON]]]:
        """Backdoor for the conformance suite: the run's persisted events read straight from
        storage, bypassing the API (dicts with ``seq``, ``type``, ``correlation_id``)."""
