"""Reconciliation (SPEC §7): expired runs are deleted whole, orphans are woken, live runs are
never changed, and a pass that dies half-way leaves every run whole or gone."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
import worldline as wl
from worldline import NotFound, World
from worldline.faults import ENV_VARIABLE, InjectedFault, inject
from worldline.ids import new_id
from worldline.model import NewEvent, utcnow
from worldline.runtime.codec import encode_call
from worldline.runtime.names import step_message

from .. import runtime_app as app
from ..helpers import ev, make_hook, make_run, make_step, make_wait

LATER = timedelta(hours=1)  # "now" for a pass that should see every run as old


async def make_full_run(world: World, status: str) -> str:
    """A run that owns one of everything: steps, a wait, a hook, a stream, messages."""
    run_id = await make_run(world, "running")
    await world.queue.enqueue("workflow.wf", {"run_id": run_id}, idempotency_key=run_id)
    await make_step(world, run_id, "completed")
    other = new_id("step")
    await world.events.create(run_id, ev("step_created", other, step_name="s", input=None),
                              enqueue=step_message("wf", run_id, other, "s"))
    await make_wait(world, run_id, resume_in=3600)
    await make_hook(world, run_id)
    if world.capabilities.streams:
        await world.streams.write(run_id, "out", "chunk")
    if status == "completed":
        await world.events.create(run_id, ev("run_completed", output={"ok": True}))
    elif status == "cancelled":
        await world.events.create(run_id, ev("run_cancelled"))
    return run_id


async def snapshot(world: World, run_id: str) -> dict[str, Any]:
    """Everything a reader can see of a run (NotFound -> None)."""
    try:
        run: Any = await world.runs.get(run_id)
    except NotFound:
        run = None
    found: dict[str, Any] = {"run": run}
    for name, api in (("events", world.events), ("steps", world.steps),
                      ("waits", world.waits), ("hooks", world.hooks)):
        try:
            found[name] = (await api.list(run_id)).items
        except NotFound:
            found[name] = []
    found["streams"] = await world.streams.list(run_id) if world.capabilities.streams else []
    found["queued"] = run_id in await world.housekeeping.queued_run_ids()
    return found


def whole_or_gone(seen: dict[str, Any], before: dict[str, Any]) -> str:
    if seen == before:
        return "whole"
    gone = {k: v for k, v in seen.items() if v}
    assert not gone, f"a half-deleted run is visible: {sorted(gone)}"
    return "gone"


# -- delete_run ----------------------------------------------------------------------------------
@pytest.mark.parametrize("status", ["completed", "cancelled"])
async def test_delete_run_removes_everything_it_owns(world, status):
    run_id = await make_full_run(world, status)
    keep = await make_full_run(world, status)
    kept = await snapshot(world, keep)
    assert (await snapshot(world, run_id))["events"], "set-up wrote nothing"
    assert await world.housekeeping.delete_run(run_id) is True
    assert whole_or_gone(await snapshot(world, run_id), {}) == "gone"
    assert await world.housekeeping.delete_run(run_id) is False, "deleted twice"
    assert await snapshot(world, keep) == kept, "another run was touched"


@pytest.mark.parametrize("status", ["pending", "running"])
async def test_delete_run_leaves_a_live_run_alone(world, status):
    run_id = await make_run(world, status)
    await world.queue.enqueue("workflow.wf", {"run_id": run_id}, idempotency_key=run_id)
    before = await snapshot(world, run_id)
    assert await world.housekeeping.delete_run(run_id) is False
    assert await snapshot(world, run_id) == before
    assert await world.housekeeping.delete_run(new_id("run")) is False


async def test_deleting_a_run_releases_its_idempotency_key(world):
    run_id = await make_run(world, "completed", idempotency_key="k-deleted")
    assert await world.housekeeping.delete_run(run_id)
    again = await make_run(world, "pending", idempotency_key="k-deleted")
    assert again != run_id and (await world.runs.get(again)).idempotency_key == "k-deleted"


async def test_a_failed_delete_leaves_the_run_whole_or_gone(world):
    run_id = await make_full_run(world, "completed")
    before = await snapshot(world, run_id)
    with inject("reconcile.mid_delete"), pytest.raises(InjectedFault):
        await world.housekeeping.delete_run(run_id)
    whole_or_gone(await snapshot(world, run_id), before)
    await world.housekeeping.delete_run(run_id)  # the next pass finishes the job
    assert whole_or_gone(await snapshot(world, run_id), before) == "gone"


# -- the pass ------------------------------------------------------------------------------------
async def test_reconcile_deletes_expired_terminal_runs_only(world):
    old = [await make_full_run(world, s) for s in ("completed", "cancelled")]
    old.append(await make_run(world, "failed"))
    cutoff = utcnow()
    await asyncio.sleep(0.01)  # the clock must move past the cutoff
    recent = await make_run(world, "completed")
    live = [await make_run(world, "pending"), await make_run(world, "running")]
    for run_id in live:
        await world.queue.enqueue("workflow.wf", {"run_id": run_id}, idempotency_key=run_id)
    before = {r: await snapshot(world, r) for r in [recent, *live]}
    report = await wl.reconcile(world, retention=timedelta(0), now=cutoff)
    assert sorted(report.deleted) == sorted(old)
    for run_id in old:
        assert whole_or_gone(await snapshot(world, run_id), {}) == "gone"
    for run_id, seen in before.items():
        assert await snapshot(world, run_id) == seen, f"{run_id} was touched"
    assert report.woken == [], "a run with a message was woken"


async def test_a_pass_interrupted_between_deletions_leaves_runs_whole_or_gone(world):
    runs = [await make_full_run(world, "completed") for _ in range(3)]
    before = {r: await snapshot(world, r) for r in runs}
    with inject("reconcile.mid_pass"), pytest.raises(InjectedFault):
        await wl.reconcile(world, retention=timedelta(0), now=utcnow() + LATER)
    states = [whole_or_gone(await snapshot(world, r), before[r]) for r in runs]
    assert states.count("gone") == 1, states
    report = await wl.reconcile(world, retention=timedelta(0), now=utcnow() + LATER)
    assert len(report.deleted) == 2
    assert all([whole_or_gone(await snapshot(world, r), before[r]) == "gone" for r in runs])


async def test_reconcile_wakes_orphans_and_nothing_else(world):
    name = "rt.sequential"
    orphan = new_id("run")  # recorded, never enqueued: what a start that died half-way leaves
    await world.events.create(orphan, NewEvent("run_created", data={
        "workflow_name": name, "input": encode_call((5,), {})}))
    queued = (await wl.start(app.sequential, 6, world=world)).run_id
    waiting = await make_run(world, "running", workflow_name=name)
    await make_hook(world, waiting)  # suspended on a hook: nothing to wake
    before = {r: await snapshot(world, r) for r in (orphan, queued, waiting)}
    assert (await wl.reconcile(world)).woken == [], "woken within the grace period"
    now = utcnow() + LATER
    report = await wl.reconcile(world, now=now)
    assert report.woken == [orphan], report
    assert report.deleted == []
    for run_id, seen in before.items():
        if run_id != orphan:
            assert await snapshot(world, run_id) == seen, f"{run_id} was touched"
    after = await snapshot(world, orphan)
    assert after["queued"] and {**after, "queued": False} == before[orphan], \
        "waking an orphan must only add a message"
    again = await wl.reconcile(world, now=now)
    assert again.woken == [], "a woken orphan has a message now: it is not woken twice"
    async with wl.Worker(world, poll=0.05):
        assert await wl.RunHandle(world, orphan).result(timeout=20) == 116
        assert await wl.RunHandle(world, queued).result(timeout=20) == 117


async def test_concurrent_passes_wake_an_orphan_once(world, world_factory):
    orphan = new_id("run")
    await world.events.create(orphan, NewEvent("run_created", data={
        "workflow_name": "rt.sequential", "input": encode_call((1,), {})}))
    worlds = [await world_factory() for _ in range(4)]
    now = utcnow() + LATER
    await asyncio.gather(*(wl.reconcile(w, now=now) for w in worlds))
    messages = await world.queue.lease(["workflow.rt.sequential"], limit=10)
    assert [m.payload["run_id"] for m in messages] == [orphan]


async def test_reconcile_validates_its_arguments(world):
    with pytest.raises(ValueError, match="negative"):
        await wl.reconcile(world, retention=timedelta(days=-1))


@pytest.mark.requires("multiprocess")
async def test_a_start_killed_half_way_leaves_nothing_a_pass_cannot_repair(
        world, world_namespace_url):
    env = {**os.environ, ENV_VARIABLE: "start.enqueue=kill"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "worldline", "start", "rt.sequential", "[3]", "--world",
        world_namespace_url, "--app", app.__name__, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert await proc.wait() == -signal.SIGKILL, "the start was not killed at the hand-off"
    await wl.reconcile(world, now=utcnow() + LATER)
    runs = (await world.runs.list()).items
    async with wl.Worker(world, poll=0.05):
        for run in runs:  # atomic worlds leave none; the others an orphan the pass woke
            assert await wl.RunHandle(world, run.run_id).result(timeout=20) == 114


async def test_workers_reconcile_periodically(world):
    handle = await wl.start(app.sequential, 1, world=world)
    async with wl.Worker(world, poll=0.05, reconcile_interval=0):
        assert await handle.result(timeout=20) == 112
    async with wl.Worker(world, poll=0.05, reconcile_interval=0.05, retention=timedelta(0)):
        for _ in range(400):  # a pass every 50 ms deletes the finished run
            try:
                await world.runs.get(handle.run_id)
            except NotFound:
                break
            await asyncio.sleep(0.05)
    with pytest.raises(NotFound):
        await world.runs.get(handle.run_id)
    assert (await world.events.list(handle.run_id)).items == []


def test_reconcile_command(world_namespace_url):
    done = subprocess.run(
        [sys.executable, "-m", "worldline", "reconcile", "--world", world_namespace_url,
         "--json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert '"deleted": []' in done.stdout
