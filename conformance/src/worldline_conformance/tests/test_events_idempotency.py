"""SPEC §3/§7: an idempotency key on ``run_created`` maps to one live or succeeded run."""

from __future__ import annotations

import pytest
from worldline import Conflict, NewEvent, NotFound
from worldline.ids import new_id

from ..helpers import assert_appended, make_run


def created(key: str) -> NewEvent:
    return NewEvent("run_created", data={"workflow_name": "wf", "idempotency_key": key})


@pytest.mark.parametrize("status", ["pending", "running", "completed"])
async def test_key_held_by_live_or_completed_run_is_conflict(world, raw_events, status):
    key = f"key-{new_id('run')}"
    holder = await make_run(world, status, idempotency_key=key)
    run_id = new_id("run")
    with pytest.raises(Conflict) as info:
        await world.events.create(run_id, created(key))
    err = info.value
    assert err.status == 409 and err.existing_run_id == holder
    assert err.run_id == run_id and holder in str(err)
    assert await raw_events(run_id) == []
    with pytest.raises(NotFound):
        await world.runs.get(run_id)
    assert (await world.runs.get(holder)).idempotency_key == key


@pytest.mark.parametrize("status", ["failed", "cancelled"])
async def test_failed_or_cancelled_run_releases_its_key(world, raw_events, status):
    key = f"key-{new_id('run')}"
    await make_run(world, status, idempotency_key=key)
    run_id = new_id("run")
    result = await assert_appended(world, raw_events, run_id, created(key))
    assert result.run.idempotency_key == key
    third = new_id("run")  # the new run now holds the key
    with pytest.raises(Conflict) as info:
        await world.events.create(third, created(key))
    assert info.value.existing_run_id == run_id
    assert await raw_events(third) == []


async def test_different_keys_do_not_collide(world, raw_events):
    await make_run(world, idempotency_key="key-a")
    run_id = new_id("run")
    await assert_appended(world, raw_events, run_id, created("key-b"))
    await assert_appended(world, raw_events, new_id("run"),
                          NewEvent("run_created", data={"workflow_name": "wf"}))
