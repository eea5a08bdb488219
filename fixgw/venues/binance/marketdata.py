"""Binance market data: one stream subscription per symbol, local books, trades into candles.

Theory of operation
-------------------
``BinanceMarketData`` keeps one combined-stream connection (``/stream``) and, per symbol that some
consumer asked for (``acquire``; ``release`` gives it back, reference counted), the streams
``<symbol>@depth@100ms`` and ``<symbol>@trade``. Every consumer shares that one subscription and the
one ``LocalBook`` it feeds.

The book follows the venue's documented procedure (``fixgw.venues._common.book``): events are
buffered from the moment the SUBSCRIBE is acknowledged, a REST snapshot (``GET /api/v3/depth``) is
fetched then, events up to its ``lastUpdateId`` are dropped, the first applied one straddles it. A
gap in update ids or a crossed book discards the book and fetches a fresh snapshot: each resync is
counted on the book (``resyncs``, ``resync_reasons``) and logged. Snapshots are fetched by one worker
task through the adapter's REST client (so they count against the request weight), retried with
backoff when the venue fails.

The connection is a ``ReconnectingWebSocket``: after a drop it reconnects with backoff and jitter,
every book is discarded (``stream_lost``) and every symbol subscribed again, then re-synced from a
new snapshot. Nothing is opened until the first ``acquire``.

Consumers learn of changes through ``listeners``: ``on_book(symbol)`` after the book of ``symbol``
changed (applied events, a sync, a resync) and ``on_trade(symbol, trade)`` per trade. They are called
on the event loop, in order, and must not block. Symbols here are the normalized ones (``BTC/USDT``).
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import anyio

from fixgw.backoff import EQUAL_JITTER, backoff_delay
from fixgw.errors import FixgwError, VenueError
from fixgw.jsonio import dumps, loads
from fixgw.logsafe import printable
from fixgw.venues._common.book import DepthSnapshot, DepthUpdate, LocalBook, Outcome, parse_levels
from fixgw.venues._common.candles import DEFAULT_INTERVALS, Candles
from fixgw.venues._common.ws import ReconnectingWebSocket
from fixgw.venues.base import StreamState

__all__ = ["BinanceMarketData", "Trade", "MarketDataListener", "stream_url_for"]

log = logging.getLogger("fixgw.venues.binance.marketdata")

DEPTH_SUFFIX = "@depth@100ms"
TRADE_SUFFIX = "@trade"
#: Control frames sent per second at most (the venue allows 5 messages a second, pings included).
CONTROL_PER_S = 3


@dataclass(frozen=True, slots=True)
class Trade:
    """A public trade: price, quantity, exchange time (ns), the venue's trade id."""

    price: Decimal
    qty: Decimal
    ts_ns: int
    trade_id: int


class MarketDataListener(Protocol):
    def on_book(self, symbol: str) -> None: ...

    def on_trade(self, symbol: str, trade: Trade) -> None: ...


def stream_url_for(ws_api_url: str) -> str:
    """Return the combined market-stream URL beside a WebSocket API URL.

    ``ws://h:p/ws-api/v3`` -> ``ws://h:p/stream`` (the simulator and compatible servers), and the venue's
    own ``ws-api.`` host -> its ``stream.`` host on port 9443.
    """
    parts = urlsplit(ws_api_url)
    netloc = parts.netloc
    if netloc.startswith("ws-api."):
        host = netloc.split(":", 1)[0]
        netloc = "stream." + host[len("ws-api."):] + ":9443"
    return urlunsplit((parts.scheme, netloc, "/stream", "", ""))


class BinanceMarketData:
    """Shared market-data subscriptions of one Binance venue.

    ``symbols`` maps normalized symbols to venue symbols (``{"BTC/USDT": "BTCUSDT"}``);
    ``fetch_snapshot(venue_symbol, limit)`` returns the REST depth body.
    """

    def __init__(
        self,
        stream_url: str,
        symbols: dict[str, str],
        fetch_snapshot: Callable[[str, int], Awaitable[Any]],
        *,
        snapshot_limit: int = 1000,
        candle_intervals: tuple[str, ...] = DEFAULT_INTERVALS,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        ping_interval_s: float | None = 20.0,
        rng: random.Random | None = None,
    ) -> None:
        self.stream_url = stream_url
        self._venue_symbol = dict(symbols)
        self._symbol = {v.lower(): k for k, v in symbols.items()}
        self._fetch = fetch_snapshot
        self.snapshot_limit = snapshot_limit
        self._intervals = candle_intervals
        self._base, self._cap = backoff_base_s, backoff_cap_s
        self._rng = rng or random.Random()
        self.listeners: list[MarketDataListener] = []
        self.books: dict[str, LocalBook] = {}
        self.candles: dict[str, Candles] = {}
        self.last_trade: dict[str, Trade] = {}
        self._refs: dict[str, int] = {}
        self._pending: dict[int, list[str]] = {}  # SUBSCRIBE id -> symbols awaiting its answer
        self._ids = itertools.count(1)
        self._tg: Any = None
        self._control: dict[str, str] = {}  # symbol -> SUBSCRIBE / UNSUBSCRIBE waiting to be sent
        self._control_running = False
        self._started = anyio.Event()
        self.snapshots_fetched = 0
        self.snapshot_failures = 0
        self.bad_events = 0
        self.ws = ReconnectingWebSocket(
            stream_url, on_connect=self._on_connect, on_message=self._on_message,
            backoff_base_s=backoff_base_s, backoff_cap_s=backoff_cap_s,
            ping_interval_s=ping_interval_s, ping_timeout_s=ping_interval_s, rng=self._rng)

    # -- consumers -----------------------------------------------------------------------------------
    def knows(self, symbol: str) -> bool:
        return symbol in self._venue_symbol

    @property
    def resyncs(self) -> int:
        """Resyncs of every book (gaps, crossed books, lost streams)."""
        return sum(b.resyncs for b in self.books.values())

    def acquire(self, symbol: str) -> LocalBook:
        """Share (or start) the subscription of ``symbol``; return its book (live once synced)."""
        if symbol not in self._venue_symbol:
            raise VenueError(f"unknown symbol {printable(symbol)[:64]}")
        n = self._refs.get(symbol, 0)
        self._refs[symbol] = n + 1
        if n == 0:
            self.books[symbol] = LocalBook(symbol)
            self.candles.setdefault(symbol, Candles(self._intervals))
            self._started.set()
            self._send_control("SUBSCRIBE", [symbol])
        return self.books[symbol]

    def release(self, symbol: str) -> None:
        """Give back one ``acquire``; the last one unsubscribes and forgets the book."""
        n = self._refs.get(symbol, 0)
        if n <= 1:
            self._refs.pop(symbol, None)
            if n == 1:
                self.books.pop(symbol, None)
                self._send_control("UNSUBSCRIBE", [symbol])
        else:
            self._refs[symbol] = n - 1

    def subscribed(self) -> list[str]:
        return sorted(self._refs)

    # -- running -------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Serve until cancelled: the stream (from the first ``acquire`` on) and the snapshot worker."""
        await self._started.wait()
        async with anyio.create_task_group() as tg:
            self._tg = tg
            try:
                await self.ws.run()
            finally:
                self._tg = None

    def _streams(self, symbols: list[str]) -> list[str]:
        out = []
        for s in symbols:
            v = self._venue_symbol[s].lower()
            out += [v + DEPTH_SUFFIX, v + TRADE_SUFFIX]
        return out

    def _send_control(self, method: str, symbols: list[str]) -> None:
        """Queue a SUBSCRIBE or UNSUBSCRIBE; one sender coalesces them, at most ``CONTROL_PER_S`` frames a
        second (the venue cuts a connection that sends more than 5 messages a second)."""
        if self.ws.state is not StreamState.SUBSCRIBED:  # the next connection subscribes to all acquired
            return
        for s in symbols:
            self._control[s] = method
        if not self._control_running:
            self._control_running = True
            self._spawn(self._control_sender)

    async def _control_sender(self) -> None:
        try:
            while self._control and self.ws.state is StreamState.SUBSCRIBED:
                batch, self._control = self._control, {}
                for method in ("UNSUBSCRIBE", "SUBSCRIBE"):
                    symbols = sorted(s for s, m in batch.items() if m == method)
                    if not symbols:
                        continue
                    req_id = next(self._ids)
                    if method == "SUBSCRIBE":
                        self._pending[req_id] = symbols
                    try:
                        await self.ws.send(dumps({"method": method, "params": self._streams(symbols), "id": req_id}))
                    except Exception as exc:  # the connection is going; the reconnect subscribes again
                        log.info("market stream %s: %s not sent: %r", self.stream_url, method, exc)
                        return
                    await anyio.sleep(1 / CONTROL_PER_S)
        finally:
            self._control_running = False

    def _spawn(self, fn: Callable[[], Awaitable[None]]) -> None:
        if self._tg is not None:
            self._tg.start_soon(fn)

    async def _on_connect(self, conn: Any) -> None:
        self._pending.clear()
        self._control.clear()  # this connection subscribes to everything acquired
        for book in self.books.values():
            book.stream_lost()
        symbols = sorted(self._refs)
        if symbols:
            req_id = next(self._ids)
            self._pending[req_id] = symbols
            text = dumps({"method": "SUBSCRIBE", "params": self._streams(symbols), "id": req_id})
            await conn.send(text)

    async def _on_message(self, text: str) -> None:
        try:
            msg = loads(text)
            if not isinstance(msg, dict):
                raise VenueError("stream message is not an object")
            if "stream" in msg and isinstance(msg.get("data"), dict):
                self._on_data(msg["data"])
            elif "id" in msg:
                self._on_answer(msg)
            else:
                self._on_data(msg)
        except (FixgwError, ValueError, KeyError, TypeError, InvalidOperation, ArithmeticError) as exc:
            self.bad_events += 1
            log.warning("market stream %s: event not used: %s", self.stream_url, printable(str(exc))[:200])

    def _on_answer(self, msg: dict[str, Any]) -> None:
        symbols = self._pending.pop(msg.get("id"), None) if isinstance(msg.get("id"), int) else None
        if msg.get("error") is not None:
            log.warning("market stream %s refused a request: %s", self.stream_url, printable(str(msg["error"]))[:200])
            return
        for s in symbols or ():
            book = self.books.get(s)
            if book is not None:
                self._need_snapshot(book)

    def _on_data(self, data: dict[str, Any]) -> None:
        kind = data.get("e")
        if kind == "depthUpdate":
            symbol = self._symbol.get(str(data["s"]).lower())
            book = self.books.get(symbol) if symbol is not None else None
            if book is None:
                return
            first, last = data["U"], data["u"]
            if not isinstance(first, int) or not isinstance(last, int):
                raise VenueError("depth event update ids are not integers")
            outcome = book.on_event(DepthUpdate(first, last, parse_levels(data["b"]), parse_levels(data["a"])))
            if outcome is Outcome.RESYNC:
                log.warning("book %s: resync (%s), %d so far", symbol, book.last_resync_reason, book.resyncs)
            if outcome is not Outcome.BUFFERED and outcome is not Outcome.IGNORED:
                self._changed(symbol)
            self._need_snapshot(book)
        elif kind == "trade":
            symbol = self._symbol.get(str(data["s"]).lower())
            if symbol is None or symbol not in self._refs:
                return
            trade = Trade(Decimal(str(data["p"])), Decimal(str(data["q"])), int(data["T"]) * 1_000_000, int(data["t"]))
            added = self.candles[symbol].add(trade.ts_ns, trade.price, trade.qty, trade.trade_id)
            if not added:  # a duplicate (replayed after a reconnect) or older than every bucket kept
                return
            self.last_trade[symbol] = trade
            for listener in list(self.listeners):
                listener.on_trade(symbol, trade)

    def _changed(self, symbol: str) -> None:
        for listener in list(self.listeners):
            listener.on_book(symbol)

    def _need_snapshot(self, book: LocalBook) -> None:
        if self.ws.state is not StreamState.DISCONNECTED and book.take_snapshot_request():
            symbol = book.symbol
            self._spawn(lambda: self._snapshot(symbol, book))

    async def _snapshot(self, symbol: str, book: LocalBook) -> None:
        attempt = 0
        while self.books.get(symbol) is book:
            try:
                body = await self._fetch(self._venue_symbol[symbol], self.snapshot_limit)
                snap = DepthSnapshot(int(body["lastUpdateId"]), parse_levels(body["bids"]), parse_levels(body["asks"]))
            except (FixgwError, KeyError, TypeError, ValueError, InvalidOperation) as exc:
                self.snapshot_failures += 1
                log.warning("book %s: snapshot failed: %s", symbol, printable(str(exc))[:200])
                await anyio.sleep(backoff_delay(attempt, self._base, self._cap, jitter=EQUAL_JITTER, rng=self._rng))
                attempt += 1
                continue
            self.snapshots_fetched += 1
            outcome = book.on_snapshot(snap)
            if outcome is Outcome.STALE_SNAPSHOT:
                log.info("book %s: snapshot %d older than the stream; fetching another", symbol, snap.last_update_id)
            elif outcome is Outcome.RESYNC:
                log.warning("book %s: resync (%s) replaying after the snapshot, %d so far",
                            symbol, book.last_resync_reason, book.resyncs)
            if outcome is not Outcome.UNSOLICITED:
                self._changed(symbol)
            if book.take_snapshot_request():  # stale, or the replay found a gap: another snapshot
                if outcome is Outcome.STALE_SNAPSHOT:  # the venue lags: do not hammer it
                    await anyio.sleep(backoff_delay(attempt, self._base / 5, self._cap, jitter=EQUAL_JITTER,
                                                    rng=self._rng))
                    attempt += 1
                continue
            return
