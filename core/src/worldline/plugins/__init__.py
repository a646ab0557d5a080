"""World discovery: pluggy hook specs and the entry-point registry behind ``connect()``."""

from .hookspecs import WorldSpec, hookimpl, hookspec, lazy_factory
from .registry import DEFAULT_URL, ENTRY_POINT_GROUP, available_worlds, connect, find_world

__all__ = ["DEFAULT_URL", "ENTRY_POINT_GROUP", "WorldSpec", "available_worlds", "connect",
           "find_world", "hookimpl", "hookspec", "lazy_factory"]
