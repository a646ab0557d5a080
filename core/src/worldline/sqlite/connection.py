"""The minimal DB-API surface the SQLite-dialect store needs, and a transaction helper."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, Protocol


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Sequence[Any] | None: ...
    def fetchall(self) -> list[Sequence[Any]]: ...


class SqlConnection(Protocol):
    """A DB-API connection in autocommit mode (``sqlite3`` with ``isolation_level=None``,
    ``libsql``'s equivalent); transactions are opened explicitly by the store."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...
    def close(self) -> None: ...


@contextlib.contextmanager
def write_transaction(conn: SqlConnection) -> Iterator[SqlConnection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``: takes the write lock up front, so a read made inside
    is still true when the transaction writes. Rolls back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        with contextlib.suppress(Exception):
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
