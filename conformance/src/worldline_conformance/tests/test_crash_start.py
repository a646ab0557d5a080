"""Starting a run is fail-fast and idempotent: a failure while the first message is written
leaves nothing behind, and concurrent starts with one idempotency key make one run."""

from __future__ import annotations

import asyncio

import pytest
import worldline as wl
from worldline.faults import inject
from worldline.runtime.names import workflow_queue

from .. import runtime_app as app
from .runtime_helpers import worker  # noqa: F401  (fixture)

ROUNDS = 4
CONTENDERS = 16


async def test_failed_start_leaves_nothing(world):
    with inject("start.enqueue"), pytest.raises(wl.StartFailed):
        await wl.start(app.sequential, 1, world=world)
    runs, _ = await world.runs.list()
    assert runs == [], "a start that failed at the enqueue left a run behind"
    assert await world.queue.lease([workflow_queue("rt.sequential")], visibility_timeout=1,
                                   limit=10) == [], "a failed start left a message behind"
    handle = await wl.start(app.sequential, 1, world=world)
    async with wl.Worker(world, poll=0.05):
        assert await handle.result(timeout=20) == 112
    runs, _ = await world.runs.list()
    assert [r.run_id for r in runs] == [handle.run_id]


async def test_failed_start_with_key_can_be_retried_at_once(world):
    with inject("start.enqueue"), pytest.raises(wl.StartFailed):
        await wl.start(app.sequential, 2, idempotency_key="k-retry", world=world)
    loop = asyncio.get_running_loop()
    began = loop.time()
    handle = await wl.start(app.sequential, 2, idempotency_key="k-retry", world=world)
    assert loop.time() - began < 2.0, "the retried start waited for a stale claim"
    runs, _ = await world.runs.list()
    assert [r.run_id for r in runs] == [handle.run_id]
    async with wl.Worker(world, poll=0.05):
        assert await handle.result(timeout=20) == 113


async def test_concurrent_starts_with_one_key_make_one_run(world, world_factory):
    worlds = [await world_factory() for _ in range(CONTENDERS)]
    for round_no in range(ROUNDS):
        key = f"k-race-{round_no}"
        barrier = asyncio.Barrier(CONTENDERS)

        async def contender(w: wl.World, key: str = key,
                            barrier: asyncio.Barrier = barrier) -> str:
            await barrier.wait()
            return (await wl.start(app.sequential, 0, idempotency_key=key,
                                   world=w)).run_id

        ids = await asyncio.wait_for(asyncio.gather(*(contender(w) for w in worlds)), 60)
        runs, _ = await world.runs.list(limit=100)
        holders = [r.run_id for r in runs if r.idempotency_key == key]
        assert len(holders) == 1, f"round {round_no}: {len(holders)} runs hold {key}"
        assert set(ids) == set(holders), f"round {round_no}: handles name {set(ids)}"
    runs, _ = await world.runs.list(limit=100)
    assert len(runs) == ROUNDS


async def test_failed_run_releases_key_completed_run_keeps_it(world, worker):  # noqa: F811
    failed = await wl.start(app.fatal_wf, "kf", False, idempotency_key="k-fail", world=world)
    with pytest.raises(wl.WorkflowError):
        await failed.result(timeout=20)
    again = await wl.start(app.fatal_wf, "kf", False, idempotency_key="k-fail", world=world)
    assert again.run_id != failed.run_id, "a failed run kept its idempotency key"
    with pytest.raises(wl.WorkflowError):
        await again.result(timeout=20)

    done = await wl.start(app.sequential, 3, idempotency_key="k-done", world=world)
    assert await done.result(timeout=20) == 114
    same = await wl.start(app.sequential, 3, idempotency_key="k-done", world=world)
    assert same.run_id == done.run_id, "a completed run released its idempotency key"
