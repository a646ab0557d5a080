"""``MemoryWorld``: the async World façade over a namespace's dicts (see the package doc)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from urllib.parse import urlsplit

from ... import checks, rules
from ...errors import ValidationError
from ...model import (
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
from ...protocol import (
    EventsAPI,
    HooksAPI,
    HousekeepingAPI,
    QueueAPI,
    RunsAPI,
    StepsAPI,
    StreamsAPI,
    WaitsAPI,
)
from ...wakeup import WAKEUPS, poll_until
from . import log, queue, streams
from .state import MemoryState, drop, state_for

_NAME = re.compile(r"[A-Za-z0-9_.-]*")
DEDUPE_RETENTION = 300.0


def parse_url(url: str) -> str:
    """The namespace of ``memory://name`` (letters, digits, ``_ . -``; empty = default)."""
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
    except ValueError:
        parts = None
    if parts is None or parts.scheme != "memory" or not url.startswith("memory://"):
        raise ValidationError(f"the memory world takes memory://name URLs, got {url!r}")
    name = parts.netloc
    if parts.path not in ("", "/") or parts.query or parts.fragment \
            or not _NAME.fullmatch(name):
        raise ValidationError(f"memory URLs are memory://name with a name of letters, digits,"
                              f" '_', '.' or '-' and nothing else, got {url!r}")
    return name


def namespaced(url: str, name: str) -> str:
    """The same world isolated under ``name``: ``memory://<base>-<name>``."""
    base = parse_url(url)
    return f"memory://{base}-{name}" if base else f"memory://{name}"


class MemoryWorld:
    """A world in this process's memory; worlds on the same ``memory://name`` share data."""

    name: str = "memory"
    capabilities: Capabilities = Capabilities(atomic_start=True, multiprocess=False, streams=True)

    def __init__(self, url: str) -> None:
        self.url: str = url
        self.namespace = parse_url(url)
        self.runs: RunsAPI = _Runs(self)
        self.steps: StepsAPI = _Steps(self)
        self.events: EventsAPI = _Events(self)
        self.waits: WaitsAPI = _Waits(self)
        self.hooks: HooksAPI = _Hooks(self)
        self.queue: QueueAPI = _Queue(self)
        self.streams: StreamsAPI = _Streams(self)
        self.housekeeping: HousekeepingAPI = _Housekeeping(self)

    @property
    def state(self) -> MemoryState:
        return state_for(self.namespace)

    def key(self, *parts: str) -> str:
        """A wake-up key of this namespace."""
        return ":".join(("memory", self.namespace, *parts))

    async def open(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """Nothing to release; the data stays for other worlds on the same name."""

    async def destroy(self) -> None:
        drop(self.namespace)

    async def raw_events(self, run_id: str) -> list[dict[str, JSON]]:
        return log.raw_events(self.state, log.check_id(run_id, "run id"))

    async def __aenter__(self) -> MemoryWorld:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class _Part:
    def __init__(self, world: MemoryWorld) -> None:
        self.world = world


class _Runs(_Part):
    async def get(self, run_id: str, *, with_data: bool = True) -> Run:
        return log.get_run(self.world.state, run_id, with_data)

    async def list(self, *, workflow_name: str | None = None,
                   status: RunStatus | str | None = None, limit: int = 100,
                   cursor: str | None = None, order: str = "asc",
                   with_data: bool = True) -> Page[Run]:
        return log.list_runs(self.world.state, workflow_name, status, limit, cursor, order,
                             with_data)


class _Steps(_Part):
    async def get(self, run_id: str, step_id: str, *, with_data: bool = True) -> Step:
        return log.get_entity(self.world.state, "step", run_id, step_id, with_data)

    async def list(self, run_id: str, *, limit: int = 100, cursor: str | None = None,
                   order: str = "asc", with_data: bool = True) -> Page[Step]:
        return log.list_entities(self.world.state, "step", run_id, limit, cursor, order,
                                 with_data)


class _Events(_Part):
    async def create(self, run_id: str, event: NewEvent, *,
                     enqueue: Enqueue | None = None) -> EventResult:
        if enqueue is not None and not isinstance(enqueue, Enqueue):
            raise ValidationError(f"enqueue must be an Enqueue, got {type(enqueue).__name__}")
        result = log.create_event(self.world.state, run_id, event, enqueue, DEDUPE_RETENTION)
        if enqueue is not None and result.event is not None:
            WAKEUPS.notify(self.world.key("queue"))
        return result

    async def list(self, run_id: str, *, limit: int = 1000, cursor: str | None = None,
                   order: str = "asc", with_data: bool = True) -> Page[Event]:
        return log.list_events(self.world.state, run_id, limit, cursor, order, with_data)


class _Waits(_Part):
    async def get(self, run_id: str, wait_id: str) -> Wait:
        return log.get_entity(self.world.state, "wait", run_id, wait_id)

    async def list(self, run_id: str, *, limit: int = 100, cursor: str | None = None,
                   order: str = "asc") -> Page[Wait]:
        return log.list_entities(self.world.state, "wait", run_id, limit, cursor, order)


class _Hooks(_Part):
    async def get(self, run_id: str, hook_id: str) -> Hook:
        return log.get_entity(self.world.state, "hook", run_id, hook_id)

    async def get_by_token(self, token: str) -> Hook:
        return log.get_hook_by_token(self.world.state, token)

    async def list(self, run_id: str, *, limit: int = 100, cursor: str | None = None,
                   order: str = "asc") -> Page[Hook]:
        return log.list_entities(self.world.state, "hook", run_id, limit, cursor, order)


class _Queue(_Part):
    async def enqueue(self, queue_name: str, payload: dict[str, JSON], *,
                      idempotency_key: str | None = None, delay: float = 0.0) -> str:
        seconds = rules.validate_message(queue_name, payload, idempotency_key, delay)
        state = self.world.state
        with state.lock:
            message_id = queue.put(state, queue_name, payload, idempotency_key, seconds,
                                   DEDUPE_RETENTION)
        WAKEUPS.notify(self.world.key("queue"))
        return message_id

    async def lease(self, queues: Sequence[str], *, visibility_timeout: float = 30.0,
                    limit: int = 1, wait: float = 0.0) -> list[Message]:
        names = checks.lease_args(queues, visibility_timeout, limit, wait)
        timeout, state = float(visibility_timeout), self.world.state

        async def attempt() -> list[Message] | None:
            return queue.lease(state, names, timeout, limit) or None

        async def next_due() -> float | None:
            return queue.next_visible_in(state, names)

        if wait <= 0:
            return await attempt() or []
        with WAKEUPS.listen(self.world.key("queue")) as listener:
            return await poll_until(attempt, listener, wait, next_due=next_due) or []

    async def _settle(self, message: Message, how: queue.Settlement, seconds: float) -> bool:
        done = queue.settle(self.world.state, message, how,
                            checks.settle_args(message, how, seconds), DEDUPE_RETENTION)
        if how in ("retry", "defer"):
            WAKEUPS.notify(self.world.key("queue"))
        return done

    async def extend(self, message: Message, visibility_timeout: float) -> bool:
        return await self._settle(message, "extend", visibility_timeout)

    async def ack(self, message: Message) -> bool:
        return await self._settle(message, "ack", 0.0)

    async def retry(self, message: Message, delay: float = 0.0) -> bool:
        return await self._settle(message, "retry", delay)

    async def defer(self, message: Message, delay: float) -> bool:
        return await self._settle(message, "defer", delay)


class _Streams(_Part):
    async def write(self, run_id: str, name: str, chunk: bytes | str) -> int:
        index = streams.write(self.world.state, run_id, name, chunk)
        WAKEUPS.notify(self.world.key("stream", run_id, name))
        return index

    async def close(self, run_id: str, name: str) -> None:
        streams.close(self.world.state, run_id, name)
        WAKEUPS.notify(self.world.key("stream", run_id, name))

    async def read(self, run_id: str, name: str,
                   start_index: int = 0) -> AsyncIterator[bytes | str]:
        if not isinstance(start_index, int) or isinstance(start_index, bool):
            raise ValidationError(f"start_index must be an integer, got {start_index!r}")
        state, position = self.world.state, start_index

        async def attempt() -> tuple[list[bytes | str], int, bool] | None:
            found = streams.chunks(state, run_id, name, position)
            return found if found[0] or found[2] else None

        with WAKEUPS.listen(self.world.key("stream", run_id, name)) as listener:
            while True:
                got = await poll_until(attempt, listener, 3600.0)
                if got is None:
                    continue
                chunks, position, done = got
                for chunk in chunks:
                    yield chunk
                if done:
                    return

    async def list(self, run_id: str) -> list[StreamInfo]:
        return streams.list_streams(self.world.state, run_id)


class _Housekeeping(_Part):
    async def delete_run(self, run_id: str) -> bool:
        return log.delete_run(self.world.state, log.check_id(run_id, "run id"))

    async def queued_run_ids(self) -> set[str]:
        state = self.world.state
        with state.lock:
            return {m.payload["run_id"] for m in state.messages.values()
                    if m.acked_at is None and isinstance(m.payload.get("run_id"), str)}

    async def settle_leftovers(self) -> int:
        return 0  # keys and tokens are fields of the run and hook records
