"""URL parsing for the Redis world: our options are taken out, the rest goes to redis-py."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from worldline.errors import ValidationError

SCHEMES = ("redis", "rediss", "unix")
#: query options the world consumes; every other option is redis-py's (``socket_timeout``…)
OPTIONS = ("prefix", "max_poll", "dedupe_retention")
_PREFIX = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


@dataclass(frozen=True)
class RedisOptions:
    """A parsed ``redis://`` / ``rediss://`` / ``unix://`` URL."""

    driver_url: str  #: the URL without worldline's own options, for ``Redis.from_url``
    prefix: str = "worldline"
    max_poll: float = 1.0
    dedupe_retention: float = 300.0
    where: str = ""  #: ``host:port`` or the socket path, for error messages


def _number(url: str, name: str, raw: str, low: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValidationError(f"{name} must be a number in {url!r}, got {raw!r}") from None
    if not value >= low:
        raise ValidationError(f"{name} must be >= {low} in {url!r}, got {raw!r}")
    return value


def parse_url(url: str) -> RedisOptions:
    """Split a world URL into redis-py's URL and the world's options (see the package doc)."""
    if not isinstance(url, str):
        raise ValidationError(f"redis world URL must be a string, got {url!r}")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValidationError(f"malformed redis URL {url!r}: {exc}") from None
    if parts.scheme not in SCHEMES:
        raise ValidationError(f"the redis world takes {', '.join(s + '://' for s in SCHEMES)} "
                              f"URLs, got {url!r}")
    ours: dict[str, str] = {}
    rest: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        (ours.__setitem__(key, value) if key in OPTIONS else rest.append((key, value)))
    prefix = ours.get("prefix", "worldline")
    if not _PREFIX.match(prefix):
        raise ValidationError(f"prefix must be 1-100 characters of letters, digits, '_.:-' "
                              f"(no braces: it is the Cluster hash tag), got {prefix!r}")
    if parts.scheme == "unix":
        if not parts.path:
            raise ValidationError(f"unix:// URL needs a socket path, got {url!r}")
        where = parts.path
    else:
        try:
            where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}"
        except ValueError as exc:
            raise ValidationError(f"bad host or port in redis URL {url!r}: {exc}") from None
    driver = urlunsplit(parts._replace(query=urlencode(rest)))
    return RedisOptions(
        driver_url=driver, prefix=prefix, where=where,
        max_poll=_number(url, "max_poll", ours.get("max_poll", "1.0"), 0.01),
        dedupe_retention=_number(url, "dedupe_retention",
                                 ours.get("dedupe_retention", "300"), 0.0))


def namespaced(url: str, name: str) -> str:
    """The same URL with ``prefix=<name>`` (replacing any prefix it had)."""
    parse_url(url)
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "prefix"]
    query.append(("prefix", name))
    return urlunsplit(parts._replace(query=urlencode(query)))
