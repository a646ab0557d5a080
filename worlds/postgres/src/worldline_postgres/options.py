"""The ``postgresql://`` URL: worldline's own options, the rest handed to libpq unchanged."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from psycopg.conninfo import conninfo_to_dict, make_conninfo
from worldline.errors import ValidationError

SCHEMES = ("postgresql", "postgres")
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_BOOLS = {"true": True, "1": True, "yes": True, "on": True,
          "false": False, "0": False, "no": False, "off": False}
#: worldline's options; every other query parameter is a libpq parameter
OWN_OPTIONS = ("schema", "migrate", "pool_size", "pool_min", "pool_timeout", "max_poll",
               "dedupe_retention")


@dataclass(frozen=True)
class PostgresOptions:
    """A parsed world URL. ``conninfo`` is what psycopg connects with."""

    url: str
    conninfo: str
    host: str
    port: str
    schema: str = "worldline"
    migrate: bool = True
    pool_size: int = 10
    pool_min: int = 1
    pool_timeout: float = 30.0
    connect_timeout: float = 5.0
    max_poll: float = 1.0
    dedupe_retention: float = 300.0

    @property
    def channel(self) -> str:
        """The LISTEN/NOTIFY channel of this schema (at most 63 bytes)."""
        name = f"wl.{self.schema}"
        if len(name) > 63:
            name = "wl." + hashlib.sha1(self.schema.encode()).hexdigest()[:32]
        return name


def _number(url: str, key: str, raw: str, cast: type, minimum: float) -> float:
    try:
        value = cast(raw)
    except ValueError:
        raise ValidationError(f"postgres URL option {key}={raw!r} is not a number "
                              f"(in {redact(url)})") from None
    if value < minimum:
        raise ValidationError(f"postgres URL option {key} must be >= {minimum}, got {raw!r}")
    return value


def parse_url(url: str) -> PostgresOptions:
    """Split a ``postgresql://`` URL into worldline options and a libpq conninfo."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValidationError(f"the postgres world takes postgresql:// or postgres:// URLs, "
                              f"got {redact(url)!r}")
    own: dict[str, str] = {}
    rest: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        (own.__setitem__(key, value) if key in OWN_OPTIONS else rest.append((key, value)))
    schema = own.get("schema", "worldline")
    if not _SCHEMA_NAME.match(schema):
        raise ValidationError(f"postgres schema name must match {_SCHEMA_NAME.pattern} "
                              f"(lowercase letters, digits, _), got {schema!r}")
    migrate_raw = own.get("migrate", "true").lower()
    if migrate_raw not in _BOOLS:
        raise ValidationError(f"postgres URL option migrate must be true or false, "
                              f"got {own['migrate']!r}")
    libpq_url = f"postgresql://{parts.netloc}{parts.path}" + (f"?{urlencode(rest)}" if rest else "")
    try:
        params = conninfo_to_dict(libpq_url)
    except Exception as exc:
        raise ValidationError(f"bad postgres URL {redact(url)!r}: {exc}") from None
    connect_timeout = _number(url, "connect_timeout",
                              str(params.get("connect_timeout", "5")), float, 1)
    pool_size = int(_number(url, "pool_size", own.get("pool_size", "10"), int, 1))
    pool_min = int(_number(url, "pool_min", own.get("pool_min", "1"), int, 0))
    extra = f"-c search_path={schema} -c TimeZone=UTC"
    conninfo = make_conninfo(
        libpq_url, connect_timeout=str(max(1, round(connect_timeout))),
        options=f"{params['options']} {extra}" if params.get("options") else extra)
    return PostgresOptions(
        url=url, conninfo=conninfo, schema=schema, migrate=_BOOLS[migrate_raw],
        host=str(params.get("host") or params.get("hostaddr") or "localhost"),
        port=str(params.get("port") or "5432"),
        pool_size=pool_size, pool_min=min(pool_min, pool_size),
        pool_timeout=_number(url, "pool_timeout", own.get("pool_timeout", "30"), float, 0.1),
        connect_timeout=connect_timeout,
        max_poll=_number(url, "max_poll", own.get("max_poll", "1.0"), float, 0.01),
        dedupe_retention=_number(url, "dedupe_retention", own.get("dedupe_retention", "300"),
                                 float, 0))


def namespaced(url: str, name: str) -> str:
    """The same URL with ``schema=<name>`` (replacing any schema it had)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "schema"]
    query.append(("schema", name))
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}"


def redact(url: str) -> str:
    """The URL with its password replaced by ``***`` (for error messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
