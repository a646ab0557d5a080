"""The compare-and-swap in ``events.create``: a decision taken on a state that moved before
the APPEND script ran is refused by the script (nothing written) and re-decided.

The run's ``seq`` guards the run and everything it owns; the token and idempotency
holders belong to *other* runs and have their own guards — both are tested here with a
forced interleaving and with barrier-released races over many rounds."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis_test_support import created, interleave, record_appends, running_run
from worldline import Conflict, NewEvent
from worldline.ids import new_id

ROUNDS = 40


async def test_stale_run_decision_is_refused_and_redecided(make_world):
    world, rival = await make_world(), await make_world()
    run_id = await running_run(world)
    calls = interleave(world, lambda: rival.events.create(
        run_id, NewEvent("run_failed", data={"error": {"message": "boom"}})))
    with pytest.raises(Conflict) as info:
        await world.events.create(run_id, NewEvent("run_completed", data={"output": 1}))
    assert calls["n"] == 2, "the stale decision was not sent back for a re-read"
    assert info.value.state == "failed"
    assert [e["type"] for e in await world.raw_events(run_id)] == [
        "run_created", "run_started", "run_failed"]


async def test_stale_token_decision_is_refused(make_world):
    world, rival = await make_world(), await make_world()
    mine, theirs = await running_run(world), await running_run(world)
    calls = interleave(world, lambda: rival.events.create(
        theirs, NewEvent("hook_created", "hook_theirs", {"token": "tok"})))
    result = await world.events.create(mine, NewEvent("hook_created", "hook_mine",
                                                      {"token": "tok"}))
    assert calls["n"] == 2
    assert result.event is not None and result.event.type == "hook_conflict"
    assert result.event.data["owner_run_id"] == theirs
    assert (await world.hooks.get_by_token("tok")).run_id == theirs


async def test_stale_idempotency_decision_is_refused(make_world):
    world, rival = await make_world(), await make_world()
    first, second = new_id("run"), new_id("run")
    calls = interleave(world, lambda: rival.events.create(first, created(idempotency_key="k")))
    with pytest.raises(Conflict) as info:
        await world.events.create(second, created(idempotency_key="k"))
    assert calls["n"] == 2
    assert info.value.existing_run_id == first
    assert await world.raw_events(second) == []


async def test_a_resent_append_is_recognised_not_doubled(rworld):
    run_id = await running_run(rworld)
    original, sent = record_appends(rworld)
    await rworld.events.create(run_id, NewEvent("run_completed", data={"output": 1}))
    reply = await original(**sent[0])  # what redis-py does after a lost reply
    assert [r.decode() for r in reply] == ["ok", "resent"]
    assert [e["type"] for e in await rworld.raw_events(run_id)] == [
        "run_created", "run_started", "run_completed"]


async def _race(*calls: Any) -> list[Any]:
    barrier = asyncio.Barrier(len(calls))

    async def go(call: Any) -> Any:
        await barrier.wait()
        try:
            return await call()
        except Conflict as exc:
            return exc

    return await asyncio.gather(*(go(c) for c in calls))


async def test_token_race_across_runs_has_one_holder(make_world):
    a, b = await make_world(), await make_world()
    for n in range(ROUNDS):
        r1, r2 = await running_run(a), await running_run(a)
        token = f"tok-{n}"
        results = await _race(
            lambda r1=r1, t=token: a.events.create(r1, NewEvent("hook_created", "hook_1",
                                                                {"token": t})),
            lambda r2=r2, t=token: b.events.create(r2, NewEvent("hook_created", "hook_2",
                                                                {"token": t})))
        types = sorted(r.event.type for r in results)
        assert types == ["hook_conflict", "hook_created"], (n, types)
        winner = next(r for r in results if r.event.type == "hook_created")
        assert (await a.hooks.get_by_token(token)).run_id == winner.run.run_id


async def test_idempotency_race_across_runs_has_one_holder(make_world):
    a, b = await make_world(), await make_world()
    for n in range(ROUNDS):
        r1, r2 = new_id("run"), new_id("run")
        key = f"key-{n}"
        results = await _race(lambda r1=r1, k=key: a.events.create(r1, created(
                                  idempotency_key=k)),
                              lambda r2=r2, k=key: b.events.create(r2, created(
                                  idempotency_key=k)))
        losers = [r for r in results if isinstance(r, Conflict)]
        winners = [r for r in results if not isinstance(r, Conflict)]
        assert len(losers) == 1 and len(winners) == 1, (n, results)
        assert losers[0].existing_run_id == winners[0].run.run_id


async def test_terminal_run_against_hook_creation_leaves_no_live_hook(make_world):
    a, b = await make_world(), await make_world()
    for n in range(ROUNDS):
        run_id = await running_run(a)
        token = f"t-{n}"
        results = await _race(
            lambda r=run_id: a.events.create(r, NewEvent("run_completed")),
            lambda r=run_id, t=token: b.events.create(r, NewEvent("hook_created", "hook_x",
                                                                  {"token": t})))
        assert not isinstance(results[0], Exception), results
        types = [e["type"] for e in await a.raw_events(run_id)]
        assert types[-1] == "run_completed", types
        assert (await a.hooks.list(run_id)).items == []
        assert await a.client.hget(a.keys.tokens, token) is None
