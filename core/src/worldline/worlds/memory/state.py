"""The data of one ``memory://`` namespace and the process-wide registry of namespaces."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from ...model import Event, Hook, Run, Step, Wait
from ...rules import check_json


@dataclass
class StoredMessage:
    """A queue message as the queue keeps it (mutable; only touched under the lock)."""

    message_id: str
    queue: str
    payload: dict[str, Any]
    idempotency_key: str | None
    visible_at: float
    attempt: int = 0
    deliveries: int = 0
    lease_id: str | None = None
    acked_at: float | None = None


@dataclass
class StoredStream:
    chunks: list[bytes | str] = field(default_factory=list)
    closed: bool = False


@dataclass
class MemoryState:
    """Everything one namespace holds. Hold ``lock`` for every read-decide-write."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    runs: dict[str, Run] = field(default_factory=dict)
    events: dict[str, list[Event]] = field(default_factory=dict)
    #: kind ("step", "wait", "hook") -> (run_id, entity_id) -> entity
    entities: dict[str, dict[tuple[str, str], Step | Wait | Hook]] = field(
        default_factory=lambda: {"step": {}, "wait": {}, "hook": {}})
    messages: dict[str, StoredMessage] = field(default_factory=dict)
    streams: dict[tuple[str, str], StoredStream] = field(default_factory=dict)


_REGISTRY: dict[str, MemoryState] = {}
_REGISTRY_LOCK = threading.Lock()


def state_for(namespace: str) -> MemoryState:
    """The shared state of ``namespace``, created on first use."""
    with _REGISTRY_LOCK:
        return _REGISTRY.setdefault(namespace, MemoryState())


def drop(namespace: str) -> None:
    """Forget ``namespace``; the next :func:`state_for` starts empty."""
    with _REGISTRY_LOCK:
        _REGISTRY.pop(namespace, None)


def json_copy(value: Any, what: str, **where: Any) -> Any:
    """A deep copy through JSON, as a database would store it (callers never share mutable
    state with the world); ValidationError if the value is not JSON."""
    check_json(value, what, **where)
    return json.loads(json.dumps(value))
