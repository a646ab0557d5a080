"""``with_data=False``: the same entity or event without its payload fields."""

from __future__ import annotations

from typing import TypeVar

from .model import Event, Run, Step

T = TypeVar("T")


def strip_data(item: T) -> T:
    """Return ``item`` with input, output, error (or event data) left out."""
    if isinstance(item, Run | Step):
        return item.replace(input=None, output=None, error=None)  # type: ignore[return-value]
    if isinstance(item, Event):
        return item.replace(data={})
    return item
