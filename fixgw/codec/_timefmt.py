"""UTCTimestamp formatting and parsing (``YYYYMMDD-HH:MM:SS[.fff[fff[fff]]]``), in epoch nanoseconds."""

from __future__ import annotations

import calendar
import time

__all__ = ["format_utc_timestamp", "parse_utc_timestamp"]

_NS = 1_000_000_000
_cache_sec = -1
_cache_prefix = b""


def format_utc_timestamp(now_ns: int, precision: int = 3) -> bytes:
    """Format UTC epoch nanoseconds; ``precision`` is 0, 3 (ms), 6 (µs) or 9 (ns) fraction digits."""
    global _cache_sec, _cache_prefix
    sec, frac = divmod(now_ns, _NS)
    if sec != _cache_sec:
        _cache_prefix = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(sec)).encode("ascii")
        _cache_sec = sec
    if precision == 0:
        return _cache_prefix
    if precision == 3:
        return b"%s.%03d" % (_cache_prefix, frac // 1_000_000)
    if precision == 6:
        return b"%s.%06d" % (_cache_prefix, frac // 1_000)
    if precision == 9:
        return b"%s.%09d" % (_cache_prefix, frac)
    raise ValueError("precision must be 0, 3, 6 or 9")


def parse_utc_timestamp(v: bytes) -> int | None:
    """Return epoch nanoseconds, or ``None`` if ``v`` is not a valid UTCTimestamp."""
    if len(v) < 17 or v[8:9] != b"-" or v[11:12] != b":" or v[14:15] != b":":
        return None
    date, hh, mm, ss = v[0:8], v[9:11], v[12:14], v[15:17]
    if not (date.isdigit() and hh.isdigit() and mm.isdigit() and ss.isdigit()):
        return None
    frac_ns = 0
    rest = v[17:]
    if rest:
        digits = rest[1:]
        if rest[:1] != b"." or len(digits) not in (3, 6, 9) or not digits.isdigit():
            return None
        frac_ns = int(digits) * 10 ** (9 - len(digits))
    y, mo, d = int(date[0:4]), int(date[4:6]), int(date[6:8])
    h, mi, s = int(hh), int(mm), int(ss)
    # Year 0000 is refused: the epoch arithmetic (and datetime) start at year 1.
    if not (y >= 1 and 1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1] and h < 24 and mi < 60 and s <= 60):
        return None
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) * _NS + frac_ns
