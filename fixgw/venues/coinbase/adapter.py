"""Coinbase Exchange adapter — partial.

Done: signed REST (CB-ACCESS-*), server clock from ``/time``, products as instruments, submit,
cancel, query (by id or ``client:<client_oid>``), open orders, cancel all, reconciliation by
polling. Not done: the authenticated WebSocket feed (``full``/``user`` channels), so fills are
learned from order snapshots (synthesized fills, trade id ``recon:...``) — fills and trade ids from
``/fills`` are the next step. Coinbase has no in-place amend: ``amend``/``replace`` are refused.
"""

from __future__ import annotations

from typing import Any

import httpx

from fixgw.clock import Clock, SystemClock
from fixgw.errors import VenueRejected, VenueUnknownOutcome
from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.eventsink import EventSink
from fixgw.venues._common.outcome import OutcomeResolver, Pending, not_placed_event
from fixgw.venues._common.ratelimit import Bucket, RateLimiter
from fixgw.venues.base import (
    AmendOrder,
    CancelOrder,
    Instrument,
    NewOrder,
    OrderReport,
    ReplaceOrder,
    StreamState,
    TimeInForce,
    VenueAdapter,
    VenueCapabilities,
    VenueHealth,
)
from fixgw.venues.rules import check_order
from fixgw.venues.coinbase.config import CoinbaseConfig
from fixgw.venues.coinbase.http import CoinbaseHttp
from fixgw.venues.coinbase.parsing import order_body, parse_order, parse_products

__all__ = ["CoinbaseExchangeAdapter", "COINBASE_CAPABILITIES"]

COINBASE_CAPABILITIES = VenueCapabilities(
    amend_keeps_priority=False,
    cancel_replace_atomic=False,
    quote_qty_market=True,  # "funds"
    post_only=True,
    stop_orders=False,
    cancel_all=True,
    time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTD}),
)


_ACCEPT_WINDOW_S = 30.0


def _unsupported(what: str) -> VenueRejected:
    exc = VenueRejected("UNSUPPORTED", f"{what} is not supported by Coinbase Exchange")
    exc.reason = "unsupported"  # type: ignore[attr-defined]
    return exc


class CoinbaseExchangeAdapter(VenueAdapter):
    def __init__(self, config: CoinbaseConfig, *, clock: Clock | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.name = config.name
        self.capabilities = COINBASE_CAPABILITIES
        clock = clock or SystemClock()
        self.server_clock = ServerClock(clock)
        self.limiter = RateLimiter([Bucket("REQUESTS:1S", config.requests_per_second, 1.0)], clock=clock)
        self.http = CoinbaseHttp(config, server_clock=self.server_clock, limiter=self.limiter, transport=transport)
        self.sink = EventSink(config.name)
        self.outcomes: OutcomeResolver[OrderReport] = OutcomeResolver(self.server_clock)
        self._instruments: dict[str, Instrument] = {}
        self._by_product: dict[str, str] = {}

    async def start(self) -> None:
        await self.http.sync_time()
        await self.load_instruments()
        await self.reconcile()

    async def close(self) -> None:
        await self.http.aclose()
        await self.sink.aclose()

    async def load_instruments(self) -> dict[str, Instrument]:
        products = await self.http.request("GET", "/products", signed=False)
        self._instruments = {i.symbol: i for i in parse_products(products)}
        self._by_product = {i.venue_symbol: i.symbol for i in self._instruments.values()}
        return dict(self._instruments)

    def instrument(self, symbol: str) -> Instrument:
        try:
            return self._instruments[symbol]
        except KeyError:
            exc = VenueRejected("UNKNOWN_SYMBOL", f"unknown product {symbol}")
            exc.reason = "unknown_symbol"  # type: ignore[attr-defined]
            raise exc from None

    def events(self):
        return self.sink.events()

    def _settle(self, row: dict[str, Any], symbol: str | None = None) -> OrderReport:
        u = parse_order(row, symbol or self._by_product.get(row.get("product_id", ""), row.get("product_id", "")))
        self.sink.observe(u, from_reconciliation=True, synthesize=True)
        return self.sink.tracker.report(u.venue_order_id)  # type: ignore[return-value]

    async def submit(self, order: NewOrder) -> OrderReport:
        inst = self.instrument(order.symbol)
        v = check_order(inst, order, self.capabilities)
        if v is not None:
            exc = VenueRejected("LOCAL", v.reason)
            exc.reason = "unsupported" if v.unsupported else f"rule:{v.rule}"  # type: ignore[attr-defined]
            raise exc
        try:
            row = await self.http.request("POST", "/orders", order_body(order, inst.venue_symbol))
        except VenueUnknownOutcome:
            # the venue accepts a request up to 30 s after its timestamp
            pending = self.outcomes.add(order.client_order_id, order.symbol, _ACCEPT_WINDOW_S)
            return await self.outcomes.resolve(pending, self._lookup, wait_s=_ACCEPT_WINDOW_S + 5)
        return self._settle(row, order.symbol)

    async def _lookup(self, p: Pending) -> OrderReport:
        return await self.query(p.symbol, client_order_id=p.client_order_id)

    async def cancel(self, request: CancelOrder) -> OrderReport:
        ref = request.venue_order_id or f"client:{request.client_order_id}"
        await self.http.request("DELETE", f"/orders/{ref}")
        return await self.query(request.symbol, client_order_id=request.client_order_id,
                                venue_order_id=request.venue_order_id)

    async def amend(self, request: AmendOrder) -> OrderReport:
        raise _unsupported("amend")

    async def replace(self, request: ReplaceOrder) -> OrderReport:
        raise _unsupported("cancel/replace")

    async def query(self, symbol: str, *, client_order_id: str | None = None,
                    venue_order_id: str | None = None) -> OrderReport:
        ref = venue_order_id or f"client:{client_order_id}"
        return self._settle(await self.http.request("GET", f"/orders/{ref}"), symbol)

    async def open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        path = "/orders?status=open"
        if symbol is not None:
            path += f"&product_id={self.instrument(symbol).venue_symbol}"
        return [self._settle(row) for row in await self.http.request("GET", path)]

    async def cancel_all(self, symbol: str) -> list[OrderReport]:
        ids = await self.http.request("DELETE", f"/orders?product_id={self.instrument(symbol).venue_symbol}")
        return [await self.query(symbol, venue_order_id=i) for i in ids or []]

    async def reconcile(self) -> None:
        open_ids = {r.venue_order_id for r in await self.open_orders()}
        for symbol, vid, _cid in self.sink.tracker.open_orders():
            if vid not in open_ids:
                await self.query(symbol, venue_order_id=vid)
        await self.outcomes.sweep(
            self._lookup, lambda p: self.sink.publish([not_placed_event(self.name, p, self.server_clock.now_ns())])
        )

    def health(self) -> VenueHealth:
        used, limit = self.limiter.usage("REQUESTS:1S")
        return VenueHealth(venue=self.name, clock_offset_ms=self.server_clock.offset_ms, weight_used=used,
                           weight_limit=limit, banned_until_ns=self.limiter.banned_until_ns,
                           stream_state=StreamState.DISCONNECTED, stream_reconnects=0, unresolved_orders=len(self.outcomes),
                           last_event_ns=self.sink.last_event_ns)
