"""In-process wake-ups for idle consumers, with a bounded back-off poll as the fallback.

Worlds without a server-side notification call :meth:`Wakeups.notify` after every write a
consumer may wait for; consumers in the same process wake at once, consumers in other
processes find the work on their next poll (at most ``max_poll`` seconds later).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")


class Listener:
    """A registration for one key; ``wait`` returns early when the key is notified."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()

    async def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True if notified. Clears the flag."""
        try:
            await asyncio.wait_for(self.event.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self.event.clear()


class Wakeups:
    """A process-wide registry of listeners by key (thread- and loop-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[str, set[Listener]] = {}

    @contextlib.contextmanager
    def listen(self, key: str) -> Iterator[Listener]:
        listener = Listener()
        with self._lock:
            self._listeners.setdefault(key, set()).add(listener)
        try:
            yield listener
        finally:
            with self._lock:
                group = self._listeners.get(key)
                if group is not None:
                    group.discard(listener)
                    if not group:
                        del self._listeners[key]

    def notify(self, key: str) -> None:
        with self._lock:
            listeners = list(self._listeners.get(key, ()))
        for listener in listeners:
            with contextlib.suppress(RuntimeError):  # loop already closed
                listener.loop.call_soon_threadsafe(listener.event.set)


WAKEUPS = Wakeups()


def run_finished_key(run_id: str) -> str:
    """The wake-up key notified when a run reaches a terminal state in this process."""
    return f"run-finished:{run_id}"


async def poll_until(
    attempt: Callable[[], Awaitable[T | None]],
    listener: Listener,
    timeout: float,
    *,
    min_poll: float = 0.002,
    max_poll: float = 0.1,
    next_due: Callable[[], Awaitable[float | None]] | None = None,
    wait: Callable[[float], Awaitable[bool]] | None = None,
) -> T | None:
    """Call ``attempt`` until it returns a value or ``timeout`` passes, sleeping between
    tries with a doubling back-off (reset on a notification) capped at ``max_poll``.
    ``wait(seconds) -> notified`` replaces ``listener.wait`` for worlds that also listen to
    their server (a change stream, a blocking pop)."""
    sleep = wait or listener.wait
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = min_poll
    while True:
        result = await attempt()
        if result is not None:
            return result
        remaining = deadline - loop.time()
        if remaining <= 0:
            return None
        pause = min(delay, remaining)
        if next_due is not None:
            due = await next_due()
            if due is not None:
                pause = min(pause, max(due, min_poll))
        notified = await sleep(pause)
        delay = min_poll if notified else min(delay * 2, max_poll)
