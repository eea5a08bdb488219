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

Conflation: before sending to a session, its connection's unsent backlog is read; above
``max_backlog`` bytes the subscription is *behind* and gets nothing (its trades are dropped too).
A sweep every ``sweep_s`` seconds looks at the behind ones: once the backlog drained, each gets a
fresh W per symbol and resumes. A slow reader so never slows another session or order entry, and
never has the transport cut it off for market data.

The instrument list answers in the client's symbol convention (``SymbolMap.client``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import anyio

from ..logsafe import printable
from ..session import SessionID
from ..translate import BusinessReject, business_reject
from ..translate.decimals import plain
from ..translate.marketdata import (EntryType, ListedInstrument, MarketDataReject, MarketDataRequest,
                                    MDEntry, MDRejectReason, MDTrade, Subscription, UpdateAction, UpdateType,
                                    book_changes, incremental_refresh, market_data_reject,
                                    parse_market_data_request, parse_security_list_request, security_list,
                                    snapshot_full_refresh)
from ..transport import next_turn_scheduler

__all__ = ["MarketData", "MD_MSG_TYPES"]

log = logging.getLogger("fixgw.gateway.marketdata")

#: The application messages this module answers.
MD_MSG_TYPES = frozenset((b"V", b"x", b"c"))
#: Unsent bytes on a session's connection above which its market data is held back (conflated).
DEFAULT_MAX_BACKLOG = 256 << 10

Levels = list[tuple[Any, Any]]


@dataclass(eq=False)
class _Sub:
    ctx: Any  # SessionContext
    req: MarketDataRequest
    feed: Any  # BinanceMarketData
    views: dict[str, tuple[Levels, Levels]] = field(default_factory=dict)  # last sent, per symbol
    dirty: set[str] = field(default_factory=set)
    trades: list[tuple[str, Any]] = field(default_factory=list)
    behind: bool = False
    done: bool = False

    @property
    def once(self) -> bool:
        return self.req.subscription is Subscription.SNAPSHOT

    @property
    def wants_book(self) -> bool:
        return EntryType.BID in self.req.entry_types or EntryType.OFFER in self.req.entry_types


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
        self._subs: dict[SessionID, dict[str, _Sub]] = {}
        self._by_symbol: dict[tuple[str, str], list[_Sub]] = {}
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
        sub = _Sub(ctx, req, feed)
        subs[req.md_req_id] = sub
        venue = ctx.venue.config.name
        for symbol in req.symbols:
            feed.acquire(symbol)
            self._by_symbol.setdefault((venue, symbol), []).append(sub)
            sub.dirty.add(symbol)
        self._send_due(sub)

    def _drop(self, sub: _Sub) -> None:
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
            if EntryType.TRADE in sub.req.entry_types and not sub.once:
                if sub.req.update_type is UpdateType.INCREMENTAL:
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
        cache: dict[Any, Any] = {}  # one view and one diff per kind of subscription, shared by all of them
        for subs in list(self._subs.values()):
            for sub in list(subs.values()):
                if sub.dirty or sub.trades or sub.behind:
                    self._send_due(sub, cache)

    def _send_due(self, sub: _Sub, cache: dict[Any, Any] | None = None) -> None:
        handle = sub.ctx.handle
        if handle is None or sub.done:
            return
        if _backlog(handle) > self.max_backlog:
            if not sub.behind:
                log.info("%s: market data %s conflated: the session reads slowly", sub.ctx.key,
                         printable(sub.req.md_req_id)[:64])
            sub.behind = True
            sub.trades.clear()
            self.conflated += 1
            return
        if sub.behind:  # caught up: a fresh snapshot of everything
            sub.behind = False
            sub.views.clear()
            sub.dirty.update(sub.req.symbols)
            self.catch_up_snapshots += 1
        if cache is None:
            cache = {}
        version = sub.ctx.settings.begin_string
        depth = sub.req.depth or None
        client = dict(zip(sub.req.symbols, sub.req.client_symbols))
        entries: list[MDEntry] = []
        shared: list[tuple[int, Any]] | None = None  # the X body of a plain book diff, cached
        types = sub.req.entry_types
        for symbol in sorted(sub.dirty):
            book = sub.feed.books.get(symbol)
            if book is None or not book.is_live:
                continue  # sent when it is live again
            sub.dirty.discard(symbol)
            key = (id(sub.feed), symbol, depth, EntryType.BID in types, EntryType.OFFER in types)
            view = cache.get(key)
            if view is None:
                bids, asks = book.top(depth) if sub.wants_book else ([], [])
                view = cache[key] = (bids if key[3] else [], asks if key[4] else [])
            bids, asks = view
            old = sub.views.get(symbol)
            if (old is not None and sub.req.update_type is UpdateType.INCREMENTAL and len(sub.req.symbols) == 1
                    and not sub.trades):
                dkey = (key, id(old), client[symbol], version)
                hit = cache.get(dkey)
                if hit is None:  # (old is kept in the entry so that its id stays its own during the flush)
                    changes = book_changes(client[symbol], old, view)
                    hit = cache[dkey] = (old, incremental_refresh(version, changes)[1] if changes else [])
                body = hit[1]
                sub.views[symbol] = view
                shared = body
                continue
            if old is None or sub.req.update_type is UpdateType.FULL:
                if old is not None and old == (bids, asks) and not sub.once \
                        and EntryType.TRADE not in sub.req.entry_types:
                    continue
                trades = []
                last = sub.feed.last_trade.get(symbol)
                if EntryType.TRADE in sub.req.entry_types and last is not None:
                    trades = [MDTrade(last.price, last.qty, last.ts_ns, last.trade_id)]
                sub.ctx.send(snapshot_full_refresh(version, client[symbol], md_req_id=sub.req.md_req_id,
                                                   bids=bids, asks=asks, trades=trades))
                sub.views[symbol] = view
                sub.trades = [t for t in sub.trades if t[0] != symbol]
            else:
                entries += book_changes(client[symbol], old, view)
                sub.views[symbol] = view
        for symbol, t in sub.trades:
            entries.append(MDEntry(UpdateAction.NEW, EntryType.TRADE, client[symbol], t.price, t.qty,
                                   entry_id=str(t.trade_id), ts_ns=t.ts_ns))
        sub.trades.clear()
        if shared:
            sub.ctx.send((b"X", [(262, sub.req.md_req_id), *shared]))
        if entries:
            sub.ctx.send(incremental_refresh(version, entries, md_req_id=sub.req.md_req_id))
        if sub.once and len(sub.views) == len(sub.req.symbols):
            self._drop(sub)
