"""Versioned migrations: the version is recorded, a newer schema is refused, concurrent
migrators (and concurrent first opens) do not collide."""

from __future__ import annotations

import asyncio

import pytest
from worldline_postgres import (
    SCHEMA_VERSION,
    PostgresWorld,
    SchemaOutdated,
    SchemaTooNew,
    migrate,
)


async def _version(admin, schema_name) -> int:
    cur = await admin.execute(
        f"SELECT value FROM {schema_name}.wl_meta WHERE key = 'schema_version'")
    row = await cur.fetchone()
    return int(row[0])


async def _schema_exists(admin, schema_name) -> bool:
    cur = await admin.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema_name,))
    return await cur.fetchone() is not None


async def test_migrate_records_the_version_and_is_idempotent(pg_url, admin, schema_name):
    assert await migrate(pg_url) == SCHEMA_VERSION
    assert await _version(admin, schema_name) == SCHEMA_VERSION
    assert await migrate(pg_url) == SCHEMA_VERSION
    cur = await admin.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
        (schema_name,))
    assert (await cur.fetchone())[0] == 9  # wl_meta + 8 tables


async def test_open_migrates_unless_told_not_to(pg_url, admin, schema_name):
    with pytest.raises(SchemaOutdated) as info:
        await PostgresWorld(pg_url + "&migrate=false").open()
    assert schema_name in str(info.value) and "worldline migrate" in str(info.value)
    assert not await _schema_exists(admin, schema_name)
    world = PostgresWorld(pg_url)
    await world.open()
    await world.close()
    assert await _version(admin, schema_name) == SCHEMA_VERSION
    world = PostgresWorld(pg_url + "&migrate=false")  # an up-to-date schema: fine
    await world.open()
    await world.close()


async def test_a_newer_schema_is_refused_with_a_clear_error(pg_url, admin, schema_name):
    await migrate(pg_url)
    await admin.execute(f"UPDATE {schema_name}.wl_meta SET value = %s"
                        " WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(SchemaTooNew) as info:
        await PostgresWorld(pg_url).open()
    message = str(info.value)
    assert schema_name in message and str(SCHEMA_VERSION + 1) in message
    assert "upgrade worldline-postgres" in message
    with pytest.raises(SchemaTooNew):
        await migrate(pg_url)
    with pytest.raises(SchemaTooNew):
        await PostgresWorld(pg_url + "&migrate=false").open()
    assert await _version(admin, schema_name) == SCHEMA_VERSION + 1, "a refusal wrote"


@pytest.mark.parametrize("rounds", [5])
async def test_concurrent_migrators_do_not_collide(pg_url, admin, schema_name, rounds):
    for _ in range(rounds):
        await admin.execute(f"DROP SCHEMA IF EXISTS {schema_name} CASCADE")
        barrier = asyncio.Barrier(6)

        async def one(barrier: asyncio.Barrier = barrier) -> int:
            await barrier.wait()
            return await migrate(pg_url)

        async def opener(barrier: asyncio.Barrier = barrier) -> None:
            await barrier.wait()
            world = PostgresWorld(pg_url)
            await world.open()
            await world.close()

        results = await asyncio.gather(*(one() for _ in range(4)), opener(), opener())
        assert results[:4] == [SCHEMA_VERSION] * 4
        assert await _version(admin, schema_name) == SCHEMA_VERSION
