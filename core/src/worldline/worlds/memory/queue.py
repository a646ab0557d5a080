"""The queue of a ``memory://`` namespace, with the semantics of ``worldline.sqlite.queue``.

A message is *ready* when it is not acked and ``visible_at <= now``; a lease sets a fresh
``lease_id`` and pushes ``visible_at`` out by the visibility timeout, so an expired lease is
simply ready again. Acked messages with an idempotency key stay for the de-duplication
window; the others are removed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

from ...ids import new_id
from ...model import Message
from .state import MemoryState, StoredMessage, json_copy

Settlement = Literal["ack", "retry", "defer", "extend"]


def put(state: MemoryState, queue: str, payload: dict[str, Any], key: str | None,
        delay: float, retention: float) -> str:
    """Add a message (the caller holds the lock); de-duplicate by ``key``."""
    now = time.time()
    if key is not None:
        for held in list(state.messages.values()):
            if held.idempotency_key == key:
                if held.acked_at is None or held.acked_at > now - retention:
                    return held.message_id
                del state.messages[held.message_id]
    message_id = new_id("msg")
    state.messages[message_id] = StoredMessage(
        message_id, queue, json_copy(payload, "message payload"), key, now + max(0.0, delay))
    return message_id


def lease(state: MemoryState, queues: Sequence[str], visibility_timeout: float,
          limit: int) -> list[Message]:
    """Lease up to ``limit`` ready messages, earliest visible first."""
    with state.lock:
        now = time.time()
        ready = sorted((m for m in state.messages.values() if m.queue in queues
                        and m.acked_at is None and m.visible_at <= now),
                       key=lambda m: m.visible_at)[:limit]
        leased = []
        for held in ready:
            held.lease_id = new_id("lease")
            held.visible_at = now + visibility_timeout
            held.deliveries += 1
            leased.append(Message(held.message_id, held.queue, json_copy(held.payload, ""),
                                  held.attempt, held.deliveries, held.lease_id,
                                  held.idempotency_key))
    return leased


def settle(state: MemoryState, message: Message, how: Settlement, seconds: float,
           retention: float) -> bool:
    """Ack, retry, defer or extend a leased message; False if the lease was lost."""
    with state.lock:
        now = time.time()
        held = state.messages.get(getattr(message, "message_id", None))  # type: ignore[arg-type]
        if held is None or held.acked_at is not None \
                or held.lease_id != getattr(message, "lease_id", None):
            return False
        if how == "ack":
            held.lease_id = None
            if held.idempotency_key is None:
                del state.messages[held.message_id]
            else:
                held.acked_at = now
            for stale in [m for m in state.messages.values()
                          if m.acked_at is not None and m.acked_at < now - retention]:
                del state.messages[stale.message_id]
        elif how == "extend":
            held.visible_at = now + seconds
        else:
            held.visible_at = now + max(0.0, seconds)
            held.lease_id = None
            held.deliveries = 0
            held.attempt += how == "retry"
        return True


def next_visible_in(state: MemoryState, queues: Sequence[str]) -> float | None:
    """Seconds until the next message of ``queues`` becomes visible (None if there is none)."""
    with state.lock:
        due = [m.visible_at for m in state.messages.values()
               if m.queue in queues and m.acked_at is None]
    return max(0.0, min(due) - time.time()) if due else None
