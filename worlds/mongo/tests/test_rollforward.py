"""Crash cases of the commit protocol (docs/worlds/mongo.md): a writer that dies between its
commit (the event insert) and the projections, or between a claim and its event, leaves
nothing a reader can tell apart from a finished write."""

from __future__ import annotations

import pytest
from worldline import Enqueue, NewEvent, NotFound
from worldline.ids import new_id
from worldline_mongo import log
from worldline_mongo.store import event_key


class Crash(Exception):
    pass


@pytest.fixture
def crash_after_commit(monkeypatch):
    """Make the next writer die right after its event insert won (before any projection)."""
    def install():
        async def die(store, doc):
            raise Crash(doc["type"])
        monkeypatch.setattr(log, "apply", die)
    return install


async def _running_run(world) -> str:
    run_id = new_id("run")
    await world.events.create(run_id, NewEvent("run_created", data={"workflow_name": "wf"}))
    await world.events.create(run_id, NewEvent("run_started"))
    return run_id


async def test_step_created_committed_but_not_projected(open_world, crash_after_commit,
                                                         monkeypatch):
    writer, reader = await open_world(), await open_world()
    run_id = await _running_run(writer)
    crash_after_commit()
    with pytest.raises(Crash):
        await writer.events.create(run_id, NewEvent("step_created", "step_a", {"step_name": "s"}),
                                   enqueue=Enqueue("steps", {"step": "step_a"}, "step_a"))
    monkeypatch.undo()
    store = await reader.store()
    assert (await store.runs.find_one({"_id": run_id}))["last_seq"] == 2  # projection behind
    assert await store.messages.count_documents({}) == 0
    step = await reader.steps.get(run_id, "step_a")  # the read rolls forward
    assert step.status == "pending" and step.step_name == "s"
    assert (await reader.runs.get(run_id)).last_seq == 3
    assert [m.payload for m in await reader.queue.lease(["steps"])] == [{"step": "step_a"}]
    # the log is dense and the next writer continues at seq 4
    res = await reader.events.create(run_id, NewEvent("step_started", "step_a"))
    assert res.event.seq == 4 and res.entity.attempt == 1
    assert [e["seq"] for e in await reader.raw_events(run_id)] == [1, 2, 3, 4]


async def test_run_created_committed_but_not_projected(open_world, crash_after_commit,
                                                       monkeypatch):
    writer, reader = await open_world(), await open_world()
    run_id = new_id("run")
    crash_after_commit()
    with pytest.raises(Crash):
        await writer.events.create(run_id, NewEvent("run_created", data={"workflow_name": "wf"}),
                                   enqueue=Enqueue("wf", {"run_id": run_id}))
    monkeypatch.undo()
    store = await reader.store()
    assert await store.runs.find_one({"_id": run_id}) is None
    assert await reader.recover() == 0  # too recent for the sweep: the writer may be alive
    assert await log.recover(store, older_than=0.0) == 1
    assert (await reader.runs.get(run_id)).status == "pending"
    assert [m.payload for m in await reader.queue.lease(["wf"])] == [{"run_id": run_id}]
    assert (await reader.runs.list(workflow_name="wf")).items[0].run_id == run_id


async def test_terminal_event_not_projected_still_refuses_and_clears(open_world,
                                                                     crash_after_commit,
                                                                     monkeypatch):
    writer, reader = await open_world(), await open_world()
    run_id = await _running_run(writer)
    await writer.events.create(run_id, NewEvent("hook_created", "hook_a", {"token": "tok"}))
    crash_after_commit()
    with pytest.raises(Crash):
        await writer.events.create(run_id, NewEvent("run_completed", data={"output": 1}))
    monkeypatch.undo()
    # the token is free for another run although the hook projection was never cleared
    other = await _running_run(reader)
    res = await reader.events.create(other, NewEvent("hook_created", "hook_b", {"token": "tok"}))
    assert res.event.type == "hook_created"
    assert (await reader.runs.get(run_id)).status == "completed"
    with pytest.raises(NotFound):
        await reader.hooks.get(run_id, "hook_a")
    assert (await reader.hooks.get_by_token("tok")).run_id == other


async def test_late_replay_of_an_old_event_changes_nothing(open_world):
    world = await open_world()
    store = await world.store()
    run_id = await _running_run(world)
    await world.events.create(run_id, NewEvent("hook_created", "hook_a", {"token": "t1"}))
    await world.events.create(run_id, NewEvent("hook_disposed", "hook_a"))
    await world.events.create(run_id, NewEvent("step_created", "step_a", {"step_name": "s"}))
    await world.events.create(run_id, NewEvent("step_started", "step_a"))
    for seq in (3, 5):  # a stalled roller wakes up and re-applies hook_created, step_created
        await log.apply(store, await store.events.find_one({"_id": event_key(run_id, seq)}))
    with pytest.raises(NotFound):
        await world.hooks.get(run_id, "hook_a")
    assert (await world.steps.get(run_id, "step_a")).status == "running"
    assert (await world.runs.get(run_id)).last_seq == 6


async def test_claim_without_event_is_helped_in_by_the_next_claimant(open_world, monkeypatch):
    """Writer A dies after claiming a token, before inserting its event: writer B commits A's
    prepared event for it (A's decision still holds at that seq), so B sees a conflict."""
    a, b = await open_world(), await open_world()
    run_a, run_b = await _running_run(a), await _running_run(a)

    async def die(store, doc):
        raise Crash("before the event insert")
    monkeypatch.setattr(log, "insert_event", die)
    with pytest.raises(Crash):
        await a.events.create(run_a, NewEvent("hook_created", "hook_a", {"token": "tok"}))
    monkeypatch.undo()
    assert await a.raw_events(run_a) and len(await a.raw_events(run_a)) == 2
    res = await b.events.create(run_b, NewEvent("hook_created", "hook_b", {"token": "tok"}))
    assert res.event.type == "hook_conflict" and res.event.data["owner_run_id"] == run_a
    assert [e["type"] for e in await b.raw_events(run_a)][-1] == "hook_created"


async def test_claim_whose_seq_was_taken_is_dead(open_world, monkeypatch):
    """Writer A dies after claiming a token; its run moves on (seq taken by another event),
    so A's claim can never commit and the token goes to the next claimant."""
    a, b = await open_world(), await open_world()
    run_a, run_b = await _running_run(a), await _running_run(a)

    async def die(store, doc):
        raise Crash("before the event insert")
    monkeypatch.setattr(log, "insert_event", die)
    with pytest.raises(Crash):
        await a.events.create(run_a, NewEvent("hook_created", "hook_a", {"token": "tok"}))
    monkeypatch.undo()
    await b.events.create(run_a, NewEvent("step_created", "step_a", {"step_name": "s"}))
    res = await b.events.create(run_b, NewEvent("hook_created", "hook_b", {"token": "tok"}))
    assert res.event.type == "hook_created"
    assert (await b.hooks.get_by_token("tok")).run_id == run_b
    assert "hook_created" not in [e["type"] for e in await b.raw_events(run_a)]


async def test_idempotency_claim_of_a_crashed_start_resolves_to_its_run(open_world, monkeypatch):
    a, b = await open_world(), await open_world()
    first, second = new_id("run"), new_id("run")
    created = NewEvent("run_created", data={"workflow_name": "wf", "idempotency_key": "k"})

    async def die(store, doc):
        raise Crash("before the event insert")
    monkeypatch.setattr(log, "insert_event", die)
    with pytest.raises(Crash):
        await a.events.create(first, created, enqueue=Enqueue("wf", {"run_id": first}))
    monkeypatch.undo()
    from worldline import Conflict
    with pytest.raises(Conflict) as err:
        await b.events.create(second, created)
    assert err.value.existing_run_id == first
    assert [m.payload for m in await b.queue.lease(["wf"])] == [{"run_id": first}]
