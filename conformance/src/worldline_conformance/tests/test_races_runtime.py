"""SPEC §7–§8 at runtime level: real :class:`worldline.Worker` instances (asyncio tasks,
threads or processes, released together at a barrier) race over one run. Each round checks
that the run ends correctly, each step body's recorded result is the one used, bodies run
exactly once per recorded attempt, no message is retried because of a 409/410 (the worker
logs no error) and no wake-up is lost (the run ends within the contender's timeout)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from worldline import NotFound, RunHandle, World, start
from worldline.ids import new_id
from worldline.runtime.codec import decode
from worldline.runtime.names import workflow_queue

from worldline_conformance.races import Racer
from worldline_conformance.races.app import (
    CLEAN,
    CancelAfter,
    DriveWorker,
    Resume,
    bodies_queue,
    race_hook,
    race_steps,
)
from worldline_conformance.races.state import checked_log, drain, types

#: rounds per runtime race unless --race-rounds is given (each round runs whole workers)
RUNTIME_ROUNDS = 8
STEPS = 3


def rounds(racer: Racer) -> int:
    return racer.rounds if racer.soak else RUNTIME_ROUNDS


async def assert_steps_used_once(world: World, run_id: str) -> list[Any]:
    """Every step settled once, bodies ran once per recorded attempt; the recorded outputs
    in creation order."""
    steps = (await world.steps.list(run_id, limit=1000)).items
    bodies = Counter(p["step_id"] for p in await drain(world, bodies_queue(run_id)))
    for s in steps:
        assert bodies[s.step_id] == s.attempt, \
            f"step {s.step_id}: body ran {bodies[s.step_id]}x for {s.attempt} recorded attempts"
    assert set(bodies) <= {s.step_id for s in steps}, "a body ran for an unrecorded step"
    return [s.output for s in steps if s.status == "completed"]


async def test_r1_two_workers_replay_one_run(racer: Racer) -> None:
    """The same run delivered to two workers at once (a duplicate workflow message, as
    at-least-once delivery gives): two replays race step_created / step_started /
    wait_completed / run_completed."""
    async def setup(world: World, i: int) -> tuple[Any, list[DriveWorker]]:
        handle = await start(race_steps, STEPS, i % (STEPS + 1) - 1, world=world)
        await world.queue.enqueue(workflow_queue("race_steps"), {"run_id": handle.run_id})
        return handle.run_id, [DriveWorker(handle.run_id)] * 2

    async def check(world: World, run_id: str, outcomes: list[str]) -> None:
        assert outcomes == [CLEAN, CLEAN]
        result = await RunHandle(world, run_id).result(timeout=5)
        recorded = await assert_steps_used_once(world, run_id)
        assert len(recorded) == STEPS
        attempts = [s.attempt for s in (await world.steps.list(run_id)).items]
        assert attempts == [1] * STEPS, "a step ran twice: only the step_created winner " \
                                        "dispatches it"
        assert result == [decode(o) for o in recorded], "the workflow used other results"
        log = types(await checked_log(world, run_id))
        assert log.count("step_completed") == STEPS and log.count("run_completed") == 1

    await racer.run("R1 two workers replay one run", setup, check, rounds(racer))


async def test_r2_cancel_while_a_step_runs(racer: Racer) -> None:
    """A worker drives a run while another handler cancels it after k steps started."""
    async def setup(world: World, i: int) -> tuple[Any, list[Any]]:
        handle = await start(race_steps, STEPS, world=world)
        return handle.run_id, [DriveWorker(handle.run_id), CancelAfter(handle.run_id,
                                                                       i % (STEPS + 1))]

    async def check(world: World, run_id: str, outcomes: list[str]) -> None:
        assert outcomes[0] == CLEAN
        assert outcomes[1] in ("won", "Conflict"), "cancel wins, or the run completed first"
        run = await world.runs.get(run_id)
        assert run.status == ("cancelled" if outcomes[1] == "won" else "completed")
        await assert_steps_used_once(world, run_id)
        log = await checked_log(world, run_id)  # no step started after the cancel
        if run.status == "cancelled":
            cancel = next(e["seq"] for e in log if e["type"] == "run_cancelled")
            assert not [e for e in log if e["seq"] > cancel
                        and e["type"] not in ("step_completed", "step_failed")]

    await racer.run("R2 cancel while a step runs", setup, check, rounds(racer))


async def test_r3_hook_resumed_while_the_run_completes(racer: Racer) -> None:
    """Two payloads race for a hook whose first payload completes the run."""
    async def setup(world: World, i: int) -> tuple[Any, list[Any]]:
        token = f"race-{new_id('hook')}"
        handle = await start(race_hook, token, world=world)
        return (handle.run_id, token), [DriveWorker(handle.run_id), Resume(token, "a"),
                                        Resume(token, "b")]

    async def check(world: World, ctx: Any, outcomes: list[str]) -> None:
        run_id, token = ctx
        worker, *resumes = outcomes
        assert worker == CLEAN
        assert "won" in resumes, "the run cannot complete without a payload"
        assert set(resumes) <= {"won", "Gone", "NotFound"}, "a late resume is refused, typed"
        result = await RunHandle(world, run_id).result(timeout=5)
        log = await checked_log(world, run_id)
        received = [e for e in log if e["type"] == "hook_received"]
        assert len(received) == resumes.count("won"), "each accepted resume is in the log"
        assert result == decode(received[0]["data"]["payload"]), \
            "the run's output is not the first payload recorded"
        with pytest.raises(NotFound):
            await world.hooks.get_by_token(token)

    await racer.run("R3 hook resumed while the run completes", setup, check, rounds(racer))
