"""JSON form of commands and events, for the journal.

One flat object per record: ``{"type": "<class name>", <field>: <value>, ...}``. Decimals are written
as strings (``str(d)``, read back with ``Decimal(s)``: the exact value and exponent survive), enums as
their values, a ``Route`` as ``{"on_behalf_of": [comp, sub, location] | null, "deliver_to": ...}``, ``None``
as ``null``. Fields at their default are still written, so a record reads the
same even if a default changes later. Unknown types and malformed bodies raise ``StoreError``.

Compact form (``record_to_values``): the same values without the names, in the order of the class's
fields (``RECORD_FIELDS``), for a journal that keeps each class's field names once (the SQLite journal's
layouts): ``record_from_values(kind, fields, values)`` pairs them with the names kept and reads them as
``record_from_dict`` reads an object, so a field added or dropped later reads as it does in JSON.
"""

from __future__ import annotations

import dataclasses
import typing
from decimal import Decimal
from enum import Enum
from typing import Any, Callable

from fixgw.errors import FixgwError, StoreError
from fixgw.jsonio import dumps, loads

from .commands import CancelOrder, ReplaceOrder, SubmitOrder
from .events import EVENT_TYPES
from .route import Route

__all__ = [
    "RECORD_FIELDS",
    "RECORD_TYPES",
    "compact_encoder",
    "record_from_dict",
    "record_from_json",
    "record_from_values",
    "record_to_dict",
    "record_to_json",
    "record_to_values",
]

#: Every journaled class by its ``type`` name.
RECORD_TYPES: dict[str, type] = {
    cls.__name__: cls for cls in (SubmitOrder, CancelOrder, ReplaceOrder, *EVENT_TYPES)
}

_Codec = tuple[str, Callable[[Any], Any], Callable[[Any], Any]]


def _identity(v: Any) -> Any:
    return v


def _codec_for(hint: Any) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    args = typing.get_args(hint)
    optional = type(None) in args
    base = hint
    if args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1:
            raise TypeError(f"unsupported field type {hint!r}")
        base = rest[0]
    if base is Decimal:
        enc, dec = str, Decimal
    elif isinstance(base, type) and issubclass(base, Enum):
        enc, dec = (lambda v: v.value), base
    elif base is Route:
        enc, dec = Route.to_json, Route.from_json
    elif base in (str, int, bool):
        enc, dec = _identity, _identity
    else:
        raise TypeError(f"unsupported field type {hint!r}")
    if optional and enc is not _identity:
        enc0, dec0 = enc, dec
        enc = lambda v, f=enc0: None if v is None else f(v)  # noqa: E731
        dec = lambda v, f=dec0: None if v is None else f(v)  # noqa: E731
    return enc, dec


def _build_codecs(cls: type) -> list[_Codec]:
    hints = typing.get_type_hints(cls)
    return [(f.name, *_codec_for(hints[f.name])) for f in dataclasses.fields(cls)]


_CODECS: dict[type, list[_Codec]] = {cls: _build_codecs(cls) for cls in RECORD_TYPES.values()}


def _build_encoder(cls: type, compact: bool = False) -> Callable[[Any], Any]:
    """One function per class that builds the record's dict in one expression (every journaled record
    goes through it: a loop over the fields with a call per field costs several times as much).

    The source is made from the class's own field names (identifiers) and its type hints, nothing else;
    it writes what ``_codec_for`` writes (an enum's value, a Decimal's ``str``, a route's ``to_json``).
    ``compact``: ``encode(r, head)`` returns ``head`` and then the values alone, as a tuple in field
    order (``compact_encoder``).
    """
    hints = typing.get_type_hints(cls)
    items = [f'"type": {cls.__name__!r}']
    for f in dataclasses.fields(cls):
        name, hint = f.name, hints[f.name]
        args = typing.get_args(hint)
        base = next((a for a in args if a is not type(None)), hint) if args else hint
        value = f"r.{name}"
        if base is Decimal:
            expr = f"str({value})"
        elif isinstance(base, type) and issubclass(base, Enum):
            expr = f"{value}._value_"
        elif base is Route:
            expr = f"{value}.to_json()"
        else:
            expr = value
        if expr != value and type(None) in args:
            expr = f"(None if {value} is None else {expr})"
        items.append(expr if compact else f'"{name}": {expr}')
    if compact:
        source = f"def encode(r, head):\n    return (head, {', '.join(items[1:])})\n"
    else:
        source = f"def encode(r):\n    return {{{', '.join(items)}}}\n"
    names: dict[str, Any] = {}
    exec(compile(source, f"<journal encoder of {cls.__name__}>", "exec"), names)  # noqa: S102 - see above
    return names["encode"]


_ENCODERS: dict[type, Callable[[Any], dict[str, Any]]] = {
    cls: _build_encoder(cls) for cls in RECORD_TYPES.values()
}
_VALUE_ENCODERS: dict[type, Callable[[Any, Any], tuple[Any, ...]]] = {
    cls: _build_encoder(cls, compact=True) for cls in RECORD_TYPES.values()
}
#: The field names of every journaled class, in the order ``record_to_values`` writes them.
RECORD_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in RECORD_TYPES.values()
}


def record_to_dict(record: Any) -> dict[str, Any]:
    """Return the JSON-ready dict of a command or event."""
    encode = _ENCODERS.get(type(record))
    if encode is None:
        raise StoreError(f"cannot journal a {type(record).__name__}")
    return encode(record)


def record_from_dict(data: dict[str, Any]) -> Any:
    """Rebuild a command or event from ``record_to_dict``'s output."""
    try:
        cls = RECORD_TYPES[data["type"]]
        kwargs = {name: dec(data[name]) for name, _, dec in _CODECS[cls] if name in data}
        return cls(**kwargs)
    except (KeyError, TypeError, ValueError, ArithmeticError, FixgwError) as exc:
        raise StoreError(f"unreadable journal record {data!r}: {exc}") from exc


def compact_encoder(cls: type) -> Callable[[Any, Any], tuple[Any, ...]]:
    """``encode(record, head)``: ``(head, *record_to_values(record))`` for a record of class ``cls`` in one
    call (a journal puts its layout id first)."""
    encode = _VALUE_ENCODERS.get(cls)
    if encode is None:
        raise StoreError(f"cannot journal a {cls.__name__}")
    return encode


def record_to_values(record: Any) -> tuple[Any, ...]:
    """Return the JSON-ready values of a command or event in the order of ``RECORD_FIELDS[type(record)]``."""
    return compact_encoder(type(record))(record, None)[1:]


def record_from_values(kind: str, fields: Any, values: Any) -> Any:
    """Rebuild a record of class ``kind`` from ``values`` written in the order of ``fields`` (its names then)."""
    if not isinstance(values, list) or not isinstance(fields, (list, tuple)) or len(values) != len(fields):
        raise StoreError(f"unreadable journal record of {kind!r}: {len(fields)} fields expected")
    data = dict(zip(fields, values))
    data["type"] = kind
    return record_from_dict(data)


def record_to_json(record: Any) -> str:
    """Return the compact JSON text of a command or event."""
    return dumps(record_to_dict(record))


def record_from_json(text: str | bytes) -> Any:
    """Rebuild a command or event from ``record_to_json``'s output."""
    try:
        data = loads(text)
    except ValueError as exc:
        raise StoreError(f"unreadable journal record: {exc}") from exc
    if not isinstance(data, dict):
        raise StoreError("unreadable journal record: not an object")
    return record_from_dict(data)
