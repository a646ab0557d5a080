"""Argument checks shared by every world's queue API: bad input is a ValidationError
before any I/O, with the same message on every backend."""

from __future__ import annotations

import math
from typing import Any

from .errors import ValidationError
from .model import Enqueue, Message, NewEvent
from .rules import validate, validate_message


def seconds(value: Any, name: str, *, positive: bool = False) -> float:
    """``value`` as float seconds (``>= 0``, or ``> 0`` when ``positive``)."""
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValidationError(f"{name} must be a finite number of seconds "
                              f"{'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)


def text(value: Any, what: str) -> str:
    """An id, token or name used as a SQL parameter must be a string."""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, got {type(value).__name__} {value!r:.60}")
    return value


def lease_args(queues: Any, visibility_timeout: Any, limit: Any, wait: Any) -> list[str]:
    """Check ``lease``'s arguments; return the queue names as a list."""
    if isinstance(queues, str | bytes):
        raise ValidationError("queues must be a sequence of names, not one string")
    try:
        names = list(queues)
    except TypeError:
        raise ValidationError(f"queues must be a sequence of names, got {queues!r}") from None
    if not all(isinstance(q, str) and q for q in names):
        raise ValidationError(f"queue names must be non-empty strings, got {names!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationError(f"limit must be an integer >= 1, got {limit!r}")
    seconds(visibility_timeout, "visibility_timeout", positive=True)
    seconds(wait, "wait")
    return names


def settle_args(message: Any, how: str, value: Any) -> float:
    """Check a settlement's message and seconds; return the seconds as float."""
    if not isinstance(message, Message):
        raise ValidationError(f"{how}: expected a leased Message, got {type(message).__name__}")
    return seconds(value, "visibility_timeout" if how == "extend" else "delay",
                   positive=how == "extend")


def event_args(run_id: Any, event: Any, enqueue: Any) -> NewEvent:
    """Check ``events.create``'s arguments; return the event validated (type normalised)."""
    checked = validate(run_id, event)
    if enqueue is not None:
        if not isinstance(enqueue, Enqueue):
            raise ValidationError(f"enqueue must be an Enqueue, got {enqueue!r:.80}",
                                  run_id=run_id)
        validate_message(enqueue.queue, enqueue.payload, enqueue.idempotency_key,
                         enqueue.delay)
    return checked


def batch_args(run_id: str, events: Any, enqueues: Any,
               expect_seq: Any = None) -> tuple[list[NewEvent], list[Enqueue | None]]:
    """Check ``events.create_batch``'s arguments (each event and message as ``create``
    would, ``expect_seq`` None or a sequence number); return the events validated and one
    message slot per event."""
    if expect_seq is not None and (isinstance(expect_seq, bool) or
                                   not isinstance(expect_seq, int) or expect_seq < 0):
        raise ValidationError(f"expect_seq must be None or an int >= 0, got {expect_seq!r}")
    if isinstance(events, NewEvent) or not isinstance(events, list | tuple) or not events:
        raise ValidationError(f"events must be a non-empty list of NewEvent, got {events!r:.80}")
    messages = list(enqueues) if enqueues is not None else [None] * len(events)
    if len(messages) != len(events):
        raise ValidationError(f"enqueues must have one slot per event ({len(events)}), "
                              f"got {len(messages)}")
    checked = [validate(run_id, event) for event in events]
    for message in messages:
        if message is None:
            continue
        if not isinstance(message, Enqueue):
            raise ValidationError(f"enqueue must be an Enqueue or None, got {message!r:.80}")
        validate_message(message.queue, message.payload, message.idempotency_key,
                         message.delay)
    return checked, messages
