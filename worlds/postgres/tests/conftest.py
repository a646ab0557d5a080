"""Fixtures for the Postgres world's own tests: a real server (``$WORLDLINE_POSTGRES_URL``,
default ``postgresql://127.0.0.1:5432/test``), one schema per test, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import psycopg
import pytest
import pytest_asyncio
from worldline_postgres import PostgresWorld, namespaced

POSTGRES_URL = os.environ.get("WORLDLINE_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")

MakeWorld = Callable[..., Awaitable[PostgresWorld]]


@pytest.fixture
def schema_name() -> str:
    return f"wltest_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def pg_url(schema_name: str) -> str:
    """A URL of the test server in a schema unique to this test."""
    return namespaced(POSTGRES_URL, schema_name)


@pytest_asyncio.fixture
async def admin(schema_name: str) -> AsyncIterator[psycopg.AsyncConnection]:
    """A plain autocommit connection to the test database (the backdoor); drops the test's
    schema afterwards."""
    conn = await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True)
    yield conn
    await conn.execute(f"DROP SCHEMA IF EXISTS {schema_name} CASCADE")
    await conn.close()


@pytest_asyncio.fixture
async def make_world(pg_url: str, admin: psycopg.AsyncConnection) -> AsyncIterator[MakeWorld]:
    """Open a world on this test's schema (``extra`` is appended to the URL's query)."""
    opened: list[PostgresWorld] = []

    async def make(extra: str = "") -> PostgresWorld:
        world = PostgresWorld(pg_url + (f"&{extra}" if extra else ""))
        await world.open()
        opened.append(world)
        return world

    yield make
    for world in opened:
        await world.close()


@pytest_asyncio.fixture
async def pworld(make_world: MakeWorld) -> PostgresWorld:
    return await make_world()
