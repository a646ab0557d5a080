"""The async façade: a psycopg ``AsyncConnectionPool``, migrations on open, the NOTIFY
listener, and the World sub-APIs delegating to the statement modules."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from worldline import checks, rules
from worldline.errors import ValidationError, WorldUnavailable
from worldline.known import KnownRuns
from worldline.model import (
    JSON,
    Capabilities,
    Enqueue,
    Event,
    EventResult,
    Hook,
    Message,
    NewEvent,
    Page,
    Run,
    RunStatus,
    Step,
    StreamInfo,
    Wait,
)
from worldline.wakeup import WAKEUPS, poll_until

from . import events, housekeeping, reads, schema, streams
from . import queue as queue_sql
from .listener import NotifyListener
from .options import PostgresOptions, parse_url, redact

T = TypeVar("T")
_QUEUE = queue_sql.QUEUE_PAYLOAD


async def connect_once(options: PostgresOptions) -> AsyncConnection:
    """One autocommit connection, or WorldUnavailable naming host and port."""
    try:
        return await psycopg.AsyncConnection.connect(options.conninfo, autocommit=True)
    except psycopg.OperationalError as exc:
        raise unavailable(options, exc) from exc


def unavailable(options: PostgresOptions, exc: BaseException) -> WorldUnavailable:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return WorldUnavailable(f"PostgreSQL at {options.host}:{options.port} is unavailable "
                            f"({redact(options.url)}): {detail}")


def connection_lost(exc: psycopg.Error) -> bool:
    """True when the error means the server or the connection went away."""
    state = exc.sqlstate
    return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")


async def migrate(url: str) -> int:
    """Create or upgrade the URL's schema (``worldline migrate --world URL``); the version."""
    options = parse_url(url)
    conn = await connect_once(options)
    async with conn:
        return await schema.migrate(conn, options.schema, f"{options.host}:{options.port}")


class PostgresWorld:
    """PostgreSQL through psycopg 3 — see the package docstring."""

    name = "postgres"
    capabilities = Capabilities(atomic_start=True, multiprocess=True, streams=True,
                                batch_events=True)

    def __init__(self, url: str) -> None:
        self.url = url
        self.options = options = parse_url(url)
        self.channel = options.channel
        self._key = f"postgres:{options.host}:{options.port}:{options.conninfo}:"
        self._pool: AsyncConnectionPool | None = None
        self._listener: NotifyListener | None = None
        self._opening: asyncio.Lock | None = None
        self.known = KnownRuns()  # the state of the runs this process wrote last (.known)
        self.runs = _Runs(self)
        self.steps = _Steps(self)
        self.events = _Events(self)
        self.waits = _Waits(self)
        self.hooks = _Hooks(self)
        self.queue = _Queue(self)
        self.streams = _Streams(self)
        self.housekeeping = _Housekeeping(self)

    async def __aenter__(self) -> PostgresWorld:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def migrate(self) -> int:
        """Create or upgrade the schema, whatever the URL's ``migrate`` option says."""
        return await migrate(self.url)

    async def open(self) -> None:
        if self._pool is not None:
            return
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._pool is None:
                await self._open()

    async def _open(self) -> None:
        options = self.options
        conn = await connect_once(options)
        location = f"{options.host}:{options.port}"
        async with conn:
            if options.migrate:
                await schema.migrate(conn, options.schema, location)
            else:
                await schema.check_version(conn, options.schema, location)
        pool: AsyncConnectionPool = AsyncConnectionPool(
            options.conninfo, min_size=options.pool_min, max_size=options.pool_size,
            timeout=options.pool_timeout, kwargs={"autocommit": True}, open=False,
            name=f"worldline-{options.schema}")
        try:
            await pool.open(wait=options.pool_min > 0, timeout=options.connect_timeout * 2)
        except PoolTimeout as exc:
            await pool.close()
            raise unavailable(options, exc) from exc
        self._pool = pool
        self._listener = NotifyListener(options.conninfo, self.channel, self._key)
        await self._listener.start(timeout=options.connect_timeout)

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        pool, self._pool = self._pool, None
        if listener is not None:
            await listener.stop()
        if pool is not None:
            await pool.close()

    async def destroy(self) -> None:
        """Drop the schema with everything in it."""
        self.known = KnownRuns()
        async with self.connection() as conn:
            await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(self.options.schema)))

    async def raw_events(self, run_id: str) -> list[dict[str, JSON]]:
        return await self.call(reads.raw_events, run_id)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection; a lost or unreachable server becomes WorldUnavailable."""
        if self._pool is None:
            await self.open()
        assert self._pool is not None
        try:
            async with self._pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise unavailable(self.options, exc) from exc
        except psycopg.DataError as exc:  # a value PostgreSQL cannot store; rolled back
            raise ValidationError(f"PostgreSQL refused a value: {exc}") from exc
        except psycopg.OperationalError as exc:
            if not connection_lost(exc):
                raise  # a lock timeout, a deadlock, a cancelled query: the caller's to see
            raise unavailable(self.options, exc) from exc

    async def call(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``func(conn, *args)`` on a pooled connection."""
        async with self.connection() as conn:
            return await func(conn, *args)

    async def read(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        """:meth:`call` for a read: when the pooled connection turns out dead (the server
        restarted or terminated it while idle), check the pool and try once more."""
        try:
            return await self.call(func, *args)
        except WorldUnavailable as exc:
            if not isinstance(exc.__cause__, psycopg.OperationalError) or self._pool is None:
                raise
            with contextlib.suppress(psycopg.Error, PoolTimeout):
                await self._pool.check()  # drops every idle connection that is dead
            return await self.call(func, *args)

    def wake_key(self, payload: str) -> str:
        """The in-process wake-up key of a NOTIFY payload of this world."""
        return self._key + payload


class _Part:
    def __init__(self, world: PostgresWorld) -> None:
        self.world = world


class _Runs(_Part):
    async def get(self, run_id: str, *, with_data: bool = True) -> Run:
        return await self.world.read(reads.get_run, checks.text(run_id, 'run id'), with_data)

    async def list(self, *, workflow_name: str | None = None,
                   status: RunStatus | str | None = None, limit: int = 100,
                   cursor: str | None = None, order: str = "asc",
                   with_data: bool = True) -> Page[Run]:
        if status is not None and (not isinstance(status, str)
                                   or status not in RunStatus._value2member_map_):
            raise ValidationError(f"unknown run status {status!r}")
        if workflow_name is not None:
            checks.text(workflow_name, "workflow name")
        return await self.world.read(reads.list_runs, workflow_name, status, limit, cursor,
                                     order, with_data)


class _Steps(_Part):
    async def get(self, run_id: str, step_id: str, *, with_data: bool = True) -> Step:
        return await self.world.read(reads.get_entity, "step", checks.text(run_id, "run id"),
                                     checks.text(step_id, "step id"), with_data)

    async def list(self, run_id: str, *, limit: int = 100, cursor: str | None = None,
                   order: str = "asc", with_data: bool = True) -> Page[Step]:
        return await self.world.read(reads.list_entities, "step", checks.text(run_id, "run id"),
                                     limit, cursor, order,
                                     with_data)


class _Events(_Part):
    async def create(self, run_id: str, event: NewEvent, *,
                     enqueue: Enqueue | None = None) -> EventResult:
        event = checks.event_args(run_id, event, enqueue)  # before taking a connection
        world = self.world
        result = await world.call(events.create_event, world.channel, run_id, event, enqueue,
                                  world.options.dedupe_retention, world.known)
        if enqueue is not None and result.event is not None:
            WAKEUPS.notify(world.wake_key(_QUEUE))
        return result

    async def create_batch(self, run_id: str, batch: Sequence[NewEvent], *,
                           enqueues: Sequence[Enqueue | None] | None = None,
                           expect_seq: int | None = None) -> list[EventResult]:
        checked, messages = checks.batch_args(run_id, batch, enqueues, expect_seq)
        world = self.world
        results = await world.call(events.create_batch, world.channel, run_id, checked,
                                   messages, world.options.dedupe_retention, expect_seq,
                                   world.known)
        if any(m is not None for m in messages):
            WAKEUPS.notify(world.wake_key(_QUEUE))
        return results

    async def list(self, run_id: str, *, limit: int = 1000, cursor: str | None = None,
                   order: str = "asc", with_data: bool = True) -> Page[Event]:
        return await self.world.read(reads.list_events, checks.text(run_id, "run id"), limit,
                                     cursor, order,
                                     with_data)


class _Waits(_Part):
    async def get(self, run_id: str, wait_id: str) -> Wait:
        return await self.world.read(reads.get_entity, "wait", checks.text(run_id, "run id"),
                                     checks.text(wait_id, "wait id"))

    async def list(self, run_id: str, *, limit: int = 100, cursor: str | None = None,
                   order: str = "asc") -> Page[Wait]:
        return await self.world.read(reads.list_entities, "wait", checks.text(run_id, "run id"),
                                     limit, cursor, order)


class _Hooks(_Part):
    async def get(self, run_id: str, hook_id: str) -> Hook:
        return await self.world.read(reads.get_entity, "hook", checks.text(run_id, "run id"),
                                     checks.text(hook_id, "hook id"))

    async def get_by_token(self, token: str) -> Hook:
        return await self.world.read(reads.get_hook_by_token, checks.text(token, "hook token"))

    async def list(self, run_id: str, *, limit: int = 100, cursor: str | None = None,
                   order: str = "asc") -> Page[Hook]:
        return await self.world.read(reads.list_entities, "hook", checks.text(run_id, "run id"),
                                     limit, cursor, order)


class _Queue(_Part):
    async def enqueue(self, queue: str, payload: dict[str, JSON], *,
                      idempotency_key: str | None = None, delay: float = 0.0) -> str:
        delay = rules.validate_message(queue, payload, idempotency_key, delay)
        world = self.world
        message_id = await world.call(queue_sql.enqueue, world.channel, queue, payload,
                                      idempotency_key, delay, world.options.dedupe_retention)
        WAKEUPS.notify(world.wake_key(_QUEUE))
        return message_id

    async def lease(self, queues: Sequence[str], *, visibility_timeout: float = 30.0,
                    limit: int = 1, wait: float = 0.0) -> list[Message]:
        names = checks.lease_args(queues, visibility_timeout, limit, wait)
        world = self.world

        async def attempt() -> list[Message] | None:
            got = await world.call(queue_sql.lease, names, float(visibility_timeout), limit)
            return got or None

        async def next_due() -> float | None:
            return await world.call(queue_sql.next_visible_in, names)

        if wait <= 0:
            return await attempt() or []
        with WAKEUPS.listen(world.wake_key(_QUEUE)) as listener:
            found = await poll_until(attempt, listener, wait, max_poll=world.options.max_poll,
                                     next_due=next_due)
        return found or []

    async def _settle(self, message: Message, how: queue_sql.Settlement,
                      seconds: float = 0.0) -> bool:
        seconds = checks.settle_args(message, how, seconds)
        world = self.world
        done = await world.call(queue_sql.settle, world.channel, message, how, seconds,
                                world.options.dedupe_retention)
        if done and how in ("retry", "defer"):
            WAKEUPS.notify(world.wake_key(_QUEUE))
        return done

    async def extend(self, message: Message, visibility_timeout: float) -> bool:
        return await self._settle(message, "extend", visibility_timeout)

    async def ack(self, message: Message) -> bool:
        return await self._settle(message, "ack")

    async def retry(self, message: Message, delay: float = 0.0) -> bool:
        return await self._settle(message, "retry", delay)

    async def defer(self, message: Message, delay: float) -> bool:
        return await self._settle(message, "defer", delay)


class _Streams(_Part):
    async def write(self, run_id: str, name: str, chunk: bytes | str) -> int:
        world = self.world
        checks.text(run_id, "run id"), checks.text(name, "stream name")
        index = await world.call(streams.write, world.channel, run_id, name, chunk)
        WAKEUPS.notify(world.wake_key(streams.stream_payload(run_id, name)))
        return index

    async def close(self, run_id: str, name: str) -> None:
        world = self.world
        checks.text(run_id, "run id"), checks.text(name, "stream name")
        await world.call(streams.close, world.channel, run_id, name)
        WAKEUPS.notify(world.wake_key(streams.stream_payload(run_id, name)))

    async def read(self, run_id: str, name: str,
                   start_index: int = 0) -> AsyncIterator[bytes | str]:
        checks.text(run_id, "run id"), checks.text(name, "stream name")
        if isinstance(start_index, bool) or not isinstance(start_index, int):
            raise ValidationError(f"start_index must be an integer, got {start_index!r}")
        world = self.world
        position = start_index

        async def attempt() -> tuple[list[bytes | str], int, bool] | None:
            found = await world.call(streams.chunks, run_id, name, position)
            return found if found[0] or found[2] else None

        with WAKEUPS.listen(world.wake_key(streams.stream_payload(run_id, name))) as listener:
            while True:
                got = await poll_until(attempt, listener, 3600.0,
                                       max_poll=world.options.max_poll)
                if got is None:
                    continue
                chunks, position, done = got
                for chunk in chunks:
                    yield chunk
                if done and not chunks:
                    return

    async def list(self, run_id: str) -> list[StreamInfo]:
        return await self.world.call(streams.list_streams, checks.text(run_id, "run id"))


class _Housekeeping(_Part):
    async def delete_run(self, run_id: str) -> bool:
        return await self.world.call(housekeeping.delete_run, checks.text(run_id, "run id"))

    async def queued_run_ids(self) -> set[str]:
        return await self.world.call(housekeeping.queued_run_ids)

    async def settle_leftovers(self) -> int:
        return 0  # idempotency keys and hook tokens are columns of the run / hook rows
