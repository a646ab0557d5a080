"""The MongoDB world.

Features: every transition is one single-document atomic write (the event insert at a
unique ``<run>|<seq>`` id is the commit point; projections roll forward idempotently), so it
needs no multi-document transactions and works on a standalone mongod, a replica set or a
sharded cluster; unique claim documents keep hook tokens and run idempotency keys unique;
the queue and streams live in the same database; idle consumers wake through change streams
where the server has them, else a bounded back-off poll; timestamps follow the server clock.

URLs (the path names the database, i.e. the namespace; default ``worldline``)::

    mongodb://127.0.0.1:27017/worldline
    mongodb://user:pass@db1:27017,db2:27017/app?replicaSet=rs0&serverSelectionTimeoutMS=2000
    mongodb+srv://user:pass@cluster0.example.net/app
    mongodb://127.0.0.1:27018/worldline?max_poll=0.2      (poll cap without change streams)
"""

import importlib
from typing import TYPE_CHECKING, Any

from .url import namespaced, parse_url

if TYPE_CHECKING:
    from .world import MongoWorld

__all__ = ["MongoWorld", "namespaced", "parse_url"]

_LAZY = {"MongoWorld": "world"}


def __getattr__(name: str) -> Any:
    """Import the driver-backed parts only when they are used (discovery stays cheap)."""
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
