"""Hook specifications a world plugin implements.

A world distribution declares an entry point in the ``worldline.worlds`` group naming a
module with a ``@hookimpl def worldline_worlds()`` that returns its :class:`WorldSpec`s.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ..protocol import World

hookspec = pluggy.HookspecMarker("worldline")
hookimpl = pluggy.HookimplMarker("worldline")


@dataclass(frozen=True)
class WorldSpec:
    """What a plugin registers: the schemes it serves and how to build a world.

    ``factory(url)`` builds a world without I/O (``open()`` connects). ``namespaced(url,
    name)`` returns a URL of the same world isolated under ``name`` (a schema, a database,
    a key prefix, a file); the conformance suite uses it to give each test its own space.
    """

    name: str
    schemes: tuple[str, ...]
    factory: Callable[[str], World]
    namespaced: Callable[[str, str], str]
    package: str
    description: str = ""


def lazy_factory(target: str) -> Callable[[str], World]:
    """A factory for ``WorldSpec`` that imports ``"package.module:Class"`` on first use, so
    discovering the installed worlds never imports their database drivers."""
    module_name, _, attribute = target.partition(":")

    def factory(url: str) -> World:
        module = importlib.import_module(module_name)
        return getattr(module, attribute)(url)

    factory.__qualname__ = factory.__name__ = f"lazy({target})"
    return factory


@hookspec
def worldline_worlds() -> list[WorldSpec]:  # type: ignore[empty-body]
    """Return the worlds this plugin provides."""
