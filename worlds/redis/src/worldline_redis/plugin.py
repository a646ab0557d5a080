"""Registers the redis world (``redis://``, ``rediss://``, ``unix://``)."""

from __future__ import annotations

from worldline.plugins import WorldSpec, hookimpl, lazy_factory

from .options import SCHEMES, namespaced


@hookimpl
def worldline_worlds() -> list[WorldSpec]:
    return [WorldSpec(name="redis", schemes=SCHEMES,
                      factory=lazy_factory("worldline_redis.world:RedisWorld"),
                      namespaced=namespaced, package="worldline-redis",
                      description="Redis 7 (Lua-script compare-and-swap, sorted-set queue)")]
