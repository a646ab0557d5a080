"""The local world on stdlib ``sqlite3``: only the connection handling lives here."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ...errors import ValidationError
from ...sqlite import SqlConnection, SqliteDialectWorld

_SYNCHRONOUS = ("off", "normal", "full", "extra")


@dataclass(frozen=True)
class LocalOptions:
    path: Path
    busy_timeout: float = 30.0
    synchronous: str = "full"
    max_poll: float = 0.1


def parse_url(url: str) -> LocalOptions:
    """``sqlite:///relative.db`` or ``sqlite:////abs/path.db`` with optional query options."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite":
        raise ValidationError(f"the local world takes sqlite:// URLs, got {url!r}")
    if parts.netloc:
        raise ValidationError(f"sqlite URLs have no host: use sqlite:///relative.db or "
                              f"sqlite:////absolute.db, got {url!r}")
    raw_path = parts.path[1:] if parts.path.startswith("/") else parts.path
    if not raw_path or raw_path == ":memory:":
        raise ValidationError(f"sqlite URL needs a file path (several connections share it), "
                              f"got {url!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"busy_timeout", "synchronous", "max_poll"}
    if unknown:
        raise ValidationError(f"unknown sqlite URL option(s) {sorted(unknown)}; accepted: "
                              "busy_timeout, synchronous, max_poll")
    synchronous = query.get("synchronous", "full").lower()
    if synchronous not in _SYNCHRONOUS:
        raise ValidationError(f"synchronous must be one of {_SYNCHRONOUS}, got {synchronous!r}")
    try:
        return LocalOptions(path=Path(raw_path), synchronous=synchronous,
                            busy_timeout=float(query.get("busy_timeout", 30.0)),
                            max_poll=float(query.get("max_poll", 0.1)))
    except ValueError as exc:
        raise ValidationError(f"bad number in sqlite URL {url!r}: {exc}") from None


def namespaced(url: str, name: str) -> str:
    """The same URL with the file renamed ``<stem>-<name><suffix>``."""
    parts = urlsplit(url)
    path = parse_url(url).path
    renamed = path.with_name(f"{path.stem}-{name}{path.suffix or '.db'}")
    return f"sqlite:///{renamed}" + (f"?{parts.query}" if parts.query else "")


class LocalWorld(SqliteDialectWorld):
    """Embedded SQLite (WAL mode) — see the package docstring."""

    name = "local"

    def __init__(self, url: str) -> None:
        self.options = options = parse_url(url)

        def connect() -> SqlConnection:
            options.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(options.path, timeout=options.busy_timeout,
                                   isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {options.synchronous}")
            return conn  # type: ignore[return-value]

        super().__init__(url, str(options.path.resolve()), connect,
                         max_poll=options.max_poll)
