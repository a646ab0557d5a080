"""The SQLite-dialect storage layer shared by every world that speaks SQLite's SQL
(the local world on stdlib ``sqlite3``, the Turso world on libSQL).

A world supplies only a DB-API connection factory; the schema, the migrations and every
statement live here once.
"""

from .connection import SqlConnection
from .store import SqliteDialectStore
from .world import SqliteDialectWorld

__all__ = ["SqlConnection", "SqliteDialectStore", "SqliteDialectWorld"]
