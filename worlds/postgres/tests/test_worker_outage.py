"""The server drops every connection of the world while a run sleeps (``pg_terminate_backend``
of each backend of its database, again and again, while the database refuses new
connections): the embedded worker's lease calls fail, it backs off without exiting, and once
the database answers again it resumes the run, which completes with each step's body run
once.

Runs on a private database (``wl_outage_<random>``) of the test server, so that terminating
its backends touches no other test; the database is dropped afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest_asyncio
from psycopg import sql
from worldline_conformance.outage import assert_worker_survives, hold
from worldline_postgres import PostgresWorld

POSTGRES_URL = os.environ.get("WORLDLINE_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
KILL_EVERY = 0.05


def _with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


@pytest_asyncio.fixture
async def admin() -> AsyncIterator[psycopg.AsyncConnection]:
    """An autocommit connection to the test database (never one of the private database's
    backends, so the outage does not kill it)."""
    conn = await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True)
    try:
        yield conn
    finally:
        await conn.close()


@pytest_asyncio.fixture
async def private_db(admin: psycopg.AsyncConnection) -> AsyncIterator[str]:
    """A database of this test alone; dropped (its connections forced out) afterwards."""
    name = f"wl_outage_{uuid.uuid4().hex[:12]}"
    for attempt in range(50):
        try:
            await admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            break
        except psycopg.errors.ObjectInUse:  # someone is connected to template1 right now
            if attempt == 49:
                raise
            await asyncio.sleep(0.1)
    try:
        yield name
    finally:
        await admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


async def _terminate_backends(admin: psycopg.AsyncConnection, database: str) -> int:
    cur = await admin.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid()", (database,))
    row = await cur.fetchone()
    return int(row[0]) if row else 0


@contextlib.asynccontextmanager
async def _refusing(admin: psycopg.AsyncConnection, database: str) -> AsyncIterator[None]:
    """The database refuses new connections (``ALLOW_CONNECTIONS false``, superusers too):
    a connection the world opens again during the outage fails instead of serving a call,
    so no part of the run can go on until the outage ends (the wake-up may fall due)."""
    name = sql.Identifier(database)
    await admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(name))
    try:
        yield
    finally:
        await admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(name))


async def test_worker_survives_terminated_backends(admin, private_db, caplog):
    world = PostgresWorld(_with_database(POSTGRES_URL, private_db))
    await world.open()
    killed = 0

    async def terminate() -> None:
        nonlocal killed
        killed += await _terminate_backends(admin, private_db)

    async def outage(seen: Callable[[], bool]) -> None:
        """Every backend of the database terminated, again and again."""
        async with _refusing(admin, private_db):
            await hold(seen, every=KILL_EVERY, tick=terminate)
        assert killed > 0, "no backend of the world was terminated"

    try:
        await assert_worker_survives(world, outage, caplog)
    finally:
        await world.close()
