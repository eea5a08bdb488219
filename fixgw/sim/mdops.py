"""Market-data operations of the venue built from the engine's trades and books: klines, average
price, 24 h ticker and book ticker (REST ``/api/v3/...`` and the WebSocket API).

They read the engine's recent public trades (``trade_history`` per symbol, 1000 by default), so a
long-running simulator answers klines and tickers over those trades only. Times are epoch
milliseconds; amounts strings with eight decimals; lists oldest first.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import re
from bisect import bisect_left
from decimal import Decimal
from typing import Any, Iterator

from .errors import ApiError, illegal_chars
from .instruments import fmt
from .model import PublicTrade

__all__ = ["op_klines", "op_avg_price", "op_ticker_24hr", "op_book_ticker", "klines_weight",
           "ticker_24hr_weight", "INTERVALS_MS"]

_ZERO = Decimal(0)
_EIGHT = Decimal("0.00000001")
_DAY = 86_400_000
INTERVALS_MS = {
    "1s": 1000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
    "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000,
    "12h": 43_200_000, "1d": _DAY, "3d": 3 * _DAY, "1w": 7 * _DAY, "1M": 0,  # 1M: calendar months
}
_TZ = re.compile(r"^([+-]?)(\d{1,2})(?::(\d{2}))?$")
_MONDAY_OFFSET = 4 * _DAY  # 1970-01-01 was a Thursday; weeks open on Monday


def klines_weight(p: Any) -> int:
    return 2


def ticker_24hr_weight(p: Any) -> int:
    if "symbol" in p:
        return 2
    if "symbols" not in p:
        return 80
    try:
        n = len(json.loads(p.str("symbols") or "[]"))
    except ValueError:
        return 2
    return 2 if n <= 20 else 40 if n <= 100 else 80


def _symbols(ctx: Any, p: Any) -> tuple[list[str], bool]:
    """The symbols asked for, and whether one ``symbol`` was (an object answer, not a list)."""
    engine = ctx.engine
    if "symbol" in p:
        s = p.str("symbol")
        engine.spec(s)
        return [s], True
    if "symbols" in p:
        try:
            names = json.loads(p.str("symbols") or "")
        except ValueError:
            raise illegal_chars("symbols", "^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\\]$") from None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise illegal_chars("symbols")
        for s in names:
            engine.spec(s)
        return names, False
    return sorted(engine.instruments), False


def _symbol(ctx: Any, p: Any) -> str:
    s = p.str("symbol", True)
    ctx.engine.spec(s)
    return s  # type: ignore[no-any-return]


# == klines =======================================================================================
def _tz_offset_ms(p: Any) -> int:
    raw = p.str("timeZone")
    if raw is None:
        return 0
    m = _TZ.match(raw)
    if m is None:
        raise ApiError(-1100, "Illegal characters found in parameter 'timeZone'.")
    minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
    if m.group(1) == "-":
        minutes = -minutes
    if not -12 * 60 <= minutes <= 14 * 60:
        raise ApiError(-1100, "Illegal characters found in parameter 'timeZone'.")
    return minutes * 60_000


def _open_of(t: int, interval: str, tz: int) -> int:
    """Open time (UTC ms) of the bucket holding ``t``; bucket edges follow the time zone ``tz``."""
    size = INTERVALS_MS[interval]
    local = t + tz
    if interval == "1M":
        d = dt.datetime.fromtimestamp(local // 1000, dt.timezone.utc)
        start = dt.datetime(d.year, d.month, 1, tzinfo=dt.timezone.utc)
        return int(start.timestamp()) * 1000 - tz
    if interval == "1w":
        return (local - _MONDAY_OFFSET) // size * size + _MONDAY_OFFSET - tz
    return local // size * size - tz


def _next_open(open_ms: int, interval: str, tz: int) -> int:
    if interval != "1M":
        return open_ms + INTERVALS_MS[interval]
    d = dt.datetime.fromtimestamp((open_ms + tz) // 1000, dt.timezone.utc)
    days = calendar.monthrange(d.year, d.month)[1]
    return open_ms + days * _DAY


def _prev_open(open_ms: int, interval: str, tz: int) -> int:
    return _open_of(open_ms - 1, interval, tz)


class _Bar:
    __slots__ = ("open_time", "o", "h", "l", "c", "v", "q", "n", "tb", "tq")

    def __init__(self, open_time: int, t: PublicTrade) -> None:
        self.open_time = open_time
        self.o = self.h = self.l = self.c = t.price
        self.v = self.q = self.tb = self.tq = _ZERO
        self.n = 0

    def add(self, t: PublicTrade) -> None:
        self.h = max(self.h, t.price)
        self.l = min(self.l, t.price)
        self.c = t.price
        quote = t.price * t.qty
        self.v += t.qty
        self.q += quote
        self.n += 1
        if not t.buyer_is_maker:  # the taker bought
            self.tb += t.qty
            self.tq += quote


def op_klines(ctx: Any, p: Any) -> Any:
    symbol = _symbol(ctx, p)
    interval = p.str("interval", True)
    if interval not in INTERVALS_MS:
        raise ApiError(-1120, "Invalid interval.")
    tz = _tz_offset_ms(p)
    limit = max(1, min(p.int("limit") or 500, 1000))
    start, end = p.int("startTime"), p.int("endTime")
    trades = list(ctx.engine.trades[symbol])
    if not trades:
        return []
    bars: dict[int, _Bar] = {}
    for t in trades:
        o = _open_of(t.time, interval, tz)
        bar = bars.get(o)
        if bar is None:
            bars[o] = _Bar(o, t)
        bars[o].add(t)
    opens = sorted(bars)
    lo = opens[0] if start is None else max(opens[0], _open_of(start, interval, tz))
    hi = _open_of(ctx.now_ms if end is None else min(end, ctx.now_ms), interval, tz)
    if start is not None:
        picked = list(_walk(lo, hi, interval, tz, limit, forward=True))
    else:
        picked = list(reversed(list(_walk(lo, hi, interval, tz, limit, forward=False))))
    out = []
    for o in picked:
        bar = bars.get(o)
        close_time = _next_open(o, interval, tz) - 1
        if bar is None:  # no trade: a flat bar at the previous close
            prev = bars[opens[bisect_left(opens, o) - 1]].c
            out.append([o, fmt(prev), fmt(prev), fmt(prev), fmt(prev), fmt(_ZERO), close_time, fmt(_ZERO), 0,
                        fmt(_ZERO), fmt(_ZERO), "0"])
        else:
            out.append([o, fmt(bar.o), fmt(bar.h), fmt(bar.l), fmt(bar.c), fmt(bar.v), close_time, fmt(bar.q),
                        bar.n, fmt(bar.tb), fmt(bar.tq), "0"])
    return out


def _walk(lo: int, hi: int, interval: str, tz: int, limit: int, forward: bool) -> Iterator[int]:
    """Bucket opens from ``lo`` up (or ``hi`` down), at most ``limit`` of them, within [lo, hi]."""
    o = lo if forward else hi
    for _ in range(limit):
        if o < lo or o > hi:
            return
        yield o
        o = _next_open(o, interval, tz) if forward else _prev_open(o, interval, tz)


# == average price and tickers ====================================================================
def op_avg_price(ctx: Any, p: Any) -> Any:
    symbol = _symbol(ctx, p)
    trades = ctx.engine.trades[symbol]
    if not trades:
        return {"mins": 5, "price": fmt(_ZERO), "closeTime": 0}
    since = ctx.now_ms - 5 * 60_000
    window = [t for t in trades if t.time >= since]
    if window:
        qty = sum((t.qty for t in window), _ZERO)
        price = (sum((t.price * t.qty for t in window), _ZERO) / qty).quantize(_EIGHT)
    else:
        price = trades[-1].price
    return {"mins": 5, "price": fmt(price), "closeTime": trades[-1].time}


def _ticker(ctx: Any, symbol: str, full: bool) -> dict[str, Any]:
    engine = ctx.engine
    now = ctx.now_ms
    open_time = now - _DAY
    trades = engine.trades[symbol]
    window = [t for t in trades if t.time >= open_time]
    before = [t for t in trades if t.time < open_time]
    if window:
        first, last = window[0], window[-1]
        volume = sum((t.qty for t in window), _ZERO)
        quote = sum((t.price * t.qty for t in window), _ZERO)
        o, c = first.price, last.price
        h, lo = max(t.price for t in window), min(t.price for t in window)
        ids, count, last_qty = (first.trade_id, last.trade_id), len(window), last.qty
        wavg = (quote / volume).quantize(_EIGHT)
    else:
        o = c = h = lo = volume = quote = wavg = last_qty = _ZERO
        ids, count = (-1, -1), 0
    out: dict[str, Any] = {"symbol": symbol}
    if full:
        change = c - o
        pct = (change / o * 100).quantize(Decimal("0.001")) if o else Decimal("0.000")
        book = engine.books[symbol]
        bid, ask = book.levels("BUY", 1), book.levels("SELL", 1)
        (bp, bq), (ap, aq) = (bid[0] if bid else (_ZERO, _ZERO)), (ask[0] if ask else (_ZERO, _ZERO))
        out.update({
            "priceChange": fmt(change), "priceChangePercent": f"{pct:f}", "weightedAvgPrice": fmt(wavg),
            "prevClosePrice": fmt(before[-1].price if before else _ZERO), "lastPrice": fmt(c),
            "lastQty": fmt(last_qty), "bidPrice": fmt(bp), "bidQty": fmt(bq), "askPrice": fmt(ap),
            "askQty": fmt(aq),
        })
    else:
        out["lastPrice"] = fmt(c)
    out.update({
        "openPrice": fmt(o), "highPrice": fmt(h), "lowPrice": fmt(lo),
    })
    if not full:  # MINI's order: symbol, openPrice, highPrice, lowPrice, lastPrice, ...
        out["lastPrice"] = out.pop("lastPrice")
    out.update({
        "volume": fmt(volume), "quoteVolume": fmt(quote), "openTime": open_time, "closeTime": now,
        "firstId": ids[0], "lastId": ids[1], "count": count,
    })
    return out


def op_ticker_24hr(ctx: Any, p: Any) -> Any:
    names, single = _symbols(ctx, p)
    kind = p.str("type") or "FULL"
    if kind not in ("FULL", "MINI"):
        raise ApiError(-1100, "Illegal characters found in parameter 'type'; legal range is 'FULL, MINI'.")
    out = [_ticker(ctx, s, kind == "FULL") for s in names]
    return out[0] if single else out


def op_book_ticker(ctx: Any, p: Any) -> Any:
    names, single = _symbols(ctx, p)
    out = []
    for s in names:
        book = ctx.engine.books[s]
        bid, ask = book.levels("BUY", 1), book.levels("SELL", 1)
        (bp, bq), (ap, aq) = (bid[0] if bid else (_ZERO, _ZERO)), (ask[0] if ask else (_ZERO, _ZERO))
        out.append({"symbol": s, "bidPrice": fmt(bp), "bidQty": fmt(bq), "askPrice": fmt(ap), "askQty": fmt(aq)})
    return out[0] if single else out

