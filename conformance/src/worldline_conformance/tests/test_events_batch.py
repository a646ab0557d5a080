"""``events.create_batch`` (worlds with ``batch_events``): several events of one run in one
atomic unit, decided in order; all written or none. :func:`worldline.batch.create_batch`
gives every world the same call (one event at a time where the world has no batches)."""

from __future__ import annotations

import pytest
from worldline import Conflict, Enqueue, Gone, ValidationError
from worldline.batch import create_batch
from worldline.errors import LogMoved
from worldline.ids import new_id
from worldline.model import Step

from ..helpers import ERROR, ev, make_run, types_of


def step_pair(step_id: str, queue: str = "steps") -> tuple[list, list]:
    return ([ev("step_created", step_id, step_name="s", input=None),
             ev("step_started", step_id)],
            [Enqueue(queue, {"run_id": "r", "step_id": step_id}, step_id), None])


async def queued(world, queue: str) -> list:
    return await world.queue.lease([queue], visibility_timeout=5, limit=10)


async def test_batch_writes_every_event_in_order(world, raw_events):
    run_id = await make_run(world, "running")
    step_id = new_id("step")
    events, messages = step_pair(step_id)
    results = await create_batch(world, run_id, events, messages)
    written = [r.event for r in results if r.event is not None]
    assert [(e.type, e.seq) for e in written] == [("step_created", 3), ("step_started", 4)]
    assert isinstance(started := results[1].entity, Step) and started.attempt == 1
    assert results[1].run.last_seq == 4
    assert await types_of(raw_events, run_id) == ["run_created", "run_started",
                                                  "step_created", "step_started"]
    step = await world.steps.get(run_id, step_id)
    assert (step.status, step.attempt) == ("running", 1)
    assert [m.idempotency_key for m in await queued(world, "steps")] == [step_id]


@pytest.mark.requires("batch_events")
async def test_a_refused_event_writes_none_of_the_batch(world, raw_events):
    run_id = await make_run(world, "running")
    step_id = new_id("step")
    events = [ev("step_created", step_id, step_name="s", input=None),
              ev("run_completed", output=None), ev("step_started", step_id)]
    messages = [Enqueue("steps", {"run_id": run_id}, step_id), None, None]
    with pytest.raises(Gone):  # step_started after run_completed
        await create_batch(world, run_id, events, messages)
    assert await types_of(raw_events, run_id) == ["run_created", "run_started"]
    assert (await world.runs.get(run_id)).status == "running"
    assert (await world.steps.list(run_id)).items == []
    assert await queued(world, "steps") == [], "the message of an unwritten event was sent"


@pytest.mark.requires("batch_events")
async def test_a_conflict_on_the_first_event_writes_nothing(world, raw_events):
    run_id = await make_run(world, "running")
    step_id = new_id("step")
    await world.events.create(run_id, ev("step_created", step_id, step_name="s", input=None))
    events, messages = step_pair(step_id)
    with pytest.raises(Conflict):
        await create_batch(world, run_id, events, messages)
    assert await types_of(raw_events, run_id) == ["run_created", "run_started", "step_created"]
    assert (await world.steps.get(run_id, step_id)).attempt == 0


@pytest.mark.requires("batch_events")
@pytest.mark.parametrize("events, enqueues", [
    ([], None),
    ("not a list", None),
    ([ev("step_started", "step_x")], [None, None]),
    ([ev("run_failed")], None),  # run_failed needs an error
    ([ev("run_failed", error=ERROR)], ["not an Enqueue"]),
])
async def test_bad_batches_are_validation_errors(world, raw_events, events, enqueues):
    run_id = await make_run(world, "running")
    with pytest.raises(ValidationError):
        await world.events.create_batch(run_id, events, enqueues=enqueues)
    assert await types_of(raw_events, run_id) == ["run_created", "run_started"]


@pytest.mark.requires("batch_events")
async def test_expect_seq_at_the_end_of_the_log_writes_the_batch(world, raw_events):
    run_id = await make_run(world, "running")
    step_id = new_id("step")
    events, messages = step_pair(step_id)
    results = await world.events.create_batch(run_id, events, enqueues=messages,
                                              expect_seq=2)
    assert [r.event.seq for r in results if r.event is not None] == [3, 4]


@pytest.mark.requires("batch_events")
@pytest.mark.parametrize("expect_seq", [1, 3])
async def test_expect_seq_elsewhere_is_log_moved_and_writes_nothing(world, raw_events,
                                                                     expect_seq):
    run_id = await make_run(world, "running")
    step_id = new_id("step")
    events, messages = step_pair(step_id)
    with pytest.raises(LogMoved) as info:
        await world.events.create_batch(run_id, events, enqueues=messages,
                                        expect_seq=expect_seq)
    assert (info.value.expected, info.value.actual) == (expect_seq, 2)
    assert isinstance(info.value, Conflict)
    assert await types_of(raw_events, run_id) == ["run_created", "run_started"]
    assert (await world.steps.list(run_id)).items == []
    assert await queued(world, "steps") == [], "the message of an unwritten event was sent"


@pytest.mark.requires("batch_events")
@pytest.mark.parametrize("expect_seq", [-1, True, "2", 2.0])
async def test_bad_expect_seq_is_a_validation_error(world, raw_events, expect_seq):
    run_id = await make_run(world, "running")
    events, messages = step_pair(new_id("step"))
    with pytest.raises(ValidationError, match="expect_seq"):
        await world.events.create_batch(run_id, events, enqueues=messages,
                                        expect_seq=expect_seq)
    assert await types_of(raw_events, run_id) == ["run_created", "run_started"]
