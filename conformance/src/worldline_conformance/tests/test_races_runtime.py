"""SPEC §7–§8 at runtime level: each of the eight races produced the way it happens in
production — a queue message delivered to two workers (its first lease expired), two
replays of one run, a step completing while the run is cancelled, a hook resumed while the
run completes — with real :class:`worldline.Worker` instances as contenders (asyncio
tasks, threads or processes, released together at a barrier).

Each round checks that the run ends correctly, each step body's recorded result is the one
used, bodies ran exactly once per recorded attempt, no message was retried because of a
409/410 (the worker logged no error) and no wake-up was lost (the run ended within the
contender's timeout). The log checker runs on every round's run.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from worldline import Gone, NotFound, RunHandle, World, start
from worldline.ids import new_id
from worldline.runtime import resume_hook
from worldline.runtime.codec import decode
from worldline.runtime.names import step_message, step_queue, workflow_queue

from worldline_conformance.races import Racer
from worldline_conformance.races.app import (
    CLEAN,
    CancelAfter,
    DriveWorker,
    Handle,
    RaceFailure,
    Resume,
    bodies_queue,
    calls,
    clean,
    handle_next,
    race_fail,
    race_hook,
    race_nap,
    race_steps,
    two_handlers,
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


async def assert_completed_with_recorded_results(world: World, run_id: str) -> list[str]:
    """The run completed once and returned exactly the recorded step results; the log."""
    result = await RunHandle(world, run_id).result(timeout=5)
    recorded = await assert_steps_used_once(world, run_id)
    assert result == [decode(o) for o in recorded], "the workflow used other results"
    log = types(await checked_log(world, run_id))
    assert log.count("run_completed") == 1
    return log


def wf_queue(name: str) -> str:
    return workflow_queue(name)


# -- 1: run_started ------------------------------------------------------------------------------
async def test_runtime_1_start_message_delivered_twice(racer: Racer) -> None:
    """A pending run's start message goes to two workers: both race ``run_started``; one
    transition, both proceed (replaying the same run) and the run completes once."""
    async def setup(world: World, i: int) -> tuple[Any, list[Handle]]:
        handle = await start(race_steps, STEPS, world=world)
        return handle.run_id, await two_handlers(
            world, wf_queue("race_steps"), handle.run_id, "run_started")

    async def check(world: World, run_id: str, outcomes: list[str]) -> None:
        assert all(map(clean, outcomes))
        started = calls(outcomes, "run_started")
        assert started.count("won") == 1 and set(started) <= {"won", "noop", "Gone"}
        log = await assert_completed_with_recorded_results(world, run_id)
        assert log.count("run_started") == 1, "run_started twice"
        attempts = [s.attempt for s in (await world.steps.list(run_id)).items]
        assert attempts == [1] * STEPS, "a step ran twice: only the step_created winner " \
                                        "dispatches it"

    await racer.run("runtime 1 start message delivered twice", setup, check, rounds(racer))


async def test_runtime_1_stale_start_message_of_a_cancelled_run(racer: Racer) -> None:
    """Both deliveries of a cancelled run's start message get Gone: each worker
    acknowledges it without error, and the run never starts."""
    async def setup(world: World, i: int) -> tuple[Any, list[Handle]]:
        handle = await start(race_steps, STEPS, world=world)
        await handle.cancel()
        return handle.run_id, await two_handlers(
            world, wf_queue("race_steps"), handle.run_id, "run_started")

    async def check(world: World, run_id: str, outcomes: list[str]) -> None:
        assert all(map(clean, outcomes)), "a Gone run_started must be acknowledged"
        assert calls(outcomes, "run_started") == ["Gone", "Gone"]
        assert (await world.runs.get(run_id)).status == "cancelled"
        assert types(await checked_log(world, run_id)) == ["run_created", "run_cancelled"]
        assert not await drain(world, bodies_queue(run_id)), "a step body ran"

    await racer.run("runtime 1 stale start message of a cancelled run", setup, check,
                    rounds(racer))


# -- 2: run_completed ----------------------------------------------------------------------------
async def test_runtime_2_two_workers_complete_the_run(racer: Racer) -> None:
    """Two replays of a run whose last step is done race ``run_completed``: one terminal
    event; the other worker gets Conflict and acknowledges without a retry."""
    async def setup(world: World, i: int) -> tuple[Any, list[Handle]]:
        handle = await start(race_steps, 1, world=world)
        await handle_next(world, wf_queue("race_steps"), handle.run_id)  # step created
        await handle_next(world, step_queue("race_tick"), handle.run_id)  # step completed
        return handle.run_id, await two_handlers(
            world, wf_queue("race_steps"), handle.run_id, "run_completed")

    async def check(world: World, run_id: str, outcomes: list[str]) -> None:
        assert all(map(clean, outcomes))
        completed = calls(outcomes, "run_completed")
        assert completed.count("won") == 1 and set(completed) <= {"won", "Conflict"}
        log = await assert_completed_with_recorded_results(world, run_id)
        assert log.count("step_completed") == 1

    await racer.run("runtime 2 two workers complete the run", setup, check, rounds(racer))


# -- 3: run_failed -------------------------------------------------------------------------------
async def test_runtime_3_two_workers_fail_the_run_while_it_is_cancelled(racer: Racer) -> None:
    """Two replays of a failing workflow race ``run_failed`` while a third handler cancels
    the run: the first terminal event wins, there is exactly one, and ``result()`` raises
    the error of the one that won."""
    async def setup(world: World, i: int) -> tuple[Any, list[Any]]:
        handle = await start(race_fail, world=world)
        handlers = await two_handlers(world, wf_queue("race_fail"), handle.run_id, "run_failed")
        return handle.run_id, [*handlers, CancelAfter(handle.run_id, 0)]

    async def check(world: World, run_id: str, outcomes: list[str]) -> None:
        *workers, cancel = outcomes
        assert all(map(clean, workers))
        assert cancel in ("won", "Conflict"), "cancel wins, or the run failed first"
        failed = calls(workers, "run_failed")
        assert failed.count("won") == (cancel != "won") and set(failed) <= {"won", "Conflict"}
        run = await world.runs.get(run_id)
        log = types(await checked_log(world, run_id))
        terminal = [t for t in log if t in ("run_completed", "run_failed", "run_cancelled")]
        assert terminal == ["run_cancelled" if cancel == "won" else "run_failed"]
        assert run.status == ("cancelled" if cancel == "won" else "failed")
        if run.status == "failed":
            assert run.error is not None and run.error["type"] == RaceFailure.__name__
            with pytest.raises(Exception, match="race_fail fails by design"):
                await RunHandle(world, run_id).result(timeout=5)

    await racer.run("runtime 3 two workers fail the run while it is cancelled", setup, check,
                    rounds(racer))


# -- 4: hooks and the end of the run -------------------------------------------------------------
async def test_runtime_4_hook_resumed_while_the_run_completes(racer: Racer) -> None:
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

    await racer.run("runtime 4 hook resumed while the run completes", setup, check,
                    rounds(racer))


async def test_runtime_4_run_cancelled_while_its_hook_is_created(racer: Racer) -> None:
    """Two workers replay a run that creates a hook while it is cancelled: the hook is
    created before the terminal event or refused; afterwards no hook is live, its token is
    free and a resume is refused."""
    async def setup(world: World, i: int) -> tuple[Any, list[Any]]:
        token = f"race-{new_id('hook')}"
        handle = await start(race_hook, token, world=world)
        handlers = await two_handlers(world, wf_queue("race_hook"), handle.run_id,
                                      "hook_created")
        return (handle.run_id, token), [*handlers, CancelAfter(handle.run_id, 0)]

    async def check(world: World, ctx: Any, outcomes: list[str]) -> None:
        run_id, token = ctx
        *workers, cancel = outcomes
        assert all(map(clean, workers)) and cancel == "won", "nothing else can end this run"
        created = calls(workers, "hook_created")
        assert created.count("won") <= 1 and set(created) <= {"won", "Conflict"}
        log = types(await checked_log(world, run_id))
        assert log.count("hook_created") == created.count("won")
        assert not (await world.hooks.list(run_id)).items, "a hook outlived its run"
        with pytest.raises(NotFound):
            await world.hooks.get_by_token(token)
        with pytest.raises((Gone, NotFound)):
            await resume_hook(token, "late", world=world)

    await racer.run("runtime 4 run cancelled while its hook is created", setup, check,
                    rounds(racer))


# -- 5: wait_completed ---------------------------------------------------------------------------
async def test_runtime_5_wake_up_delivered_twice(racer: Racer) -> None:
    """An elapsed sleep's wake-up goes to two workers: both race ``wait_completed``; one
    event, and the code after the sleep runs its step once."""
    async def setup(world: World, i: int) -> tuple[Any, list[Handle]]:
        for _ in range(10):
            handle = await start(race_nap, world=world)
            await handle_next(world, wf_queue("race_nap"), handle.run_id)  # wait created
            waits = (await world.waits.list(handle.run_id)).items
            if [w.status for w in waits] == ["waiting"]:
                return handle.run_id, await two_handlers(
                    world, wf_queue("race_nap"), handle.run_id, "wait_completed")
            # the set-up's own worker was slow enough to see the nap end: not this race
        raise AssertionError("the set-up never left a waiting wait (10 tries)")

    async def check(world: World, run_id: str, outcomes: list[str]) -> None:
        assert all(map(clean, outcomes))
        woke = calls(outcomes, "wait_completed")
        assert woke.count("won") == 1 and set(woke) <= {"won", "Conflict", "Gone"}
        result = await RunHandle(world, run_id).result(timeout=5)
        recorded = await assert_steps_used_once(world, run_id)
        assert [result] == [decode(o) for o in recorded]
        log = types(await checked_log(world, run_id))
        assert log.count("wait_completed") == 1 and log.count("step_created") == 1
        assert [s.attempt for s in (await world.steps.list(run_id)).items] == [1]

    await racer.run("runtime 5 wake-up delivered twice", setup, check, rounds(racer))


# -- 6: step_completed ---------------------------------------------------------------------------
async def test_runtime_6_step_message_delivered_twice(racer: Racer) -> None:
    """A step message goes to two workers that treat a running step as abandoned (no
    grace): both start the step and race ``step_completed``; exactly one terminal step
    event, the run continues once and uses the recorded result."""
    async def setup(world: World, i: int) -> tuple[Any, list[Handle]]:
        handle = await start(race_steps, 1, world=world)
        await handle_next(world, wf_queue("race_steps"), handle.run_id)  # step created
        return handle.run_id, await two_handlers(
            world, step_queue("race_tick"), handle.run_id, "step_started", "step_completed",
            inline_concurrency=0, inline_grace=0)

    async def check(world: World, run_id: str, outcomes: list[str]) -> None:
        assert all(map(clean, outcomes))
        completed = calls(outcomes, "step_completed")
        assert completed.count("won") == 1 and set(completed) <= {"won", "Conflict"}
        log = await assert_completed_with_recorded_results(world, run_id)
        assert log.count("step_completed") == 1
        attempt = (await world.steps.list(run_id)).items[0].attempt
        assert log.count("step_started") == attempt == calls(outcomes, "step_started").count(
            "won"), "the attempt count is not the number of step_started events"

    await racer.run("runtime 6 step message delivered twice", setup, check, rounds(racer))


async def test_runtime_6_run_cancelled_while_a_step_runs(racer: Racer) -> None:
    """A worker drives a run while another handler cancels it after k steps started: the
    step's completion is the only event after the cancel, no step starts after it."""
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
        log = await checked_log(world, run_id)
        if run.status == "cancelled":
            cancel = next(e["seq"] for e in log if e["type"] == "run_cancelled")
            assert not [e for e in log if e["seq"] > cancel
                        and e["type"] not in ("step_completed", "step_failed")]

    await racer.run("runtime 6 run cancelled while a step runs", setup, check, rounds(racer))


# -- 7: step_started -----------------------------------------------------------------------------
async def test_runtime_7_step_message_delivered_after_the_step_completed(racer: Racer) -> None:
    """A completed step's message is delivered again to two workers: ``step_started`` on a
    terminal step is refused, the body never runs again, the run completes once."""
    async def setup(world: World, i: int) -> tuple[Any, list[Handle]]:
        handle = await start(race_steps, 1, world=world)
        await handle_next(world, wf_queue("race_steps"), handle.run_id)  # step created
        step = (await world.steps.list(handle.run_id)).items[0]
        await handle_next(world, step_queue("race_tick"), handle.run_id)  # step completed
        again = step_message("race_steps", handle.run_id, step.step_id, "race_tick")
        await world.queue.enqueue(again.queue, again.payload)  # the step message, once more
        return handle.run_id, await two_handlers(
            world, step_queue("race_tick"), handle.run_id, "step_started",
            inline_concurrency=0, inline_grace=0)

    async def check(world: World, run_id: str, outcomes: list[str]) -> None:
        assert all(map(clean, outcomes))
        assert "won" not in calls(outcomes, "step_started"), "a terminal step started again"
        log = await assert_completed_with_recorded_results(world, run_id)
        assert log.count("step_started") == 1, "a terminal step started again"

    await racer.run("runtime 7 step message delivered after the step completed", setup, check,
                    rounds(racer))


# -- 8: step_created -----------------------------------------------------------------------------
async def test_runtime_8_two_replays_create_the_same_step(racer: Racer) -> None:
    """A run's continuation goes to two workers: both replay and race ``step_created`` for
    the next step; one creation, one dispatch, the other replay suspends without error."""
    async def setup(world: World, i: int) -> tuple[Any, list[Handle]]:
        handle = await start(race_steps, 2, world=world)
        await handle_next(world, wf_queue("race_steps"), handle.run_id)  # step 0 created
        await handle_next(world, step_queue("race_tick"), handle.run_id)  # ... completed
        return handle.run_id, await two_handlers(
            world, wf_queue("race_steps"), handle.run_id, "step_created")

    async def check(world: World, run_id: str, outcomes: list[str]) -> None:
        assert all(map(clean, outcomes))
        created = calls(outcomes, "step_created")
        assert created.count("won") == 1 and set(created) <= {"won", "Conflict", "Gone"}
        log = await assert_completed_with_recorded_results(world, run_id)
        assert log.count("step_created") == 2 and log.count("step_started") == 2

    await racer.run("runtime 8 two replays create the same step", setup, check, rounds(racer))


async def test_runtime_two_workers_share_one_run(racer: Racer) -> None:
    """All of it at once: two workers drive one run (a duplicate start message) through
    steps and a durable sleep, racing every transition on the way."""
    async def setup(world: World, i: int) -> tuple[Any, list[DriveWorker]]:
        handle = await start(race_steps, STEPS, i % (STEPS + 1) - 1, world=world)
        await world.queue.enqueue(workflow_queue("race_steps"), {"run_id": handle.run_id})
        return handle.run_id, [DriveWorker(handle.run_id)] * 2

    async def check(world: World, run_id: str, outcomes: list[str]) -> None:
        assert outcomes == [CLEAN, CLEAN]
        log = await assert_completed_with_recorded_results(world, run_id)
        assert log.count("step_completed") == STEPS
        attempts = [s.attempt for s in (await world.steps.list(run_id)).items]
        assert attempts == [1] * STEPS, "a step ran twice"

    await racer.run("runtime: two workers share one run", setup, check, rounds(racer))
