"""Registers the local world (``sqlite://``) through the same entry point as any world."""

from __future__ import annotations

from ...plugins import WorldSpec, hookimpl
from .world import LocalWorld, namespaced


@hookimpl
def worldline_worlds() -> list[WorldSpec]:
    return [WorldSpec(name="local", schemes=("sqlite",), factory=LocalWorld,

                      namespaced=namespaced, package="worldline",
                      description="embedded SQLite file (the default)")]
