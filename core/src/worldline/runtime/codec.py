"""The payload codec: JSON plus tagged datetime, date, bytes, UUID, Decimal, tuple, dataclass.

Tagged values are single-key dicts ``{"$dt": "…"}``; a plain dict whose only key starts with
``$`` is escaped as ``{"$map": {...}}`` so it decodes unchanged. Register more types with
:func:`register_type`. Anything else raises :class:`SerializationError` naming its path
(``args[1]['when']``) before anything is written.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from ..errors import WorldlineError


class SerializationError(WorldlineError, TypeError):
    """A value the codec cannot encode (or a document it cannot decode); names the path."""


_Encoder = Callable[[Any], Any]
_Decoder = Callable[[Any], Any]
_CUSTOM: dict[str, tuple[type, _Encoder, _Decoder]] = {}


def register_type(tag: str, cls: type, encode: _Encoder, decode: _Decoder) -> None:
    """Make ``cls`` serialisable as ``{"$<tag>": encode(value)}``; ``decode`` reverses it."""
    if not tag.isidentifier():
        raise ValueError(f"codec tag must be an identifier, got {tag!r}")
    _CUSTOM[tag] = (cls, encode, decode)


def encode(value: Any, path: str = "value") -> Any:
    """Encode a Python value into a JSON-compatible document."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, list):
        return [encode(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return {"$tuple": [encode(v, f"{path}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise SerializationError(
                    f"cannot serialise {path}: dict keys must be str, got {type(k).__name__}")
            out[k] = encode(v, f"{path}[{k!r}]")
        if len(out) == 1 and next(iter(out)).startswith("$"):
            return {"$map": out}
        return out
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, bytes | bytearray):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, UUID):
        return {"$uuid": str(value)}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    for tag, (cls, enc, _dec) in _CUSTOM.items():
        if isinstance(value, cls):
            return {f"${tag}": encode(enc(value), f"{path}<{tag}>")}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        fields = {f.name: encode(getattr(value, f.name), f"{path}.{f.name}")
                  for f in dataclasses.fields(value)}
        return {"$dataclass": {"type": f"{cls.__module__}:{cls.__qualname__}",
                               "fields": fields}}
    raise SerializationError(
        f"cannot serialise {path}: unsupported type {type(value).__qualname__} "
        f"(supported: JSON, datetime, date, bytes, UUID, Decimal, tuple, dataclass, "
        f"registered types)")


def decode(doc: Any) -> Any:
    """Decode a document made by :func:`encode`."""
    if isinstance(doc, list):
        return [decode(v) for v in doc]
    if not isinstance(doc, dict):
        return doc
    if len(doc) == 1:
        ((key, inner),) = doc.items()
        if key.startswith("$"):
            return _decode_tagged(key[1:], inner)
    return {k: decode(v) for k, v in doc.items()}


def _decode_tagged(tag: str, inner: Any) -> Any:
    if tag == "map":
        return {k: decode(v) for k, v in inner.items()}
    if tag == "tuple":
        return tuple(decode(v) for v in inner)
    if tag == "dt":
        return datetime.fromisoformat(inner)
    if tag == "date":
        return date.fromisoformat(inner)
    if tag == "bytes":
        return base64.b64decode(inner)
    if tag == "uuid":
        return UUID(inner)
    if tag == "decimal":
        return Decimal(inner)
    if tag == "dataclass":
        return _load_class(inner["type"])(**{k: decode(v) for k, v in inner["fields"].items()})
    if tag in _CUSTOM:
        return _CUSTOM[tag][2](decode(inner))
    raise SerializationError(f"cannot decode unknown tag ${tag}")


def _load_class(ref: str) -> Any:
    module, _, qualname = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def encode_call(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Encode call arguments as ``{"args": [...], "kwargs": {...}}`` (paths ``args[i]``)."""
    return {"args": [encode(a, f"args[{i}]") for i, a in enumerate(args)],
            "kwargs": {k: encode(v, f"kwargs[{k!r}]") for k, v in kwargs.items()}}


def decode_call(doc: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The inverse of :func:`encode_call`."""
    doc = doc or {}
    return (tuple(decode(a) for a in doc.get("args", [])),
            {k: decode(v) for k, v in doc.get("kwargs", {}).items()})
