"""The PostgreSQL world (psycopg 3, async).

Features:

- every transition is one transaction: ``SELECT … FOR UPDATE`` of the run row, the rules
  of :mod:`worldline.rules`, then the event, the projections and any queue message
  written together (pipeline mode: two round trips); unique constraints back the rules
  where no row can be locked (new runs, idempotency keys, hook tokens);
- the queue in the same database: ``FOR UPDATE SKIP LOCKED`` leases, visibility timeouts,
  delays, idempotency keys, fencing by lease id; server time throughout;
- ``LISTEN/NOTIFY`` on a dedicated connection wakes idle consumers and stream tailers in
  any process within milliseconds; a bounded poll (``max_poll``) is the safety net;
- one schema per world (``?schema=``), created and upgraded by versioned migrations under
  an advisory lock (:func:`migrate`, ``worldline migrate --world URL``);
- an unreachable server raises :class:`worldline.WorldUnavailable` naming host and port.

URLs::

    postgresql://127.0.0.1:5432/test
    postgresql://app:secret@db.internal/app?schema=billing&pool_size=20
    postgres:///app?host=/var/run/postgresql&migrate=false
    postgresql://db/app?sslmode=require&connect_timeout=3&max_poll=0.5

worldline options: ``schema`` (default ``worldline``), ``migrate`` (``true``), ``pool_size``
(``10``), ``pool_min`` (``1``), ``pool_timeout`` (``30`` s), ``max_poll`` (``1.0`` s),
``dedupe_retention`` (``300`` s). Every other query parameter is passed to libpq.
"""

import importlib
from typing import TYPE_CHECKING, Any

from .options import PostgresOptions, namespaced, parse_url
from .schema import SCHEMA_VERSION, SchemaOutdated, SchemaTooNew

if TYPE_CHECKING:
    from .world import PostgresWorld, migrate

__all__ = ["SCHEMA_VERSION", "PostgresOptions", "PostgresWorld", "SchemaOutdated",
           "SchemaTooNew", "migrate", "namespaced", "parse_url"]

_LAZY = {"PostgresWorld": "world", "migrate": "world"}


def __getattr__(name: str) -> Any:
    """Import the driver-backed parts only when they are used (discovery stays cheap)."""
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
