"""Market data on the bridge: ``GET /v1/book/{symbol}``, ``GET /v1/candles/{symbol}`` and the shared holds.

Theory of operation
-------------------
The gateway keeps one venue subscription per symbol, shared by every consumer (``fixgw.gateway``'s
``MarketData``: local books by the venue's snapshot + diff rules, trades into OHLCV candles by exchange
time). ``MarketWatch`` is the bridge's one consumer of it: the first REST request or stream channel on a
symbol *holds* the symbol (``MarketData.watch``), and every later one shares that hold.

Retention: a symbol stays held while a stream client has a channel on it, and for ``idle_s`` seconds
(default 300) after the last REST request or the last channel on it ended; then it is given back
(``unwatch``), and the venue subscription ends when no FIX session uses it either. A timer on the event
loop does the sweep; holds are bounded by the instruments the venues list.

Symbols are accepted in the FIX sessions' spelling (``symbol_format``, ``BTC/USDT`` by default), the
normalized ``BASE/QUOTE`` or the venue's own (``BTCUSDT``, any case), as ``POST /v1/orders`` takes
them. ``venue=`` picks a venue; without it, the first venue (in configuration order) that serves
market data and lists the symbol. In a path, ``BTC/USDT`` may be sent as is or as ``BTC%2FUSDT``.

A book answers only once its local copy is synced with the venue: 503 ``not_ready`` (``Retry-After: 1``)
while it waits for its first snapshot or re-syncs after a gap. The first request on a symbol waits up to
``sync_wait_s`` (2 s) for that. Candles cover the trades seen while the symbol was subscribed (by anyone):
there is no backfill from the venue's klines, so a first request answers an empty list.

``updated_at`` is when the gateway's local book last changed (its clock, UTC); ``last_update_id`` the
venue's update id the book stands at. Market data needs the ``read`` permission only.

From the gateway it reads the view's ``market_data()`` (the gateway's ``MarketData``, through its read
accessors) and ``instrument_names()``; a view without them serves no market data (503).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Literal, Optional

import anyio
from fastapi import FastAPI, Path, Query
from pydantic import BaseModel, Field

from fixgw.clock import Clock
from fixgw.jsonio import dumps
from fixgw.logsafe import printable

from .errors import ApiError
from .keys import Permission
from .schemas import ERROR_RESPONSES, ErrorBody
from .view import GatewayView

__all__ = ["MarketWatch", "Target", "install_marketdata", "INTERVALS", "book_json", "candle_json", "iso_ms",
           "dec_text", "DEFAULT_IDLE_S", "MAX_DEPTH"]

log = logging.getLogger("fixgw.bridge")

#: Candle intervals served (the ones the gateway keeps).
INTERVALS = ("1s", "1m", "5m", "1h")
#: Seconds a symbol stays held after its last use.
DEFAULT_IDLE_S = 300.0
MAX_DEPTH = 1000


def iso_ms(ns: int | None) -> str | None:
    """``ns`` (UTC epoch ns) as RFC 3339 with milliseconds and ``Z``."""
    if ns is None:
        return None
    ms = ns // 1_000_000
    t = datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def dec_text(d: Decimal) -> str:
    """``d`` as a plain decimal string, exactly, without trailing zeros (``60010.00000000`` -> ``60010``)."""
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True, slots=True)
class Target:
    """A symbol on a venue: the venue's name and the normalized symbol (``BTC/USDT``)."""

    venue: str
    symbol: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.venue, self.symbol)


@dataclass(eq=False)
class _Hold:
    refs: int = 0  # stream clients with a channel on the symbol
    last_used: float = 0.0  # loop time of the last REST use or of the last channel's end
    version: int = 0  # book changes seen
    updated_ns: int | None = None
    synced: Any = None  # an asyncio.Event, set while the book is live
    clients: set[Any] = field(default_factory=set)


class _VenueListener:
    """Hears one venue's feed (``on_book``, ``on_trade``) for the watch; must not block."""

    def __init__(self, watch: "MarketWatch", venue: str) -> None:
        self.watch, self.venue = watch, venue

    def on_book(self, symbol: str) -> None:
        self.watch._on_book(self.venue, symbol)

    def on_trade(self, symbol: str, trade: Any) -> None:
        self.watch._on_trade(self.venue, symbol, trade)


def book_state(book: Any) -> str:
    """``synced``, ``syncing`` (waiting for the first snapshot) or ``resyncing`` (after a gap or a drop)."""
    if book is not None and book.is_live:
        return "synced"
    return "resyncing" if book is not None and book.resyncs else "syncing"


def book_json(target: Target, book: Any, depth: int | None, updated_ns: int | None) -> dict[str, Any]:
    """The book answer: top ``depth`` levels as decimal strings (none while not synced)."""
    live = book is not None and book.is_live
    bids, asks = book.top(depth) if live else ([], [])
    return {"venue": target.venue, "symbol": target.symbol, "state": book_state(book),
            "last_update_id": book.last_update_id if live else None, "updated_at": iso_ms(updated_ns),
            "resyncs": book.resyncs if book is not None else 0,
            "bids": [[dec_text(p), dec_text(q)] for p, q in bids],
            "asks": [[dec_text(p), dec_text(q)] for p, q in asks]}


def candle_json(c: Any) -> dict[str, Any]:
    return {"open_time": iso_ms(c.open_time_ns), "close_time": iso_ms(c.close_time_ns), "open": dec_text(c.open),
            "high": dec_text(c.high), "low": dec_text(c.low), "close": dec_text(c.close), "volume": dec_text(c.volume),
            "quote_volume": dec_text(c.quote_volume), "trades": c.trades}


class MarketWatch:
    """The bridge's holds on the gateway's market data, and the stream clients' fan-out."""

    def __init__(self, view: GatewayView, clock: Clock, *, idle_s: float = DEFAULT_IDLE_S,
                 sync_wait_s: float = 2.0) -> None:
        self.view = view
        self.clock = clock
        self.idle_s = idle_s
        self.sync_wait_s = sync_wait_s
        self._holds: dict[tuple[str, str], _Hold] = {}
        self._names: dict[str, dict[str, str]] = {}  # venue -> spelling -> normalized symbol
        self._listeners: dict[str, _VenueListener] = {}
        self._timer: asyncio.TimerHandle | None = None
        #: Text of the newest book view per (venue, symbol, depth): (version, view, text), encoded once.
        self._texts: dict[tuple[str, str, int], tuple[int, Any, str]] = {}

    # -- the gateway -------------------------------------------------------------------------------
    def md(self) -> Any:
        md = self._md()
        if md is None:
            raise ApiError(503, "not_ready", "the gateway is still starting")
        return md

    def _md(self) -> Any:
        reader = getattr(self.view, "market_data", None)  # a view without market data serves none
        return reader() if reader is not None else None

    def _spellings(self, venue: str) -> dict[str, str]:
        names = self._names.get(venue)
        if names is None:
            rows = self.view.instrument_names().get(venue, [])  # type: ignore[attr-defined]
            names = {}
            for normalized, client, venue_symbol in rows:
                names[venue_symbol.upper()] = normalized
                names[normalized] = names[client] = normalized
            if names:
                self._names[venue] = names  # fixed while the gateway runs
        return names

    def resolve(self, text: str, venue: str | None = None) -> Target:
        """The target ``text`` names (any accepted spelling) on ``venue`` or the first venue listing it;
        ``ApiError`` 404 when none serves it."""
        md = self.md()
        serving = md.serving()
        if venue is not None and venue not in serving:
            raise ApiError(404, "not_found", f"venue {printable(venue)[:64]} serves no market data here")
        for name in [venue] if venue is not None else serving:
            names = self._spellings(name)
            normalized = names.get(text) or names.get(text.upper())
            if normalized is not None and md.lists(name, normalized):
                return Target(name, normalized)
        raise ApiError(404, "not_found", f"no venue serves market data for {printable(text)[:64]}")

    # -- holds -------------------------------------------------------------------------------------
    def hold(self, target: Target) -> _Hold:
        """Hold ``target`` (subscribing it on first use); the caller marks its use (``touch``/``attach``)."""
        hold = self._holds.get(target.key)
        if hold is not None:
            return hold
        md = self.md()
        if target.venue not in self._listeners:
            listener = _VenueListener(self, target.venue)
            md.listen(target.venue, listener)
            self._listeners[target.venue] = listener
        if not md.watch(target.venue, target.symbol):
            raise ApiError(404, "not_found", f"no venue serves market data for {printable(target.symbol)[:64]}")
        hold = self._holds[target.key] = _Hold(last_used=self._now(), synced=asyncio.Event())
        book = md.local_book(target.venue, target.symbol)
        if book is not None and book.is_live:  # already kept for a FIX session
            hold.synced.set()
        log.info("bridge: market data %s on %s held", target.symbol, target.venue)
        self._schedule_sweep()
        return hold

    def touch(self, target: Target) -> _Hold:
        hold = self.hold(target)
        hold.last_used = self._now()
        self._schedule_sweep()
        return hold

    def attach(self, target: Target, client: Any) -> _Hold:
        """A stream client starts a channel on ``target`` (counted once per client)."""
        hold = self.hold(target)
        if client not in hold.clients:
            hold.clients.add(client)
            hold.refs += 1
        return hold

    def detach(self, target: Target, client: Any) -> None:
        hold = self._holds.get(target.key)
        if hold is None or client not in hold.clients:
            return
        hold.clients.discard(client)
        hold.refs -= 1
        hold.last_used = self._now()
        self._schedule_sweep()

    def held(self) -> list[tuple[str, str]]:
        """The (venue, symbol) held now."""
        return sorted(self._holds)

    def _now(self) -> float:
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:  # pragma: no cover - every caller runs on the loop
            return 0.0

    def _schedule_sweep(self) -> None:
        if self._timer is not None:
            return
        idle = [h.last_used for h in self._holds.values() if h.refs == 0]
        if not idle:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, min(idle) + self.idle_s - loop.time()) + 0.01
        self._timer = loop.call_later(delay, self._sweep)

    def _sweep(self) -> None:
        self._timer = None
        now = self._now()
        md = self._md()
        for key, hold in list(self._holds.items()):
            if hold.refs == 0 and now - hold.last_used >= self.idle_s:
                del self._holds[key]
                for k in [k for k in self._texts if k[:2] == key]:
                    del self._texts[k]
                if md is not None:
                    md.unwatch(*key)
                log.info("bridge: market data %s on %s released (idle)", key[1], key[0])
        self._schedule_sweep()

    # -- the feed ----------------------------------------------------------------------------------
    def _on_book(self, venue: str, symbol: str) -> None:
        hold = self._holds.get((venue, symbol))
        if hold is None:
            return
        hold.version += 1
        hold.updated_ns = self.clock.now_ns()
        md = self._md()
        book = md.local_book(venue, symbol) if md is not None else None
        if book is not None and book.is_live:
            hold.synced.set()
        else:
            hold.synced.clear()
        for client in list(hold.clients):
            client.book_changed(venue, symbol)

    def _on_trade(self, venue: str, symbol: str, trade: Any) -> None:
        hold = self._holds.get((venue, symbol))
        if hold is None:
            return
        for client in list(hold.clients):
            client.traded(venue, symbol, trade)

    # -- views -------------------------------------------------------------------------------------
    def book_text(self, target: Target, depth: int, channel: str) -> str:
        """The stream's ``book`` message of ``target`` at ``depth``, the same text object while the view
        (state and levels) does not change: encoded once for every client."""
        hold = self._holds.get(target.key)
        version = hold.version if hold is not None else -1
        key = (target.venue, target.symbol, depth)
        cached = self._texts.get(key)
        if cached is not None and cached[0] == version:
            return cached[2]
        book = self.md().local_book(target.venue, target.symbol)
        body = book_json(target, book, depth, hold.updated_ns if hold is not None else None)
        view = (body["state"], body["bids"], body["asks"])  # not the update id: an unchanged top is not resent
        if cached is not None and cached[1] == view:
            self._texts[key] = (version, view, cached[2])
            return cached[2]
        text = dumps({"type": "book", "channel": channel, **body})
        self._texts[key] = (version, view, text)
        return text


class Book(BaseModel):
    venue: str
    symbol: str = Field(description="normalized, BASE/QUOTE")
    state: Literal["synced", "syncing", "resyncing"] = Field(
        description="synced: the local book equals the venue's at last_update_id")
    last_update_id: Optional[int] = Field(description="the venue's update id the book stands at")
    updated_at: Optional[str] = Field(description="when the local book last changed (RFC 3339, UTC)")
    resyncs: int = Field(description="re-syncs from a fresh snapshot since the symbol was subscribed")
    bids: list[list[str]] = Field(description="[price, quantity] as decimal strings, best first")
    asks: list[list[str]] = Field(description="[price, quantity] as decimal strings, best first")


class Candle(BaseModel):
    open_time: str
    close_time: str = Field(description="exclusive: the next candle's open time")
    open: str
    high: str
    low: str
    close: str
    volume: str = Field(description="base quantity traded")
    quote_volume: str = Field(description="sum of price x quantity")
    trades: int


class Candles(BaseModel):
    venue: str
    symbol: str
    interval: str
    clock_offset_ms: Optional[float] = Field(description="the venue's clock minus the gateway's, measured")
    candles: list[Candle] = Field(description="oldest first; buckets by exchange time, amended by late trades")


_SYMBOL = Path(max_length=64, description="BTC/USDT (as is or BTC%2FUSDT), the normalized or the venue's spelling")

_RESPONSES: dict[int | str, dict[str, object]] = {
    **ERROR_RESPONSES, 503: {"model": ErrorBody, "description": "the gateway is starting or the book not synced"}}


def install_marketdata(app: FastAPI, view: GatewayView, add_route: Any, clock: Clock) -> MarketWatch:
    """Add ``GET /v1/book/{symbol}`` and ``GET /v1/candles/{symbol}`` to ``app``; return the watch the
    stream's market-data channels share."""
    watch = MarketWatch(view, clock)

    async def get_book(
        symbol: str = _SYMBOL,
        depth: int = Query(100, ge=1, le=MAX_DEPTH, description="levels per side"),
        venue: Optional[str] = Query(None, max_length=64),
    ) -> dict[str, Any]:
        target = watch.resolve(symbol, venue)
        hold = watch.touch(target)
        if not hold.synced.is_set():
            with anyio.move_on_after(watch.sync_wait_s):
                await hold.synced.wait()
        book = watch.md().local_book(target.venue, target.symbol)
        body = book_json(target, book, depth, hold.updated_ns)
        if body["state"] != "synced":
            raise ApiError(503, "not_ready", f"the book of {target.symbol} on {target.venue} is {body['state']}",
                           headers={"Retry-After": "1"})
        return body

    async def get_candles(
        symbol: str = _SYMBOL,
        interval: Literal["1s", "1m", "5m", "1h"] = Query("1m"),
        limit: int = Query(100, ge=1, le=1000, description="the newest candles"),
        venue: Optional[str] = Query(None, max_length=64),
    ) -> dict[str, Any]:
        target = watch.resolve(symbol, venue)
        watch.touch(target)
        md = watch.md()
        series = md.candle_series(target.venue, target.symbol, interval)
        rows = series.candles()[-limit:] if series is not None else []
        return {"venue": target.venue, "symbol": target.symbol, "interval": interval,
                "clock_offset_ms": md.clock_offset_ms(target.venue), "candles": [candle_json(c) for c in rows]}

    add_route(app, "/book/{symbol:path}", get_book, methods=["GET"], permission=Permission.READ, response_model=Book,
              responses=_RESPONSES, summary="A venue's order book as the gateway keeps it (synced with the venue)")
    add_route(app, "/candles/{symbol:path}", get_candles, methods=["GET"], permission=Permission.READ,
              response_model=Candles, responses=_RESPONSES,
              summary="OHLCV candles from the venue's trades, by exchange time")
    return watch
