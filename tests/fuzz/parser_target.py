"""The parser fuzz target (see ``targets.py``): pure and compiled parsers, any chunking, nothing lost."""

from __future__ import annotations

import zlib
from typing import Any, Callable

from fixgw.codec import _parser as pure_parser

from .common import fail as _fail
from .common import frame

try:
    import fixgw_ext._codec as compiled_parser
except ImportError:  # pragma: no cover - the differential half compares pure with pure without the build
    compiled_parser = None

__all__ = ["parser_target", "SENTINEL", "PADDING"]

SENTINEL = frame(b"FIX.4.4", b"35=0\x0149=FUZZ\x0156=SENTINEL\x0134=1\x01")
# More than a 256-byte body past the sentinel: every frame that starts before it is judged.
PADDING = b"\x00" * 300
_SMALL_BODY = 256
_GETTERS = (("get_int", 34), ("get_decimal", 44), ("get_utc_ns", 52), ("get_char", 54), ("get_bool", 43))


def _items(parser_cls: Any, stream: bytes, cuts: Any, max_body: int) -> tuple[list[Any], int]:
    p = parser_cls(max_body_length=max_body)
    out: list[Any] = []
    prev = 0
    for cut in [*cuts, len(stream)]:
        p.feed(stream[prev:cut])
        prev = cut
        for item in p:
            out.append(item)
            if len(out) > len(stream) + 1:
                _fail("parser yields more items than there are bytes")
    return out, p.buffered


def _norm(item: Any) -> tuple:
    if hasattr(item, "fields"):
        return ("M", list(item.fields), item.raw, item.invalid_field)
    return ("G", item.reason, item.data)


def _outcome(fn: Callable[[int], Any], tag: int) -> tuple:
    try:
        return ("ok", fn(tag))
    except KeyError:
        return ("absent",)
    except Exception as exc:  # noqa: BLE001 - compared, not swallowed: both sides must agree
        return ("err", type(exc).__name__, str(exc))


def _check_items(items: list[Any], stream: bytes, buffered: int) -> None:
    pos = 0
    for item in items:
        if hasattr(item, "fields"):
            raw = item.raw
            f = item.fields
            if not raw.startswith(b"8=FIX") or [t for t, _ in f[:3]] != [8, 9, 35] or f[-1][0] != 10:
                _fail(f"malformed Message {item!r}")
            bad = item.invalid_field
            if bad is not None and (b"\x01" in bad or bad not in raw):
                _fail(f"invalid_field {bad!r} not a field of {raw!r}")
            chunk = raw
        else:
            if not item.data or not isinstance(item.reason, str):
                _fail(f"empty or unexplained Garbled {item!r}")
            chunk = item.data
        if stream[pos : pos + len(chunk)] != chunk:
            _fail(f"item bytes are not the next bytes of the stream at {pos}: {item!r}")
        pos += len(chunk)
    if pos + buffered != len(stream):
        _fail(f"{len(stream) - pos - buffered} bytes lost (consumed {pos}, buffered {buffered})")


def _cuts(h: int, n: int) -> list[int]:
    return sorted({(h >> k) % (n + 1) for k in range(0, 3 * (h % 5), 3)})


def parser_target(data: bytes, impls: tuple[Any, ...] | None = None) -> None:
    """Run the parser invariants on ``data``; ``impls`` (Parser classes) defaults to pure and compiled.

    The first implementation is the reference, fed whole (a quarter of the inputs: in a few chunks);
    every other one is fed other chunks (one input in sixteen: one byte at a time) and then whole, and
    must give the same items. Typed getters are compared on a quarter of the inputs.
    """
    if impls is None:
        impls = (pure_parser.Parser, compiled_parser.Parser if compiled_parser is not None else pure_parser.Parser)
    h = zlib.crc32(data)
    sentinel = h & 3 != 3  # a quarter of the inputs run with the default body limit and no sentinel
    max_body = _SMALL_BODY if sentinel else pure_parser.MAX_BODY_LENGTH
    stream = data + SENTINEL + PADDING if sentinel else data
    n = len(stream)
    getters = h & 12 == 0
    runs: list[tuple[Any, Any]] = [(impls[0], _cuts(h >> 4, n) if h & 48 == 0 else ())]
    for impl in impls[1:]:
        h = zlib.crc32(b"%d" % h)
        runs.append((impl, range(1, n, 1 + h % 5) if h % 16 == 0 else _cuts(h, n)))
        runs.append((impl, ()))
    ref_items, ref_buffered = _items(runs[0][0], stream, runs[0][1], max_body)
    _check_items(ref_items, stream, ref_buffered)
    ref = [_norm(x) for x in ref_items]
    for impl, cuts in runs[1:]:
        items, buffered = _items(impl, stream, cuts, max_body)
        if [_norm(x) for x in items] != ref or buffered != ref_buffered:
            _fail(f"{impl.__module__}.Parser fed in pieces cut at {list(cuts)} differs from the reference")
        if getters and not cuts:
            for a, b in zip(items, ref_items):
                if hasattr(a, "fields"):
                    for name, tag in _GETTERS:
                        if _outcome(getattr(a, name), tag) != _outcome(getattr(b, name), tag):
                            _fail(f"{name}({tag}) differs between implementations on {b!r}")
    if sentinel:
        raws = [x.raw for x in ref_items if hasattr(x, "fields")]
        # Lost only if no frame carries it: bytes before it may form a valid frame enclosing it.
        if SENTINEL not in raws and not any(SENTINEL in r for r in raws):
            _fail("a valid message after the input was lost")


