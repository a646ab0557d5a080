"""Writing several events of one run: in one atomic unit where the world can."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from .model import Enqueue, EventResult, NewEvent
from .protocol import BatchEventsAPI, World


async def create_batch(world: World, run_id: str, events: Sequence[NewEvent],
                       enqueues: Sequence[Enqueue | None] | None = None) -> list[EventResult]:
    """Write ``events`` in order, each with its message from ``enqueues``. On worlds with
    ``capabilities.batch_events`` it is one atomic unit (all or nothing); elsewhere one
    ``create`` call per event, so a refusal leaves the events before it written — callers
    must accept either (each prefix of the batch is a state the contract allows)."""
    if world.capabilities.batch_events:
        batch = cast(BatchEventsAPI, world.events)
        return await batch.create_batch(run_id, events, enqueues=enqueues)
    messages = list(enqueues) if enqueues is not None else [None] * len(events)
    return [await world.events.create(run_id, event, enqueue=message)
            for event, message in zip(events, messages, strict=True)]
