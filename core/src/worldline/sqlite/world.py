"""An async World over the SQLite-dialect store: each call runs in a small thread pool,
each thread holding its own connection (SQLite serialises writers with ``BEGIN IMMEDIATE``
and the busy timeout; the pool keeps a locked database from blocking the event loop)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from .. import checks, rules
from ..errors import ValidationError
from ..model import (
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
from ..wakeup import WAKEUPS, poll_until
from .connection import SqlConnection
from .store import SqliteDialectStore

T = TypeVar("T")


class SqliteDialectWorld:
    """A world on any SQLite-dialect engine; subclasses supply ``connect``."""

    name = "sqlite"

    def __init__(self, url: str, location: str, connect: Callable[[], SqlConnection], *,
                 capabilities: Capabilities | None = None, pool_size: int = 4,
                 dedupe_retention: float = 300.0, max_poll: float = 0.1) -> None:
        self.url = url
        self.location = location
        self.capabilities = capabilities or Capabilities(batch_events=True)
        self._connect = connect
        self._pool_size = pool_size
        self._dedupe_retention = dedupe_retention
        self._max_poll = max_poll
        self._local = threading.local()
        self._stores: list[SqliteDialectStore] = []
        self._stores_lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._queue_key = f"{location}:queue"
        self.runs = _Runs(self)
        self.steps = _Steps(self)
        self.events = _Events(self)
        self.waits = _Waits(self)
        self.hooks = _Hooks(self)
        self.queue = _Queue(self)
        self.streams = _Streams(self)
        self.housekeeping = _Housekeeping(self)

    async def __aenter__(self) -> SqliteDialectWorld:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._pool_size,
                                                thread_name_prefix=f"worldline-{self.name}")
            await self.call(SqliteDialectStore.migrate)

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        with self._stores_lock:
            stores, self._stores = self._stores, []
        for store in stores:
            store.conn.close()
        self._local = threading.local()

    async def destroy(self) -> None:
        await self.call(SqliteDialectStore.destroy)

    async def raw_events(self, run_id: str) -> list[dict[str, JSON]]:
        return await self.call(SqliteDialectStore.raw_events, run_id)

    def _store(self) -> SqliteDialectStore:
        store = getattr(self._local, "store", None)
        if store is None:
            store = SqliteDialectStore(self._connect(), self.location,
                                       dedupe_retention=self._dedupe_retention)
            self._local.store = store
            with self._stores_lock:
                self._stores.append(store)
        return store

    async def call(self, method: Callable[..., T], *args: Any) -> T:
        """Run a store method on a pool thread's connection."""
        if self._executor is None:
            await self.open()
        assert self._executor is not None

        def run() -> T:
            return method(self._store(), *args)

        return await asyncio.get_running_loop().run_in_executor(self._executor, run)

    def notify_queue(self) -> None:
        WAKEUPS.notify(self._queue_key)

    def stream_key(self, run_id: str, name: str) -> str:
        return f"{self.location}:stream:{run_id}:{name}"


class _Part:
    def __init__(self, world: SqliteDialectWorld) -> None:
        self.world = world


class _Runs(_Part):
    async def get(self, run_id: str, *, with_data: bool = True) -> Run:
        return await self.world.call(SqliteDialectStore.get_run, run_id, with_data)

    async def list(self, *, workflow_name: str | None = None,
                   status: RunStatus | str | None = None, limit: int = 100,
                   cursor: str | None = None, order: str = "asc",
                   with_data: bool = True) -> Page[Run]:
        if status is not None and (not isinstance(status, str)
                                   or status not in RunStatus._value2member_map_):
            raise ValidationError(f"unknown run status {status!r}")
        return await self.world.call(SqliteDialectStore.list_runs, workflow_name, status,
                                     limit, cursor, order, with_data)


class _Steps(_Part):
    async def get(self, run_id: str, step_id: str, *, with_data: bool = True) -> Step:
        return await self.world.call(SqliteDialectStore.get_entity, "step", run_id, step_id,
                                     with_data)

    async def list(self, run_id: str, *, limit: int = 100, cursor: str | None = None,
                   order: str = "asc", with_data: bool = True) -> Page[Step]:
        return await self.world.call(SqliteDialectStore.list_entities, "step", run_id, limit,
                                     cursor, order, with_data)


class _Events(_Part):
    async def create(self, run_id: str, event: NewEvent, *,
                     enqueue: Enqueue | None = None) -> EventResult:
        event = checks.event_args(run_id, event, enqueue)  # fail fast, before a thread hop
        result = await self.world.call(SqliteDialectStore.create_event, run_id, event, enqueue)
        if enqueue is not None and result.event is not None and enqueue.delay <= 0:
            self.world.notify_queue()  # delayed messages are found by the bounded poll
        return result

    async def create_batch(self, run_id: str, events: Sequence[NewEvent], *,
                           enqueues: Sequence[Enqueue | None] | None = None,
                           expect_seq: int | None = None) -> list[EventResult]:
        checked, messages = checks.batch_args(run_id, events, enqueues, expect_seq)
        results = await self.world.call(SqliteDialectStore.create_batch, run_id, checked,
                                        messages, expect_seq)
        if any(m is not None and m.delay <= 0 for m in messages):
            self.world.notify_queue()
        return results

    async def list(self, run_id: str, *, limit: int = 1000, cursor: str | None = None,
                   order: str = "asc", with_data: bool = True) -> Page[Event]:
        return await self.world.call(SqliteDialectStore.list_events, run_id, limit, cursor,
                                     order, with_data)


class _Waits(_Part):
    async def get(self, run_id: str, wait_id: str) -> Wait:
        return await self.world.call(SqliteDialectStore.get_entity, "wait", run_id, wait_id)

    async def list(self, run_id: str, *, limit: int = 100, cursor: str | None = None,
                   order: str = "asc") -> Page[Wait]:
        return await self.world.call(SqliteDialectStore.list_entities, "wait", run_id, limit,
                                     cursor, order)


class _Hooks(_Part):
    async def get(self, run_id: str, hook_id: str) -> Hook:
        return await self.world.call(SqliteDialectStore.get_entity, "hook", run_id, hook_id)

    async def get_by_token(self, token: str) -> Hook:
        return await self.world.call(SqliteDialectStore.get_hook_by_token, token)

    async def list(self, run_id: str, *, limit: int = 100, cursor: str | None = None,
                   order: str = "asc") -> Page[Hook]:
        return await self.world.call(SqliteDialectStore.list_entities, "hook", run_id, limit,
                                     cursor, order)


class _Queue(_Part):
    async def enqueue(self, queue: str, payload: dict[str, JSON], *,
                      idempotency_key: str | None = None, delay: float = 0.0) -> str:
        rules.validate_message(queue, payload, idempotency_key, delay)
        message_id = await self.world.call(SqliteDialectStore.enqueue, queue, payload,
                                           idempotency_key, float(delay))
        if delay <= 0:
            self.world.notify_queue()
        return message_id

    async def lease(self, queues: Sequence[str], *, visibility_timeout: float = 30.0,
                    limit: int = 1, wait: float = 0.0) -> list[Message]:
        names = checks.lease_args(queues, visibility_timeout, limit, wait)
        world = self.world

        async def attempt() -> list[Message] | None:
            got = await world.call(SqliteDialectStore.lease, names, visibility_timeout, limit)
            return got or None

        async def next_due() -> float | None:
            return await world.call(SqliteDialectStore.next_visible_in, names)

        if wait <= 0:
            return await attempt() or []
        with WAKEUPS.listen(world._queue_key) as listener:
            found = await poll_until(attempt, listener, wait, max_poll=world._max_poll,
                                     next_due=next_due)
        return found or []

    async def _settle(self, message: Message, how: str, seconds: float = 0.0) -> bool:
        seconds = checks.settle_args(message, how, seconds)
        done = await self.world.call(SqliteDialectStore.settle, message, how, seconds)
        if how in ("retry", "defer") and seconds <= 0:
            self.world.notify_queue()
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
        index = await self.world.call(SqliteDialectStore.stream_write, run_id, name, chunk)
        WAKEUPS.notify(self.world.stream_key(run_id, name))
        return index

    async def close(self, run_id: str, name: str) -> None:
        await self.world.call(SqliteDialectStore.stream_close, run_id, name)
        WAKEUPS.notify(self.world.stream_key(run_id, name))

    async def read(self, run_id: str, name: str,
                   start_index: int = 0) -> AsyncIterator[bytes | str]:
        world = self.world
        position = start_index

        async def attempt() -> tuple[list[bytes | str], int, bool] | None:
            found = await world.call(SqliteDialectStore.stream_chunks, run_id, name, position)
            return found if found[0] or found[2] else None

        with WAKEUPS.listen(world.stream_key(run_id, name)) as listener:
            while True:
                got = await poll_until(attempt, listener, 3600.0, max_poll=world._max_poll)
                if got is None:
                    continue
                chunks, position, done = got
                for chunk in chunks:
                    yield chunk
                if done and not chunks:
                    return

    async def list(self, run_id: str) -> list[StreamInfo]:
        return await self.world.call(SqliteDialectStore.stream_list, run_id)


class _Housekeeping(_Part):
    async def delete_run(self, run_id: str) -> bool:
        return await self.world.call(SqliteDialectStore.delete_run, run_id)

    async def queued_run_ids(self) -> set[str]:
        return await self.world.call(SqliteDialectStore.queued_run_ids)

    async def settle_leftovers(self) -> int:
        return 0  # idempotency keys and hook tokens are columns of the run / hook rows
