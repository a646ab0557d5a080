"""Mongo world URLs: ``mongodb://host[:port][,host2…]/<database>?options``.

The database in the path is the world's namespace (default ``worldline``). Every other
query option goes to pymongo unchanged except ``max_poll`` (seconds between polls of an idle
consumer when the server has no change streams).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from worldline.errors import ValidationError

DEFAULT_DATABASE = "worldline"
SCHEMES = ("mongodb", "mongodb+srv")
_DB_NAME = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
_OWN_OPTIONS = ("max_poll",)


@dataclass(frozen=True)
class MongoOptions:
    client_url: str  # the URL handed to pymongo (our own options removed)
    database: str
    hosts: str  # for error messages: "host:port[,host:port]"
    max_poll: float = 0.1
    client_options: dict[str, str] = field(default_factory=dict)


def parse_url(url: str) -> MongoOptions:
    """Split a ``mongodb://`` URL into the pymongo URL, the database and our options."""
    if not isinstance(url, str):
        raise ValidationError(f"mongo world URL must be a string, got {url!r}")
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValidationError(f"the mongo world takes mongodb:// URLs, got {url!r}")
    if not parts.netloc:
        raise ValidationError(f"mongo URL needs a host: mongodb://host:27017/db, got {url!r}")
    database = parts.path.lstrip("/") or DEFAULT_DATABASE
    if not _DB_NAME.match(database):
        raise ValidationError(f"mongo database name must be 1-63 letters, digits, '_' or '-',"
                              f" got {database!r}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    own = {k: v for k, v in query if k in _OWN_OPTIONS}
    rest = [(k, v) for k, v in query if k not in _OWN_OPTIONS]
    try:
        max_poll = float(own.get("max_poll", 0.1))
    except ValueError:
        raise ValidationError(f"max_poll must be a number of seconds, got {url!r}") from None
    if max_poll <= 0:
        raise ValidationError(f"max_poll must be > 0, got {max_poll}")
    hosts = parts.netloc.rsplit("@", 1)[-1]
    client_url = urlunsplit((parts.scheme, parts.netloc, "/" + database, urlencode(rest), ""))
    return MongoOptions(client_url=client_url, database=database, hosts=hosts,
                        max_poll=max_poll, client_options=dict(rest))


def namespaced(url: str, name: str) -> str:
    """The same URL with the database ``name`` (a test's or a tenant's namespace)."""
    parse_url(url)
    if not _DB_NAME.match(name):
        raise ValidationError(f"mongo namespace must be 1-63 letters, digits, '_' or '-', "
                              f"got {name!r}")
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))
