"""The market-data channels of ``/v1/stream``: ``book``, ``trades`` and ``candles`` per symbol.

Theory of operation
-------------------
A channel is named ``<kind>:<symbol>[:<param>][@<venue>]``: ``book:BTC/USDT`` (top 10 levels;
``book:BTC/USDT:50`` for 50, at most 1000), ``trades:BTC/USDT``, ``candles:BTC/USDT`` (1m;
``candles:BTC/USDT:5m`` for 1s, 1m, 5m or 1h). The symbol in any spelling ``GET /v1/book`` takes;
``@<venue>`` picks a venue. They are asked for in the stream's ``channels`` query parameter beside
the order channels, or later with ``{"type": "subscribe", "channels": [...]}`` and
``{"type": "unsubscribe", "channels": [...]}``, answered ``{"type": "subscribed", "channels": [...]}``
with every market-data channel the client now has, in their canonical names
(``book:BTC/USDT:10@sim``), and ``"replay": false``.

Market-data messages are **not journal-backed**: they carry no event id, ``since=`` replays none of
them, and after a reconnect a client starts again from the current state (each ``book`` message is
a full top-N view, so nothing needs replaying). They are made when the client's send loop runs, from
the state at that moment, so a slow client is *conflated* rather than queued:

- ``book``: the current top-N view (``state``, ``last_update_id``, ``updated_at``, ``bids``, ``asks``)
  when it differs from the last one sent; a client that reads slowly skips intermediate views. While
  the book re-syncs, one message with ``state`` ``resyncing`` and no levels. The text is encoded once
  per view and depth for every client.
- ``trades``: the trades since the last message, oldest first, exchange time; at most
  ``MAX_TRADES`` are kept per channel for a slow client, older ones dropped and counted in
  ``dropped``.
- ``candles``: the candles changed since the last message (a late trade amends an older bucket, which
  is sent again), with the clock offset to the venue.

The feed's callbacks only mark what changed and wake the client's send loop, so no client, however
slow, delays the venue feed, the order events or another client.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from fixgw.jsonio import dumps
from fixgw.logsafe import printable

from .errors import ApiError
from .marketdata import INTERVALS, MAX_DEPTH, MarketWatch, Target, candle_json, dec_text, iso_ms

__all__ = ["MarketStream", "MD_KINDS", "is_market_channel", "MAX_TRADES", "MAX_CHANNELS", "DEFAULT_BOOK_DEPTH"]

MD_KINDS = ("book", "trades", "candles")
DEFAULT_BOOK_DEPTH = 10
#: Trades kept per channel for a client that reads slowly.
MAX_TRADES = 1000
#: Market-data channels per stream client.
MAX_CHANNELS = 50
#: Candle buckets remembered as changed per channel (a bound; the newest are kept).
_MAX_BUCKETS = 1000
_DEPTH = re.compile(r"[1-9][0-9]{0,3}")
_INTERVALISH = re.compile(r"[0-9]+[a-zA-Z]")


def is_market_channel(name: str) -> bool:
    return name.split(":", 1)[0] in MD_KINDS and ":" in name


@dataclass(frozen=True, slots=True)
class Channel:
    kind: str
    target: Target
    param: Any  # depth (book), interval (candles), None (trades)

    @property
    def name(self) -> str:
        middle = "" if self.param is None else f":{self.param}"
        return f"{self.kind}:{self.target.symbol}{middle}@{self.target.venue}"


def parse_channel(spec: str, watch: MarketWatch) -> Channel:
    """The channel ``spec`` names; ``ApiError`` (400 bad name, 404 unknown symbol or venue)."""
    if not isinstance(spec, str) or len(spec) > 200:
        raise ApiError(400, "invalid_request", "a channel is a string of at most 200 characters")
    rest, at, venue = spec.rpartition("@")
    if not at:
        rest, venue = spec, ""
    kind, _, rest = rest.partition(":")
    if kind not in MD_KINDS or not rest:
        raise ApiError(400, "invalid_request",
                       f"channel {printable(spec)[:64]}: use book:, trades: or candles:<symbol>")
    param: Any = None
    symbol = rest
    head, colon, tail = rest.rpartition(":")
    if kind == "book":
        param = DEFAULT_BOOK_DEPTH
        if colon and tail.isdigit():
            if not _DEPTH.fullmatch(tail) or int(tail) > MAX_DEPTH:
                raise ApiError(400, "invalid_request", f"book depth: 1 to {MAX_DEPTH} levels")
            symbol, param = head, int(tail)
    elif kind == "candles":
        param = "1m"
        if colon and tail in INTERVALS:
            symbol, param = head, tail
        elif colon and _INTERVALISH.fullmatch(tail):
            raise ApiError(400, "invalid_request", "candle interval: 1s, 1m, 5m or 1h")
    target = watch.resolve(symbol, venue or None)
    return Channel(kind, target, param)


class MarketStream:
    """One stream client's market-data channels (see the module docstring)."""

    def __init__(self, watch: MarketWatch) -> None:
        self.watch = watch
        self.wake: Callable[[], None] = lambda: None
        self.channels: dict[str, Channel] = {}
        self._by_key: dict[tuple[str, str], list[Channel]] = {}
        self._dirty: set[str] = set()  # book channels whose view may have changed
        self._sent: dict[str, str] = {}  # book channel -> the text last sent
        self._trades: dict[str, deque[Any]] = {}
        self._dropped: dict[str, int] = {}
        self._buckets: dict[str, dict[int, None]] = {}  # candles channel -> changed bucket open times

    # -- subscriptions -------------------------------------------------------------------------------
    def subscribe(self, specs: list[str]) -> list[str]:
        """Add the channels ``specs`` name (all or none); return the canonical names of all of them now."""
        parsed = [parse_channel(s, self.watch) for s in specs]
        new = {c.name: c for c in parsed if c.name not in self.channels}
        if len(self.channels) + len(new) > MAX_CHANNELS:
            raise ApiError(400, "invalid_request", f"at most {MAX_CHANNELS} market-data channels per stream")
        for name, channel in new.items():
            self.watch.attach(channel.target, self)
            self.channels[name] = channel
            self._by_key.setdefault(channel.target.key, []).append(channel)
            if channel.kind == "book":
                self._dirty.add(name)  # the current view first
            elif channel.kind == "trades":
                self._trades[name] = deque(maxlen=MAX_TRADES)
                self._dropped[name] = 0
            else:
                series = self.watch.md().candle_series(channel.target.venue, channel.target.symbol, channel.param)
                latest = series.latest() if series is not None else None
                self._buckets[name] = {} if latest is None else {latest.open_time_ns: None}
        if new:
            self.wake()
        return sorted(self.channels)

    def unsubscribe(self, specs: list[str]) -> list[str]:
        """Remove the channels ``specs`` name (unknown ones are ignored); return the names left."""
        for spec in specs:
            name = spec if spec in self.channels else None
            if name is None:
                try:
                    name = parse_channel(spec, self.watch).name
                except ApiError:
                    continue
            channel = self.channels.pop(name, None)
            if channel is None:
                continue
            for store in (self._sent, self._trades, self._dropped, self._buckets):
                store.pop(name, None)
            self._dirty.discard(name)
            siblings = self._by_key.get(channel.target.key, [])
            siblings.remove(channel)
            if not siblings:
                del self._by_key[channel.target.key]
                self.watch.detach(channel.target, self)
        return sorted(self.channels)

    def close(self) -> None:
        self.unsubscribe(list(self.channels))

    def answer(self, message: dict[str, Any]) -> dict[str, Any]:
        """The answer to a client's ``subscribe`` / ``unsubscribe`` message."""
        specs = message.get("channels")
        if not isinstance(specs, list) or not specs or not all(isinstance(s, str) for s in specs):
            return _error("invalid_request", "channels: a non-empty list of channel names")
        try:
            names = self.subscribe(specs) if message.get("type") == "subscribe" else self.unsubscribe(specs)
        except ApiError as exc:
            return _error(exc.code, exc.message)
        return {"type": "subscribed", "channels": names, "replay": False}

    # -- the feed (called on the event loop; must stay cheap) ------------------------------------------
    def book_changed(self, venue: str, symbol: str) -> None:
        for c in self._by_key.get((venue, symbol), ()):
            if c.kind == "book":
                self._dirty.add(c.name)
        self.wake()

    def traded(self, venue: str, symbol: str, trade: Any) -> None:
        for c in self._by_key.get((venue, symbol), ()):
            if c.kind == "trades":
                q = self._trades[c.name]
                if len(q) == q.maxlen:
                    self._dropped[c.name] += 1
                q.append(trade)
            elif c.kind == "candles":
                buckets = self._buckets[c.name]
                length = _interval_ns(c.param)
                buckets[trade.ts_ns - trade.ts_ns % length] = None
                if len(buckets) > _MAX_BUCKETS:
                    del buckets[next(iter(buckets))]
        self.wake()

    # -- sending ---------------------------------------------------------------------------------------
    def messages(self) -> list[str]:
        """The messages due now, from the current state (conflated); empty when nothing changed."""
        out: list[str] = []
        if self._dirty:
            dirty, self._dirty = self._dirty, set()
            for name in sorted(dirty):
                c = self.channels.get(name)
                if c is None:
                    continue
                text = self.watch.book_text(c.target, c.param, name)
                if self._sent.get(name) is not text:
                    self._sent[name] = text
                    out.append(text)
        for name, q in self._trades.items():
            if q:
                c = self.channels[name]
                trades = [{"id": t.trade_id, "price": dec_text(t.price), "quantity": dec_text(t.qty),
                           "time": iso_ms(t.ts_ns)} for t in q]
                q.clear()
                out.append(dumps({"type": "trades", "channel": name, "venue": c.target.venue,
                                  "symbol": c.target.symbol, "trades": trades, "dropped": self._dropped[name]}))
                self._dropped[name] = 0
        for name, buckets in self._buckets.items():
            if buckets:
                c = self.channels[name]
                md = self.watch.md()
                series = md.candle_series(c.target.venue, c.target.symbol, c.param)
                opens = sorted(buckets)
                buckets.clear()
                rows = [candle_json(x) for x in (series.get(t) for t in opens) if x is not None] if series else []
                if rows:
                    out.append(dumps({"type": "candles", "channel": name, "venue": c.target.venue,
                                      "symbol": c.target.symbol, "interval": c.param,
                                      "clock_offset_ms": md.clock_offset_ms(c.target.venue), "candles": rows}))
        return out


_UNIT_NS = {"s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}


def _interval_ns(name: str) -> int:
    return int(name[:-1]) * _UNIT_NS[name[-1]]


def _error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}
