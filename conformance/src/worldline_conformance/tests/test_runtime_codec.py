"""The payload codec round-trips its types and names the path of what it cannot encode."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import pytest
from worldline.runtime.codec import SerializationError, decode, encode, encode_call


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: tuple[int, int]


def test_round_trip_of_every_supported_type():
    value = {"dt": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "d": date(2024, 1, 2),
             "b": b"\x00\xff", "u": UUID(int=7), "dec": Decimal("1.10"), "t": (1, "a"),
             "p": Point(1, (2, 3)), "l": [None, True, 1.5], "$weird": {"$dt": "not a date"}}
    assert decode(encode(value)) == value


def test_unserialisable_value_names_its_path():
    with pytest.raises(SerializationError, match=r"args\[1\]\['when'\]: unsupported type object"):
        encode_call((1, {"when": object()}), {})
    with pytest.raises(SerializationError, match=r"kwargs\['k'\]\[0\]"):
        encode_call((), {"k": [set()]})
    with pytest.raises(SerializationError, match="dict keys must be str"):
        encode({1: "x"})
