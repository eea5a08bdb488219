"""OHLCV candles built from trades by their exchange timestamps (sans-I/O).

Theory of operation
-------------------
A ``CandleSeries`` cuts UTC epoch time into buckets of one interval (``1s``, ``1m``, ``5m``, ``1h``, or
any ``<n>s|m|h|d``), a bucket being keyed by its open time, as a venue keys its klines. Each trade lands
in the bucket of its **exchange** timestamp, whenever it arrives: a late trade amends its bucket, even
a bucket already closed. Within a bucket the open is the earliest trade and the close the latest,
ordered by (timestamp, trade id, arrival), so the result does not depend on arrival order.

Memory is bounded: a series keeps the newest ``retention`` buckets; a trade older than all of them is
refused (``add`` returns None) and counted in ``too_late``. A trade whose id was already taken (a
stream replayed after a reconnect) is dropped and counted in ``duplicates``; the ids remembered for
this are the newest ``dedup_window``.

Quantities and prices are ``Decimal``; volume is the base quantity, ``quote_volume`` the sum of
price x quantity. No clock is read: ``closed(now_ns)`` takes the time as an argument.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Iterator

__all__ = ["Candle", "CandleSeries", "Candles", "interval_ns", "DEFAULT_INTERVALS"]

DEFAULT_INTERVALS = ("1s", "1m", "5m", "1h")
_UNIT_NS = {"s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000}
_INTERVAL = re.compile(r"([1-9][0-9]{0,5})([smhd])")
_ZERO = Decimal(0)


def interval_ns(name: str) -> int:
    """Return the length of interval ``name`` (``1s``, ``1m``, ``5m``, ``1h``, ``1d``...) in nanoseconds.

    ``ValueError`` for anything else (``1M``, a month, has no fixed length and is not supported).
    """
    m = _INTERVAL.fullmatch(name) if isinstance(name, str) else None
    if m is None:
        raise ValueError(f"unsupported candle interval {name!r}: use <n>s, <n>m, <n>h or <n>d")
    return int(m.group(1)) * _UNIT_NS[m.group(2)]


@dataclass(frozen=True, slots=True)
class Candle:
    """One bucket's OHLCV, as of the trades seen so far."""

    interval: str
    open_time_ns: int
    close_time_ns: int  # exclusive: the next bucket's open time
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    trades: int


class _Bucket:
    __slots__ = ("open", "high", "low", "close", "volume", "quote_volume", "trades", "first_key", "last_key")

    def __init__(self, price: Decimal, qty: Decimal, key: tuple[int, int, int]) -> None:
        self.open = self.high = self.low = self.close = price
        self.volume = qty
        self.quote_volume = price * qty
        self.trades = 1
        self.first_key = self.last_key = key

    def add(self, price: Decimal, qty: Decimal, key: tuple[int, int, int]) -> None:
        if price > self.high:
            self.high = price
        if price < self.low:
            self.low = price
        if key < self.first_key:
            self.first_key, self.open = key, price
        if key >= self.last_key:
            self.last_key, self.close = key, price
        self.volume += qty
        self.quote_volume += price * qty
        self.trades += 1


class CandleSeries:
    """Candles of one interval for one symbol."""

    def __init__(self, interval: str = "1m", *, retention: int = 1000, dedup_window: int = 100_000) -> None:
        if retention < 1 or dedup_window < 0:
            raise ValueError("retention must be >= 1 and dedup_window >= 0")
        self.interval = interval
        self.length_ns = interval_ns(interval)
        self.retention = retention
        self.dedup_window = dedup_window
        self._buckets: dict[int, _Bucket] = {}
        self._newest: int | None = None
        self._seen: OrderedDict[object, None] = OrderedDict()
        self._arrival = 0
        self.too_late = 0
        self.duplicates = 0
        self.amended = 0

    def bucket_of(self, ts_ns: int) -> int:
        """Return the open time of the bucket holding ``ts_ns``."""
        return ts_ns - ts_ns % self.length_ns

    def add(self, ts_ns: int, price: Decimal, qty: Decimal, trade_id: int | None = None) -> Candle | None:
        """Add a trade; return its bucket's candle as amended, or None if refused (too late, duplicate, bad)."""
        if not (isinstance(price, Decimal) and isinstance(qty, Decimal)) or not (price.is_finite() and qty.is_finite()):
            raise ValueError("price and qty must be finite Decimals")
        if price <= 0 or qty < 0:
            raise ValueError("price must be > 0 and qty >= 0")
        start = ts_ns - ts_ns % self.length_ns
        newest = self._newest
        if newest is not None and start <= newest - self.retention * self.length_ns:
            self.too_late += 1
            return None
        if trade_id is not None and self.dedup_window:
            seen = self._seen
            if trade_id in seen:
                self.duplicates += 1
                return None
            seen[trade_id] = None
            if len(seen) > self.dedup_window:
                seen.popitem(last=False)
        self._arrival += 1
        key = (ts_ns, trade_id if trade_id is not None else 0, self._arrival)
        b = self._buckets.get(start)
        if b is None:
            b = self._buckets[start] = _Bucket(price, qty, key)
            if newest is None or start > newest:
                self._newest = start
                self._evict(start)
        else:
            b.add(price, qty, key)
        if newest is not None and start < newest:
            self.amended += 1
        return self._candle(start, b)

    def _evict(self, newest: int) -> None:
        floor = newest - self.retention * self.length_ns
        if len(self._buckets) > self.retention or min(self._buckets) <= floor:
            for k in [k for k in self._buckets if k <= floor]:
                del self._buckets[k]

    def _candle(self, start: int, b: _Bucket) -> Candle:
        return Candle(self.interval, start, start + self.length_ns, b.open, b.high, b.low, b.close,
                      b.volume, b.quote_volume, b.trades)

    def get(self, open_time_ns: int) -> Candle | None:
        """Return the candle opening at ``open_time_ns``, or None when it holds no trade (or was evicted)."""
        b = self._buckets.get(open_time_ns)
        return None if b is None else self._candle(open_time_ns, b)

    def candles(self) -> list[Candle]:
        """Return every retained candle with trades, oldest first."""
        return [self._candle(k, self._buckets[k]) for k in sorted(self._buckets)]

    def latest(self) -> Candle | None:
        return None if self._newest is None else self.get(self._newest)

    def closed(self, now_ns: int) -> list[Candle]:
        """Return the retained candles whose interval ended at or before ``now_ns``, oldest first."""
        return [c for c in self.candles() if c.close_time_ns <= now_ns]

    def filled(self, start_ns: int, end_ns: int) -> Iterator[Candle]:
        """Yield one candle per bucket opening in ``[start_ns, end_ns)``, oldest first.

        A bucket without trades repeats the previous close with zero volume (as a venue's empty bar);
        buckets before the first trade in range are skipped.
        """
        prev: Candle | None = None
        t = self.bucket_of(start_ns)
        while t < end_ns:
            c = self.get(t)
            if c is not None:
                prev = c
                yield c
            elif prev is not None:
                px = prev.close
                yield Candle(self.interval, t, t + self.length_ns, px, px, px, px, _ZERO, _ZERO, 0)
            t += self.length_ns


class Candles:
    """Candles of several intervals for one symbol, fed by one trade stream."""

    def __init__(self, intervals: Iterable[str] = DEFAULT_INTERVALS, *, retention: int = 1000,
                 dedup_window: int = 100_000) -> None:
        self.series = {i: CandleSeries(i, retention=retention, dedup_window=dedup_window) for i in intervals}

    def add(self, ts_ns: int, price: Decimal, qty: Decimal, trade_id: int | None = None) -> list[Candle]:
        """Add a trade to every interval; return the candles it changed."""
        out = []
        for s in self.series.values():
            c = s.add(ts_ns, price, qty, trade_id)
            if c is not None:
                out.append(c)
        return out

    def __getitem__(self, interval: str) -> CandleSeries:
        return self.series[interval]
