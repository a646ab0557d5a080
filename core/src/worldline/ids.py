"""Prefixed, time-sortable identifiers (`run_…`, `step_…`, `evt_…`, …) built on ULIDs."""

from __future__ import annotations

from ulid import ULID

PREFIXES = frozenset({"run", "step", "wait", "hook", "evt", "msg", "lease", "claim", "wrk"})


def new_id(prefix: str) -> str:
    """Return a new id such as ``run_01J…``; ids of one prefix sort by creation time."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}; expected one of {sorted(PREFIXES)}")
    return f"{prefix}_{ULID()}"


def id_prefix(value: str) -> str:
    """The prefix of an id (``"run"`` for ``run_01J…``), or ``""`` if it has none."""
    head, sep, _ = value.partition("_")
    return head if sep else ""
