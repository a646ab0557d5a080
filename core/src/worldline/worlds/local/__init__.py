"""The local world: embedded SQLite, the zero-set-up default.

Features: every transition one ``BEGIN IMMEDIATE`` transaction; the queue and streams in the
same file; several processes may share the file (WAL mode, busy timeout); idle consumers
in the same process wake at once, in other processes within ``max_poll`` seconds.

URLs::

    sqlite:///.worldline/world.db          (relative path)
    sqlite:////var/lib/app/world.db        (absolute path)
    sqlite:///world.db?busy_timeout=30&synchronous=normal&max_poll=0.1
"""

from .world import LocalWorld, parse_url

__all__ = ["LocalWorld", "parse_url"]
