"""Registers the turso world: ``file:`` (embedded libSQL), ``libsql://``, ``https://``,
``wss://`` (remote Turso / sqld)."""

from __future__ import annotations

from worldline.plugins import WorldSpec, hookimpl, lazy_factory

from .urls import EMBEDDED_SCHEMES, REMOTE_SCHEMES, namespaced


@hookimpl
def worldline_worlds() -> list[WorldSpec]:
    return [WorldSpec(name="turso", schemes=EMBEDDED_SCHEMES + REMOTE_SCHEMES,

                      factory=lazy_factory("worldline_turso.world:open_world"),
                      namespaced=namespaced, package="worldline-turso",
                      description="libSQL: embedded file, or remote Turso / sqld")]
