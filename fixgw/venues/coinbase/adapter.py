"""Coinbase Exchange adapter: signed REST order entry and the authenticated ``user`` feed.

Theory of operation
-------------------
This module is order entry and the feed; asking the venue when an answer is missing (snapshots,
fill lists, reconciliation, unknown outcomes) is ``reconcile.py``, the other half of the adapter.
Entering the adapter syncs the clock from ``/time``, loads ``/products`` as instruments, subscribes
to the ``user`` channel of every product (``websocket.py``) and reconciles. Every fact about an
order — a REST answer, a feed message, a query, a fill list — goes through one ``OrderTracker``,
which publishes each event once and holds an order's end back until its fills are seen.

The feed says ``received`` (accepted), ``match`` (a fill: trade id, size, price, fee rate),
``done`` (filled or canceled, with ``remaining_size``) and ``open``. A ``done`` whose cumulative
quantity is ahead of the matches seen is a gap: after ``gap_grace_s`` (or at once while the feed is
down) the order is read over REST and its fills from ``/fills``. After every feed reconnect, open
orders and every tracked order are compared with the venue's view, fills fetched where missing.

Coinbase Exchange has no amend: ``amend`` is refused and ``replace`` is a cancel followed by a new
order (not atomic: if the cancel fails nothing is placed; FIX OrderCancelReplace still works, the
gateway names the new leg). Orders carry ``client_oid`` UUIDs derived from our client order ids
(``parsing.ClientIds``). An unknown outcome (timeout, 5XX) is resolved by asking for
``client:<uuid>`` until the venue's 30 s acceptance window has passed.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import anyio
import httpx

from fixgw.clock import Clock, SystemClock
from fixgw.errors import VenueRejected, VenueUnknownOutcome
from fixgw.logsafe import printable
from fixgw.orders.enums import OrderStatus, TimeInForce
from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.outcome import OutcomeResolver
from fixgw.venues._common.ratelimit import Bucket, RateLimiter
from fixgw.venues._common.refusals import unsupported
from fixgw.venues._common.streaming import StreamingAdapter
from fixgw.venues._common.tracker import OrderTracker, OrderUpdate, UpdateKind
from fixgw.venues.base import (
    AmendOrder,
    Balance,
    CancelOrder,
    Instrument,
    NewOrder,
    OrderReport,
    ReplaceOrder,
    VenueCapabilities,
)
from fixgw.venues.coinbase.config import CoinbaseConfig
from fixgw.venues.coinbase.http import FILLS_BUCKET, REQUEST_BUCKET, CoinbaseHttp
from fixgw.venues.coinbase.parsing import (
    VENUE, ClientIds, order_body, parse_feed, parse_order, parse_products, update_to_report,
)
from fixgw.venues.coinbase.reconcile import CoinbaseReconciliation
from fixgw.venues.coinbase.websocket import CoinbaseFeed

__all__ = ["CoinbaseExchangeAdapter", "COINBASE_CAPABILITIES"]

log = logging.getLogger("fixgw.venues.coinbase")

COINBASE_CAPABILITIES = VenueCapabilities(
    amend_keeps_priority=False,
    cancel_replace_atomic=False,
    quote_qty_market=True,  # "funds"
    post_only=True,
    stop_orders=False,
    cancel_all=True,
    time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK}),
)

_FEED_TYPES = frozenset({"received", "open", "match", "done", "change"})


class CoinbaseExchangeAdapter(CoinbaseReconciliation, StreamingAdapter):
    """Coinbase Exchange (or a server speaking its API) behind the venue port."""

    not_subscribed_warning = "feed not subscribed yet; continuing, it keeps retrying (REST reads meanwhile)"
    health_bucket = REQUEST_BUCKET

    def __init__(
        self,
        config: CoinbaseConfig,
        *,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
        maintenance_interval_s: float = 0.5,
        stream_sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.capabilities = COINBASE_CAPABILITIES
        self._clock = clock or SystemClock()
        self.server_clock = ServerClock(self._clock)
        self.limiter = RateLimiter(
            [Bucket(REQUEST_BUCKET, config.requests_per_second, 1.0),
             Bucket(FILLS_BUCKET, config.fills_per_second, 1.0)],
            clock=self.server_clock, sleep=sleep or anyio.sleep, boundary_margin_s=0.05)
        self.http = CoinbaseHttp(config, server_clock=self.server_clock, limiter=self.limiter, transport=transport)
        self.tracker = OrderTracker(VENUE)
        self.ids = ClientIds()
        self.outcomes: OutcomeResolver[OrderReport] = OutcomeResolver(self.server_clock, poll_s=config.unknown_poll_s)
        self.stream: CoinbaseFeed | None = None
        if config.ws_url:
            self.stream = CoinbaseFeed(config, self.server_clock, products=self._products, on_message=self._on_feed,
                                       on_reconnect=self.reconcile, sleep=stream_sleep, rng=rng,
                                       resync=self.http.resync_time)
        self._init_streaming(maintenance_interval_s)
        self._last_clock_sync = 0.0
        self._gap_seen_ns: dict[tuple[str, str], int] = {}
        self._check_soon: set[tuple[str, str]] = set()  # orders a ``done`` left unfinished: read them
        self._unsized: dict[tuple[str, str], list] = {}  # matches of a funds order waiting for its done

    # -- instruments ---------------------------------------------------------------------------

    async def load_instruments(self) -> dict[str, Instrument]:
        return self._set_instruments(parse_products(await self.http.request("GET", "/products", signed=False)))

    def _unknown_symbol(self, symbol: str) -> VenueRejected:
        return VenueRejected("UNKNOWN_SYMBOL", f"unknown product {symbol}", reason="unknown_symbol")

    def _products(self) -> list[str]:
        return sorted(self._by_venue_symbol)

    # -- events --------------------------------------------------------------------------------

    def _observe(self, u: OrderUpdate, *, from_reconciliation: bool = False, synthesize: bool = False) -> None:
        self._publish(self.tracker.observe(u, synthesize_gaps=synthesize, from_reconciliation=from_reconciliation))

    def _report(self, u: OrderUpdate) -> OrderReport:
        return self.tracker.report(u.symbol, u.venue_order_id) or update_to_report(u)

    async def _on_feed(self, msg: dict[str, Any]) -> None:
        if msg.get("type") not in _FEED_TYPES:
            return
        symbol = self._symbol(str(msg.get("product_id", "")))
        inst = self._instruments.get(symbol)
        try:
            if msg["type"] == "change":  # a size change (self-trade prevention): read the order
                self._check_soon.add((symbol, str(msg.get("order_id"))))
                return
            vid = str(msg.get("order_id", ""))
            known = self.tracker.report(symbol, vid) if vid else None
            updates = parse_feed(msg, symbol, self.ids, inst.quote if inst else None,
                                 known.quantity if known else None,
                                 lambda oid: self.tracker.is_known(symbol, oid))
        except (KeyError, ValueError, TypeError, ArithmeticError):
            log.exception("unreadable feed message skipped: %r", msg)  # reconciliation covers the order
            return
        for u in updates:
            if msg["type"] != "received" and not self.tracker.is_known(u.symbol, u.venue_order_id):
                continue  # not one of ours that we know of (reconciliation finds any we lost)
            u = self._hold_unsized(u)
            if u is None:
                continue
            self._observe(u)
            if msg["type"] == "done":
                report = self.tracker.report(u.symbol, u.venue_order_id)
                if report is not None and not report.status.is_terminal:
                    self._check_soon.add((u.symbol, u.venue_order_id))

    def _hold_unsized(self, u: OrderUpdate) -> OrderUpdate | None:
        """Matches of an order placed by ``funds`` (its size unknown) wait for its ``done``, which then
        carries them: only the ``done`` tells that the last of them completed the order."""
        key = (u.symbol, u.venue_order_id)
        report = self.tracker.report(*key)
        if report is None or report.quantity is not None:
            return u
        if u.kind is UpdateKind.TRADE and u.status is OrderStatus.PARTIALLY_FILLED:
            held = self._unsized.setdefault(key, [])
            if len(held) < 10_000:  # a market order's matches come together; bounded all the same
                held.extend(u.fills)
            return None
        fills = tuple(self._unsized.pop(key, ()))
        if u.status is OrderStatus.FILLED:
            cum = report.cum_qty + sum((f.qty for f in fills), Decimal(0))
            return dataclasses.replace(u, fills=fills, cum_qty=cum)
        if fills:
            self._observe(dataclasses.replace(u, status=OrderStatus.PARTIALLY_FILLED, kind=UpdateKind.TRADE,
                                              fills=fills, cum_qty=None, reason=""))
        return u

    # -- commands ------------------------------------------------------------------------------

    async def submit(self, order: NewOrder) -> OrderReport:
        inst = self.instrument(order.symbol)
        self.refuse_unchecked(order)
        client_oid = self.ids.to_venue(order.client_order_id)
        body = order_body(order, inst.venue_symbol, client_oid)
        try:
            answer = await self.http.request("POST", "/orders", body)
        except VenueUnknownOutcome as exc:
            log.warning("submit %s: outcome unknown (%s); asking the venue", order.client_order_id, printable(exc))
            pending = self.outcomes.add(order.client_order_id, order.symbol, self.config.accept_window_s, client_oid)
            return await self.outcomes.resolve(pending, self._lookup, wait_s=self.config.unknown_outcome_wait_s)
        if answer.get("status") == "rejected":
            reason = str(answer.get("reject_reason", ""))
            raise VenueRejected("REJECTED", reason or "rejected",
                                reason="would_take" if "post only" in reason else "other")
        u = parse_order(answer, order.symbol, self.ids)
        self._observe(u)
        return self._report(u)

    def _ref(self, symbol: str, client_order_id: str | None, venue_order_id: str | None) -> str:
        """How the venue's order paths name an order: its id, else ``client:<uuid>``."""
        vid = venue_order_id
        if vid is None and client_order_id is not None:
            vid = self.tracker.venue_order_id(symbol, client_order_id)
        if vid:
            return vid
        if client_order_id is None:
            raise VenueRejected("INVALID", "name the order by client or venue order id", reason="invalid_order")
        return "client:" + self.ids.to_venue(client_order_id)

    async def cancel(self, request: CancelOrder) -> OrderReport:
        self.instrument(request.symbol)
        ref = self._ref(request.symbol, request.client_order_id, request.venue_order_id)
        try:
            await self.http.request("DELETE", f"/orders/{ref}", urgent=True)
        except VenueUnknownOutcome:
            pass  # the query below tells
        return await self._query_raw(request.symbol, ref, fetch_trades=False)

    async def amend(self, request: AmendOrder) -> OrderReport:
        raise unsupported("amend", "Coinbase Exchange")

    async def replace(self, request: ReplaceOrder) -> OrderReport:
        """Cancel the old order, then place the new one (the venue has no atomic replace)."""
        new = request.new
        self.instrument(new.symbol)
        self.refuse_unchecked(new)
        ref = self._ref(new.symbol, request.orig_client_order_id, request.venue_order_id)
        await self.http.request("DELETE", f"/orders/{ref}", urgent=True)
        return await self.submit(new)

    # -- queries -------------------------------------------------------------------------------

    async def query(self, symbol: str, *, client_order_id: str | None = None,
                    venue_order_id: str | None = None) -> OrderReport:
        self.instrument(symbol)
        return await self._query_raw(symbol, self._ref(symbol, client_order_id, venue_order_id), fetch_trades=True)

    async def open_orders(self, symbol: str | None = None, *, fetch_trades: bool = False) -> list[OrderReport]:
        query: list[tuple[str, object]] = [("status", "open"), ("status", "pending"), ("limit", 1000)]
        if symbol is not None:
            query.append(("product_id", self.instrument(symbol).venue_symbol))
        out = []
        for row in await self.http.request("GET", "/orders", query=query) or []:
            u = parse_order(row, self._symbol(row.get("product_id", "")), self.ids)
            await self._settle(u, fetch_trades=fetch_trades)
            out.append(self._report(u))
        return out

    async def cancel_all(self, symbol: str) -> list[OrderReport]:
        inst = self.instrument(symbol)
        ids = await self.http.request("DELETE", "/orders", query=[("product_id", inst.venue_symbol)], urgent=True)
        out = []
        for vid in ids or []:
            known = self.tracker.report(symbol, str(vid))
            if known is not None:
                out.append(dataclasses.replace(known, status=OrderStatus.CANCELED))
            else:
                out.append(OrderReport(venue=VENUE, symbol=symbol, client_order_id="", venue_order_id=str(vid),
                                       status=OrderStatus.CANCELED))
        return out  # the feed's ``done`` messages publish the events

    async def balances(self) -> dict[str, Balance]:
        """Every asset of the profile in one call: asset -> ``Balance`` (available, on hold)."""
        rows = await self.http.request("GET", "/accounts")
        return {str(r["currency"]): Balance(Decimal(str(r["available"])), Decimal(str(r["hold"]))) for r in rows or []}
