"""Registers the mongo world (work in progress: registers nothing yet)."""

from worldline.plugins import WorldSpec, hookimpl


@hookimpl
def worldline_worlds() -> list[WorldSpec]:
    return []
