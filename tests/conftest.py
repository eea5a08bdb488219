"""Shared fixtures. ``codec``: run a test on both codec implementations (pure twin and compiled)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

from fixgw.codec import _encoder as _pure_encoder
from fixgw.codec import _parser as _pure_parser


@dataclass(frozen=True)
class CodecImpl:
    """One implementation of the codec's hot path: the names ``fixgw.codec`` would export."""

    name: str
    Parser: Any
    Message: Any
    Garbled: Any
    NEED_MORE: Any
    encode: Any


def pure_codec() -> CodecImpl:
    p = _pure_parser
    return CodecImpl("pure", p.Parser, p.Message, p.Garbled, p.NEED_MORE, _pure_encoder.encode)


def compiled_module() -> ModuleType | None:
    """Return ``fixgw_ext._codec``, or ``None`` when it is not built."""
    try:
        import fixgw_ext._codec as ext
    except ImportError:
        return None
    return ext


def compiled_codec() -> CodecImpl | None:
    ext = compiled_module()
    if ext is None:
        return None
    return CodecImpl("compiled", ext.Parser, ext.Message, ext.Garbled, ext.NEED_MORE, ext.encode)


def extensions_disabled() -> bool:
    return os.environ.get("FIXGW_NO_EXTENSIONS") == "1"


@pytest.fixture(params=["pure", "compiled"])
def codec(request: pytest.FixtureRequest) -> CodecImpl:
    """Each codec implementation in turn; the compiled one is skipped only when it is not built."""
    if request.param == "pure":
        return pure_codec()
    impl = compiled_codec()
    if impl is None:
        pytest.skip("fixgw_ext._codec is not built")
    return impl
