"""Cancel before any worker picked the run up: it never starts."""

from __future__ import annotations

import pytest
import worldline as wl

from .. import runtime_app as app
from .runtime_helpers import event_types, wait_for


async def test_cancel_pending_run(world):
    handle = await wl.start(app.sequential, 1, world=world)
    assert await handle.status() == wl.RunStatus.PENDING
    await handle.cancel()
    async with wl.Worker(world, poll=0.05) as worker:
        with pytest.raises(wl.RunCancelled):
            await handle.result(timeout=5)
        async def delivered() -> bool:  # the run's message is delivered, then dropped
            return worker.handled >= 1

        await wait_for(delivered)
    types = [t for t, _ in await event_types(world, handle.run_id)]
    assert types == ["run_created", "run_cancelled"]


async def test_message_delivered_too_often_fails_its_run(world):
    handle = await wl.start(app.sequential, 1, world=world)
    async with wl.Worker(world, poll=0.05, max_deliveries=0):  # every delivery is one too many
        with pytest.raises(wl.WorkflowError) as info:
            await handle.result(timeout=10)
    assert info.value.type == "MaxDeliveriesExceeded"
    types = [t for t, _ in await event_types(world, handle.run_id)]
    assert types == ["run_created", "run_started", "run_failed"]
