"""FIX market data: MarketDataRequest (V) -> W / X / Y, and the instrument list (x -> y, c -> d).

Theory of operation
-------------------
``MarketData`` owns one ``BinanceMarketData`` per Binance venue (``attach``); other venues serve no
market data and refuse a V. A subscription (263=1) or a one-off snapshot (263=0) acquires the venue
subscription of each of its symbols, shared by every session; an unsubscribe (263=2), the end of a
one-off snapshot, or the session's logout releases it.

When a book changes, the subscriptions on its symbol are marked dirty and one flush runs at the next
event-loop turn, so a burst of venue events inside a turn becomes one message per subscription:
FULL (265=0) subscriptions get a W of their top-N view, INCREMENTAL ones an X with the view's
differences (delete, change, new; ``book_changes``) and the trades seen since. A book that is not
live (waiting for its first snapshot, or re-syncing) sends nothing; the next flush after it is live
again sends the difference to what the client last saw, so the client's book is never wrong for long.

Fan-out cost: subscriptions of one kind (symbol, depth, sides, FIX version) that last saw the same
book share the encoded body of what they get (``_mdsubs``): each W or X body is encoded once per flush
(Decimals formatted once), and a session gets it behind its own MDReqID and header. Every session's
messages are queued first (``send(..., flush=False)``), then each handle is flushed once: one write
per session per flush. Before the first write the store commits every session's new sequence number
at once (W and X are numbered like any message): on a busy disk that one commit is the largest wait
of a fan-out (``bench/marketdata_fanout.py`` prints it). W, X and Y are never resent
(``MD_GAP_FILL_TYPES``, the sessions' ``gap_fill_msg_types``): they are not stored, and a ResendRequest
over them gets a GapFill, as stale market data should not be replayed; the client asks for a fresh
snapshot.

Conflation: before sending to a session, its connection's unsent backlog is read; above
``max_backlog`` bytes the subscription is *behind* and gets nothing (its trades are dropped too).
A sweep every ``sweep_s`` seconds looks at the behind ones: once the backlog drained, each gets a
fresh W per symbol and resumes. A slow reader so never slows another session or order entry, and
never has the transport cut it off for market data.

The instrument list answers in the client's symbol convention (``SymbolMap.client``).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import anyio

from ..logsafe import printable
from ..session import SessionID
from ..translate import BusinessReject, business_reject
from ..translate.decimals import plain
from ..translate.marketdata import (ListedInstrument, MarketDataReject, MarketDataRequest,
                                    MDRejectReason, Subscription, UpdateType, market_data_reject,
                                    parse_market_data_request, parse_security_list_request, security_list)
from ..transport import next_turn_scheduler
from ._mdsubs import MDSub, queue_due

__all__ = ["MarketData", "MD_MSG_TYPES", "MD_GAP_FILL_TYPES"]

log = logging.getLogger("fixgw.gateway.marketdata")

#: The application messages this module answers.
MD_MSG_TYPES = frozenset((b"V", b"x", b"c"))
#: What it sends that is stale once missed: never resent, a ResendRequest over them gets a GapFill (the
#: session's ``gap_fill_msg_types``); a client that lost some asks for a fresh snapshot instead.
MD_GAP_FILL_TYPES = frozenset((b"W", b"X", b"Y"))
#: Unsent bytes on a session's connection above which its market data is held back (conflated).
DEFAULT_MAX_BACKLOG = 256 << 10


class _Listener:
    def __init__(self, service: MarketData, venue: str) -> None:
        self.service, self.venue = service, venue

    def on_book(self, symbol: str) -> None:
        self.service._on_book(self.venue, symbol)

    def on_trade(self, symbol: str, trade: Any) -> None:
        self.service._on_trade(self.venue, symbol, trade)


def _backlog(handle: Any) -> int:
    """Unsent bytes above the socket of a session's connection (0 when it has none)."""
    return int(getattr(handle, "backlog", 0))


class MarketData:
    """Market-data requests of every session, served from the venues' shared books."""

    def __init__(self, *, max_backlog: int = DEFAULT_MAX_BACKLOG, sweep_s: float = 0.05) -> None:
        self.max_backlog = max_backlog
        self.sweep_s = sweep_s
        self.feeds: dict[str, Any] = {}
        self._offsets: dict[str, Callable[[], float | None]] = {}
        self._subs: dict[SessionID, dict[str, MDSub]] = {}
        self._by_symbol: dict[tuple[str, str], list[MDSub]] = {}
        self._schedule: Callable[[Callable[[], None]], object] | None = None
        self._flush_due = False
        #: Messages held back from slow subscribers, and fresh snapshots sent when they caught up.
        self.conflated = 0
        self.catch_up_snapshots = 0

    # -- wiring ----------------------------------------------------------------------------------
    def attach(self, venues: dict[str, Any]) -> None:
        """Build the market-data feed of every Binance venue of ``venues`` (name -> VenueContext)."""
        from ..venues.binance.adapter import BinanceAdapter
        from ..venues.binance.marketdata import BinanceMarketData, stream_url_for

        for name, venue in venues.items():
            adapter = venue.adapter
            if not isinstance(adapter, BinanceAdapter) or not adapter.config.ws_api_url:
                continue
            instruments = venue.instruments  # loaded by open_venues
            http = adapter.http

            async def fetch(venue_symbol: str, limit: int, http: Any = http) -> Any:
                return await http.request("GET", "/api/v3/depth", [("symbol", venue_symbol), ("limit", limit)])

            feed = BinanceMarketData(stream_url_for(adapter.config.ws_api_url),
                                     {i.symbol: i.venue_symbol for i in instruments.values()}, fetch,
                                     backoff_base_s=adapter.config.ws_backoff_base_s,
                                     backoff_cap_s=adapter.config.ws_backoff_cap_s)
            feed.listeners.append(_Listener(self, name))
            self._offsets[name] = lambda clock=adapter.server_clock: clock.offset_ms
            self.feeds[name] = feed

    async def run(self) -> None:
        """Run the feeds and the sweep of slow subscribers until cancelled."""
        self._schedule = next_turn_scheduler()
        async with anyio.create_task_group() as tg:
            for feed in self.feeds.values():
                tg.start_soon(feed.run)
            while True:
                await anyio.sleep(self.sweep_s)
                if any(s.behind or s.dirty for subs in self._subs.values() for s in subs.values()):
                    self._flush()

    # -- Python API (for the bridge and operators) -------------------------------------------------
    def watch(self, venue: str, symbol: str) -> bool:
        """Keep the book and candles of ``symbol`` (normalized) on ``venue`` without a FIX subscriber;
        False when the venue serves no market data or lists no such symbol. ``unwatch`` gives it back."""
        feed = self.feeds.get(venue)
        if feed is None or not feed.knows(symbol):
            return False
        feed.acquire(symbol)
        return True

    def unwatch(self, venue: str, symbol: str) -> None:
        feed = self.feeds.get(venue)
        if feed is not None:
            feed.release(symbol)

    def book(self, venue: str, symbol: str, depth: int | None = None) -> dict[str, Any] | None:
        """The local book of ``symbol`` as JSON-ready values (prices and sizes as decimal strings), or
        None when nobody subscribes to it. ``live`` False: it is (re)syncing and the levels are empty."""
        feed = self.feeds.get(venue)
        book = feed.books.get(symbol) if feed is not None else None
        if book is None:
            return None
        bids, asks = book.top(depth) if book.is_live else ([], [])
        return {"venue": venue, "symbol": symbol, "live": book.is_live, "last_update_id": book.last_update_id,
                "bids": [[plain(p), plain(q)] for p, q in bids], "asks": [[plain(p), plain(q)] for p, q in asks],
                "resyncs": book.resyncs, "resync_reasons": dict(book.resync_reasons)}

    def candles(self, venue: str, symbol: str, interval: str = "1m") -> dict[str, Any] | None:
        """The OHLCV candles of ``symbol`` kept since it was subscribed (oldest first), with the measured
        clock offset to the venue (venue minus local, ms); None when nobody subscribes to it.
        ``KeyError`` for an interval not kept (1s, 1m, 5m, 1h). Decimals are plain strings (``plain``)."""
        feed = self.feeds.get(venue)
        series = feed.candles.get(symbol) if feed is not None and symbol in feed.subscribed() else None
        if series is None:
            return None
        rows = [{"open_time_ms": c.open_time_ns // 1_000_000, "close_time_ms": c.close_time_ns // 1_000_000,
                 "open": plain(c.open), "high": plain(c.high), "low": plain(c.low), "close": plain(c.close),
                 "volume": plain(c.volume), "quote_volume": plain(c.quote_volume), "trades": c.trades}
                for c in series[interval].candles()]
        offset = self._offsets.get(venue)
        return {"venue": venue, "symbol": symbol, "interval": interval, "candles": rows,
                "clock_offset_ms": offset() if offset is not None else None}

    # -- FIX requests ----------------------------------------------------------------------------
    def handle(self, ctx: Any, event: Any) -> None:
        """Answer a V, x or c of session ``ctx``."""
        if event.msg_type == b"V":
            self._on_request(ctx, event)
        else:
            self._on_security_list(ctx, event)

    def _on_request(self, ctx: Any, event: Any) -> None:
        version = ctx.settings.begin_string
        req = parse_market_data_request(event.message, ctx.venue.symbols)
        if isinstance(req, BusinessReject):
            ctx.send(business_reject(req))
            return
        if isinstance(req, MarketDataReject):
            ctx.send(market_data_reject(version, req))
            return
        subs = self._subs.setdefault(ctx.session_id, {})
        if req.subscription is Subscription.UNSUBSCRIBE:
            sub = subs.get(req.md_req_id)
            if sub is None:
                ctx.send(business_reject(BusinessReject(event.seq, b"V", req.md_req_id, 1,
                                                        f"no subscription with MDReqID {printable(req.md_req_id)[:64]}")))
                return
            self._drop(sub)
            return
        if req.md_req_id in subs:
            ctx.send(market_data_reject(version, MarketDataReject(
                req.md_req_id, MDRejectReason.DUPLICATE_MD_REQ_ID,
                f"MDReqID {printable(req.md_req_id)[:64]} is already in use")))
            return
        feed = self.feeds.get(ctx.venue.config.name)
        if feed is None:
            ctx.send(market_data_reject(version, MarketDataReject(
                req.md_req_id, MDRejectReason.UNKNOWN_SYMBOL,
                f"venue {ctx.venue.config.name} serves no market data here")))
            return
        if req.update_type is None:
            req = MarketDataRequest(req.md_req_id, req.subscription, req.depth, UpdateType.FULL, req.entry_types,
                                    req.symbols, req.client_symbols)
        sub = MDSub(ctx, req, feed)
        subs[req.md_req_id] = sub
        venue = ctx.venue.config.name
        for symbol in req.symbols:
            feed.acquire(symbol)
            self._by_symbol.setdefault((venue, symbol), []).append(sub)
            sub.dirty.add(symbol)
        if self._send_due(sub) and ctx.handle is not None:
            ctx.handle.flush()  # in the session's turn (the usual case) the turn writes it

    def _drop(self, sub: MDSub) -> None:
        if sub.done:
            return
        sub.done = True
        self._subs.get(sub.ctx.session_id, {}).pop(sub.req.md_req_id, None)
        venue = sub.ctx.venue.config.name
        for symbol in sub.req.symbols:
            subs = self._by_symbol.get((venue, symbol))
            if subs is not None and sub in subs:
                subs.remove(sub)
                if not subs:
                    del self._by_symbol[(venue, symbol)]
            sub.feed.release(symbol)

    def session_gone(self, session_id: SessionID) -> None:
        """Forget every subscription of a session (logged out or disconnected)."""
        for sub in list(self._subs.pop(session_id, {}).values()):
            self._drop(sub)

    def _on_security_list(self, ctx: Any, event: Any) -> None:
        req = parse_security_list_request(event.message)
        if isinstance(req, BusinessReject):
            ctx.send(business_reject(req))
            return
        symbols = ctx.venue.symbols
        instruments = ctx.venue.instruments
        listed = []
        for i in sorted(instruments.values(), key=lambda i: i.symbol):
            listed.append(ListedInstrument(symbols.client(i.symbol), currency=i.quote, tick_size=i.tick_size,
                                           lot_step=i.lot_step, min_qty=i.min_qty, min_notional=i.min_notional))
        if req.symbol is not None and symbols.normalized(req.symbol) is None:
            listed = []
        for reply in security_list(ctx.settings.begin_string, req, listed, ctx.unique_tag()):
            ctx.send(reply)

    # -- venue side ------------------------------------------------------------------------------
    def _on_book(self, venue: str, symbol: str) -> None:
        subs = self._by_symbol.get((venue, symbol))
        if not subs:
            return
        for sub in subs:
            if sub.wants_book:
                sub.dirty.add(symbol)
        self._flush_soon()

    def _on_trade(self, venue: str, symbol: str, trade: Any) -> None:
        subs = self._by_symbol.get((venue, symbol))
        if not subs:
            return
        for sub in subs:
            if sub.with_trades and not sub.once:
                if not sub.full:
                    if not sub.behind:
                        sub.trades.append((symbol, trade))
                else:
                    sub.dirty.add(symbol)
        self._flush_soon()

    def _flush_soon(self) -> None:
        if self._flush_due:
            return
        if self._schedule is None:
            self._flush()
            return
        self._flush_due = True
        self._schedule(self._flush)

    def _flush(self) -> None:
        self._flush_due = False
        cache: dict[Any, Any] = {}  # bodies encoded once per kind of subscription, shared by all of them
        touched: list[Any] = []
        try:
            for subs in list(self._subs.values()):
                for sub in list(subs.values()):
                    if sub.dirty or sub.trades or sub.behind:
                        if self._send_due(sub, cache):
                            touched.append(sub.ctx.handle)
        finally:
            for handle in dict.fromkeys(touched):  # one write per session, after every session's sends
                handle.flush()

    def _send_due(self, sub: MDSub, cache: dict[Any, Any] | None = None) -> bool:
        """Queue what ``sub`` is due (``_mdsubs.queue_due``) unless its session reads too slowly; True when
        something was queued (the caller flushes the session's handle)."""
        handle = sub.ctx.handle
        if handle is None or sub.done:
            return False
        if _backlog(handle) > self.max_backlog:
            if not sub.behind:
                log.info("%s: market data %s conflated: the session reads slowly", sub.ctx.key,
                         printable(sub.req.md_req_id)[:64])
            sub.behind = True
            sub.trades.clear()
            self.conflated += 1
            return False
        if sub.behind:  # caught up: a fresh snapshot of everything
            sub.behind = False
            sub.views.clear()
            sub.dirty.update(sub.req.symbols)
            self.catch_up_snapshots += 1
        return queue_due(sub, self._drop, cache)

    # -- read accessors for the bridge (``fixgw.bridge.marketdata``); nothing above depends on them --------
    def serving(self) -> list[str]:
        """The venues that serve market data, in configuration order."""
        return list(self.feeds)

    def lists(self, venue: str, symbol: str) -> bool:
        """Whether ``venue`` serves market data and lists ``symbol`` (normalized)."""
        feed = self.feeds.get(venue)
        return feed is not None and feed.knows(symbol)

    def listen(self, venue: str, listener: Any) -> bool:
        """Tell ``listener`` (``on_book(symbol)``, ``on_trade(symbol, trade)``; called on the event loop,
        must not block) of every change on ``venue``'s feed; False when the venue serves no market data."""
        feed = self.feeds.get(venue)
        if feed is None:
            return False
        if listener not in feed.listeners:
            feed.listeners.append(listener)
        return True

    def unlisten(self, venue: str, listener: Any) -> None:
        feed = self.feeds.get(venue)
        if feed is not None and listener in feed.listeners:
            feed.listeners.remove(listener)

    def local_book(self, venue: str, symbol: str) -> Any:
        """The ``LocalBook`` of ``symbol`` (read only), or None when nobody subscribes to it."""
        feed = self.feeds.get(venue)
        return feed.books.get(symbol) if feed is not None else None

    def candle_series(self, venue: str, symbol: str, interval: str) -> Any:
        """The ``CandleSeries`` of ``symbol`` at ``interval`` (read only), or None when nobody subscribes to
        it or the interval is not kept."""
        feed = self.feeds.get(venue)
        if feed is None or symbol not in feed.subscribed():
            return None
        candles = feed.candles.get(symbol)
        return None if candles is None else candles.series.get(interval)

    def clock_offset_ms(self, venue: str) -> float | None:
        """The measured clock offset to ``venue`` (venue minus local, ms), None before it is measured."""
        offset = self._offsets.get(venue)
        return offset() if offset is not None else None
