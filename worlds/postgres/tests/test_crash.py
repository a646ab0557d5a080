"""A connection killed mid-transaction (``pg_terminate_backend``) while it holds the run
lock and has already written the event: nothing is half-written and a retry succeeds."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from worldline import Enqueue, NewEvent, NotFound, WorldUnavailable
from worldline.faults import InjectedFault, inject
from worldline.ids import new_id

KEY = "crash-key"


async def _blocked_pid(admin, schema_name) -> int:
    """The backend of the world's transaction, once it waits on the message row lock."""
    for _ in range(500):
        cur = await admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND query LIKE 'INSERT INTO messages%%' AND backend_type = 'client backend'"
            " AND pid IN (SELECT pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
            "  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s)",
            (schema_name,))
        row = await cur.fetchone()
        if row is not None:
            return int(row[0])
        await asyncio.sleep(0.01)
    raise AssertionError("the world's transaction never blocked")


@pytest.mark.parametrize("rounds", [3])
async def test_killed_transaction_leaves_nothing_and_retry_succeeds(
        pworld, admin, schema_name, rounds):
    run_id = new_id("run")
    await pworld.events.create(run_id, NewEvent("run_created", data={"workflow_name": "w"}))
    await pworld.events.create(run_id, NewEvent("run_started"))
    await pworld.queue.enqueue("steps", {"old": True}, idempotency_key=KEY)
    for _ in range(rounds):
        step_id = new_id("step")
        before = await pworld.raw_events(run_id)
        run_before = await pworld.runs.get(run_id)
        blocker = await psycopg.AsyncConnection.connect(admin.info.dsn)
        try:
            # hold the keyed message's row so the world's transaction stops after it wrote
            # the event, the run and the step, while it holds the run lock
            await blocker.execute(f"SELECT 1 FROM {schema_name}.messages"
                                  " WHERE idempotency_key = %s FOR UPDATE", (KEY,))
            create = asyncio.create_task(pworld.events.create(
                run_id, NewEvent("step_created", step_id, {"step_name": "s"}),
                enqueue=Enqueue("steps", {"step_id": step_id}, idempotency_key=KEY)))
            pid = await _blocked_pid(admin, schema_name)
            with pytest.raises(psycopg.errors.LockNotAvailable):
                async with admin.transaction():
                    await admin.execute(f"SELECT 1 FROM {schema_name}.runs WHERE run_id = %s"
                                        " FOR UPDATE NOWAIT", (run_id,))
            await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            with pytest.raises(WorldUnavailable):
                await create
        finally:
            await blocker.rollback()
            await blocker.close()
        assert await pworld.raw_events(run_id) == before
        assert await pworld.runs.get(run_id) == run_before
        with pytest.raises(NotFound):
            await pworld.steps.get(run_id, step_id)
        result = await pworld.events.create(
            run_id, NewEvent("step_created", step_id, {"step_name": "s"}),
            enqueue=Enqueue("steps", {"step_id": step_id}, idempotency_key=KEY))
        assert result.event is not None and result.event.seq == len(before) + 1
        assert (await pworld.runs.get(run_id)).last_seq == len(before) + 1
        assert [e["seq"] for e in await pworld.raw_events(run_id)] == \
            list(range(1, len(before) + 2))


async def test_failed_hand_off_leaves_no_run(pworld):
    run_id = new_id("run")
    created = NewEvent("run_created", data={"workflow_name": "w", "idempotency_key": "k1"})
    hand_off = Enqueue("workflows", {"run_id": run_id})
    with inject("start.enqueue"), pytest.raises(InjectedFault):
        await pworld.events.create(run_id, created, enqueue=hand_off)
    with pytest.raises(NotFound):
        await pworld.runs.get(run_id)
    assert await pworld.raw_events(run_id) == []
    assert await pworld.queue.lease(["workflows"]) == []
    result = await pworld.events.create(run_id, created, enqueue=hand_off)  # key released
    assert result.event is not None and result.event.seq == 1
    [message] = await pworld.queue.lease(["workflows"])
    assert message.payload == {"run_id": run_id}
