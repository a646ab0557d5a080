"""``delete_run`` is one Lua script that names some keys from the run's data (its run-list
indexes, streams and message queues): after it, the world must hold exactly what it held
before the run existed — no key, index member, claim or message naming the run, and every
other key untouched. Messages are matched on ``payload["run_id"]`` only."""

from __future__ import annotations

import json
from typing import Any

from worldline import NewEvent
from worldline.ids import new_id
from worldline_redis import RedisWorld


async def dump(world: RedisWorld) -> dict[bytes, Any]:
    """Every key of the world with its content (wake-up lists left out: they only ever
    hold tokens ``"1"`` that consumers pop)."""
    client, out = world.client, {}
    async for key in client.scan_iter(match=world.keys.pattern(), count=500):
        kind = (await client.type(key)).decode()
        if b":qn:" in key:
            continue
        if kind == "hash":
            out[key] = await client.hgetall(key)
        elif kind == "zset":
            out[key] = await client.zrange(key, 0, -1, withscores=True)
        elif kind == "list":
            out[key] = await client.lrange(key, 0, -1)
        elif kind == "stream":
            out[key] = await client.xrange(key)
        else:
            raise AssertionError(f"unexpected key type {kind} of {key!r}")
    return out


async def full_run(world: RedisWorld, run_id: str, workflow: str) -> None:
    """A run owning a step, a hook, a stream, an idempotency key and messages (ready,
    delayed, leased, keyed), then completed."""
    await world.events.create(run_id, NewEvent("run_created", data={
        "workflow_name": workflow, "idempotency_key": f"idem-{run_id}"}))
    await world.events.create(run_id, NewEvent("run_started"))
    step = new_id("step")
    await world.events.create(run_id, NewEvent("step_created", step, data={"step_name": "s"}))
    await world.events.create(run_id, NewEvent("hook_created", new_id("hook"),
                                               data={"token": f"tok-{run_id}"}))
    await world.streams.write(run_id, "out", "a")
    await world.streams.write(run_id, "log", b"b")
    await world.streams.close(run_id, "log")
    await world.queue.enqueue(f"lease-{run_id}", {"run_id": run_id}, idempotency_key=run_id)
    assert await world.queue.lease([f"lease-{run_id}"], visibility_timeout=60)
    await world.queue.enqueue("shared", {"run_id": run_id, "n": 1}, delay=3600)
    await world.queue.enqueue("shared", {"run_id": run_id, "n": 2})
    await world.events.create(run_id, NewEvent("run_completed", data={"output": 1}))


async def test_delete_run_restores_the_world_as_it_was_before_the_run(rworld):
    keep = new_id("run")
    await full_run(rworld, keep, "wf")
    await rworld.queue.enqueue("shared", {"note": "no run"})
    before = await dump(rworld)
    doomed = new_id("run")
    await full_run(rworld, doomed, "wf")
    assert await rworld.housekeeping.delete_run(doomed) is True
    assert await dump(rworld) == before
    assert await rworld.housekeeping.queued_run_ids() == {keep}


async def test_only_the_payloads_run_id_field_counts(rworld):
    run_id = new_id("run")
    await rworld.events.create(run_id, NewEvent("run_created", data={"workflow_name": "wf"}))
    await rworld.events.create(run_id, NewEvent("run_cancelled"))
    kept = [await rworld.queue.enqueue("q", payload) for payload in (
        {"parent": run_id}, {"nested": {"run_id": run_id}}, {"run_id": run_id + "x"},
        {"run_id": [run_id]})]
    assert await rworld.housekeeping.delete_run(run_id) is True
    assert sorted(m.decode() for m in await rworld.client.hkeys(rworld.keys.payloads)) \
        == sorted(kept)


async def test_run_ids_that_json_escapes_are_matched_too(rworld):
    run_id = 'run_ü"\\/ x'
    await full_run(rworld, run_id, 'wf "ü"')
    assert await rworld.housekeeping.delete_run(run_id) is True
    assert await dump(rworld) == {}
    assert await rworld.housekeeping.queued_run_ids() == set()


async def test_live_runs_are_refused_without_a_change(rworld):
    run_id = new_id("run")
    await rworld.events.create(run_id, NewEvent("run_created", data={"workflow_name": "wf"}))
    await rworld.queue.enqueue("q", {"run_id": run_id})
    for event in ("run_started", None):
        before = await dump(rworld)
        assert await rworld.housekeeping.delete_run(run_id) is False
        assert await dump(rworld) == before
        if event:
            await rworld.events.create(run_id, NewEvent(event))
    assert await rworld.housekeeping.settle_leftovers() == 0


async def test_a_token_still_held_by_a_terminal_runs_hook_is_released(rworld):
    """A terminal run's hooks are cleared when it ends; a hook left over anyway (written by
    an older version, or by hand) must not keep its token claimed after the delete."""
    run_id, other = new_id("run"), new_id("run")
    for rid in (run_id, other):
        await rworld.events.create(rid, NewEvent("run_created", data={"workflow_name": "wf"}))
    await rworld.events.create(other, NewEvent("hook_created", new_id("hook"),
                                               data={"token": "theirs"}))
    await rworld.events.create(run_id, NewEvent("run_cancelled"))
    mine = json.dumps({"run_id": run_id, "token": "mine"})
    theirs = json.dumps({"run_id": run_id, "token": "theirs"})
    await rworld.client.hset(rworld.keys.entities("hook", run_id),
                             mapping={"h1": mine, "h2": theirs})
    await rworld.client.hset(rworld.keys.tokens, "mine", mine)
    assert await rworld.housekeeping.delete_run(run_id) is True
    assert await rworld.client.hkeys(rworld.keys.tokens) == [b"theirs"]
