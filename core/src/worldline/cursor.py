"""Opaque pagination cursors: base64url-encoded JSON lists of sort-key values."""

from __future__ import annotations

import base64
import json
from typing import Any

from .errors import ValidationError


def encode_cursor(*values: Any) -> str:
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    """Decode a cursor made by :func:`encode_cursor` with ``arity`` values."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, AttributeError):
        raise ValidationError(f"malformed cursor {cursor!r}") from None
    if not isinstance(values, list) or len(values) != arity:
        raise ValidationError(f"malformed cursor {cursor!r}")
    return values


def check_page_args(limit: Any, order: Any) -> None:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10_000:
        raise ValidationError(f"limit must be an integer from 1 to 10000, got {limit!r}")
    if order not in ("asc", "desc"):
        raise ValidationError(f"order must be 'asc' or 'desc', got {order!r}")
