"""The safety net of inline steps: a step message that brings a step back to the queue when
the worker running it in-process is gone.

On worlds with ``batch_events`` an inline step's ``step_created`` + ``step_started``
(marked ``inline``) are one atomic unit and carry no message: the worker holds the run's
message while the step runs, so a worker that dies is noticed when that message comes back
and the run is replayed. The replay lays the net then, for every step still unsettled after
an inline start, due when the inline grace of its last event ends; the step's handler leaves
a step that is still busy alone, so a net laid for a step that a live worker is running
costs one delivery and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..model import Event, EventType, utcnow
from ..protocol import World
from .names import send, step_message


@dataclass(frozen=True)
class Unattended:
    """A step whose latest start was inline and that has not settled."""

    step_id: str
    step_name: str
    since: datetime  # its last event


def unattended_inline_steps(events: list[Event]) -> list[Unattended]:
    """The steps of a run's log whose latest ``step_started`` was inline and that have no
    ``step_completed`` / ``step_failed`` after it."""
    names: dict[str, str] = {}
    open_since: dict[str, datetime] = {}
    for event in events:
        cid = event.correlation_id
        if cid is None:
            continue
        if event.type == EventType.STEP_CREATED:
            names[cid] = str(event.data["step_name"])
        elif event.type == EventType.STEP_STARTED:
            if event.data.get("inline"):
                open_since[cid] = event.created_at
            else:
                open_since.pop(cid, None)
        elif event.type == EventType.STEP_RETRYING and cid in open_since:
            open_since[cid] = event.created_at
        elif event.type in (EventType.STEP_COMPLETED, EventType.STEP_FAILED):
            open_since.pop(cid, None)
    return [Unattended(cid, names[cid], since) for cid, since in open_since.items()
            if cid in names]


async def lay_net(world: World, workflow_name: str, run_id: str, step_id: str,
                  step_name: str, delay: float) -> None:
    """Enqueue the step's message (de-duplicated by step id) due in ``delay`` seconds."""
    await send(world, step_message(workflow_name, run_id, step_id, step_name, max(0.0, delay)))


async def lay_nets(world: World, workflow_name: str, run_id: str, events: list[Event],
                   grace: float) -> None:
    """Lay the net of every unattended inline step of ``events``."""
    now = utcnow()
    for step in unattended_inline_steps(events):
        due = step.since + timedelta(seconds=grace)
        await lay_net(world, workflow_name, run_id, step.step_id, step.step_name,
                      (due - now).total_seconds())
