"""Find worlds through entry points and pick one by URL scheme."""

from __future__ import annotations

import difflib
import functools
import importlib.metadata
import os
from urllib.parse import urlsplit

import pluggy

from ..errors import UnknownWorldError, ValidationError
from ..protocol import World
from . import hookspecs
from .hookspecs import WorldSpec

ENTRY_POINT_GROUP = "worldline.worlds"
DEFAULT_URL = "sqlite:///.worldline/world.db"
URL_VARIABLE = "WORLDLINE_URL"


#: entry points that failed to import: name -> error text (shown in UnknownWorldError)
BROKEN_PLUGINS: dict[str, str] = {}


@functools.cache
def _plugin_manager() -> pluggy.PluginManager:
    """Load every ``worldline.worlds`` entry point; one broken plugin does not hide the rest.
    Set ``WORLDLINE_DISABLE_PLUGIN_AUTOLOAD=1`` to load only the worlds inside core."""
    pm = pluggy.PluginManager("worldline")
    pm.add_hookspecs(hookspecs)
    autoload = not os.environ.get("WORLDLINE_DISABLE_PLUGIN_AUTOLOAD")
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if not autoload and not ep.value.startswith("worldline."):
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as exc:  # a broken plugin is reported, not fatal
            BROKEN_PLUGINS[ep.name] = f"{type(exc).__name__}: {exc}"
    return pm


def available_worlds() -> list[WorldSpec]:
    """Every installed world, sorted by name."""
    specs = [spec for group in _plugin_manager().hook.worldline_worlds() for spec in group]
    return sorted(specs, key=lambda spec: spec.name)


def resolve_url(url: str | None = None) -> str:
    """The URL to use: the argument, else ``$WORLDLINE_URL``, else the embedded default."""
    return url or os.environ.get(URL_VARIABLE) or DEFAULT_URL


def scheme_of(url: str) -> str:
    if not isinstance(url, str) or ("://" not in url and not url.startswith("file:")):
        raise ValidationError(f"world URL must look like 'scheme://…', got {url!r}")
    try:
        return urlsplit(url).scheme.lower()
    except ValueError as exc:  # e.g. an unbalanced '[' in the host
        raise ValidationError(f"malformed world URL {url!r}: {exc}") from None


def find_world(url: str) -> WorldSpec:
    """The installed world serving the URL's scheme, or UnknownWorldError listing them."""
    scheme = scheme_of(url)
    specs = available_worlds()
    for spec in specs:
        if scheme in spec.schemes:
            return spec
    known = {s: spec for spec in specs for s in spec.schemes}
    installed = ", ".join(f"{spec.name} ({', '.join(s + '://' for s in spec.schemes)})"
                          for spec in specs) or "none"
    close = difflib.get_close_matches(scheme, list(known), n=1)
    hint = (f" Did you mean {close[0]}://?" if close else
            " Install the world's package, e.g. `pip install worldline-<name>`.")
    broken = "".join(f" Plugin {name!r} failed to load ({err})." for name, err in
                     sorted(BROKEN_PLUGINS.items()))
    raise UnknownWorldError(f"No world serves {scheme}:// URLs.{hint} Installed worlds: "
                            f"{installed}.{broken}")


def connect(url: str | None = None) -> World:
    """Build the world for ``url`` (or ``$WORLDLINE_URL``, or the embedded local world at
    ``.worldline/world.db``). No I/O happens until ``await world.open()``."""
    resolved = resolve_url(url)
    return find_world(resolved).factory(resolved)
