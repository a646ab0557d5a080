"""Crash cases of ``delete_run`` without transactions (docs/worlds/mongo.md, Housekeeping):
the tombstone event is the commit point; a deleter that dies anywhere after it leaves a run
no reader can see, which the next ``settle_leftovers`` removes to the last document."""

from __future__ import annotations

import pytest
from pymongo.asynchronous.collection import AsyncCollection
from worldline import NotFound
from worldline.faults import InjectedFault, inject
from worldline.ids import new_id
from worldline_conformance.helpers import ev, make_hook, make_run, make_step, make_wait
from worldline_mongo import log
from worldline_mongo.store import INDEXES


class Crash(Exception):
    pass


def _die_before_event_insert(monkeypatch) -> None:
    """Make the next writer die after its claim, before inserting its event."""
    async def die(store, doc):
        raise Crash("before the event insert")
    monkeypatch.setattr(log, "insert_event", die)


async def _full_run(world, *, key: str | None = None) -> str:
    """A completed run owning a step, a wait, a hook, a stream and messages."""
    run_id = await make_run(world, "running", idempotency_key=key)
    await world.queue.enqueue("wf", {"run_id": run_id})
    await make_step(world, run_id, "completed")
    await make_wait(world, run_id, resume_in=3600)
    await make_hook(world, run_id)
    await world.streams.write(run_id, "out", "chunk")
    await world.events.create(run_id, ev("run_completed", output=1))
    return run_id


async def _invisible(world, run_id: str) -> None:
    with pytest.raises(NotFound):
        await world.runs.get(run_id)
    assert run_id not in [r.run_id for r in (await world.runs.list()).items]
    for api in (world.events, world.steps, world.waits, world.hooks):
        assert (await api.list(run_id)).items == []
    assert await world.streams.list(run_id) == []
    assert run_id not in await world.housekeeping.queued_run_ids()


async def _leftovers(world, run_id: str) -> dict[str, int]:
    """Documents naming the run, per collection (nothing may remain after a deletion)."""
    store = await world.store()
    counts = {name: await store.db[name].count_documents({"run_id": run_id})
              for name in INDEXES}
    return {name: n for name, n in counts.items() if n}


@pytest.mark.parametrize("deletes_before_crash", [0, 1, 2, 5, 7, 8, 9])
async def test_a_deleter_dying_after_the_commit_leaves_nothing_visible(
        open_world, monkeypatch, deletes_before_crash):
    deleter, reader = await open_world(), await open_world()
    run_id = await _full_run(deleter, key=f"k-{new_id('run')}")
    keep = await _full_run(deleter)
    real_one, real_many = AsyncCollection.delete_one, AsyncCollection.delete_many
    done = 0

    def dying(real):
        async def delete(self, *args, **kwargs):
            nonlocal done
            if done == deletes_before_crash:
                raise Crash(f"after {done} deletes")
            done += 1
            return await real(self, *args, **kwargs)
        return delete
    monkeypatch.setattr(AsyncCollection, "delete_one", dying(real_one))
    monkeypatch.setattr(AsyncCollection, "delete_many", dying(real_many))
    with pytest.raises(Crash):
        await deleter.housekeeping.delete_run(run_id)
    monkeypatch.undo()
    await _invisible(reader, run_id)
    assert await reader.housekeeping.settle_leftovers() >= 1
    assert await _leftovers(reader, run_id) == {}
    assert await reader.housekeeping.settle_leftovers() == 0
    assert (await reader.runs.get(keep)).status == "completed"
    assert len((await reader.steps.list(keep)).items) == 1


async def test_a_writer_that_loses_its_seq_to_the_tombstone_gets_not_found(open_world):
    deleter, writer = await open_world(), await open_world()
    run_id = await make_run(deleter, "running")
    step_id = await make_step(deleter, run_id, "running")
    await deleter.events.create(run_id, ev("run_completed", output=1))
    with inject("reconcile.mid_delete"), pytest.raises(InjectedFault):
        await deleter.housekeeping.delete_run(run_id)  # tombstone in, not projected
    store = await writer.store()
    assert not (await store.runs.find_one({"_id": run_id})).get("deleted")
    with pytest.raises(NotFound):  # allowed after run_completed, but the run is gone
        await writer.events.create(run_id, ev("step_completed", step_id, output=2))
    assert await writer.housekeeping.delete_run(run_id) is False  # finishes the deletion
    assert await _leftovers(writer, run_id) == {}


async def test_a_late_step_completion_wins_or_loses_the_seq_whole(open_world):
    world = await open_world()
    run_id = await make_run(world, "running")
    step_id = await make_step(world, run_id, "running")
    await world.events.create(run_id, ev("run_completed", output=1))
    await world.events.create(run_id, ev("step_completed", step_id, output=2))
    assert await world.housekeeping.delete_run(run_id) is True
    assert await _leftovers(world, run_id) == {}


async def test_the_key_of_a_run_being_deleted_is_free(open_world):
    world = await open_world()
    run_id = await make_run(world, "completed", idempotency_key="k")
    with inject("reconcile.mid_delete"), pytest.raises(InjectedFault):
        await world.housekeeping.delete_run(run_id)
    again = await make_run(world, "pending", idempotency_key="k")
    assert again != run_id and (await world.runs.get(again)).idempotency_key == "k"
    assert await world.housekeeping.settle_leftovers() == 1
    assert (await world.runs.get(again)).status == "pending"


async def test_settle_leftovers_removes_dead_claims_only(open_world, monkeypatch):
    world = await open_world()
    store = await world.store()
    failed = await make_run(world, "failed", idempotency_key="k-failed")  # key released
    await make_run(world, "completed", idempotency_key="k-kept")
    running = await make_run(world, "running", idempotency_key="k-running")
    disposed, _ = await make_hook(world, running, token="t-disposed")
    await world.events.create(running, ev("hook_disposed", disposed))
    await make_hook(world, running, token="t-live")

    _die_before_event_insert(monkeypatch)
    with pytest.raises(Crash):  # a claim whose owner died; then its seq goes to another event
        await world.events.create(running, ev("hook_created", "hook_x", token="t-dead"))
    monkeypatch.undo()
    await make_step(world, running)
    assert await world.housekeeping.settle_leftovers() == 3
    assert {d["_id"] async for d in store.run_keys.find()} == {"k-kept", "k-running"}
    assert {d["_id"] async for d in store.hook_tokens.find()} == {"t-live"}
    assert await world.housekeeping.settle_leftovers() == 0
    assert (await world.runs.get(failed)).status == "failed"


async def test_settle_leftovers_helps_in_the_claim_of_a_crashed_start(open_world, monkeypatch):
    world = await open_world()
    store = await world.store()
    run_id = new_id("run")

    _die_before_event_insert(monkeypatch)
    with pytest.raises(Crash):
        await world.events.create(run_id, ev("run_created", workflow_name="wf",
                                             idempotency_key="k"))
    monkeypatch.undo()
    assert await world.housekeeping.settle_leftovers() == 0  # seq 1 was free: it committed
    assert (await world.runs.get(run_id)).idempotency_key == "k"
    assert await store.run_keys.count_documents({}) == 1


async def test_messages_from_before_the_run_id_field_are_found(open_world):
    world = await open_world()
    store = await world.store()
    message_id = await world.queue.enqueue("wf", {"run_id": "run_old"})
    await store.messages.update_one({"_id": message_id}, {"$unset": {"run_id": ""}})
    again = await open_world()  # open() gives the field to older messages
    assert await again.housekeeping.queued_run_ids() == {"run_old"}
    assert (await store.messages.find_one({"_id": message_id}))["run_id"] == "run_old"
