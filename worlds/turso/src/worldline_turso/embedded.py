"""Embedded libSQL (the ``libsql`` engine, in-process) on the shared SQLite-dialect layer.

Two traits of ``libsql`` 0.1.x shape the connection adapter:

* it keeps the GIL while a statement waits on SQLite's busy handler, so a thread waiting for
  the write lock freezes the thread of the same process that holds it (until the busy
  timeout fails it). Threads of one process therefore take turns through a process-wide lock
  per database file, held from ``BEGIN`` to ``COMMIT``/``ROLLBACK``; only separate processes
  meet at SQLite's lock, where the busy timeout serialises them;
* a cursor that is not read to the end keeps its read snapshot open, and a later
  ``BEGIN IMMEDIATE`` on that connection then fails at once. Rows are read eagerly.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from typing import Any

import libsql
from worldline.sqlite import SqlConnection, SqliteDialectWorld

from .urls import EmbeddedOptions, parse_embedded

_FILE_LOCKS: dict[str, threading.Lock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def file_lock(path: str) -> threading.Lock:
    """The process-wide lock of one database file."""
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(path, threading.Lock())


class Result:
    """A fully read result: ``rowcount``, ``fetchone()``, ``fetchall()``."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Sequence[Any]], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def fetchone(self) -> Sequence[Any] | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Sequence[Any]]:
        return self._rows


class LibsqlConnection:
    """A ``libsql`` connection in autocommit mode, turn-taking with the process's other
    connections to the same file (see the module docstring)."""

    def __init__(self, conn: Any, lock: threading.Lock) -> None:
        self._conn = conn
        self._lock = lock
        self._in_transaction = False

    def _run(self, sql: str, parameters: Sequence[Any]) -> Result:
        cursor = self._conn.execute(sql, tuple(parameters))
        try:
            rows = cursor.fetchall()
            return Result(rows, cursor.rowcount)
        finally:
            cursor.close()

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Result:
        verb = sql.lstrip()[:8].upper()
        if verb.startswith("BEGIN"):
            self._lock.acquire()
            try:
                result = self._run(sql, parameters)
            except BaseException:
                self._lock.release()
                raise
            self._in_transaction = True
            return result
        if not self._in_transaction:
            with self._lock:
                return self._run(sql, parameters)
        if verb.startswith(("COMMIT", "ROLLBACK", "END")):
            try:
                return self._run(sql, parameters)
            except BaseException:
                if self._conn.in_transaction:  # a failed COMMIT leaves it open
                    with contextlib.suppress(Exception):
                        self._conn.execute("ROLLBACK")
                raise
            finally:
                self._in_transaction = False
                self._lock.release()
        return self._run(sql, parameters)

    def close(self) -> None:
        if self._in_transaction:
            self._in_transaction = False
            self._lock.release()
        self._conn.close()


def connect_file(options: EmbeddedOptions) -> LibsqlConnection:
    """Open the file (created if missing) in WAL mode with the busy timeout."""
    options.path.parent.mkdir(parents=True, exist_ok=True)
    raw = libsql.connect(str(options.path), isolation_level=None,
                         timeout=options.busy_timeout)
    conn = LibsqlConnection(raw, file_lock(os.path.realpath(options.path)))
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {options.synchronous}")
    return conn


class EmbeddedTursoWorld(SqliteDialectWorld):
    """Embedded libSQL file — see :mod:`worldline_turso`."""

    name = "turso"

    def __init__(self, url: str) -> None:
        self.options = options = parse_embedded(url)

        def connect() -> SqlConnection:
            return connect_file(options)

        super().__init__(url, str(options.path.resolve()), connect, max_poll=options.max_poll)
