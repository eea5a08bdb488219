"""JSON on the hot path: orjson when it is installed, else the standard library, same values.

Venue requests, answers and events, and journal records go through here: every order costs a request
encoded, an answer and two or more events decoded and several journal records encoded, so the codec is a
visible share of the gateway's CPU (``bench/jsoncodecs.py``: orjson encodes a request in under a tenth of
the standard library's time and decodes an event about three times faster). Both give the same Python
values (floats for numbers with a fraction, which the venues' money fields never are: they send strings)
and the same compact text; a decode error is a ``ValueError`` either way.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["loads", "dumps"]

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a declared dependency; the fallback keeps the same values
    orjson = None  # type: ignore[assignment]

_std_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _std_loads(text: str | bytes) -> Any:
    return json.loads(text)


if orjson is not None:
    loads = orjson.loads

    def dumps(obj: Any) -> str:
        """``obj`` as compact JSON text."""
        try:
            return orjson.dumps(obj).decode("utf-8")
        except TypeError:  # what orjson does not take (an int past 64 bits): the standard library
            return _std_encode(obj)
else:  # pragma: no cover
    loads = _std_loads

    def dumps(obj: Any) -> str:
        """``obj`` as compact JSON text."""
        return _std_encode(obj)
