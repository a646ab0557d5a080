"""Reads: gets, keyset-paginated lists (``worldline.cursor``) and the raw-events backdoor."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from psycopg import AsyncConnection
from worldline.cursor import check_page_args, decode_cursor, encode_cursor
from worldline.errors import NotFound, ValidationError
from worldline.model import Event, Hook, Page, Run, RunStatus, to_iso
from worldline.strip import strip_data

from .events import ENTITIES

T = TypeVar("T")


async def get_run(conn: AsyncConnection, run_id: str, with_data: bool) -> Run:
    cur = await conn.execute("SELECT doc FROM runs WHERE run_id = %s", (run_id,))
    row = await cur.fetchone()
    if row is None:
        raise NotFound("no such run", run_id=run_id)
    run = Run.from_doc(row[0])
    return run if with_data else strip_data(run)


async def list_runs(conn: AsyncConnection, workflow_name: str | None, status: str | None,
                    limit: int, cursor: str | None, order: str, with_data: bool) -> Page[Run]:
    where, params = [], []
    if workflow_name is not None:
        where.append("workflow_name = %s")
        params.append(workflow_name)
    if status is not None:
        where.append("status = %s")
        params.append(RunStatus(status).value)
    return await page(conn, "runs", ("run_id",), where, params, limit, cursor, order,
                      lambda row: Run.from_doc(row[0]), with_data)


async def get_entity(conn: AsyncConnection, kind: str, run_id: str, entity_id: str,
                     with_data: bool = True) -> Any:
    table, column, cls = ENTITIES[kind]
    cur = await conn.execute(f"SELECT doc FROM {table} WHERE run_id = %s AND {column} = %s",
                             (run_id, entity_id))
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"no such {kind}", run_id=run_id, entity_id=entity_id)
    entity = cls.from_doc(row[0])
    return entity if with_data else strip_data(entity)


async def list_entities(conn: AsyncConnection, kind: str, run_id: str, limit: int,
                        cursor: str | None, order: str, with_data: bool = True) -> Page[Any]:
    table, column, cls = ENTITIES[kind]
    return await page(conn, table, ("created_at", column), ["run_id = %s"], [run_id], limit,
                      cursor, order, lambda row: cls.from_doc(row[0]), with_data)


async def get_hook_by_token(conn: AsyncConnection, token: str) -> Hook:
    cur = await conn.execute("SELECT doc FROM hooks WHERE token = %s", (token,))
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"no live hook holds token {token!r}")
    return Hook.from_doc(row[0])


async def list_events(conn: AsyncConnection, run_id: str, limit: int, cursor: str | None,
                      order: str, with_data: bool) -> Page[Event]:
    def build(row: Any) -> Event:
        return Event(event_id=row[0], run_id=run_id, seq=row[1], type=row[2],
                     correlation_id=row[3], data=row[4], created_at=row[5])
    return await page(conn, "events", ("seq",), ["run_id = %s"], [run_id], limit, cursor,
                      order, build, with_data,
                      columns="event_id, seq, type, correlation_id, data, created_at")


async def page(conn: AsyncConnection, table: str, keys: tuple[str, ...], where: list[str],
               params: list[Any], limit: int, cursor: str | None, order: str,
               build: Callable[[Any], T], with_data: bool, columns: str = "doc") -> Page[T]:
    """One keyset page ordered by ``keys``: fetch ``limit + 1`` rows to know if there is more."""
    check_page_args(limit, order)
    where, params = list(where), list(params)
    op, direction = (">", "ASC") if order == "asc" else ("<", "DESC")
    if cursor is not None:
        values = _cursor_values(cursor, keys)
        where.append(f"({', '.join(keys)}) {op} ({', '.join(['%s'] * len(keys))})")
        params.extend(values)
    query = (f"SELECT {columns}, {', '.join(keys)} FROM {table}"
             + (f" WHERE {' AND '.join(where)}" if where else "")
             + f" ORDER BY {', '.join(k + ' ' + direction for k in keys)} LIMIT %s")
    cur = await conn.execute(query, (*params, limit + 1))
    rows = await cur.fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [build(row) for row in rows]
    if not with_data:
        items = [strip_data(item) for item in items]
    if not (more and rows):
        return Page(items, None)
    last = [to_iso(v) if isinstance(v, datetime) else v for v in rows[-1][-len(keys):]]
    return Page(items, encode_cursor(*last))


def _cursor_values(cursor: str, keys: tuple[str, ...]) -> list[Any]:
    """Decode a cursor and check each value's type against its sort key (a forged cursor
    is a ValidationError, not a SQL error)."""
    values = decode_cursor(cursor, len(keys))
    for key, value in zip(keys, values, strict=True):
        if key == "seq":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif key == "created_at":
            ok = isinstance(value, str) and _is_time(value)
        else:
            ok = isinstance(value, str)
        if not ok:
            raise ValidationError(f"malformed cursor {cursor!r}")
    return values


def _is_time(value: str) -> bool:
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


async def raw_events(conn: AsyncConnection, run_id: str) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT seq, type, correlation_id, data, event_id, created_at FROM events"
        " WHERE run_id = %s ORDER BY seq", (run_id,))
    return [{"seq": r[0], "type": r[1], "correlation_id": r[2], "data": r[3],
             "event_id": r[4], "created_at": to_iso(r[5])} for r in await cur.fetchall()]
