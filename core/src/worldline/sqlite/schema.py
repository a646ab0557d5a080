"""Versioned schema of the SQLite-dialect worlds. Append a migration; never edit one."""

from __future__ import annotations

from .connection import SqlConnection, write_transaction

MIGRATIONS: list[list[str]] = [
    [  # 1: runs, log, projections, queue, streams
        """CREATE TABLE IF NOT EXISTS wl_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY, workflow_name TEXT NOT NULL, status TEXT NOT NULL,
            idempotency_key TEXT, doc TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        "CREATE INDEX runs_by_workflow ON runs (workflow_name, run_id)",
        "CREATE INDEX runs_by_status ON runs (status, run_id)",
        """CREATE UNIQUE INDEX runs_live_idempotency_key ON runs (idempotency_key)
           WHERE idempotency_key IS NOT NULL AND status IN ('pending', 'running', 'completed')""",
        """CREATE TABLE events (
            run_id TEXT NOT NULL, seq INTEGER NOT NULL, event_id TEXT NOT NULL,
            type TEXT NOT NULL, correlation_id TEXT, created_at TEXT NOT NULL,
            data TEXT NOT NULL, PRIMARY KEY (run_id, seq)) WITHOUT ROWID""",
        """CREATE TABLE steps (
            run_id TEXT NOT NULL, step_id TEXT NOT NULL, created_at TEXT NOT NULL,
            doc TEXT NOT NULL, PRIMARY KEY (run_id, step_id)) WITHOUT ROWID""",
        """CREATE TABLE waits (
            run_id TEXT NOT NULL, wait_id TEXT NOT NULL, created_at TEXT NOT NULL,
            doc TEXT NOT NULL, PRIMARY KEY (run_id, wait_id)) WITHOUT ROWID""",
        """CREATE TABLE hooks (
            run_id TEXT NOT NULL, hook_id TEXT NOT NULL, token TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL, doc TEXT NOT NULL,
            PRIMARY KEY (run_id, hook_id)) WITHOUT ROWID""",
        """CREATE TABLE messages (
            message_id TEXT PRIMARY KEY, queue TEXT NOT NULL, payload TEXT NOT NULL,
            idempotency_key TEXT UNIQUE, visible_at REAL NOT NULL,
            attempt INTEGER NOT NULL DEFAULT 0, deliveries INTEGER NOT NULL DEFAULT 0,
            lease_id TEXT, acked_at REAL, enqueued_at REAL NOT NULL)""",
        """CREATE INDEX messages_ready ON messages (queue, visible_at)
           WHERE acked_at IS NULL""",
        "CREATE INDEX messages_acked ON messages (acked_at) WHERE acked_at IS NOT NULL",
        """CREATE TABLE streams (
            run_id TEXT NOT NULL, name TEXT NOT NULL, chunks INTEGER NOT NULL,
            closed INTEGER NOT NULL, PRIMARY KEY (run_id, name)) WITHOUT ROWID""",
        """CREATE TABLE stream_chunks (
            run_id TEXT NOT NULL, name TEXT NOT NULL, idx INTEGER NOT NULL,
            is_text INTEGER NOT NULL, chunk BLOB NOT NULL,
            PRIMARY KEY (run_id, name, idx)) WITHOUT ROWID""",
    ],
    [  # 2: find a run's messages (reconciliation)
        "CREATE INDEX messages_by_run ON messages (json_extract(payload, '$.run_id'))",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)
TABLES = ("runs", "events", "steps", "waits", "hooks", "messages", "streams", "stream_chunks")


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer worldline than this one."""


def current_version(conn: SqlConnection) -> int:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'wl_meta'").fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT value FROM wl_meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: SqlConnection, location: str) -> int:
    """Bring the schema up to :data:`SCHEMA_VERSION` in one transaction; return the version.
    Safe when several processes open a new file at once (the write lock serialises them)."""
    if current_version(conn) == SCHEMA_VERSION:
        return SCHEMA_VERSION
    with write_transaction(conn):
        version = current_version(conn)
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"{location} has schema version {version}, newer than this worldline "
                f"({SCHEMA_VERSION}); upgrade worldline")
        for statements in MIGRATIONS[version:]:
            for sql in statements:
                conn.execute(sql)
        conn.execute("INSERT OR REPLACE INTO wl_meta (key, value) VALUES ('schema_version', ?)",
                     (str(SCHEMA_VERSION),))
    return SCHEMA_VERSION
