"""URL parsing for the Turso world: ``file:`` (embedded libSQL) and ``libsql://``,
``https://``, ``wss://`` (a remote Turso database or ``sqld``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from worldline.errors import ValidationError

EMBEDDED_SCHEMES = ("file",)
REMOTE_SCHEMES = ("libsql", "https", "wss")
TOKEN_VARIABLE = "WORLDLINE_TURSO_AUTH_TOKEN"
_SYNCHRONOUS = ("off", "normal", "full", "extra")
_EMBEDDED_OPTIONS = ("busy_timeout", "synchronous", "max_poll")
_REMOTE_OPTIONS = ("authToken", "tls", "max_poll")


@dataclass(frozen=True)
class EmbeddedOptions:
    """A libSQL database file opened in-process."""

    path: Path
    busy_timeout: float = 30.0
    synchronous: str = "full"
    max_poll: float = 0.1


@dataclass(frozen=True)
class RemoteOptions:
    """A remote database spoken to over Hrana (WebSocket); ``url`` carries no token."""

    url: str
    auth_token: str | None
    max_poll: float = 0.5

    def __repr__(self) -> str:  # never print the token
        return f"RemoteOptions(url={self.url!r}, auth_token={'***' if self.auth_token else None})"


def _query(url: str, accepted: tuple[str, ...]) -> dict[str, str]:
    query = {k: v[-1] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}
    unknown = set(query) - set(accepted)
    if unknown:
        raise ValidationError(f"unknown turso URL option(s) {sorted(unknown)}; accepted: "
                              f"{', '.join(accepted)}")
    return query


def _number(query: dict[str, str], key: str, default: float) -> float:
    try:
        value = float(query.get(key, default))
    except ValueError:
        raise ValidationError(f"turso URL option {key} must be a number, "
                              f"got {query[key]!r}") from None
    if value < 0:
        raise ValidationError(f"turso URL option {key} must be >= 0, got {value}")
    return value


def parse_embedded(url: str) -> EmbeddedOptions:
    """``file:relative.db``, ``file:/abs/path.db`` or ``file:///abs/path.db`` with optional
    ``busy_timeout`` (seconds), ``synchronous`` and ``max_poll`` query options."""
    parts = urlsplit(url)
    if parts.scheme != "file":
        raise ValidationError(f"embedded libSQL takes file: URLs, got {url!r}")
    if parts.netloc:
        raise ValidationError(f"file: URLs have no host: use file:/absolute/path.db or "
                              f"file:relative.db, got {url!r}")
    if not parts.path or parts.path == ":memory:":
        raise ValidationError(f"file: URL needs a file path (several connections share it), "
                              f"got {url!r}")
    query = _query(url, _EMBEDDED_OPTIONS)
    synchronous = query.get("synchronous", "full").lower()
    if synchronous not in _SYNCHRONOUS:
        raise ValidationError(f"synchronous must be one of {_SYNCHRONOUS}, got {synchronous!r}")
    return EmbeddedOptions(path=Path(parts.path), synchronous=synchronous,
                           busy_timeout=_number(query, "busy_timeout", 30.0),
                           max_poll=_number(query, "max_poll", 0.1))


def parse_remote(url: str) -> RemoteOptions:
    """``libsql://db-org.turso.io``, ``https://…`` or ``wss://…``; the token from
    ``?authToken=`` or ``$WORLDLINE_TURSO_AUTH_TOKEN``. ``libsql://host:port?tls=0`` reaches a
    plain-text ``sqld``. ``https``/``wss`` both go over Hrana's WebSocket on the same host
    (the HTTP API of libsql-client has no interactive transactions)."""
    parts = urlsplit(url)
    if parts.scheme not in REMOTE_SCHEMES:
        raise ValidationError(f"remote Turso takes {', '.join(s + '://' for s in REMOTE_SCHEMES)}"
                              f" URLs, got {parts.scheme!r}")
    if not parts.hostname:
        raise ValidationError(f"remote Turso URL needs a host, got {parts.scheme}://…")
    if parts.path not in ("", "/"):
        raise ValidationError(f"remote Turso URL takes no path (one database per host), "
                              f"got {parts.path!r}")
    query = _query(url, _REMOTE_OPTIONS)
    tls = query.get("tls", "1")
    if tls not in ("0", "1"):
        raise ValidationError(f"tls must be 0 or 1, got {tls!r}")
    if tls == "0" and (parts.scheme != "libsql" or parts.port is None):
        raise ValidationError("tls=0 needs a libsql://host:PORT URL (plain-text sqld)")
    scheme = "ws" if tls == "0" else "wss"
    token = query.get("authToken") or os.environ.get(TOKEN_VARIABLE) or None
    return RemoteOptions(url=urlunsplit((scheme, parts.netloc, "", "", "")), auth_token=token,
                         max_poll=_number(query, "max_poll", 0.5))


def is_embedded(url: str) -> bool:
    return urlsplit(url).scheme.lower() in EMBEDDED_SCHEMES


def namespaced(url: str, name: str) -> str:
    """Embedded: the same URL with the file renamed ``<stem>-<name><suffix>``.

    Remote: the URL unchanged — one remote database holds one world (the shared SQL layer
    has no table prefix), so run the suite against a scratch database, without ``-n``.
    """
    if not is_embedded(url):
        parse_remote(url)
        return url
    path = parse_embedded(url).path
    renamed = path.with_name(f"{path.stem}-{name}{path.suffix or '.db'}")
    query = urlsplit(url).query
    return f"file:{renamed}" + (f"?{query}" if query else "")


def redact(url: str) -> str:
    """The URL without its ``authToken`` (for names, logs and errors)."""
    parts = urlsplit(url)
    query = [(k, v[-1]) for k, v in parse_qs(parts.query).items() if k != "authToken"]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
