"""The hardware floor: the cost of one durable single-row commit on each backend, measured
with the same drivers the worlds use, in the same run as the worlds themselves."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable

SQLITE_DIR = os.path.join(tempfile.gettempdir(), "worldline-bench")


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def sqlite_commit(n: int, synchronous: str = "full") -> float:
    """One INSERT + COMMIT in WAL mode, as the local world commits."""
    os.makedirs(SQLITE_DIR, exist_ok=True)
    path = os.path.join(SQLITE_DIR, f"floor-{uuid.uuid4().hex}.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    samples = []
    for i in range(n):
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (v) VALUES (?)", (str(i),))
        conn.execute("COMMIT")
        samples.append(time.perf_counter() - started)
    conn.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    return _median_ms(samples)


async def _timed(n: int, op: Callable[[int], Awaitable[object]]) -> float:
    samples = []
    for i in range(n):
        started = time.perf_counter()
        await op(i)
        samples.append(time.perf_counter() - started)
    return _median_ms(samples)


async def postgres_commit(url: str, n: int) -> float:
    """One INSERT committed (autocommit) on the same server, fsync as configured."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("CREATE TEMP TABLE wl_floor (id serial PRIMARY KEY, v text)")
        return await _timed(n, lambda i: conn.execute(
            "INSERT INTO wl_floor (v) VALUES (%s)", (str(i),)))


async def redis_set(url: str, n: int) -> float:
    """One SET on the same server."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(url)
    try:
        key = f"wl-floor:{uuid.uuid4().hex}"
        result = await _timed(n, lambda i: client.set(key, i))
        await client.delete(key)
        return result
    finally:
        await client.aclose()


async def mongo_insert(url: str, n: int) -> float:
    """One insert_one (acknowledged) on the same server."""
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient = AsyncMongoClient(url, serverSelectionTimeoutMS=3000)
    try:
        collection = client["worldline_bench_floor"]["floor"]
        return await _timed(n, lambda i: collection.insert_one({"v": i}))
    finally:
        await client.drop_database("worldline_bench_floor")
        await client.close()


def libsql_commit(n: int) -> float:
    """One INSERT + COMMIT on an embedded libSQL file (the turso world's embedded path)."""
    import libsql

    os.makedirs(SQLITE_DIR, exist_ok=True)
    path = os.path.join(SQLITE_DIR, f"floor-libsql-{uuid.uuid4().hex}.db")
    conn = libsql.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    conn.commit()
    samples = []
    for i in range(n):
        started = time.perf_counter()
        conn.execute("INSERT INTO t (v) VALUES (?)", (str(i),))
        conn.commit()
        samples.append(time.perf_counter() - started)
    return _median_ms(samples)


def measure(world: str, url: str, n: int = 300) -> float:
    """Median milliseconds of one durable single-row commit on ``world``'s backend."""
    if world == "local":
        return sqlite_commit(n)
    if world == "turso":
        return libsql_commit(n)
    if world == "postgres":
        return asyncio.run(postgres_commit(url, n))
    if world == "redis":
        return asyncio.run(redis_set(url, n))
    if world == "mongo":
        return asyncio.run(mongo_insert(url, n))
    raise ValueError(f"no floor for world {world!r}")
