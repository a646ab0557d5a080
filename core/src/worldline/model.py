"""Entities, events and the small value types of the World protocol (SPEC §1–§2, §4–§6).

Entities are immutable dataclasses. ``to_doc()``/``from_doc()`` give every world the same
JSON-compatible document form, so a world stores a projection without knowing its fields.
Payload fields (``input``, ``output``, ``error``, event ``data``) are JSON-compatible values
already encoded by the runtime's codec; worlds store them as they are.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Generic, Self, TypeVar

JSON = Any  # a JSON-compatible value


def utcnow() -> datetime:
    """The current UTC time (worlds without a server clock use this)."""
    return datetime.now(UTC)


def to_iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def from_iso(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (StepStatus.COMPLETED, StepStatus.FAILED)


class WaitStatus(StrEnum):
    WAITING = "waiting"
    COMPLETED = "completed"


class HookStatus(StrEnum):
    ACTIVE = "active"


class EventType(StrEnum):
    RUN_CREATED = "run_created"
    RUN_STARTED = "run_started"
    RUN_COMPLETED = "run_completed"
    RUN_FAILED = "run_failed"
    RUN_CANCELLED = "run_cancelled"
    STEP_CREATED = "step_created"
    STEP_STARTED = "step_started"
    STEP_COMPLETED = "step_completed"
    STEP_FAILED = "step_failed"
    STEP_RETRYING = "step_retrying"
    WAIT_CREATED = "wait_created"
    WAIT_COMPLETED = "wait_completed"
    HOOK_CREATED = "hook_created"
    HOOK_RECEIVED = "hook_received"
    HOOK_DISPOSED = "hook_disposed"
    HOOK_CONFLICT = "hook_conflict"

    @property
    def kind(self) -> str:
        """``"run"``, ``"step"``, ``"wait"`` or ``"hook"``: the entity the event is about."""
        return self.value.split("_", 1)[0]


RUN_TERMINAL_EVENTS = frozenset(
    {EventType.RUN_COMPLETED, EventType.RUN_FAILED, EventType.RUN_CANCELLED})
STEP_TERMINAL_EVENTS = frozenset({EventType.STEP_COMPLETED, EventType.STEP_FAILED})


class _Doc:
    """Mixin: a flat JSON document form shared by every world."""

    _datetimes: ClassVar[tuple[str, ...]] = ()

    def to_doc(self) -> dict[str, JSON]:
        # shallow: the fields are flat, and every caller serialises the doc at once (asdict's
        # deep copy of inputs and outputs was a measurable part of each write)
        doc = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        for name in self._datetimes:
            doc[name] = to_iso(doc[name])
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, JSON]) -> Self:
        values = dict(doc)
        for name in cls._datetimes:
            values[name] = from_iso(values.get(name))
        return cls(**values)

    def replace(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


@dataclass(frozen=True)
class Run(_Doc):
    run_id: str
    workflow_name: str
    status: RunStatus
    input: JSON
    created_at: datetime
    updated_at: datetime
    output: JSON = None
    error: JSON = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    idempotency_key: str | None = None
    last_seq: int = 0

    _datetimes: ClassVar = ("created_at", "updated_at", "started_at", "completed_at")

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", RunStatus(self.status))


@dataclass(frozen=True)
class Step(_Doc):
    run_id: str
    step_id: str
    step_name: str
    status: StepStatus
    input: JSON
    created_at: datetime
    updated_at: datetime
    output: JSON = None
    error: JSON = None
    attempt: int = 0
    retry_after: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None

    _datetimes: ClassVar = ("created_at", "updated_at", "retry_after", "started_at",
                            "completed_at")

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", StepStatus(self.status))


@dataclass(frozen=True)
class Wait(_Doc):
    run_id: str
    wait_id: str
    status: WaitStatus
    resume_at: datetime
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None

    _datetimes: ClassVar = ("resume_at", "created_at", "updated_at", "completed_at")

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", WaitStatus(self.status))


@dataclass(frozen=True)
class Hook(_Doc):
    run_id: str
    hook_id: str
    token: str
    status: HookStatus
    created_at: datetime
    updated_at: datetime
    metadata: JSON = None

    _datetimes: ClassVar = ("created_at", "updated_at")

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", HookStatus(self.status))


Entity = Run | Step | Wait | Hook


@dataclass(frozen=True)
class NewEvent:
    """An event as a client submits it to ``events.create``."""

    type: str
    correlation_id: str | None = None
    data: dict[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True)
class Event(_Doc):
    """An event as recorded in a run's log."""

    event_id: str
    run_id: str
    seq: int
    type: EventType
    correlation_id: str | None
    data: dict[str, JSON]
    created_at: datetime

    _datetimes: ClassVar = ("created_at",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", EventType(self.type))


@dataclass(frozen=True)
class EventResult:
    """What ``events.create`` returns: the event (None for an idempotent no-op), the run,
    and the step, wait or hook the event created or changed."""

    event: Event | None
    run: Run
    entity: Step | Wait | Hook | None = None


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; pass ``next_cursor`` back to get the next (None at the end)."""

    items: list[T]
    next_cursor: str | None

    def __iter__(self):
        return iter((self.items, self.next_cursor))


@dataclass(frozen=True)
class Enqueue:
    """A queue message to write in the same atomic unit as an event (see ``events.create``)."""

    queue: str
    payload: dict[str, JSON]
    idempotency_key: str | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class Message:
    """A leased queue message. ``lease_id`` fences ack/retry/extend to the current holder."""

    message_id: str
    queue: str
    payload: dict[str, JSON]
    attempt: int
    deliveries: int
    lease_id: str
    idempotency_key: str | None = None


@dataclass(frozen=True)
class StreamInfo:
    run_id: str
    name: str
    chunks: int
    closed: bool


@dataclass(frozen=True)
class Capabilities:
    """Optional behaviours a world declares; the conformance suite asks for these by name.

    - ``atomic_start``: ``events.create(..., enqueue=…)`` writes the event and the message in
      one atomic unit (otherwise the world writes the event first and compensates).
    - ``multiprocess``: several OS processes may share the world (false for ``memory://``).
    - ``streams``: the streams API is implemented.
    - ``batch_events``: ``events.create_batch`` writes several events in one atomic unit
      (otherwise :func:`worldline.batch.create_batch` writes them one by one).
    """

    atomic_start: bool = True
    multiprocess: bool = True
    streams: bool = True
    batch_events: bool = False
