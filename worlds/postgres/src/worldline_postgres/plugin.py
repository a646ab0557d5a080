"""Registers the postgres world (``postgresql://``, ``postgres://``) with worldline."""

from __future__ import annotations

from worldline.plugins import WorldSpec, hookimpl, lazy_factory

from .options import SCHEMES, namespaced


@hookimpl
def worldline_worlds() -> list[WorldSpec]:
    return [WorldSpec(name="postgres", schemes=SCHEMES,
                      factory=lazy_factory("worldline_postgres.world:PostgresWorld"),
                      namespaced=namespaced, package="worldline-postgres",
                      description="PostgreSQL (psycopg 3): one transaction per transition, "
                                  "LISTEN/NOTIFY wake-ups")]
