"""SPEC §4: gets, filtered lists, cursor pagination and ``with_data=False``."""

from __future__ import annotations

from typing import Any

import pytest
from worldline import NotFound, ValidationError
from worldline.cursor import encode_cursor
from worldline.ids import new_id

from ..helpers import ERROR, ev, make_hook, make_run, make_step, make_wait


async def walk(list_page, *, limit, order="asc", **kw):
    """Every item of a paginated list, page by page; checks page sizes."""
    items, cursor, pages = [], None, 0
    while True:
        page = await list_page(limit=limit, cursor=cursor, order=order, **kw)
        assert len(page.items) <= limit
        items.extend(page.items)
        pages += 1
        assert pages < 1000, "pagination does not end"
        if page.next_cursor is None:
            return items
        assert len(page.items) == limit, "a non-final page must be full"
        cursor = page.next_cursor


def ids(items, attr):
    return [getattr(item, attr) for item in items]


async def test_runs_get_and_not_found(world):
    run_id = await make_run(world, "completed", workflow_name="w-get", input={"i": 1})
    run = await world.runs.get(run_id)
    assert (run.workflow_name, run.status, run.input, run.output) == \
        ("w-get", "completed", {"i": 1}, {"ok": True})
    with pytest.raises(NotFound) as info:
        await world.runs.get(new_id("run"))
    assert info.value.status == 404


async def test_runs_list_filters_and_pagination(world):
    made = {}
    for name in ("alpha", "beta"):
        for status in ("pending", "running", "completed", "failed", "cancelled"):
            run_id = await make_run(world, status, workflow_name=name)
            made[run_id] = (name, status)
    everything = sorted(made)
    assert ids((await world.runs.list()).items, "run_id") == everything
    for limit in (1, 3, 10, 11):
        assert ids(await walk(world.runs.list, limit=limit), "run_id") == everything
        assert ids(await walk(world.runs.list, limit=limit, order="desc"), "run_id") == \
            everything[::-1]
    alpha = [r for r in everything if made[r][0] == "alpha"]
    assert ids(await walk(world.runs.list, limit=2, workflow_name="alpha"), "run_id") == alpha
    failed = [r for r in everything if made[r][1] == "failed"]
    assert ids(await walk(world.runs.list, limit=1, status="failed"), "run_id") == failed
    both = await world.runs.list(workflow_name="beta", status="running")
    assert [(r.workflow_name, r.status) for r in both.items] == [("beta", "running")]
    assert (await world.runs.list(workflow_name="nobody")).items == []


async def test_runs_with_data_false_leaves_payloads_out(world):
    done = await make_run(world, "completed", input={"big": "x" * 100})
    failed = await make_run(world, "failed", input=[1])
    for run_id in (done, failed):
        full = await world.runs.get(run_id)
        lean = await world.runs.get(run_id, with_data=False)
        assert (lean.input, lean.output, lean.error) == (None, None, None)
        assert (lean.run_id, lean.status, lean.workflow_name) == \
            (full.run_id, full.status, full.workflow_name)
    for run in (await world.runs.list(with_data=False)).items:
        assert (run.input, run.output, run.error) == (None, None, None)
    assert (await world.runs.get(failed)).error == ERROR


async def test_steps_get_list_and_pagination(world):
    run_id = await make_run(world, "running")
    other = await make_run(world, "running")
    await make_step(world, other)
    made = [await make_step(world, run_id, "completed", step_name=f"s{i}", input=i)
            for i in range(7)]
    step = await world.steps.get(run_id, made[3])
    assert (step.step_name, step.input, step.output) == ("s3", 3, {"v": 1})
    lean = await world.steps.get(run_id, made[3], with_data=False)
    assert (lean.input, lean.output, lean.error, lean.step_name) == (None, None, None, "s3")
    full = (await world.steps.list(run_id)).items
    assert sorted(ids(full, "step_id")) == sorted(made)
    keys = [(s.created_at, s.step_id) for s in full]
    assert keys == sorted(keys), "steps are listed by (created_at, id)"
    for limit in (1, 2, 7, 8):
        assert ids(await walk(world.steps.list, run_id=run_id, limit=limit), "step_id") == \
            ids(full, "step_id")
        assert ids(await walk(world.steps.list, run_id=run_id, limit=limit, order="desc"),
                   "step_id") == ids(full, "step_id")[::-1]
    for s in (await world.steps.list(run_id, with_data=False)).items:
        assert (s.input, s.output, s.error) == (None, None, None)
    with pytest.raises(NotFound):
        await world.steps.get(run_id, new_id("step"))
    with pytest.raises(NotFound):
        await world.steps.get(other, made[0])


async def test_events_list_is_ascending_dense_and_paginated(world, raw_events):
    run_id = await make_run(world, "running", input={"i": 1})
    for _ in range(4):
        await make_step(world, run_id, "completed")
    events = (await world.events.list(run_id)).items
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    raw = await raw_events(run_id)
    assert [(e.seq, e.type, e.correlation_id) for e in events] == \
        [(r["seq"], r["type"], r["correlation_id"]) for r in raw]
    assert events[0].type == "run_created" and events[0].data["input"] == {"i": 1}
    for limit in (1, 4, len(events)):
        assert [e.seq for e in await walk(world.events.list, run_id=run_id, limit=limit)] == \
            [e.seq for e in events]
        assert [e.seq for e in await walk(world.events.list, run_id=run_id, limit=limit,
                                          order="desc")] == [e.seq for e in events][::-1]
    for e in (await world.events.list(run_id, with_data=False)).items:
        assert e.data == {}
    assert (await world.events.list(new_id("run"))).items == []


async def test_waits_get_and_list(world):
    run_id = await make_run(world, "running")
    made = [await make_wait(world, run_id, resume_in=i) for i in range(5)]
    await world.events.create(run_id, ev("wait_completed", made[0]))
    listed = (await world.waits.list(run_id)).items
    assert sorted(ids(listed, "wait_id")) == sorted(made)
    assert {w.wait_id: w.status for w in listed}[made[0]] == "completed"
    assert ids(await walk(world.waits.list, run_id=run_id, limit=2), "wait_id") == \
        ids(listed, "wait_id")
    assert ids(await walk(world.waits.list, run_id=run_id, limit=3, order="desc"),
               "wait_id") == ids(listed, "wait_id")[::-1]
    assert (await world.waits.get(run_id, made[1])).status == "waiting"
    with pytest.raises(NotFound):
        await world.waits.get(run_id, new_id("wait"))


async def test_hooks_get_by_token_and_list(world):
    run_id = await make_run(world, "running")
    made = [await make_hook(world, run_id) for _ in range(5)]
    listed = (await world.hooks.list(run_id)).items
    assert sorted(ids(listed, "hook_id")) == sorted(h for h, _ in made)
    assert ids(await walk(world.hooks.list, run_id=run_id, limit=2), "hook_id") == \
        ids(listed, "hook_id")
    assert ids(await walk(world.hooks.list, run_id=run_id, limit=4, order="desc"),
               "hook_id") == ids(listed, "hook_id")[::-1]
    hook_id, token = made[2]
    assert (await world.hooks.get(run_id, hook_id)).token == token
    by_token = await world.hooks.get_by_token(token)
    assert (by_token.run_id, by_token.hook_id) == (run_id, hook_id)
    with pytest.raises(NotFound):
        await world.hooks.get_by_token("no-such-token")
    with pytest.raises(NotFound):
        await world.hooks.get(run_id, new_id("hook"))


def _lists(world, run_id):
    return {"runs": world.runs.list,
            "steps": lambda **kw: world.steps.list(run_id, **kw),
            "events": lambda **kw: world.events.list(run_id, **kw),
            "waits": lambda **kw: world.waits.list(run_id, **kw),
            "hooks": lambda **kw: world.hooks.list(run_id, **kw)}


BAD_PAGE_ARGS: list[dict[str, Any]] = [
    {"limit": 0}, {"limit": -1}, {"limit": 10_001}, {"limit": "5"}, {"limit": True},
    {"limit": 2.5}, {"order": "up"}, {"order": None}, {"cursor": "!!not a cursor!!"},
    {"cursor": encode_cursor(1, 2, 3, 4)}, {"cursor": "bnVsbA"}]


@pytest.mark.parametrize("kind", ["runs", "steps", "events", "waits", "hooks"])
async def test_bad_page_arguments_are_validation_errors(world, kind):
    run_id = await make_run(world, "running")
    list_page = _lists(world, run_id)[kind]
    for args in BAD_PAGE_ARGS:
        with pytest.raises(ValidationError) as info:
            await list_page(**args)
        assert info.value.status == 400, args


async def test_bad_run_status_filter_is_validation_error(world):
    with pytest.raises(ValidationError):
        await world.runs.list(status="sleeping")
