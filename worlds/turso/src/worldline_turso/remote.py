"""Remote Turso / ``sqld`` over Hrana (``libsql-client``), on the shared SQLite-dialect layer.

The store needs a DB-API connection whose ``BEGIN IMMEDIATE`` … ``COMMIT`` is one
transaction on the server. A Hrana *stream* is exactly that: one server-side SQLite
connection whose statements run in order, so an interactive transaction opened on it holds
the database's write lock until ``COMMIT``. :class:`HranaConnection` is one stream;
:class:`HranaSession` is one WebSocket (``libsql-client``'s ``HranaClient``) on a private
event-loop thread, multiplexing the streams of one world's pool threads.

``libsql-client`` 0.3.1 exposes streams only through ``HranaClient.transaction()``, which
sends a deferred ``BEGIN`` itself; a deferred transaction that reads and then writes fails
instead of waiting when another writer got in between. So this module opens the stream with
the client's ``_open_stream()`` and sends ``BEGIN IMMEDIATE`` itself (pinned to 0.3.x).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

import aiohttp
from libsql_client import LibsqlError, create_client
from libsql_client.hrana.convert import _result_set_from_proto, _stmt_to_proto
from worldline.errors import WorldUnavailable
from worldline.sqlite import SqlConnection, SqliteDialectWorld

from .embedded import Result
from .urls import RemoteOptions, parse_remote, redact

T = TypeVar("T")

_TRANSPORT_ERRORS = (LibsqlError, OSError, TimeoutError, aiohttp.ClientError)

#: seconds one statement may take (a BEGIN IMMEDIATE may wait for the write lock)
STATEMENT_TIMEOUT = 60.0


class HranaSession:
    """One Hrana WebSocket connection on its own event-loop thread."""

    def __init__(self, options: RemoteOptions) -> None:
        self.options = options
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="worldline-turso-hrana")
        self._thread.start()

        async def make() -> Any:
            return create_client(options.url, auth_token=options.auth_token)

        self.client = self.run(make())

    def run(self, coro: Awaitable[T]) -> T:
        """Run a coroutine on the session's loop and wait for it."""
        future = asyncio.run_coroutine_threadsafe(_as_coroutine(coro), self._loop)
        try:
            return future.result(STATEMENT_TIMEOUT)
        except TimeoutError:
            future.cancel()
            raise

    def close(self) -> None:
        if self._loop.is_closed():
            return
        with contextlib.suppress(Exception):
            self.run(self.client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


class HranaConnection:
    """One Hrana stream as the store's autocommit DB-API connection."""

    def __init__(self, session: HranaSession) -> None:
        self._session = session
        self._stream: Any = None
        self._in_transaction = False

    async def _execute(self, sql: str, parameters: Sequence[Any]) -> Any:
        if self._stream is None or self._stream.closed:
            self._stream = self._session.client._open_stream()
        return _result_set_from_proto(
            await self._stream.execute(_stmt_to_proto(sql, list(parameters))))

    def _send(self, sql: str, parameters: Sequence[Any]) -> Result:
        try:
            result = self._session.run(self._execute(sql, parameters))
        except _TRANSPORT_ERRORS as exc:
            if not _connection_lost(exc):
                raise  # an SQL error the server reported
            self._drop_stream()  # a transaction on it is rolled back by the server
            raise WorldUnavailable(f"lost the Hrana connection to "
                                   f"{self._session.options.url}: {exc}") from exc
        return Result([tuple(row) for row in result.rows], result.rows_affected)

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Result:
        verb = sql.lstrip()[:8].upper()
        if verb.startswith(("COMMIT", "ROLLBACK", "END")):
            self._in_transaction = False
            if verb.startswith("ROLLBACK") and (self._stream is None or self._stream.closed):
                return Result([], 0)  # the transaction died with its stream
            try:
                return self._send(sql, parameters)
            except Exception:
                if not verb.startswith("ROLLBACK"):  # a refused COMMIT leaves it open
                    with contextlib.suppress(Exception):
                        self._send("ROLLBACK", ())
                raise
        if self._in_transaction:
            return self._send(sql, parameters)
        try:
            result = self._send(sql, parameters)
        except WorldUnavailable:
            # Outside a transaction the store only reads or BEGINs: safe to send again.
            result = self._send(sql, parameters)
        self._in_transaction = verb.startswith("BEGIN")
        return result

    def _drop_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                self._session.run(_close_stream(stream))

    def close(self) -> None:
        self._drop_stream()


async def _close_stream(stream: Any) -> None:
    stream.close()


def _connection_lost(exc: BaseException) -> bool:
    """A dropped socket or stream (not an SQL error the server reported)."""
    if isinstance(exc, LibsqlError):
        return exc.code in ("STREAM_CLOSED", "CLIENT_CLOSED", "HRANA_WEBSOCKET_ERROR",
                            "HRANA_PROTO_ERROR")
    return True


class RemoteTursoWorld(SqliteDialectWorld):
    """A remote Turso database or ``sqld`` — see :mod:`worldline_turso`."""

    name = "turso"

    def __init__(self, url: str) -> None:
        self.options = parse_remote(url)
        self._session: HranaSession | None = None
        self._session_lock = threading.Lock()

        def connect() -> SqlConnection:
            return HranaConnection(self._open_session())

        # the token stays in ``options``: ``url`` and ``location`` are printed and logged
        super().__init__(redact(url), redact(url), connect, max_poll=self.options.max_poll)

    def _open_session(self) -> HranaSession:
        with self._session_lock:
            if self._session is None:
                self._session = HranaSession(self.options)
            return self._session

    async def close(self) -> None:
        await super().close()
        with self._session_lock:
            session, self._session = self._session, None
        if session is not None:
            await asyncio.to_thread(session.close)
