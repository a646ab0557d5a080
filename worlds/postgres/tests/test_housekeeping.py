"""Housekeeping specifics of Postgres: messages are found by their ``run_id`` column, which
the queue fills at insert and migration 2 back-fills; payloads holding NUL still work."""

from __future__ import annotations

from psycopg.types.json import Json
from worldline.ids import new_id
from worldline.model import NewEvent
from worldline_postgres import SCHEMA_VERSION, migrate
from worldline_postgres.schema import MIGRATIONS


async def test_messages_with_nul_in_their_payload_are_found_by_run(pworld):
    run_id = new_id("run")
    await pworld.events.create(run_id, NewEvent("run_created", data={"workflow_name": "w"}))
    await pworld.queue.enqueue("q", {"run_id": run_id, "\x00k": "a\x00b"})
    assert run_id in await pworld.housekeeping.queued_run_ids()
    await pworld.events.create(run_id, NewEvent("run_cancelled"))
    assert await pworld.housekeeping.delete_run(run_id)
    assert await pworld.housekeeping.queued_run_ids() == set()
    assert await pworld.queue.lease(["q"]) == []


async def test_migration_2_back_fills_the_run_of_existing_messages(pg_url, admin, schema_name):
    await admin.execute(f"CREATE SCHEMA {schema_name}")
    async with admin.transaction():
        await admin.execute(f"SET LOCAL search_path TO {schema_name}")
        await admin.execute("CREATE TABLE wl_meta (key text PRIMARY KEY, value text NOT NULL)")
        for statement in MIGRATIONS[0]:
            await admin.execute(statement)
        await admin.execute("INSERT INTO wl_meta VALUES ('schema_version', '1')")
        payloads = {"named": {"run_id": "run_a"}, "number": {"run_id": 5}, "none": {"x": 1},
                    "list": [1], "nul": {"run_id": "run_b", "v": "\x00"}}
        for message_id, payload in payloads.items():
            await admin.execute(
                "INSERT INTO messages (message_id, queue, payload, visible_at)"
                " VALUES (%s, 'q', %s, now())", (message_id, Json(payload)))
    assert await migrate(pg_url) == SCHEMA_VERSION
    cur = await admin.execute(f"SELECT message_id, run_id FROM {schema_name}.messages")
    # a payload holding NUL cannot be read by PostgreSQL's json parser: left unattributed
    assert dict(await cur.fetchall()) == {"named": "run_a", "number": None, "none": None,
                                          "list": None, "nul": None}
