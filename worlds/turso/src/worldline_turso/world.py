"""Picks the embedded or the remote Turso world from the URL's scheme."""

from __future__ import annotations

from worldline.sqlite import SqliteDialectWorld

from .urls import is_embedded


def open_world(url: str) -> SqliteDialectWorld:
    """A world for ``url`` (no I/O until ``open()``): ``file:`` → embedded libSQL,
    ``libsql://``/``https://``/``wss://`` → remote over Hrana."""
    if is_embedded(url):
        from .embedded import EmbeddedTursoWorld
        return EmbeddedTursoWorld(url)
    from .remote import RemoteTursoWorld
    return RemoteTursoWorld(url)
