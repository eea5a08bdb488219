"""JSON in and out of the simulator: orjson when it is installed, else the standard library, same results.

Every answer and event is encoded here (several per order), and every WebSocket API request decoded, so
this is a large share of the simulator's CPU; orjson does either several times faster. Both backends
give the same JSON values: compact output with keys in insertion order (orjson writes non-ASCII
characters as UTF-8 where the standard library escapes them, the same string to any JSON reader), and
requests decoded with numbers that have a fraction or exponent kept as their text, so a price sent as a
JSON number is the exact decimal written. Whatever orjson refuses or would read differently (such a
number, integers past 64 bits, lone surrogates, ``NaN``) goes to the standard library.
``FIXGW_SIM_PURE_JSON=1`` in the environment keeps the standard library even when orjson is installed.
"""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["dumps", "loads_request", "BACKEND", "pure_dumps", "pure_loads_request"]

_std_encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
_std_decoder = json.JSONDecoder(parse_float=str)


def pure_dumps(obj: Any) -> bytes:
    """``obj`` as compact JSON in UTF-8 (the standard library's encoder)."""
    return _std_encode(obj).encode("utf-8")


def pure_loads_request(text: str) -> Any:
    """Decode a request; numbers with a fraction or an exponent stay text (the standard library)."""
    return _std_decoder.decode(text)


try:
    if os.environ.get("FIXGW_SIM_PURE_JSON", "") not in ("", "0"):
        raise ImportError("the standard library's json asked for")
    import orjson
except ImportError:
    orjson = None  # type: ignore[assignment]

if orjson is None:
    BACKEND = "json"
    dumps = pure_dumps
    loads_request = pure_loads_request
else:
    BACKEND = "orjson"
    _orjson_dumps = orjson.dumps
    _orjson_loads = orjson.loads
    _JSONDecodeError = orjson.JSONDecodeError

    def dumps(obj: Any) -> bytes:  # type: ignore[misc]
        """``obj`` as compact JSON in UTF-8."""
        try:
            return _orjson_dumps(obj)
        except TypeError:  # an integer past 64 bits, a lone surrogate, a non-str key
            return pure_dumps(obj)

    def loads_request(text: str) -> Any:  # type: ignore[misc]
        """Decode a request; numbers with a fraction or an exponent stay text."""
        try:
            msg = _orjson_loads(text)
        except _JSONDecodeError:  # invalid, or valid only to the standard library: let it decide
            return pure_loads_request(text)
        if type(msg) is dict and _plain(msg):
            return msg
        return pure_loads_request(text)  # a float somewhere: decode again keeping its text

    def _plain(msg: dict[str, Any]) -> bool:
        """No float in the request's id, method or parameters (one level deep; deeper means a re-read)."""
        for key, value in msg.items():
            t = type(value)
            if t is float:
                return False
            if t is dict:
                if key != "params":
                    return False
                for v in value.values():
                    tv = type(v)
                    if tv is float or tv is dict or tv is list:
                        return False
            elif t is list:
                return False
        return True
