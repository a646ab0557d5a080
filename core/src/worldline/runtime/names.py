"""Queue names and message payloads shared by start, the driver and the worker, and sending
one on its own."""

from __future__ import annotations

from typing import Any

from ..model import Enqueue
from ..protocol import World


def workflow_queue(workflow_name: str) -> str:
    return f"workflow.{workflow_name}"


def step_queue(step_name: str) -> str:
    return f"step.{step_name}"


def wake(workflow_name: str, run_id: str, key: str | None, delay: float = 0.0) -> Enqueue:
    """A workflow message for ``run_id`` (de-duplicated by ``key``)."""
    return Enqueue(workflow_queue(workflow_name), {"run_id": run_id}, key, delay)


def step_message(workflow_name: str, run_id: str, step_id: str, step_name: str,
                 delay: float = 0.0) -> Enqueue:
    payload: dict[str, Any] = {"run_id": run_id, "step_id": step_id, "step_name": step_name,
                               "workflow_name": workflow_name}
    return Enqueue(step_queue(step_name), payload, step_id, delay)


async def send(world: World, message: Enqueue) -> str:
    """Enqueue ``message`` on its own (not with an event); returns its message id."""
    return await world.queue.enqueue(message.queue, message.payload,
                                     idempotency_key=message.idempotency_key,
                                     delay=message.delay)
