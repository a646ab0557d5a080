"""Registers the mongo world (``mongodb://``, ``mongodb+srv://``)."""

from __future__ import annotations

from worldline.plugins import WorldSpec, hookimpl, lazy_factory

from .url import SCHEMES, namespaced


@hookimpl
def worldline_worlds() -> list[WorldSpec]:
    return [WorldSpec(name="mongo", schemes=SCHEMES,
                      factory=lazy_factory("worldline_mongo.world:MongoWorld"),
                      namespaced=namespaced, package="worldline-mongo",
                      description="MongoDB (single-document atomic updates, no transactions)")]
