"""Contender moves: small picklable objects a contender performs on its own world.

A move returns an *outcome class*: ``"won"`` (an event was appended), ``"noop"`` (accepted,
nothing appended), or the name of the typed world error it got (``"Conflict"``, ``"Gone"``,
``"NotFound"``, ``"TooEarly"``, ``"ValidationError"``). Any other exception propagates.
Moves cross process boundaries, so they hold only plain data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from worldline import Enqueue, NewEvent, World, WorldError

WON = "won"
NOOP = "noop"


class Move(Protocol):
    """One contender's action in one round."""

    async def perform(self, world: World) -> str: ...


@dataclass(frozen=True)
class CreateEvent:
    """``world.events.create(run_id, event, enqueue=enqueue)``, classified."""

    run_id: str
    event: NewEvent
    enqueue: Enqueue | None = None

    async def perform(self, world: World) -> str:
        try:
            result = await world.events.create(self.run_id, self.event, enqueue=self.enqueue)
        except WorldError as err:
            return type(err).__name__
        return WON if result.event is not None else NOOP


def label(move: Move) -> str:
    """A short name for a move in reports (``run_completed``, ``step_started`` …)."""
    if isinstance(move, CreateEvent):
        return str(move.event.type)
    return type(move).__name__
