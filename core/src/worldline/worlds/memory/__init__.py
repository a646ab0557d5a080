"""The memory world: the reference implementation of the World contract in plain dicts.

Features: every write holds one lock around a few dict updates, so each transition is
atomic; the queue, streams and wake-ups live in the same process. Worlds opened on the same
``memory://name`` in one process share their data (a module-level registry); nothing
survives the process and other processes cannot see it (``multiprocess=False``). Use it
for tests, examples, and as the simplest model for writing a world.

URLs::

    memory://                  (the default namespace)
    memory://tests             (a named namespace shared by every world opened on it)
"""

from .world import MemoryWorld, parse_url

__all__ = ["MemoryWorld", "parse_url"]
