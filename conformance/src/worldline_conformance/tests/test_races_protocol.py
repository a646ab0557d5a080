"""SPEC §8 at protocol level: contenders race ``events.create`` itself, released together at
a barrier for many rounds, as asyncio tasks, threads and processes (the ``racer`` fixture).
Each round asserts exactly one winner, the typed error every loser gets, the entity state
afterwards and the persisted log (which must also pass the log check)."""

from __future__ import annotations

from typing import Any

import pytest
from worldline import Enqueue, NewEvent, NotFound, World
from worldline.ids import new_id

from worldline_conformance.races import WON, CreateEvent, Racer
from worldline_conformance.races.state import (
    checked_log,
    drain,
    new_hook,
    new_run,
    new_step,
    new_wait,
    types,
)

RUN_TERMINAL = {"run_completed", "run_failed", "run_cancelled"}
STATUS_OF = {"run_completed": "completed", "run_failed": "failed", "run_cancelled": "cancelled",
             "step_completed": "completed", "step_failed": "failed",
             "step_retrying": "pending"}


def one_winner(outcomes: list[str], loser: str) -> int:
    """Assert exactly one ``won`` and that the other outcome is ``loser``; the winner's index."""
    assert sorted(outcomes) == sorted([WON, loser]), f"expected one winner and {loser}"
    return outcomes.index(WON)


def terminal_payload(etype: str, i: int) -> dict[str, Any]:
    payloads: dict[str, dict[str, Any]] = {
        "run_completed": {"output": {"by": i}}, "run_failed": {"error": {"by": i}},
        "run_cancelled": {"reason": f"by {i}"}, "step_completed": {"output": {"by": i}},
        "step_failed": {"error": {"by": i}}, "step_retrying": {"error": {"by": i}}}
    return payloads[etype]


# -- 1. run_started ----------------------------------------------------------------------

async def test_1_run_started_twice_on_pending(racer: Racer) -> None:
    async def setup(world: World, i: int) -> tuple[Any, list[CreateEvent]]:
        run_id = await new_run(world, "pending")
        return run_id, [CreateEvent(run_id, NewEvent("run_started"))] * 2

    async def check(world: World, run_id: str, outcomes: list[str]) -> None:
        assert sorted(outcomes) == ["noop", WON], "one transition, the other an idempotent no-op"
        assert (await world.runs.get(run_id)).status == "running"
        assert types(await checked_log(world, run_id)) == ["run_created", "run_started"]

    await racer.run("1 run_started x2 on pending", setup, check)


async def test_1_run_started_twice_on_terminal(racer: Racer) -> None:
    statuses = ["completed", "failed", "cancelled"]

    async def setup(world: World, i: int) -> tuple[Any, list[CreateEvent]]:
        run_id = await new_run(world, statuses[i % 3])
        before = types(await world.raw_events(run_id))
        return (run_id, statuses[i % 3], before), [CreateEvent(run_id, NewEvent("run_started"))] * 2

    async def check(world: World, ctx: Any, outcomes: list[str]) -> None:
        run_id, status, before = ctx
        assert outcomes == ["Gone", "Gone"]
        assert (await world.runs.get(run_id)).status == status
        assert types(await checked_log(world, run_id)) == before, "nothing appended"

    await racer.run("1 run_started x2 on terminal", setup, check)


# -- 2, 3. run terminal events ------------------------------------------------------------

async def race_run_terminals(racer: Racer, scenario: str, first: str, second: str) -> None:
    async def setup(world: World, i: int) -> tuple[Any, list[CreateEvent]]:
        run_id = await new_run(world, "running")
        queue = f"race-{run_id}"
        moves = [CreateEvent(run_id, NewEvent(etype, data=terminal_payload(etype, k)),
                             Enqueue(queue, {"by": k}))
                 for k, etype in enumerate((first, second))]
        return (run_id, queue), moves

    async def check(world: World, ctx: Any, outcomes: list[str]) -> None:
        run_id, queue = ctx
        won = one_winner(outcomes, "Conflict")
        etype = (first, second)[won]
        run = await world.runs.get(run_id)
        assert run.status == STATUS_OF[etype], f"the winner's {etype} decides the status"
        if etype == "run_completed":
            assert run.output == {"by": won}
        if etype == "run_failed":
            assert run.error == {"by": won}
        log = types(await checked_log(world, run_id))
        assert [t for t in log if t in RUN_TERMINAL] == [etype], "exactly one terminal event"
        assert log[-1] == etype
        assert await drain(world, queue) == [{"by": won}], "only the winner's message"

    await racer.run(scenario, setup, check)


async def test_2_run_completed_twice(racer: Racer) -> None:
    await race_run_terminals(racer, "2 run_completed x2", "run_completed", "run_completed")


async def test_3_run_failed_twice(racer: Racer) -> None:
    await race_run_terminals(racer, "3 run_failed x2", "run_failed", "run_failed")


async def test_3_run_failed_vs_run_completed(racer: Racer) -> None:
    await race_run_terminals(racer, "3 run_failed vs run_completed", "run_failed",
                             "run_completed")


async def test_3_run_cancelled_vs_run_completed(racer: Racer) -> None:
    await race_run_terminals(racer, "3 run_cancelled vs run_completed", "run_cancelled",
                             "run_completed")


# -- 4. hooks against the run's completion ------------------------------------------------

async def assert_hook_gone(world: World, run_id: str, token: str) -> None:
    """No live hook on the run, and its token is free for another run."""
    assert (await world.hooks.list(run_id)).items == [], "live hook on a terminal run"
    with pytest.raises(NotFound):
        await world.hooks.get_by_token(token)
    other = await new_run(world, "running")
    result = await world.events.create(other, NewEvent("hook_created", new_id("hook"),
                                                       {"token": token}))
    assert result.event is not None and result.event.type == "hook_created", \
        "the token is not free after the run ended"
    await world.events.create(other, NewEvent("run_completed"))


def before_terminal(log: list[dict[str, Any]], etype: str) -> None:
    seq = {str(e["type"]): e["seq"] for e in log}
    assert seq[etype] < seq["run_completed"], f"{etype} ordered after the terminal event"


async def test_4_run_completed_vs_hook_created(racer: Racer) -> None:
    async def setup(world: World, i: int) -> tuple[Any, list[CreateEvent]]:
        run_id = await new_run(world, "running")
        token = f"tok-{new_id('hook')}"
        return (run_id, token), [
            CreateEvent(run_id, NewEvent("run_completed")),
            CreateEvent(run_id, NewEvent("hook_created", new_id("hook"), {"token": token}))]

    async def check(world: World, ctx: Any, outcomes: list[str]) -> None:
        run_id, token = ctx
        assert outcomes[0] == WON, "creating a hook cannot stop the run completing"
        assert outcomes[1] in (WON, "Conflict"), "hook_created is ordered first or refused"
        log = await checked_log(world, run_id)
        if outcomes[1] == WON:
            before_terminal(log, "hook_created")
        else:
            assert "hook_created" not in types(log)
        await assert_hook_gone(world, run_id, token)

    await racer.run("4 run_completed vs hook_created", setup, check)


async def test_4_run_completed_vs_hook_received(racer: Racer) -> None:
    async def setup(world: World, i: int) -> tuple[Any, list[CreateEvent]]:
        run_id = await new_run(world, "running")
        hook_id, token = await new_hook(world, run_id)
        return (run_id, token), [
            CreateEvent(run_id, NewEvent("run_completed")),
            CreateEvent(run_id, NewEvent("hook_received", hook_id, {"payload": i}))]

    async def check(world: World, ctx: Any, outcomes: list[str]) -> None:
        run_id, token = ctx
        assert outcomes[0] == WON, "resuming a hook cannot stop the run completing"
        assert outcomes[1] in (WON, "Gone"), "hook_received is ordered first or Gone"
        log = await checked_log(world, run_id)
        if outcomes[1] == WON:
            before_terminal(log, "hook_received")
        else:
            assert "hook_received" not in types(log)
        await assert_hook_gone(world, run_id, token)

    await racer.run("4 run_completed vs hook_received", setup, check)


# -- 5. wait_completed --------------------------------------------------------------------

async def test_5_wait_completed_twice(racer: Racer) -> None:
    async def setup(world: World, i: int) -> tuple[Any, list[CreateEvent]]:
        run_id = await new_run(world, "running")
        wait_id = await new_wait(world, run_id)
        queue = f"race-{run_id}"
        return (run_id, wait_id, queue), [
            CreateEvent(run_id, NewEvent("wait_completed", wait_id), Enqueue(queue, {"by": k}))
            for k in range(2)]

    async def check(world: World, ctx: Any, outcomes: list[str]) -> None:
        run_id, wait_id, queue = ctx
        won = one_winner(outcomes, "Conflict")
        assert (await world.waits.get(run_id, wait_id)).status == "completed"
        assert types(await checked_log(world, run_id)).count("wait_completed") == 1
        assert await drain(world, queue) == [{"by": won}], "one continuation"

    await racer.run("5 wait_completed x2", setup, check)


# -- 6. step terminal events --------------------------------------------------------------

async def race_step_ends(racer: Racer, scenario: str, first: str, second: str) -> None:
    async def setup(world: World, i: int) -> tuple[Any, list[CreateEvent]]:
        run_id = await new_run(world, "running")
        step_id = await new_step(world, run_id, "running")
        queue = f"race-{run_id}"
        return (run_id, step_id, queue), [
            CreateEvent(run_id, NewEvent(etype, step_id, terminal_payload(etype, k)),
                        Enqueue(queue, {"by": k}))
            for k, etype in enumerate((first, second))]

    async def check(world: World, ctx: Any, outcomes: list[str]) -> None:
        run_id, step_id, queue = ctx
        won = one_winner(outcomes, "Conflict")
        etype = (first, second)[won]
        step = await world.steps.get(run_id, step_id)
        assert step.status == STATUS_OF[etype], f"the winner's {etype} decides the status"
        assert step.attempt == 1
        if etype == "step_completed":
            assert (step.output, step.error) == ({"by": won}, None)
        else:
            assert (step.output, step.error) == (None, {"by": won})
        log = types(await checked_log(world, run_id))
        assert [t for t in log if t.startswith("step_") and t not in
                ("step_created", "step_started")] == [etype], "exactly one outcome recorded"
        assert await drain(world, queue) == [{"by": won}], "exactly one continuation"

    await racer.run(scenario, setup, check)


async def test_6_step_completed_twice(racer: Racer) -> None:
    await race_step_ends(racer, "6 step_completed x2", "step_completed", "step_completed")


async def test_6_step_completed_vs_step_failed(racer: Racer) -> None:
    await race_step_ends(racer, "6 step_completed vs step_failed", "step_completed",
                         "step_failed")


async def test_6_step_completed_vs_step_retrying(racer: Racer) -> None:
    await race_step_ends(racer, "6 step_completed vs step_retrying", "step_completed",
                         "step_retrying")


# -- 7. step_started ----------------------------------------------------------------------

async def test_7_step_started_twice(racer: Racer) -> None:
    async def setup(world: World, i: int) -> tuple[Any, list[CreateEvent]]:
        run_id = await new_run(world, "running")
        step_id = await new_step(world, run_id, "pending")
        return (run_id, step_id), [CreateEvent(run_id, NewEvent("step_started", step_id))] * 2

    async def check(world: World, ctx: Any, outcomes: list[str]) -> None:
        run_id, step_id = ctx
        assert outcomes == [WON, WON], "a start on a live step is a new attempt"
        step = await world.steps.get(run_id, step_id)
        assert (step.status, step.attempt) == ("running", 2), "an attempt was lost"
        assert types(await checked_log(world, run_id)).count("step_started") == 2

    await racer.run("7 step_started x2", setup, check)


async def test_7_step_started_vs_step_completed(racer: Racer) -> None:
    async def setup(world: World, i: int) -> tuple[Any, list[CreateEvent]]:
        run_id = await new_run(world, "running")
        step_id = await new_step(world, run_id, "running")
        return (run_id, step_id), [
            CreateEvent(run_id, NewEvent("step_completed", step_id, {"output": i})),
            CreateEvent(run_id, NewEvent("step_started", step_id))]

    async def check(world: World, ctx: Any, outcomes: list[str]) -> None:
        run_id, step_id = ctx
        assert outcomes[0] == WON and outcomes[1] in (WON, "Conflict")
        step = await world.steps.get(run_id, step_id)
        assert step.status == "completed"
        assert step.attempt == 1 + (outcomes[1] == WON), "attempt != number of starts"
        log = types(await checked_log(world, run_id))
        assert log[-1] == "step_completed", "a start after the step ended"

    await racer.run("7 step_started vs step_completed", setup, check)


async def test_7_step_started_after_terminal(racer: Racer) -> None:
    async def setup(world: World, i: int) -> tuple[Any, list[CreateEvent]]:
        run_id = await new_run(world, "running")
        step_id = await new_step(world, run_id, "completed" if i % 2 == 0 else "pending")
        if i % 2:
            await world.events.create(run_id, NewEvent("run_cancelled"))
        before = types(await world.raw_events(run_id))
        return (run_id, step_id, i % 2, before), \
            [CreateEvent(run_id, NewEvent("step_started", step_id))] * 2

    async def check(world: World, ctx: Any, outcomes: list[str]) -> None:
        run_id, step_id, run_over, before = ctx
        expected = "Gone" if run_over else "Conflict"
        assert outcomes == [expected] * 2, \
            "step terminal -> Conflict; step pending on a terminal run -> Gone"
        step = await world.steps.get(run_id, step_id)
        assert step.attempt == (0 if run_over else 1)
        assert types(await checked_log(world, run_id)) == before, "nothing appended"

    await racer.run("7 step_started after terminal", setup, check)


# -- 8. two replays create the same step / wait -------------------------------------------

async def race_created(racer: Racer, scenario: str, etype: str) -> None:
    async def setup(world: World, i: int) -> tuple[Any, list[CreateEvent]]:
        run_id = await new_run(world, "running")
        cid = new_id("step" if etype == "step_created" else "wait")
        data = {"step_name": "s", "input": i} if etype == "step_created" \
            else {"resume_at": "2000-01-01T00:00:00+00:00"}
        queue = f"race-{run_id}"
        key = cid if i % 2 == 0 else None  # odd rounds: only atomicity prevents a 2nd message
        return (run_id, cid, queue), [
            CreateEvent(run_id, NewEvent(etype, cid, data), Enqueue(queue, {"by": k}, key))
            for k in range(2)]

    async def check(world: World, ctx: Any, outcomes: list[str]) -> None:
        run_id, cid, queue = ctx
        won = one_winner(outcomes, "Conflict")
        if etype == "step_created":
            step = await world.steps.get(run_id, cid)
            assert (step.status, step.attempt) == ("pending", 0)
        else:
            assert (await world.waits.get(run_id, cid)).status == "waiting"
        assert types(await checked_log(world, run_id)).count(etype) == 1
        assert await drain(world, queue) == [{"by": won}], "exactly one dispatch"

    await racer.run(scenario, setup, check)


async def test_8_two_replays_create_the_same_step(racer: Racer) -> None:
    await race_created(racer, "8 step_created x2", "step_created")


async def test_8_two_replays_create_the_same_wait(racer: Racer) -> None:
    await race_created(racer, "8 wait_created x2", "wait_created")
