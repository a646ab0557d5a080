"""Runs, the event log and the projections on one SQLite-dialect connection (sync).

Every write is one ``BEGIN IMMEDIATE`` transaction: read the state, ask
:func:`worldline.rules.decide`, write the event, the projections and any message together.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from .. import rules
from ..checks import text
from ..cursor import check_page_args, decode_cursor, encode_cursor
from ..errors import NotFound
from ..faults import fault_point
from ..model import (
    Enqueue,
    Event,
    EventResult,
    Hook,
    NewEvent,
    Page,
    Run,
    RunStatus,
    Step,
    Wait,
    to_iso,
    utcnow,
)
from ..overlay import Key, Names, Overlay
from ..strip import strip_data
from . import queue, streams
from .connection import SqlConnection, write_transaction
from .schema import TABLES, migrate

T = TypeVar("T")

#: entity kind -> (table, id column, class)
_ENTITIES: dict[str, tuple[str, str, type[Any]]] = {
    "step": ("steps", "step_id", Step),
    "wait": ("waits", "wait_id", Wait),
    "hook": ("hooks", "hook_id", Hook),
}


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class SqliteDialectStore:
    """All storage operations of a SQLite-dialect world over one connection."""

    def __init__(self, conn: SqlConnection, location: str, *,
                 dedupe_retention: float = 300.0,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.conn = conn
        self.location = location
        self.dedupe_retention = dedupe_retention
        self.clock = clock

    def migrate(self) -> int:
        return migrate(self.conn, self.location)

    # -- the one write ------------------------------------------------------------------

    def create_event(self, run_id: str, event: NewEvent,
                     enqueue: Enqueue | None) -> EventResult:
        """Decide and write one validated event (:func:`worldline.checks.event_args`)
        atomically, plus ``enqueue`` if it is appended."""
        [result] = self.create_batch(run_id, [event], [enqueue])
        return result

    def create_batch(self, run_id: str, events: list[NewEvent],
                     enqueues: list[Enqueue | None],
                     expect_seq: int | None = None) -> list[EventResult]:
        """Several validated events (:func:`worldline.checks.batch_args`) in one
        transaction, decided in order; all or nothing. LogMoved (nothing written) unless
        the run's log ends at ``expect_seq`` when it is given."""
        with write_transaction(self.conn):
            state = self._read_for(run_id, events)
            rules.check_expected_seq(run_id, state.run, expect_seq)
            results = [state.decide(run_id, event)[0] for event in events]
            self._write(run_id, state, results, enqueues)
            return results

    def _read_for(self, run_id: str, batch: list[NewEvent]) -> Overlay:
        """Everything the batch's decisions look at, inside the write transaction."""
        names = Names.of(batch)
        entities: dict[Key, Any] = {
            (kind, cid): self._load_entity(kind, run_id, cid)
            for kind, ids in names.entities.items() for cid in ids}
        idempotency = {}
        for key in names.keys:
            row = self.conn.execute(
                "SELECT run_id FROM runs WHERE idempotency_key = ? AND status IN "
                "('pending', 'running', 'completed')", (key,)).fetchone()
            if row:
                idempotency[key] = row[0]
        return Overlay(run=self._load_run(run_id), now=self.clock(), entities=entities,
                       holders={token: self._hook_by_token(token) for token in names.tokens},
                       idempotency=idempotency)

    def _write(self, run_id: str, state: Overlay, results: list[EventResult],
               enqueues: list[Enqueue | None]) -> None:
        """What the decisions left: the events, the run, its entities and the messages."""
        recorded = [r.event for r in results if r.event is not None]
        if not recorded:
            return
        conn = self.conn
        for event in recorded:
            conn.execute(
                "INSERT INTO events (run_id, seq, event_id, type, correlation_id, created_at,"
                " data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, event.seq, event.event_id, event.type.value, event.correlation_id,
                 to_iso(event.created_at), _dumps(event.data)))
        assert state.run is not None
        self._save_run(state.run, state.before)
        # deletes first: the hooks left are live at the end of the batch, with unique tokens
        if state.disposed:
            for hook_id in sorted(state.disposed):
                conn.execute("DELETE FROM hooks WHERE run_id = ? AND hook_id = ?",
                             (run_id, hook_id))
        if state.cleared:
            conn.execute("DELETE FROM hooks WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM waits WHERE run_id = ?", (run_id,))
        for (kind, _), entity in state.saved():
            self._save_entity(kind, entity)
        for result, enqueue in zip(results, enqueues, strict=True):
            if enqueue is None or result.event is None:
                continue
            if result.event.type == "run_created":
                fault_point("start.enqueue")  # inside the tx: a failure rolls it back
            queue.enqueue(conn, enqueue.queue, enqueue.payload, enqueue.idempotency_key,
                          enqueue.delay, self.dedupe_retention)

    def _load_run(self, run_id: str) -> Run | None:
        row = self.conn.execute("SELECT doc FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return Run.from_doc(json.loads(row[0])) if row else None

    def _load_entity(self, kind: str, run_id: str, entity_id: str | None) -> Any:
        table, column, cls = _ENTITIES[kind]
        row = self.conn.execute(
            f"SELECT doc FROM {table} WHERE run_id = ? AND {column} = ?",
            (run_id, entity_id)).fetchone()
        return cls.from_doc(json.loads(row[0])) if row else None

    def _hook_by_token(self, token: str) -> Hook | None:
        row = self.conn.execute("SELECT doc FROM hooks WHERE token = ?", (token,)).fetchone()
        return Hook.from_doc(json.loads(row[0])) if row else None

    def _save_run(self, run: Run, before: Run | None) -> None:
        if before is None:
            self.conn.execute(
                "INSERT INTO runs (run_id, workflow_name, status, idempotency_key, doc,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (run.run_id, run.workflow_name, run.status.value, run.idempotency_key,
                 _dumps(run.to_doc()), to_iso(run.updated_at)))
        elif before.status is run.status:  # its indexes are left alone
            self.conn.execute("UPDATE runs SET doc = ?, updated_at = ? WHERE run_id = ?",
                              (_dumps(run.to_doc()), to_iso(run.updated_at), run.run_id))
        else:
            self.conn.execute(
                "UPDATE runs SET status = ?, doc = ?, updated_at = ? WHERE run_id = ?",
                (run.status.value, _dumps(run.to_doc()), to_iso(run.updated_at), run.run_id))

    def _save_entity(self, kind: str, entity: Step | Wait | Hook) -> None:
        table, column, _ = _ENTITIES[kind]
        doc = entity.to_doc()
        if kind == "hook":
            self.conn.execute(
                "INSERT INTO hooks (run_id, hook_id, token, created_at, doc) VALUES"
                " (?, ?, ?, ?, ?) ON CONFLICT (run_id, hook_id) DO UPDATE SET doc = excluded.doc",
                (entity.run_id, doc["hook_id"], doc["token"], doc["created_at"], _dumps(doc)))
            return
        self.conn.execute(
            f"INSERT INTO {table} (run_id, {column}, created_at, doc) VALUES (?, ?, ?, ?)"
            f" ON CONFLICT (run_id, {column}) DO UPDATE SET doc = excluded.doc",
            (entity.run_id, doc[column], doc["created_at"], _dumps(doc)))

    # -- reads --------------------------------------------------------------------------

    def get_run(self, run_id: str, with_data: bool = True) -> Run:
        run = self._load_run(text(run_id, "run id"))
        if run is None:
            raise NotFound("no such run", run_id=run_id)
        return run if with_data else strip_data(run)

    def list_runs(self, workflow_name: str | None, status: str | None, limit: int,
                  cursor: str | None, order: str, with_data: bool) -> Page[Run]:
        where, params = [], []
        if workflow_name is not None:
            text(workflow_name, "workflow name")
            where.append("workflow_name = ?")
            params.append(workflow_name)
        if status is not None:
            where.append("status = ?")
            params.append(RunStatus(status).value)
        return self._page("runs", ("run_id",), where, params, limit, cursor, order,
                          lambda row: Run.from_doc(json.loads(row[0])), with_data)

    def get_entity(self, kind: str, run_id: str, entity_id: str, with_data: bool = True) -> Any:
        entity = self._load_entity(kind, text(run_id, "run id"), text(entity_id, f"{kind} id"))
        if entity is None:
            raise NotFound(f"no such {kind}", run_id=run_id, entity_id=entity_id)
        return entity if with_data else strip_data(entity)

    def list_entities(self, kind: str, run_id: str, limit: int, cursor: str | None,
                      order: str, with_data: bool = True) -> Page[Any]:
        table, column, cls = _ENTITIES[kind]
        text(run_id, "run id")
        return self._page(table, ("created_at", column), ["run_id = ?"], [run_id], limit,
                          cursor, order, lambda row: cls.from_doc(json.loads(row[0])),
                          with_data)

    def get_hook_by_token(self, token: str) -> Hook:
        hook = self._hook_by_token(text(token, "hook token"))
        if hook is None:
            raise NotFound(f"no live hook holds token {token!r}")
        return hook

    def list_events(self, run_id: str, limit: int, cursor: str | None, order: str,
                    with_data: bool) -> Page[Event]:
        text(run_id, "run id")

        def build(row: Any) -> Event:
            return Event.from_doc({"event_id": row[1], "run_id": run_id, "seq": row[2],
                                   "type": row[3], "correlation_id": row[4],
                                   "data": json.loads(row[5]), "created_at": row[6]})
        return self._page("events", ("seq",), ["run_id = ?"], [run_id], limit, cursor, order,
                          build, with_data,
                          columns="1, event_id, seq, type, correlation_id, data, created_at")

    def _page(self, table: str, keys: tuple[str, ...], where: list[str], params: list[Any],
              limit: int, cursor: str | None, order: str, build: Callable[[Any], T],
              with_data: bool, columns: str = "doc") -> Page[T]:
        check_page_args(limit, order)
        where, params = list(where), list(params)
        op, direction = (">", "ASC") if order == "asc" else ("<", "DESC")
        if cursor is not None:
            values = decode_cursor(cursor, len(keys),
                                   tuple(int if k == "seq" else str for k in keys))
            where.append(f"({', '.join(keys)}) {op} ({', '.join('?' * len(keys))})")
            params.extend(values)
        sql = (f"SELECT {columns}, {', '.join(keys)} FROM {table}"
               + (f" WHERE {' AND '.join(where)}" if where else "")
               + f" ORDER BY {', '.join(k + ' ' + direction for k in keys)} LIMIT ?")
        rows = self.conn.execute(sql, (*params, limit + 1)).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        items = [build(row) for row in rows]
        if not with_data:
            items = [strip_data(item) for item in items]
        next_cursor = encode_cursor(*rows[-1][-len(keys):]) if more and rows else None
        return Page(items, next_cursor)

    def raw_events(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT seq, type, correlation_id, data, event_id, created_at FROM events"
            " WHERE run_id = ? ORDER BY seq", (run_id,)).fetchall()
        return [{"seq": r[0], "type": r[1], "correlation_id": r[2], "data": json.loads(r[3]),
                 "event_id": r[4], "created_at": r[5]} for r in rows]

    # -- housekeeping -------------------------------------------------------------------

    def delete_run(self, run_id: str) -> bool:
        """Delete a terminal run and all it owns in one transaction; False if it is live."""
        with write_transaction(self.conn) as conn:
            row = conn.execute("SELECT status FROM runs WHERE run_id = ?",
                               (text(run_id, "run id"),)).fetchone()
            if row is None or not RunStatus(row[0]).terminal:
                return False
            for table in ("events", "steps", "waits", "hooks", "streams", "stream_chunks"):
                conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
            fault_point("reconcile.mid_delete")  # inside the tx: a failure rolls it back
            conn.execute("DELETE FROM messages WHERE json_extract(payload, '$.run_id') = ?",
                         (run_id,))
            conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
        return True

    def queued_run_ids(self) -> set[str]:
        rows = self.conn.execute(
            "SELECT DISTINCT json_extract(payload, '$.run_id') FROM messages"
            " WHERE acked_at IS NULL").fetchall()
        return {row[0] for row in rows if isinstance(row[0], str)}

    def destroy(self) -> None:
        with write_transaction(self.conn) as conn:
            for table in TABLES:
                conn.execute(f"DELETE FROM {table}")

    # -- queue and streams: thin delegations so the world sees one store -----------------

    def enqueue(self, name: str, payload: dict[str, Any], key: str | None,
                delay: float) -> str:
        with write_transaction(self.conn) as conn:
            return queue.enqueue(conn, name, payload, key, delay, self.dedupe_retention)

    lease = queue.lease
    settle = queue.settle
    next_visible_in = queue.next_visible_in
    stream_write = streams.write
    stream_close = streams.close
    stream_chunks = streams.chunks
    stream_list = streams.list_streams
