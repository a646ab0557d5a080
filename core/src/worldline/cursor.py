"""Opaque pagination cursors: base64url-encoded JSON lists of sort-key values."""

from __future__ import annotations

import base64
import json
from typing import Any

from .errors import ValidationError


def encode_cursor(*values: Any) -> str:
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int,
                  types: tuple[type, ...] | None = None) -> list[Any]:
    """Decode a cursor made by :func:`encode_cursor` with ``arity`` values (of ``types``:
    ``str``, or ``int`` within 64 bits, when given)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, AttributeError):
        raise ValidationError(f"malformed cursor {cursor!r}") from None
    if not isinstance(values, list) or len(values) != arity:
        raise ValidationError(f"malformed cursor {cursor!r}")
    if types is not None and not all(_fits(v, t) for v, t in zip(values, types, strict=True)):
        raise ValidationError(f"malformed cursor {cursor!r}")
    return values


def _fits(value: Any, kind: type) -> bool:
    if isinstance(value, bool) or not isinstance(value, kind):
        return False
    return not isinstance(value, int) or -(2**63) <= value < 2**63


def check_page_args(limit: Any, order: Any) -> None:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10_000:
        raise ValidationError(f"limit must be an integer from 1 to 10000, got {limit!r}")
    if order not in ("asc", "desc"):
        raise ValidationError(f"order must be 'asc' or 'desc', got {order!r}")
