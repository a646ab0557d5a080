"""A dedicated ``LISTEN`` connection that turns NOTIFYs into in-process wake-ups.

Every queue or stream write sends ``pg_notify(channel, payload)`` in its transaction; this
task relays each payload to :data:`worldline.wakeup.WAKEUPS` under ``prefix + payload``,
so an idle ``lease(wait=…)`` or stream tail in any process wakes within milliseconds of
the commit. If the connection drops it reconnects with back-off; meanwhile the consumers'
bounded poll (``max_poll``) keeps them going.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg
from psycopg import sql
from worldline.wakeup import WAKEUPS

log = logging.getLogger(__name__)


class NotifyListener:
    """Relays NOTIFYs on ``channel`` to ``WAKEUPS`` keys ``prefix + payload``."""

    def __init__(self, conninfo: str, channel: str, prefix: str) -> None:
        self.conninfo = conninfo
        self.channel = channel
        self.prefix = prefix
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self, timeout: float) -> None:
        """Start listening; wait up to ``timeout`` seconds for the first LISTEN."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"worldline-listen-{self.channel}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                        self.conninfo, autocommit=True) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    self._ready.set()
                    backoff = 0.05
                    # a wake-up for everyone: anything sent while we were away is found now
                    WAKEUPS.notify(self.prefix + "q")
                    async for note in conn.notifies():
                        WAKEUPS.notify(self.prefix + note.payload)
            except psycopg.OperationalError as exc:
                log.warning("worldline postgres listener lost its connection (%s); "
                            "reconnecting in %.2fs", exc, backoff)
            self._ready.clear()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
