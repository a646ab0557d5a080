"""The Redis world: worldline on Redis 7 through redis-py's asyncio client.

Features: every ``events.create`` is one Lua script that re-checks the versions its
decision depended on (optimistic compare-and-swap; the rules stay in
``worldline.rules``); the event and its queue message in the same script (atomic start);
a sorted-set queue with leases, fencing and idempotency keys; idle consumers block on the
server (``BLPOP``); streams on Redis Streams tailed with ``XREAD BLOCK``; server time
(``TIME``); reconnect with exponential back-off. Everything of one world lives under one
Cluster hash tag ``{prefix}``. See docs/worlds/redis.md.

URLs::

    redis://127.0.0.1:6379/0
    redis://:password@redis.internal:6379/2?prefix=billing
    rediss://user:password@redis.example.com:6380/0?prefix=app&max_poll=0.5
    unix:///var/run/redis/redis.sock?db=0&prefix=app
"""

import importlib
from typing import TYPE_CHECKING, Any

from .options import RedisOptions, namespaced, parse_url

if TYPE_CHECKING:
    from .world import RedisWorld

__all__ = ["RedisOptions", "RedisWorld", "namespaced", "parse_url"]

_LAZY = {"RedisWorld": "world"}


def __getattr__(name: str) -> Any:
    """Import the driver-backed parts only when they are used (discovery stays cheap)."""
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
