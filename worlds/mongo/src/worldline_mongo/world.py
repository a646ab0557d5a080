"""The async façade: :class:`MongoWorld` and its sub-APIs over one ``AsyncMongoClient``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import worldline.rules as rules
from pymongo import AsyncMongoClient
from pymongo.errors import ConnectionFailure
from worldline import checks
from worldline.errors import WorldUnavailable
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
from worldline.wakeup import WAKEUPS

from . import housekeeping, log, queue, reads, streams
from .notify import wait_until
from .store import Store
from .url import parse_url

T = TypeVar("T")

#: seconds a client waits for a reachable server before WorldUnavailable (URL may override)
DEFAULT_SERVER_SELECTION_MS = 3000
#: how often an idle consumer sweeps for events committed by a writer that crashed
RECOVER_EVERY = 30.0


class MongoWorld:
    """A world on MongoDB (see the package docstring)."""

    name = "mongo"

    def __init__(self, url: str, *, dedupe_retention: float = 300.0) -> None:
        self.url = url
        self.options = parse_url(url)
        self.capabilities = Capabilities(atomic_start=True, multiprocess=True, streams=True)
        self._dedupe_retention = dedupe_retention
        self._client: AsyncMongoClient[dict[str, Any]] | None = None
        self._store: Store | None = None
        self._last_recover = 0.0
        self._key = f"mongo:{self.options.hosts}/{self.options.database}"
        self.runs = _Runs(self)
        self.steps = _Steps(self)
        self.events = _Events(self)
        self.waits = _Waits(self)
        self.hooks = _Hooks(self)
        self.queue = _Queue(self)
        self.streams = _Streams(self)
        self.housekeeping = _Housekeeping(self)

    async def __aenter__(self) -> MongoWorld:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect, measure the server clock, create the indexes and give older messages
        their ``run_id`` field (idempotent)."""
        if self._store is not None:
            return
        opts = self.options
        kwargs: dict[str, Any] = {"tz_aware": True}
        if "serverSelectionTimeoutMS" not in opts.client_options:
            kwargs["serverSelectionTimeoutMS"] = DEFAULT_SERVER_SELECTION_MS
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(opts.client_url, **kwargs)
        store = Store(client[opts.database], dedupe_retention=self._dedupe_retention,
                      max_poll=opts.max_poll)
        try:
            with self._unavailable():
                await client.admin.command("ping")
                await store.sync_clock()
                await store.create_indexes()
                await queue.backfill_run_ids(store)
        except BaseException:
            await client.close()
            raise
        self._client, self._store = client, store

    async def close(self) -> None:
        client, self._client, self._store = self._client, None, None
        if client is not None:
            await client.close()

    async def destroy(self) -> None:
        """Drop the world's database."""
        store = await self.store()
        await store.db.client.drop_database(store.db.name)

    async def raw_events(self, run_id: str) -> list[dict[str, JSON]]:
        return await self.call(reads.raw_events, run_id)

    async def recover(self) -> int:
        """Roll forward runs whose writer crashed between commit and projection."""
        return await self.call(log.recover)

    async def store(self) -> Store:
        if self._store is None:
            await self.open()
        assert self._store is not None
        return self._store

    @contextlib.contextmanager
    def _unavailable(self) -> Any:
        try:
            yield
        except ConnectionFailure as exc:
            raise WorldUnavailable(
                f"MongoDB at {self.options.hosts} is unreachable "
                f"(database {self.options.database!r}): {exc}") from exc

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run a store function; connection failures become WorldUnavailable."""
        store = await self.store()
        with self._unavailable():
            return await fn(store, *args)

    def notify(self, what: str) -> None:
        WAKEUPS.notify(f"{self._key}:{what}")

    def wake_key(self, what: str) -> str:
        return f"{self._key}:{what}"


class _Part:
    def __init__(self, world: MongoWorld) -> None:
        self.world = world


class _Runs(_Part):
    async def get(self, run_id: str, *, with_data: bool = True) -> Run:
        return await self.world.call(reads.get_run, run_id, with_data)

    async def list(self, *, workflow_name: str | None = None,
                   status: RunStatus | str | None = None, limit: int = 100,
                   cursor: str | None = None, order: str = "asc",
                   with_data: bool = True) -> Page[Run]:
        return await self.world.call(reads.list_runs, workflow_name, status, limit, cursor,
                                     order, with_data)


class _Steps(_Part):
    async def get(self, run_id: str, step_id: str, *, with_data: bool = True) -> Step:
        return await self.world.call(reads.get_entity, "step", run_id, step_id, with_data)

    async def list(self, run_id: str, *, limit: int = 100, cursor: str | None = None,
                   order: str = "asc", with_data: bool = True) -> Page[Step]:
        return await self.world.call(reads.list_entities, "step", run_id, limit, cursor,
                                     order, with_data)


class _Events(_Part):
    async def create(self, run_id: str, event: NewEvent, *,
                     enqueue: Enqueue | None = None) -> EventResult:
        event = checks.event_args(run_id, event, enqueue)
        result = await self.world.call(log.create_event, run_id, event, enqueue)
        if enqueue is not None and result.event is not None:
            self.world.notify("queue")
        return result

    async def list(self, run_id: str, *, limit: int = 1000, cursor: str | None = None,
                   order: str = "asc", with_data: bool = True) -> Page[Event]:
        return await self.world.call(reads.list_events, run_id, limit, cursor, order,
                                     with_data)


class _Waits(_Part):
    async def get(self, run_id: str, wait_id: str) -> Wait:
        return await self.world.call(reads.get_entity, "wait", run_id, wait_id)

    async def list(self, run_id: str, *, limit: int = 100, cursor: str | None = None,
                   order: str = "asc") -> Page[Wait]:
        return await self.world.call(reads.list_entities, "wait", run_id, limit, cursor,
                                     order)


class _Hooks(_Part):
    async def get(self, run_id: str, hook_id: str) -> Hook:
        return await self.world.call(reads.get_entity, "hook", run_id, hook_id)

    async def get_by_token(self, token: str) -> Hook:
        return await self.world.call(reads.get_hook_by_token, token)

    async def list(self, run_id: str, *, limit: int = 100, cursor: str | None = None,
                   order: str = "asc") -> Page[Hook]:
        return await self.world.call(reads.list_entities, "hook", run_id, limit, cursor,
                                     order)


class _Queue(_Part):
    async def enqueue(self, queue: str, payload: dict[str, JSON], *,
                      idempotency_key: str | None = None, delay: float = 0.0) -> str:
        rules.validate_message(queue, payload, idempotency_key, delay)
        store = await self.world.store()
        message_id = await self.world.call(_put, queue, payload, idempotency_key,
                                           store.epoch() + float(delay))
        self.world.notify("queue")
        return message_id

    async def lease(self, queues: Sequence[str], *, visibility_timeout: float = 30.0,
                    limit: int = 1, wait: float = 0.0) -> list[Message]:
        names = checks.lease_args(queues, visibility_timeout, limit, wait)
        world = self.world
        store = await world.store()

        async def attempt() -> list[Message] | None:
            got = await world.call(queue.lease, names, visibility_timeout, limit)
            return got or None

        async def next_due() -> float | None:
            return await world.call(queue.next_visible_in, names)

        if wait <= 0:
            return await attempt() or []
        now = store.epoch()
        if now - world._last_recover > RECOVER_EVERY:
            world._last_recover = now
            await world.recover()
        with world._unavailable():
            found = await wait_until(store, store.messages, world.wake_key("queue"), attempt,
                                     wait, next_due=next_due)
        return found or []

    async def _settle(self, message: Message, how: str, seconds: float = 0.0) -> bool:
        seconds = checks.settle_args(message, how, seconds)
        done = await self.world.call(queue.settle, message, how, seconds)
        if how in ("retry", "defer"):
            self.world.notify("queue")
        return done

    async def extend(self, message: Message, visibility_timeout: float) -> bool:
        return await self._settle(message, "extend", visibility_timeout)

    async def ack(self, message: Message) -> bool:
        return await self._settle(message, "ack")

    async def retry(self, message: Message, delay: float = 0.0) -> bool:
        return await self._settle(message, "retry", delay)

    async def defer(self, message: Message, delay: float) -> bool:
        return await self._settle(message, "defer", delay)


async def _put(store: Store, name: str, payload: dict[str, Any], key: str | None,
               visible_at: float) -> str:
    return await queue.put(store, name, payload, key, visible_at)


class _Streams(_Part):
    def _key(self, run_id: str, name: str) -> str:
        return self.world.wake_key(f"stream:{run_id}:{name}")

    async def write(self, run_id: str, name: str, chunk: bytes | str) -> int:
        index = await self.world.call(streams.write, run_id, name, chunk)
        WAKEUPS.notify(self._key(run_id, name))
        return index

    async def close(self, run_id: str, name: str) -> None:
        await self.world.call(streams.close, run_id, name)
        WAKEUPS.notify(self._key(run_id, name))

    async def read(self, run_id: str, name: str,
                   start_index: int = 0) -> AsyncIterator[bytes | str]:
        world = self.world
        store = await world.store()
        position = start_index

        async def attempt() -> tuple[list[bytes | str], int, bool] | None:
            found = await world.call(streams.chunks, run_id, name, position)
            return found if found[0] or found[2] else None

        while True:
            got = await wait_until(store, store.chunks, self._key(run_id, name), attempt, 3600.0)
            if got is None:
                continue
            chunks, position, done = got
            for chunk in chunks:
                yield chunk
            if done and not chunks:
                return

    async def list(self, run_id: str) -> list[StreamInfo]:
        return await self.world.call(streams.list_streams, run_id)


class _Housekeeping(_Part):
    async def delete_run(self, run_id: str) -> bool:
        return await self.world.call(housekeeping.delete_run, checks.text(run_id, "run id"))

    async def queued_run_ids(self) -> set[str]:
        return await self.world.call(housekeeping.queued_run_ids)

    async def settle_leftovers(self) -> int:
        return await self.world.call(housekeeping.settle_leftovers)
