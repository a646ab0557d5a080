"""The World protocol: the only interface the runtime talks to (SPEC §3–§6, §9).

A world is an object with the attributes below. Each sub-API is small and async. Worlds
keep every state transition atomic on their backend; the transition *rules* come from
:mod:`worldline.rules`, so a world only supplies storage primitives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
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
    async def get(self, run_id: str, *, with_data: bool = True) -> Run:
        """The run, or NotFound."""

    async def list(self, *, workflow_name: str | None = None,
                   status: RunStatus | str | None = None, limit: int = 100,
                   cursor: str | None = None, order: Order = "asc",
                   with_data: bool = True) -> Page[Run]:
        """Runs by id (creation time), filtered by workflow name and status."""


class StepsAPI(Protocol):
    async def get(self, run_id: str, step_id: str, *, with_data: bool = True) -> Step:
        """The step, or NotFound."""

    async def list(self, run_id: str, *, limit: int = 100, cursor: str | None = None,
                   order: Order = "asc", with_data: bool = True) -> Page[Step]:
        """The run's steps by creation time."""


class EventsAPI(Protocol):
    async def create(self, run_id: str, event: NewEvent, *,
                     enqueue: Enqueue | None = None) -> EventResult:
        """The one write (SPEC §3). With ``enqueue``, the message is enqueued in the same
        atomic unit when the event is appended (worlds with ``atomic_start``), or right
        after it otherwise; nothing is enqueued when the event is refused or a no-op."""

    async def list(self, run_id: str, *, limit: int = 1000, cursor: str | None = None,
                   order: Order = "asc", with_data: bool = True) -> Page[Event]:
        """The run's log by sequence number."""


class WaitsAPI(Protocol):
    async def get(self, run_id: str, wait_id: str) -> Wait:
        """The wait, or NotFound (waits of a terminal run are removed)."""

    async def list(self, run_id: str, *, limit: int = 100, cursor: str | None = None,
                   order: Order = "asc") -> Page[Wait]:
        """The run's waits by creation time."""


class HooksAPI(Protocol):
    async def get(self, run_id: str, hook_id: str) -> Hook:
        """The live hook, or NotFound."""

    async def get_by_token(self, token: str) -> Hook:
        """The live hook holding the token, or NotFound."""

    async def list(self, run_id: str, *, limit: int = 100, cursor: str | None = None,
                   order: Order = "asc") -> Page[Hook]:
        """The run's live hooks by creation time."""


class QueueAPI(Protocol):
    async def enqueue(self, queue: str, payload: dict[str, JSON], *,
                      idempotency_key: str | None = None, delay: float = 0.0) -> str:
        """Add a message; with a key already pending, leased or recently acked, return the
        existing message id and add nothing."""

    async def lease(self, queues: Sequence[str], *, visibility_timeout: float = 30.0,
                    limit: int = 1, wait: float = 0.0) -> list[Message]:
        """Lease up to ``limit`` visible messages; block up to ``wait`` seconds for one.
        Each lease increments ``deliveries``."""

    async def extend(self, message: Message, visibility_timeout: float) -> bool:
        """Push the lease's expiry out; False if the lease was lost."""

    async def ack(self, message: Message) -> bool:
        """Remove the message; False if the lease was lost (someone else holds it now)."""

    async def retry(self, message: Message, delay: float = 0.0) -> bool:
        """Make it visible again after ``delay`` with ``attempt + 1``; resets deliveries."""

    async def defer(self, message: Message, delay: float) -> bool:
        """Deliver the same message again after ``delay`` (sleeps, TooEarly); resets
        deliveries, keeps ``attempt``."""


class StreamsAPI(Protocol):
    async def write(self, run_id: str, name: str, chunk: bytes | str) -> int:
        """Append a chunk; returns its index. Writing to a closed stream is a Conflict."""

    async def close(self, run_id: str, name: str) -> None:
        """Close the stream (idempotent)."""

    def read(self, run_id: str, name: str, start_index: int = 0) -> AsyncIterator[bytes | str]:
        """Chunks from ``start_index`` (negative counts from the end), tailing live until
        the stream is closed."""

    async def list(self, run_id: str) -> list[StreamInfo]:
        """The run's streams."""


@runtime_checkable
class World(Protocol):
    """A backend. Build one with :func:`worldline.connect`; ``await open()`` before use."""

    name: str
    url: str
    capabilities: Capabilities
    runs: RunsAPI
    steps: StepsAPI
    events: EventsAPI
    waits: WaitsAPI
    hooks: HooksAPI
    queue: QueueAPI
    streams: StreamsAPI

    async def open(self) -> None:
        """Connect and create or upgrade storage. Idempotent."""

    async def close(self) -> None:
        """Release connections. Idempotent."""

    async def destroy(self) -> None:
        """Delete everything in this world's namespace (tests and tear-down)."""

    async def raw_events(self, run_id: str) -> list[dict[str, JSON]]:
        """Backdoor for the conformance suite: the run's persisted events read straight from
        storage, bypassing the API (dicts with ``seq``, ``type``, ``correlation_id``)."""
