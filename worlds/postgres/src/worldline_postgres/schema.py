"""Versioned migrations of the Postgres world. Append a migration; never edit one.

Every statement runs with ``search_path`` set to the world's schema, so table names are
unqualified. :func:`migrate` runs all pending migrations in one transaction under a
transaction-scoped advisory lock, so concurrent migrators queue up instead of colliding.
"""

from __future__ import annotations

from psycopg import AsyncConnection, sql
from worldline.errors import WorldlineError

MIGRATIONS: list[list[str]] = [
    [  # 1: runs, log, projections, queue, streams
        """CREATE TABLE runs (
            run_id text PRIMARY KEY, workflow_name text NOT NULL, status text NOT NULL,
            idempotency_key text, doc json NOT NULL, updated_at timestamptz NOT NULL)""",
        "CREATE INDEX runs_by_workflow ON runs (workflow_name, run_id)",
        "CREATE INDEX runs_by_status ON runs (status, run_id)",
        """CREATE UNIQUE INDEX runs_live_idempotency_key ON runs (idempotency_key)
           WHERE idempotency_key IS NOT NULL AND status IN ('pending', 'running', 'completed')""",
        """CREATE TABLE events (
            run_id text NOT NULL, seq integer NOT NULL, event_id text NOT NULL UNIQUE,
            type text NOT NULL, correlation_id text, created_at timestamptz NOT NULL,
            data json NOT NULL, PRIMARY KEY (run_id, seq))""",
        """CREATE TABLE steps (
            run_id text NOT NULL, step_id text NOT NULL, created_at timestamptz NOT NULL,
            doc json NOT NULL, PRIMARY KEY (run_id, step_id))""",
        "CREATE INDEX steps_by_created ON steps (run_id, created_at, step_id)",
        """CREATE TABLE waits (
            run_id text NOT NULL, wait_id text NOT NULL, created_at timestamptz NOT NULL,
            doc json NOT NULL, PRIMARY KEY (run_id, wait_id))""",
        "CREATE INDEX waits_by_created ON waits (run_id, created_at, wait_id)",
        """CREATE TABLE hooks (
            run_id text NOT NULL, hook_id text NOT NULL, token text NOT NULL UNIQUE,
            created_at timestamptz NOT NULL, doc json NOT NULL,
            PRIMARY KEY (run_id, hook_id))""",
        "CREATE INDEX hooks_by_created ON hooks (run_id, created_at, hook_id)",
        """CREATE TABLE messages (
            message_id text PRIMARY KEY, queue text NOT NULL, payload json NOT NULL,
            idempotency_key text UNIQUE, visible_at timestamptz NOT NULL,
            attempt integer NOT NULL DEFAULT 0, deliveries integer NOT NULL DEFAULT 0,
            lease_id text, acked_at timestamptz,
            enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp())""",
        "CREATE INDEX messages_ready ON messages (queue, visible_at) WHERE acked_at IS NULL",
        "CREATE INDEX messages_acked ON messages (acked_at) WHERE acked_at IS NOT NULL",
        """CREATE TABLE streams (
            run_id text NOT NULL, name text NOT NULL, chunks integer NOT NULL,
            closed boolean NOT NULL, PRIMARY KEY (run_id, name))""",
        """CREATE TABLE stream_chunks (
            run_id text NOT NULL, name text NOT NULL, idx integer NOT NULL,
            is_text boolean NOT NULL, chunk bytea NOT NULL, PRIMARY KEY (run_id, name, idx))""",
    ],
    [  # 2: find a run's messages (reconciliation deletes them with the run)
        # a column, not an index on (payload->>'run_id'): PostgreSQL cannot take a field
        # out of a json document holding \u0000 anywhere, and such payloads are allowed
        "ALTER TABLE messages ADD COLUMN run_id text",
        # back-fill what the parser can read; a payload with \u0000 keeps run_id NULL
        r"""UPDATE messages SET run_id = payload->>'run_id'
            WHERE CASE WHEN strpos(payload::text, '\u0000') = 0
                       THEN json_typeof(payload->'run_id') = 'string' ELSE false END""",
        "CREATE INDEX messages_by_run ON messages (run_id)",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(WorldlineError, RuntimeError):
    """The schema was migrated by a newer worldline than this one."""


class SchemaOutdated(WorldlineError, RuntimeError):
    """The schema is older than this code and the world was told not to migrate."""


async def check_version(conn: AsyncConnection, schema: str, location: str) -> int:
    """Without migrating: the version, or SchemaTooNew / SchemaOutdated naming the fix."""
    version = await current_version(conn, schema)
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"{location} schema {schema!r} has version {version}, newer than this "
            f"worldline-postgres (knows {SCHEMA_VERSION}); upgrade worldline-postgres")
    if version < SCHEMA_VERSION:
        raise SchemaOutdated(
            f"{location} schema {schema!r} is at version {version}, this worldline-postgres "
            f"needs {SCHEMA_VERSION}: run `worldline migrate --world URL` (or open with "
            f"migrate=true)")
    return version


async def current_version(conn: AsyncConnection, schema: str) -> int:
    """The schema's recorded version (0 if it has no worldline tables yet)."""
    cur = await conn.execute("SELECT to_regclass(%s)", (f"{schema}.wl_meta",))
    row = await cur.fetchone()
    if row is None or row[0] is None:
        return 0
    cur = await conn.execute(
        sql.SQL("SELECT value FROM {}.wl_meta WHERE key = 'schema_version'").format(
            sql.Identifier(schema)))
    found = await cur.fetchone()
    return int(found[0]) if found else 0


async def migrate(conn: AsyncConnection, schema: str, location: str) -> int:
    """Create or upgrade ``schema`` to :data:`SCHEMA_VERSION`; return the version.

    One transaction holding ``pg_advisory_xact_lock``: a second migrator waits, then finds
    the work done. Raises :class:`SchemaTooNew` when the schema is ahead of this code.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('worldline.migrate'),"
                           " hashtext(%s))", (schema,))
        version = await current_version(conn, schema)
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"{location} schema {schema!r} has version {version}, newer than this "
                f"worldline-postgres (knows {SCHEMA_VERSION}); upgrade worldline-postgres")
        if version == SCHEMA_VERSION:
            return version
        ident = sql.Identifier(schema)
        await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident))
        await conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(ident))
        await conn.execute("CREATE TABLE IF NOT EXISTS wl_meta"
                           " (key text PRIMARY KEY, value text NOT NULL)")
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                await conn.execute(statement)
        await conn.execute(
            "INSERT INTO wl_meta (key, value) VALUES ('schema_version', %s)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),))
    return SCHEMA_VERSION
