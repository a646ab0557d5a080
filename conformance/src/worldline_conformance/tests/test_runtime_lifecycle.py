"""End-to-end runtime behaviour: hooks, cancel, idempotent start, serialisation errors."""

from __future__ import annotations

import uuid

import pytest
import worldline as wl

from .. import runtime_app as app
from ..runtime_app import PROBE
from .runtime_helpers import event_types, has_event, wait_for, worker  # noqa: F401

pytestmark = pytest.mark.usefixtures("worker")


def _token() -> str:
    return f"tok-{uuid.uuid4().hex}"


async def _hook_live(world, token):
    try:
        await world.hooks.get_by_token(token)
        return True
    except wl.NotFound:
        return False


async def test_hook_receives_several_payloads(world):
    token = _token()
    handle = await wl.start(app.hooks_wf, token, 3, world=world)
    await wait_for(lambda: _hook_live(world, token))
    for payload in ({"n": 1}, [2], "three"):
        assert await wl.resume_hook(token, payload, world=world) == handle.run_id
    assert await handle.result(timeout=20) == [{"n": 1}, [2], "three"]
    types = [t for t, _ in await event_types(world, handle.run_id)]
    assert types.count("hook_received") == 3 and types.count("hook_created") == 1
    assert not await _hook_live(world, token)  # the run is over: token free


async def test_hook_payload_before_await_is_kept(world):
    token = _token()
    handle = await wl.start(app.hook_early_wf, token, world=world)
    await wait_for(lambda: _hook_live(world, token))
    await wl.resume_hook(token, "first", world=world)
    await wl.resume_hook(token, "second", world=world)
    PROBE.gate.set()
    assert await handle.result(timeout=20) == ["first", "second"]


async def test_resume_unknown_token_is_not_found(world):
    with pytest.raises(wl.NotFound, match="no-such-token"):
        await wl.resume_hook("no-such-token", 1, world=world)


async def test_cancel_running_run_starts_no_more_steps(world):
    token = _token()
    handle = await wl.start(app.wait_hook_wf, token, world=world)
    await wait_for(lambda: _hook_live(world, token))
    await handle.cancel("test")
    await handle.cancel()  # idempotent
    with pytest.raises(wl.RunCancelled):
        await handle.result(timeout=20)
    with pytest.raises((wl.NotFound, wl.Gone)):
        await wl.resume_hook(token, 41, world=world)
    types = [t for t, _ in await event_types(world, handle.run_id)]
    assert "step_created" not in types and types[-1] == "run_cancelled"


async def test_idempotent_start_returns_the_same_run(world):
    first = await wl.start(app.sequential, 1, idempotency_key="order-7", world=world)
    again = await wl.start(app.sequential, 1, idempotency_key="order-7", world=world)
    assert again.run_id == first.run_id
    assert await first.result(timeout=20) == 112
    after = await wl.start(app.sequential, 1, idempotency_key="order-7", world=world)
    assert after.run_id == first.run_id  # completed runs keep the key


async def test_failed_run_releases_its_key(world):
    failed = await wl.start(app.fatal_wf, "kf", False, idempotency_key="k-fail", world=world)
    with pytest.raises(wl.WorkflowError):
        await failed.result(timeout=20)
    retry = await wl.start(app.sequential, 2, idempotency_key="k-fail", world=world)
    assert retry.run_id != failed.run_id
    assert await retry.result(timeout=20) == 113


async def test_unserialisable_argument_names_its_path_and_writes_nothing(world):
    with pytest.raises(wl.SerializationError, match=r"args\[1\]\['when'\]"):
        await wl.start(app.sequential, 1, {"when": object()}, world=world)
    runs, _ = await world.runs.list()
    assert runs == []


async def test_unserialisable_step_result_fails_the_step(world):
    handle = await wl.start(app.bad_step_result_wf, world=world)
    with pytest.raises(wl.WorkflowError, match="step result"):
        await handle.result(timeout=20)
    (step,), _ = await world.steps.list(handle.run_id)
    assert step.status == "failed" and step.attempt == 1


async def test_unserialisable_workflow_result_fails_the_run(world):
    handle = await wl.start(app.bad_result_wf, world=world)
    with pytest.raises(wl.WorkflowError, match=r"workflow result\['when'\]"):
        await handle.result(timeout=20)


async def test_get_run_and_unknown_run(world):
    handle = await wl.start(app.sequential, 3, world=world)
    again = await wl.get_run(handle.run_id, world=world)
    assert await again.result(timeout=20) == 114
    with pytest.raises(wl.NotFound):
        await wl.get_run("run_01ARZ3NDEKTSV4RRFFQ69G5FAV", world=world)
