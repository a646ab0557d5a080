"""Registers the memory world (``memory://``) through the ``worldline.worlds`` entry point,
exactly as a world in its own distribution would."""

from __future__ import annotations

from ...plugins import WorldSpec, hookimpl
from .world import MemoryWorld, namespaced


@hookimpl
def worldline_worlds() -> list[WorldSpec]:
    return [WorldSpec(name="memory", schemes=("memory",), factory=MemoryWorld,
                      namespaced=namespaced, package="worldline",
                      description="in-process dicts: the reference world (one process only)")]
