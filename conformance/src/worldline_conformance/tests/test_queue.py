"""SPEC §5: the queue — lease/ack, de-duplication, fencing, redelivery, delays, waking."""

from __future__ import annotations

import asyncio

import pytest
from worldline import ValidationError

Q = "wf:queue"


async def lease_one(world, queue=Q, *, visibility_timeout=30.0, wait=0.0):
    got = await world.queue.lease([queue], visibility_timeout=visibility_timeout, wait=wait)
    assert len(got) <= 1
    return got[0] if got else None


async def test_enqueue_lease_ack(world):
    message_id = await world.queue.enqueue(Q, {"run_id": "run_x", "n": [1, 2]})
    assert message_id.startswith("msg_")
    msg = await lease_one(world)
    assert msg is not None
    assert (msg.message_id, msg.queue, msg.payload) == (message_id, Q, {"run_id": "run_x",
                                                                         "n": [1, 2]})
    assert (msg.attempt, msg.deliveries, msg.idempotency_key) == (0, 1, None)
    assert await lease_one(world) is None, "a leased message is invisible"
    assert await world.queue.ack(msg) is True
    assert await world.queue.ack(msg) is False, "a second ack finds no lease"
    assert await lease_one(world, visibility_timeout=0.01, wait=0.2) is None


async def test_lease_limit_and_queue_filter(world):
    mine = {await world.queue.enqueue("a", {"i": i}) for i in range(3)}
    other = await world.queue.enqueue("b", {"i": 9})
    first = await world.queue.lease(["a"], limit=2)
    assert len(first) == 2
    rest = await world.queue.lease(["a"], limit=10)
    assert len(rest) == 1
    assert {m.message_id for m in first + rest} == mine
    assert await world.queue.lease(["a"], limit=10) == []
    both = await world.queue.lease(["a", "b", "c"], limit=10)
    assert [m.message_id for m in both] == [other]
    assert await world.queue.lease([]) == []


@pytest.mark.parametrize("stage", ["pending", "leased", "acked"])
async def test_idempotency_key_deduplicates(world, stage):
    first = await world.queue.enqueue(Q, {"v": 1}, idempotency_key="step_1")
    if stage in ("leased", "acked"):
        msg = await lease_one(world)
        assert msg is not None and msg.idempotency_key == "step_1"
        if stage == "acked":
            assert await world.queue.ack(msg)
    again = await world.queue.enqueue(Q, {"v": 2}, idempotency_key="step_1")
    assert again == first
    got = await world.queue.lease([Q], limit=10)
    expected = [(first, {"v": 1})] if stage == "pending" else []
    assert [(m.message_id, m.payload) for m in got] == expected, "the duplicate added one"
    other = await world.queue.enqueue(Q, {"v": 3}, idempotency_key="step_2")
    assert other != first


async def test_idempotency_key_is_global_across_queues(world):
    first = await world.queue.enqueue("a", {}, idempotency_key="k")
    assert await world.queue.enqueue("b", {}, idempotency_key="k") == first
    assert await world.queue.lease(["b"]) == []


async def test_expired_lease_is_redelivered_and_fenced(world):
    await world.queue.enqueue(Q, {"x": 1}, idempotency_key="fenced")
    stale = await lease_one(world, visibility_timeout=0.05)
    assert stale is not None and stale.deliveries == 1
    fresh = await lease_one(world, wait=10)
    assert fresh is not None, "an expired lease must be redelivered"
    assert fresh.message_id == stale.message_id and fresh.lease_id != stale.lease_id
    assert fresh.deliveries == 2 and fresh.attempt == 0
    assert await world.queue.extend(stale, 0.01) is False
    assert await world.queue.retry(stale) is False
    assert await world.queue.defer(stale, 0) is False
    assert await world.queue.ack(stale) is False
    assert await lease_one(world) is None, "a stale settle must not release the fresh lease"
    assert await world.queue.extend(fresh, 30) is True
    assert await world.queue.ack(fresh) is True
    assert await lease_one(world) is None


async def test_delayed_message_is_invisible_until_due(world):
    loop = asyncio.get_running_loop()
    start = loop.time()
    message_id = await world.queue.enqueue(Q, {}, delay=1.5)
    assert await lease_one(world) is None
    msg = await lease_one(world, wait=10)
    assert msg is not None and msg.message_id == message_id
    assert loop.time() - start >= 1.4
    assert loop.time() - start < 10


async def test_retry_bumps_attempt_and_resets_deliveries(world):
    await world.queue.enqueue(Q, {})
    msg = await lease_one(world, visibility_timeout=0.05)
    msg = await lease_one(world, wait=10)  # redelivered: deliveries == 2
    assert msg.deliveries == 2
    assert await world.queue.retry(msg, 0) is True
    again = await lease_one(world, wait=10)
    assert again is not None and (again.attempt, again.deliveries) == (1, 1)
    assert await world.queue.retry(again, 3600) is True
    assert await lease_one(world) is None, "retry(delay) keeps it invisible for delay"


async def test_defer_keeps_attempt(world):
    await world.queue.enqueue(Q, {})
    msg = await lease_one(world)
    assert await world.queue.retry(msg, 0)
    msg = await lease_one(world)
    assert msg.attempt == 1
    assert await world.queue.defer(msg, 1.0) is True
    assert await lease_one(world) is None
    again = await lease_one(world, wait=10)
    assert again is not None and (again.attempt, again.deliveries) == (1, 1)
    assert again.message_id == msg.message_id


async def test_extend_keeps_message_invisible(world):
    await world.queue.enqueue(Q, {})
    msg = await lease_one(world, visibility_timeout=0.2)
    assert await world.queue.extend(msg, 3600) is True
    assert await lease_one(world, wait=0.6) is None, "extended lease expired early"
    assert await world.queue.ack(msg) is True


async def test_extend_can_shorten_to_redelivery(world):
    await world.queue.enqueue(Q, {})
    msg = await lease_one(world, visibility_timeout=3600)
    assert await world.queue.extend(msg, 0.05) is True
    again = await lease_one(world, wait=10)
    assert again is not None and again.deliveries == 2


async def test_waiting_lease_wakes_on_enqueue_from_another_connection(world, world_factory):
    producer = await world_factory()
    loop = asyncio.get_running_loop()
    consumer = asyncio.create_task(lease_one(world, wait=30))
    await asyncio.sleep(0.3)  # let the consumer go idle inside its wait
    assert not consumer.done(), "lease(wait=…) returned before any message existed"
    sent_at = loop.time()
    message_id = await producer.queue.enqueue(Q, {"hello": 1})
    msg = await asyncio.wait_for(consumer, 30)
    assert msg is not None and msg.message_id == message_id
    assert loop.time() - sent_at < 2.0, "the waiting consumer was not woken promptly"


async def test_lease_wait_times_out_empty(world):
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert await world.queue.lease([Q], wait=0.3) == []
    assert 0.25 <= loop.time() - start < 5


@pytest.mark.parametrize("args, kwargs", [
    (("", {}), {}), ((None, {}), {}), ((5, {}), {}),
    ((Q, "payload"), {}), ((Q, ["a"]), {}), ((Q, None), {}),
    ((Q, {}), {"idempotency_key": ""}), ((Q, {}), {"idempotency_key": 5}),
    ((Q, {}), {"delay": -1}), ((Q, {}), {"delay": "1"}),
], ids=repr)
async def test_bad_enqueue_arguments(world, args, kwargs):
    with pytest.raises(ValidationError) as info:
        await world.queue.enqueue(*args, **kwargs)
    assert info.value.status == 400
    assert await world.queue.lease([Q], limit=10) == []


@pytest.mark.parametrize("kwargs", [
    {"queues": Q}, {"queues": [""]}, {"queues": [Q, 5]}, {"limit": 0}, {"limit": -1},
    {"limit": "2"}, {"visibility_timeout": 0}, {"visibility_timeout": -5},
    {"visibility_timeout": "30"}, {"wait": -1}, {"wait": "1"},
], ids=repr)
async def test_bad_lease_arguments(world, kwargs):
    await world.queue.enqueue(Q, {})
    args = {"queues": [Q], **kwargs}
    queues = args.pop("queues")
    with pytest.raises(ValidationError) as info:
        await world.queue.lease(queues, **args)
    assert info.value.status == 400
    msg = await lease_one(world)
    assert msg is not None and msg.deliveries == 1, "a refused lease touched the message"


@pytest.mark.parametrize("how, arg", [("extend", 0), ("extend", -1), ("extend", "5"),
                                      ("retry", -1), ("defer", -0.5), ("defer", "1")],
                         ids=repr)
async def test_bad_settle_arguments(world, how, arg):
    await world.queue.enqueue(Q, {})
    msg = await lease_one(world)
    with pytest.raises(ValidationError) as info:
        await getattr(world.queue, how)(msg, arg)
    assert info.value.status == 400
    assert await lease_one(world) is None, "a refused settle released the lease"
    assert await world.queue.ack(msg) is True


@pytest.mark.parametrize("how", ["ack", "extend", "retry", "defer"])
async def test_settle_needs_a_message(world, how):
    args = () if how == "ack" else (1,)
    with pytest.raises(ValidationError):
        await getattr(world.queue, how)({"message_id": "msg_x", "lease_id": "x"}, *args)
