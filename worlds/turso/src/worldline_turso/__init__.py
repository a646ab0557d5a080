"""The Turso world: libSQL, embedded in-process or remote (Turso Cloud, ``sqld``).

Features: the schema, migrations and statements of the local world (one shared
SQLite-dialect layer); every transition one ``BEGIN IMMEDIATE`` transaction — on a file
(several processes may share it: WAL, busy timeout) or on one Hrana stream of the server;
the queue and streams in the same database; idle consumers poll with bounded back-off
(``max_poll``) and wake at once within a process.

URLs::

    file:.worldline/world.db                       (embedded, relative path)
    file:/var/lib/app/world.db?busy_timeout=30     (embedded, absolute path)
    libsql://mydb-myorg.turso.io?authToken=…       (Turso Cloud; or $WORLDLINE_TURSO_AUTH_TOKEN)
    wss://mydb-myorg.turso.io                      (the same, spelled as WebSocket)
    https://mydb-myorg.turso.io                    (the same: Hrana over WebSocket on that host)
    libsql://127.0.0.1:8080?tls=0                  (a local sqld, plain text)
"""

import importlib
from typing import TYPE_CHECKING, Any

from .urls import namespaced, parse_embedded, parse_remote

if TYPE_CHECKING:
    from .world import open_world

__all__ = ["namespaced", "open_world", "parse_embedded", "parse_remote"]

_LAZY = {"open_world": "world"}


def __getattr__(name: str) -> Any:
    """Import the driver-backed parts only when they are used (discovery stays cheap)."""
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
