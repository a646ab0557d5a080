"""Waiting for work without busy-polling: a change stream on the collection where the server
has them (replica sets, sharded clusters, the nx-27017 stand-in), else a bounded back-off
poll; in-process writers also wake waiters at once (:data:`worldline.wakeup.WAKEUPS`).

The change stream is read inline with ``try_next`` (each call blocks at most
:data:`AWAIT_MS`), never from a background task, so cancelling a waiter leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo.errors import OperationFailure, PyMongoError
from worldline.wakeup import WAKEUPS, poll_until

from .store import Store

T = TypeVar("T")

AWAIT_MS = 100  # longest a change-stream read blocks (also the extra latency of a timeout)
MIN_POLL = 0.002
_CHANGES = [{"$match": {"operationType": {"$in": ["insert", "update", "replace"]}}}]


async def _open_stream(store: Store, collection: Any) -> Any:
    if store.change_streams is False:
        return None
    try:
        stream = await collection.watch(_CHANGES, max_await_time_ms=AWAIT_MS)
    except OperationFailure:
        store.change_streams = False  # a standalone mongod: poll instead
        return None
    store.change_streams = True
    return stream


async def wait_until(store: Store, collection: Any, key: str,
                     attempt: Callable[[], Awaitable[T | None]], timeout: float, *,
                     next_due: Callable[[], Awaitable[float | None]] | None = None) -> T | None:
    """Call ``attempt`` until it returns a value or ``timeout`` passes, sleeping between
    tries until a change of ``collection``, an in-process notification of ``key``, the
    next due time, or a doubling back-off capped at the world's ``max_poll``."""
    loop = asyncio.get_running_loop()
    stream = await _open_stream(store, collection)  # before the first look: no lost change
    try:
        with WAKEUPS.listen(key) as listener:

            async def wait(pause: float) -> bool:
                started = loop.time()
                if stream is not None and pause >= AWAIT_MS / 1000 \
                        and await stream.try_next() is not None:
                    return True
                left = pause - (loop.time() - started)
                return await listener.wait(left) if left > 0 else False

            return await poll_until(attempt, listener, timeout, min_poll=MIN_POLL,
                                    max_poll=1.0 if stream is not None else store.max_poll,
                                    next_due=next_due, wait=wait)
    finally:
        if stream is not None:
            with contextlib.suppress(PyMongoError, RuntimeError):
                await stream.close()
