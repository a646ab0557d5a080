"""The Redis world object: connection handling, scripts, and the protocol's sub-APIs."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any, ParamSpec, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from worldline.errors import WorldUnavailable
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

from . import log, lua
from .housekeeping import RedisHousekeeping
from .keys import Keys
from .options import parse_url
from .queue import RedisQueue
from .streams import RedisStreams

logger = logging.getLogger("worldline_redis")
P = ParamSpec("P")
T = TypeVar("T")
_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)
#: longest single server-side block (BLPOP / XREAD); also kept below half the socket timeout
_MAX_BLOCK = 2.0


class Scripts:
    """The Lua scripts, registered once per client; redis-py runs them by SHA and reloads
    them after ``SCRIPT FLUSH`` (NOSCRIPT)."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.load = client.register_script(lua.LOAD)
        self.append = client.register_script(lua.APPEND)
        self.enqueue = client.register_script(lua.ENQUEUE)
        self.lease = client.register_script(lua.LEASE)
        self.settle = client.register_script(lua.SETTLE)
        self.stream_write = client.register_script(lua.STREAM_WRITE)
        self.stream_close = client.register_script(lua.STREAM_CLOSE)
        self.delete_run = client.register_script(lua.DELETE_RUN)


class RedisWorld:
    """Redis 7 through redis-py asyncio — see the package docstring."""

    name = "redis"

    def __init__(self, url: str) -> None:
        self.url = url
        self.options = parse_url(url)
        self.keys = Keys(self.options.prefix)
        self.capabilities = Capabilities(atomic_start=True, multiprocess=True, streams=True,
                                         batch_events=True)
        self._client: aioredis.Redis | None = None
        self._scripts: Scripts | None = None
        self._max_block = _MAX_BLOCK
        self.known = KnownRuns()  # the state of the runs this process wrote last
        self.runs = _Runs(self)
        self.steps = _Steps(self)
        self.events = _Events(self)
        self.waits = _Waits(self)
        self.hooks = _Hooks(self)
        self.queue = _Queue(self)
        self.streams = _Streams(self)
        self.housekeeping = _Housekeeping(self)

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            raise RuntimeError("the redis world is not open: await world.open() first")
        return self._client

    @property
    def scripts(self) -> Scripts:
        if self._scripts is None:
            raise RuntimeError("the redis world is not open: await world.open() first")
        return self._scripts

    @contextlib.contextmanager
    def unavailable(self) -> Iterator[None]:
        """Turn redis-py's connection errors into ``WorldUnavailable`` naming the server."""
        try:
            yield
        except _DOWN as exc:
            raise WorldUnavailable(f"redis world: cannot reach {self.options.where} "
                                   f"({type(exc).__name__}: {exc})") from exc

    async def open(self) -> None:
        """Connect (with reconnect back-off) and check the server answers. Idempotent."""
        if self._client is not None:
            return
        client = aioredis.Redis.from_url(
            self.options.driver_url, decode_responses=False,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), retries=3),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            socket_connect_timeout=2.0, health_check_interval=30)
        try:
            with self.unavailable():
                await client.ping()
        except BaseException:
            await client.aclose()
            raise
        self._client, self._scripts = client, Scripts(client)
        timeout = client.connection_pool.connection_kwargs.get("socket_timeout")
        self._max_block = min(_MAX_BLOCK, timeout / 2) if timeout else _MAX_BLOCK
        await self._check_eviction_policy()

    async def _check_eviction_policy(self) -> None:
        """Warn when Redis may evict keys (pieces of run logs) under memory pressure."""
        try:
            with self.unavailable():
                found: Any = await self.client.config_get("maxmemory-policy")
        except ResponseError:  # CONFIG disabled (managed Redis): nothing to check
            return
        policy = found.get(b"maxmemory-policy", found.get("maxmemory-policy", b"noeviction"))
        policy = policy.decode() if isinstance(policy, bytes) else str(policy)
        if policy != "noeviction":
            logger.warning("redis world at %s: maxmemory-policy is %r; use 'noeviction' or "
                           "Redis may delete parts of run logs", self.options.where, policy)

    async def close(self) -> None:
        """Release connections. Idempotent."""
        client, self._client, self._scripts = self._client, None, None
        if client is not None:
            await client.aclose()

    async def __aenter__(self) -> RedisWorld:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def destroy(self) -> None:
        """Delete every key under the prefix (SCAN + UNLINK)."""
        self.known = KnownRuns()
        with self.unavailable():
            batch: list[bytes] = []
            async for key in self.client.scan_iter(match=self.keys.pattern(), count=500):
                batch.append(key)
                if len(batch) >= 500:
                    await self.client.unlink(*batch)
                    batch = []
            if batch:
                await self.client.unlink(*batch)

    async def raw_events(self, run_id: str) -> list[dict[str, JSON]]:
        """The run's persisted events straight from the events list (conformance backdoor)."""
        with self.unavailable():
            return await log.raw_events(self, run_id)

    async def blpop(self, keys: list[str], timeout: float) -> None:
        """Block on the server until one of ``keys`` is pushed or ``timeout`` passes."""
        await self.client.blpop(keys, timeout=max(0.001, min(timeout, self._max_block)))

    async def xread_block(self, key: str, after: str) -> None:
        """Block on the server until the stream has an entry after ``after`` (bounded)."""
        await self.client.xread({key: after}, count=1, block=max(1, int(self._max_block * 1000)))


def _guarded(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        part = args[0]
        assert isinstance(part, _Part)
        with part.world.unavailable():
            return await method(*args, **kwargs)
    return wrapper


class _Part:
    def __init__(self, world: RedisWorld) -> None:
        self.world = world


class _Runs(_Part):
    @_guarded
    async def get(self, run_id: str, *, with_data: bool = True) -> Run:
        return await log.get_run(self.world, run_id, with_data)

    @_guarded
    async def list(self, *, workflow_name: str | None = None,
                   status: RunStatus | str | None = None, limit: int = 100,
                   cursor: str | None = None, order: str = "asc",
                   with_data: bool = True) -> Page[Run]:
        return await log.list_runs(self.world, workflow_name,
                                   None if status is None else str(status), limit, cursor,
                                   order, with_data)


class _Steps(_Part):
    @_guarded
    async def get(self, run_id: str, step_id: str, *, with_data: bool = True) -> Step:
        return await log.get_entity(self.world, "step", run_id, step_id, with_data)

    @_guarded
    async def list(self, run_id: str, *, limit: int = 100, cursor: str | None = None,
                   order: str = "asc", with_data: bool = True) -> Page[Step]:
        return await log.list_entities(self.world, "step", run_id, limit, cursor, order,
                                       with_data)


class _Events(_Part):
    @_guarded
    async def create(self, run_id: str, event: NewEvent, *,
                     enqueue: Enqueue | None = None) -> EventResult:
        return await log.create_event(self.world, run_id, event, enqueue)

    @_guarded
    async def create_batch(self, run_id: str, events: Sequence[NewEvent], *,
                           enqueues: Sequence[Enqueue | None] | None = None,
                           expect_seq: int | None = None) -> list[EventResult]:
        return await log.create_batch(self.world, run_id, events, enqueues, expect_seq)

    @_guarded
    async def list(self, run_id: str, *, limit: int = 1000, cursor: str | None = None,
                   order: str = "asc", with_data: bool = True) -> Page[Event]:
        return await log.list_events(self.world, run_id, limit, cursor, order, with_data)


class _Waits(_Part):
    @_guarded
    async def get(self, run_id: str, wait_id: str) -> Wait:
        return await log.get_entity(self.world, "wait", run_id, wait_id)

    @_guarded
    async def list(self, run_id: str, *, limit: int = 100, cursor: str | None = None,
                   order: str = "asc") -> Page[Wait]:
        return await log.list_entities(self.world, "wait", run_id, limit, cursor, order)


class _Hooks(_Part):
    @_guarded
    async def get(self, run_id: str, hook_id: str) -> Hook:
        return await log.get_entity(self.world, "hook", run_id, hook_id)

    @_guarded
    async def get_by_token(self, token: str) -> Hook:
        return await log.get_hook_by_token(self.world, token)

    @_guarded
    async def list(self, run_id: str, *, limit: int = 100, cursor: str | None = None,
                   order: str = "asc") -> Page[Hook]:
        return await log.list_entities(self.world, "hook", run_id, limit, cursor, order)


class _Queue(_Part):
    def __init__(self, world: RedisWorld) -> None:
        super().__init__(world)
        self.impl = RedisQueue(world)

    @_guarded
    async def enqueue(self, queue: str, payload: dict[str, JSON], *,
                      idempotency_key: str | None = None, delay: float = 0.0) -> str:
        return await self.impl.enqueue(queue, payload, idempotency_key=idempotency_key,
                                       delay=delay)

    @_guarded
    async def lease(self, queues: Sequence[str], *, visibility_timeout: float = 30.0,
                    limit: int = 1, wait: float = 0.0) -> list[Message]:
        return await self.impl.lease(queues, visibility_timeout=visibility_timeout,
                                     limit=limit, wait=wait)

    @_guarded
    async def extend(self, message: Message, visibility_timeout: float) -> bool:
        return await self.impl.extend(message, visibility_timeout)

    @_guarded
    async def ack(self, message: Message) -> bool:
        return await self.impl.ack(message)

    @_guarded
    async def retry(self, message: Message, delay: float = 0.0) -> bool:
        return await self.impl.retry(message, delay)

    @_guarded
    async def defer(self, message: Message, delay: float) -> bool:
        return await self.impl.defer(message, delay)


class _Streams(_Part):
    def __init__(self, world: RedisWorld) -> None:
        super().__init__(world)
        self.impl = RedisStreams(world)

    @_guarded
    async def write(self, run_id: str, name: str, chunk: bytes | str) -> int:
        return await self.impl.write(run_id, name, chunk)

    @_guarded
    async def close(self, run_id: str, name: str) -> None:
        await self.impl.close(run_id, name)

    async def read(self, run_id: str, name: str,
                   start_index: int = 0) -> AsyncIterator[bytes | str]:
        reader = self.impl.read(run_id, name, start_index)
        try:
            while True:
                with self.world.unavailable():
                    try:
                        chunk = await reader.__anext__()
                    except StopAsyncIteration:
                        return
                yield chunk
        finally:
            await reader.aclose()

    @_guarded
    async def list(self, run_id: str) -> list[StreamInfo]:
        return await self.impl.list(run_id)


class _Housekeeping(_Part):
    def __init__(self, world: RedisWorld) -> None:
        super().__init__(world)
        self.impl = RedisHousekeeping(world)

    async def delete_run(self, run_id: str) -> bool:  # guards its own I/O: see the impl
        return await self.impl.delete_run(run_id)

    @_guarded
    async def queued_run_ids(self) -> set[str]:
        return await self.impl.queued_run_ids()

    @_guarded
    async def settle_leftovers(self) -> int:
        return await self.impl.settle_leftovers()
