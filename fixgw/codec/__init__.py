"""FIX tag=value codec: framing, parsing, validation, encoding.

The compiled implementation in ``fixgw_ext`` gets the public names when it imports;
``FIXGW_NO_EXTENSIONS=1`` forces the pure-Python twin in this package, which is the specification.
``IMPLEMENTATION`` says which one is in use.
"""

from __future__ import annotations

import os

from . import _encoder as _py_encoder
from . import _parser as _py_parser
from ._timefmt import format_utc_timestamp, parse_utc_timestamp

__all__ = [
    "Message",
    "Garbled",
    "Parser",
    "NEED_MORE",
    "encode",
    "encode_value",
    "format_decimal",
    "format_utc_timestamp",
    "parse_utc_timestamp",
    "DEFAULT_DATA_TAGS",
    "IMPLEMENTATION",
    "SOH",
    "checksum",
]

SOH = b"\x01"
DEFAULT_DATA_TAGS = _py_parser.DEFAULT_DATA_TAGS
format_decimal = _py_encoder.format_decimal
checksum = _py_parser.checksum
encode_value = _py_encoder.encode_value

_impl = None
if os.environ.get("FIXGW_NO_EXTENSIONS") != "1":
    try:
        import fixgw_ext._codec as _impl  # type: ignore[no-redef]
    except ImportError:  # pragma: no cover - exercised when the build is missing
        _impl = None

if _impl is not None:
    Message = _impl.Message
    Garbled = _impl.Garbled
    Parser = _impl.Parser
    NEED_MORE = _impl.NEED_MORE
    encode = _impl.encode
    IMPLEMENTATION = "compiled"
else:
    Message = _py_parser.Message  # type: ignore[misc]
    Garbled = _py_parser.Garbled  # type: ignore[misc]
    Parser = _py_parser.Parser  # type: ignore[misc]
    NEED_MORE = _py_parser.NEED_MORE
    encode = _py_encoder.encode
    IMPLEMENTATION = "pure"
