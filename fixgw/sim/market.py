"""The public market streams of the simulator: diff depth, partial depth, trades, aggregate trades and
the book ticker, with the market-data faults.

Theory of operation: ``MarketFeed`` knows every stream name someone listens to. The engine reports
one ``DepthUpdate`` per operation, each with the next id of its symbol's update-id counter (the one
REST ``lastUpdateId`` reads). While a symbol has diff-depth listeners, its updates are merged into one
pending batch per speed (100 ms, 1000 ms): the batch keeps the first id (``U``), the last id (``u``)
and the absolute quantity of every level changed since the batch began. ``tick`` (called every 100 ms
by the server's loop) turns each due batch into one ``depthUpdate`` event and sends the partial-depth
snapshots (``lastUpdateId`` = the book's current id). Trades, aggregate trades and the book ticker
are sent as the engine reports them. Nothing runs for a symbol nobody listens to, so order entry pays
nothing for market data without listeners. Batches start when a listener subscribes: the ids of two
consecutive events of one stream always follow each other (``U`` = previous ``u`` + 1) unless a fault
drops one.

Faults (``Faults`` in ``faults.py``) act on the diff-depth events of every stream: dropped (a gap in
the ids), duplicated, reordered (an event held back and sent after the next one), a stall (no depth
event at all for N seconds while the changes keep merging, then one event covering them all) and a
stale snapshot (REST depth answers the book as it was when the switch was written).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

from .engine import MatchingEngine
from .faults import Faults
from .instruments import fmt
from .jsonio import dumps
from .model import DepthUpdate, PublicTrade
from .outbox import Outbox

__all__ = ["MarketFeed", "StreamSpec", "parse_stream", "SPEEDS_MS"]

SPEEDS_MS = (100, 1000)
_STREAM = re.compile(
    r"^([a-z0-9]+)@(trade|aggTrade|bookTicker|depth(5|10|20)?(?:@(100ms|1000ms))?)$"
)
_ZERO = Decimal(0)
_SNAPSHOT_LEVELS = 5000


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """What a stream name asks for: ``kind`` is trade, aggTrade, bookTicker, depth (diff) or partial."""

    symbol: str  # upper case, as the engine spells it
    kind: str
    levels: int = 0  # partial depth only
    speed_ms: int = 0  # depth and partial depth only


def parse_stream(name: str, symbols: Iterable[str] | dict[str, Any]) -> StreamSpec | None:
    """The stream ``name`` (``btcusdt@depth@100ms``) for a known symbol, or None."""
    m = _STREAM.match(name)
    if m is None:
        return None
    symbol = m.group(1).upper()
    if symbol not in symbols:
        return None
    what = m.group(2)
    if not what.startswith("depth"):
        return StreamSpec(symbol, what)
    speed = 100 if m.group(4) == "100ms" else 1000
    if m.group(3):
        return StreamSpec(symbol, "partial", int(m.group(3)), speed)
    return StreamSpec(symbol, "depth", 0, speed)


class _Batch:
    """The changes of one symbol merged over one interval."""

    __slots__ = ("first", "last", "bids", "asks")

    def __init__(self, first: int) -> None:
        self.first = first
        self.last = first
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}


class MarketFeed:
    """Stream subscriptions and their fan-out for one simulator (lives on the server's loop)."""

    def __init__(self, engine: MatchingEngine, faults: Faults) -> None:
        self.engine = engine
        self.faults = faults
        #: stream name -> [(outbox, combined)]
        self.subs: dict[str, list[tuple[Outbox, bool]]] = {}
        self._specs: dict[str, StreamSpec] = {}
        self._diff: dict[str, set[int]] = {}  # symbol -> speeds with diff-depth listeners
        self._top: dict[str, tuple[Any, ...] | None] = {}  # symbol -> last book ticker sent (listened to)
        self._trades: set[str] = set()  # symbols with trade or aggTrade listeners
        self._batches: dict[tuple[str, int], _Batch] = {}
        self._held: dict[tuple[str, int], bytes] = {}  # reorder fault: the event sent after the next one
        self._next_agg_id: dict[str, int] = {}
        self.stalled_until_ms = 0
        self.stale: dict[str, dict[str, Any]] = {}  # symbol -> the snapshot a stale answer serves
        self.active = False  # anyone listening to anything

    # == subscriptions ============================================================================
    def spec(self, name: str) -> StreamSpec | None:
        return parse_stream(name, self.engine.instruments)

    def subscribe(self, outbox: Outbox, name: str, combined: bool) -> bool:
        """Add ``outbox`` as a listener of ``name``; False (nothing done) when the name is unknown."""
        spec = self.spec(name)
        if spec is None:
            return False
        subs = self.subs.setdefault(name, [])
        if not any(o is outbox for o, _ in subs):
            subs.append((outbox, combined))
        self._specs[name] = spec
        self._recompute()
        return True

    def unsubscribe(self, outbox: Outbox, name: str | None = None) -> None:
        for stream, subs in list(self.subs.items()):
            if name is None or stream == name:
                left = [(o, c) for o, c in subs if o is not outbox]
                if left:
                    self.subs[stream] = left
                else:
                    del self.subs[stream]
                    self._specs.pop(stream, None)
        self._recompute()

    def streams_of(self, outbox: Outbox) -> list[str]:
        return sorted(n for n, subs in self.subs.items() if any(o is outbox for o, _ in subs))

    def _recompute(self) -> None:
        diff: dict[str, set[int]] = {}
        top: set[str] = set()
        trades: set[str] = set()
        for spec in self._specs.values():
            if spec.kind == "depth":
                diff.setdefault(spec.symbol, set()).add(spec.speed_ms)
            elif spec.kind == "bookTicker":
                top.add(spec.symbol)
            elif spec.kind in ("trade", "aggTrade"):
                trades.add(spec.symbol)
        for key in [k for k in self._batches if k[1] not in diff.get(k[0], ())]:
            del self._batches[key]  # nobody left: the next listener starts afresh
        for key in [k for k in self._held if k[1] not in diff.get(k[0], ())]:
            del self._held[key]
        self._diff = diff
        self._top = {s: self._top.get(s) for s in top}
        self._trades = trades
        self.active = bool(self._specs)

    def _send(self, name: str, data: bytes) -> None:
        for outbox, combined in list(self.subs.get(name, ())):
            outbox.send_json(b'{"stream":%s,"data":%s}' % (dumps(name), data) if combined else data)

    def _names(self, symbol: str, kind: str, speed_ms: int = 0) -> list[str]:
        return [n for n, s in self._specs.items()
                if s.symbol == symbol and s.kind == kind and s.speed_ms == speed_ms]

    # == events ===================================================================================
    def on_events(self, events: list[Any], now_ms: int) -> None:
        """Take the engine's trades and depth updates of one or more operations."""
        pending_trades: list[PublicTrade] = []
        for ev in events:
            if isinstance(ev, DepthUpdate):
                self._on_depth(ev)
            elif isinstance(ev, PublicTrade) and ev.symbol in self._trades:
                pending_trades.append(ev)
        if pending_trades:
            self._on_trades(pending_trades, now_ms)

    def _on_depth(self, ev: DepthUpdate) -> None:
        symbol = ev.symbol
        for speed in self._diff.get(symbol, ()):
            batch = self._batches.get((symbol, speed))
            if batch is None:
                batch = self._batches[(symbol, speed)] = _Batch(ev.first_update_id)
            batch.last = ev.last_update_id
            batch.bids.update(ev.bids)
            batch.asks.update(ev.asks)
        if symbol in self._top:
            book = self.engine.books[symbol]
            bid = book.levels("BUY", 1)
            ask = book.levels("SELL", 1)
            top = (bid[0] if bid else (_ZERO, _ZERO), ask[0] if ask else (_ZERO, _ZERO))
            if top != self._top[symbol]:
                self._top[symbol] = top
                (bp, bq), (ap, aq) = top
                data = dumps({"u": ev.last_update_id, "s": symbol, "b": fmt(bp), "B": fmt(bq),
                              "a": fmt(ap), "A": fmt(aq)})
                for name in self._names(symbol, "bookTicker"):
                    self._send(name, data)

    def _on_trades(self, trades: list[PublicTrade], now_ms: int) -> None:
        by_symbol: dict[str, list[PublicTrade]] = {}
        for t in trades:
            by_symbol.setdefault(t.symbol, []).append(t)
        for symbol, items in by_symbol.items():
            names = self._names(symbol, "trade")
            for t in items:
                if names:
                    data = dumps({"e": "trade", "E": now_ms, "s": symbol, "t": t.trade_id, "p": fmt(t.price),
                                  "q": fmt(t.qty), "T": t.time, "m": t.buyer_is_maker, "M": True})
                    for name in names:
                        self._send(name, data)
            agg_names = self._names(symbol, "aggTrade")
            if agg_names:
                for group in _aggregate(items):
                    data = dumps(self._agg_event(symbol, group, now_ms))
                    for name in agg_names:
                        self._send(name, data)

    def _agg_event(self, symbol: str, group: list[PublicTrade], now_ms: int) -> dict[str, Any]:
        agg_id = self._next_agg_id.get(symbol, 1)
        self._next_agg_id[symbol] = agg_id + 1
        first = group[0]
        qty = sum((t.qty for t in group), _ZERO)
        return {"e": "aggTrade", "E": now_ms, "s": symbol, "a": agg_id, "p": fmt(first.price), "q": fmt(qty),
                "f": first.trade_id, "l": group[-1].trade_id, "T": first.time, "m": first.buyer_is_maker,
                "M": True}

    # == intervals ================================================================================
    def tick(self, now_ms: int, speeds: Iterable[int]) -> None:
        """End the current interval of each speed in ``speeds``: send its depth events."""
        if not self.active or now_ms < self.stalled_until_ms:
            return
        for speed in speeds:
            for (symbol, s), batch in list(self._batches.items()):
                if s == speed:
                    del self._batches[(symbol, s)]
                    self._emit_diff(symbol, speed, batch, now_ms)
            for name, spec in list(self._specs.items()):
                if spec.kind == "partial" and spec.speed_ms == speed:
                    book = self.engine.books[spec.symbol]
                    self._send(name, dumps({
                        "lastUpdateId": book.update_id,
                        "bids": [[fmt(p), fmt(q)] for p, q in book.levels("BUY", spec.levels)],
                        "asks": [[fmt(p), fmt(q)] for p, q in book.levels("SELL", spec.levels)],
                    }))

    def _emit_diff(self, symbol: str, speed: int, batch: _Batch, now_ms: int) -> None:
        faults = self.faults
        if faults.depth_drop_events > 0:
            faults.depth_drop_events -= 1
            return
        data = dumps({
            "e": "depthUpdate", "E": now_ms, "s": symbol, "U": batch.first, "u": batch.last,
            "b": [[fmt(p), fmt(q)] for p, q in sorted(batch.bids.items(), reverse=True)],
            "a": [[fmt(p), fmt(q)] for p, q in sorted(batch.asks.items())],
        })
        key = (symbol, speed)
        held = self._held.pop(key, None)
        if held is None and faults.depth_reorder_events > 0:
            faults.depth_reorder_events -= 1
            self._held[key] = data  # sent after the next event of this stream
            return
        copies = 1
        if faults.depth_duplicate_events > 0:
            faults.depth_duplicate_events -= 1
            copies = 2
        for name in self._names(symbol, "depth", speed):
            for _ in range(copies):
                self._send(name, data)
            if held is not None:
                self._send(name, held)

    # == stale snapshots ==========================================================================
    def freeze_snapshots(self) -> None:
        """Remember every book as it is now: the snapshots the stale-snapshot fault serves."""
        self.stale = {}
        for symbol, book in self.engine.books.items():
            self.stale[symbol] = {
                "lastUpdateId": book.update_id,
                "bids": [[fmt(p), fmt(q)] for p, q in book.levels("BUY", _SNAPSHOT_LEVELS)],
                "asks": [[fmt(p), fmt(q)] for p, q in book.levels("SELL", _SNAPSHOT_LEVELS)],
            }

    def stale_snapshot(self, symbol: str, limit: int) -> dict[str, Any] | None:
        """A frozen (older) snapshot while the stale-snapshot fault lasts, else None."""
        if self.faults.stale_depth_snapshots <= 0 or symbol not in self.stale:
            return None
        self.faults.stale_depth_snapshots -= 1
        snap = self.stale[symbol]
        return {"lastUpdateId": snap["lastUpdateId"], "bids": snap["bids"][:limit], "asks": snap["asks"][:limit]}


def _aggregate(trades: list[PublicTrade]) -> list[list[PublicTrade]]:
    """Consecutive fills of one taker order at one price and time, as aggregate trades group them."""
    groups: list[list[PublicTrade]] = []
    for t in trades:
        taker = (t.seller_order_id if t.buyer_is_maker else t.buyer_order_id, t.buyer_is_maker)
        if groups:
            last = groups[-1][-1]
            last_taker = (last.seller_order_id if last.buyer_is_maker else last.buyer_order_id, last.buyer_is_maker)
            if last_taker == taker and last.price == t.price and last.time == t.time:
                groups[-1].append(t)
                continue
        groups.append([t])
    return groups
