"""Kraken spot adapter — partial.

Done: signed REST (API-Key/API-Sign, increasing nonce), server clock from ``/0/public/Time``,
asset pairs as instruments, submit, cancel, query, open orders, cancel all, reconciliation by
polling (fills synthesized from ``vol_exec``/``cost``). Not done: the private WebSocket
(``executions``), per-trade fills with trade ids (``QueryTrades``), ``AmendOrder``.
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
from fixgw.venues.kraken.config import KrakenConfig
from fixgw.venues.kraken.http import KrakenHttp
from fixgw.venues.kraken.parsing import add_order_params, parse_asset_pairs, parse_order

__all__ = ["KrakenAdapter", "KRAKEN_CAPABILITIES"]

KRAKEN_CAPABILITIES = VenueCapabilities(
    amend_keeps_priority=False,  # AmendOrder exists at Kraken but is not wired here
    cancel_replace_atomic=False,
    quote_qty_market=False,
    post_only=True,
    stop_orders=True,
    take_profit_orders=True,
    cancel_all=True,
    time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.GTD}),
)


_ACCEPT_WINDOW_S = 10.0


def _unsupported(what: str) -> VenueRejected:
    exc = VenueRejected("UNSUPPORTED", f"{what} is not supported by this Kraken adapter")
    exc.reason = "unsupported"  # type: ignore[attr-defined]
    return exc


class KrakenAdapter(VenueAdapter):
    def __init__(self, config: KrakenConfig, *, clock: Clock | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.name = config.name
        self.capabilities = KRAKEN_CAPABILITIES
        clock = clock or SystemClock()
        self.server_clock = ServerClock(clock)
        # Kraken's private counter decays continuously; a fixed window at the decay rate approximates it
        window_s = config.counter_limit / config.counter_decay_per_s
        self.limiter = RateLimiter([Bucket("COUNTER", config.counter_limit, window_s)], clock=clock)
        self.http = KrakenHttp(config, server_clock=self.server_clock, limiter=self.limiter, transport=transport)
        self.sink = EventSink(config.name)
        self.outcomes: OutcomeResolver[OrderReport] = OutcomeResolver(self.server_clock)
        self._instruments: dict[str, Instrument] = {}
        self._by_pair: dict[str, str] = {}

    async def start(self) -> None:
        await self.http.sync_time()
        await self.load_instruments()
        await self.reconcile()

    async def close(self) -> None:
        await self.http.aclose()
        await self.sink.aclose()

    async def load_instruments(self) -> dict[str, Instrument]:
        result = await self.http.public("/0/public/AssetPairs")
        self._instruments = {i.symbol: i for i in parse_asset_pairs(result)}
        self._by_pair = {i.venue_symbol: i.symbol for i in self._instruments.values()}
        return dict(self._instruments)

    def instrument(self, symbol: str) -> Instrument:
        try:
            return self._instruments[symbol]
        except KeyError:
            exc = VenueRejected("EQuery:Unknown asset pair", f"unknown pair {symbol}")
            exc.reason = "unknown_symbol"  # type: ignore[attr-defined]
            raise exc from None

    def events(self):
        return self.sink.events()

    def _settle(self, txid: str, info: dict[str, Any]) -> OrderReport:
        pair = (info.get("descr") or {}).get("pair", "")
        u = parse_order(txid, info, self._by_pair.get(pair, pair))
        self.sink.observe(u, from_reconciliation=True, synthesize=True)
        return self.sink.tracker.report(txid)  # type: ignore[return-value]

    async def submit(self, order: NewOrder) -> OrderReport:
        inst = self.instrument(order.symbol)
        v = check_order(inst, order, self.capabilities)
        if v is not None:
            exc = VenueRejected("LOCAL", v.reason)
            exc.reason = "unsupported" if v.unsupported else f"rule:{v.rule}"  # type: ignore[attr-defined]
            raise exc
        fields = add_order_params(order, inst.venue_symbol, 0)[1:]  # the client adds the real nonce
        try:
            result = await self.http.private("AddOrder", fields)
            txid = result["txid"][0]
        except VenueUnknownOutcome:
            # Kraken has no receive window by default: bound the wait ourselves
            pending = self.outcomes.add(order.client_order_id, order.symbol, _ACCEPT_WINDOW_S)
            return await self.outcomes.resolve(pending, self._lookup, wait_s=_ACCEPT_WINDOW_S + 5)
        return await self.query(order.symbol, venue_order_id=txid)

    async def _lookup(self, p: Pending) -> OrderReport:
        return await self.query(p.symbol, client_order_id=p.client_order_id)

    async def cancel(self, request: CancelOrder) -> OrderReport:
        ref = [("txid", request.venue_order_id)] if request.venue_order_id else [("cl_ord_id", request.client_order_id or "")]
        await self.http.private("CancelOrder", ref)
        return await self.query(request.symbol, client_order_id=request.client_order_id,
                                venue_order_id=request.venue_order_id)

    async def amend(self, request: AmendOrder) -> OrderReport:
        raise _unsupported("amend")

    async def replace(self, request: ReplaceOrder) -> OrderReport:
        raise _unsupported("cancel/replace")

    async def query(self, symbol: str, *, client_order_id: str | None = None,
                    venue_order_id: str | None = None) -> OrderReport:
        fields = [("txid", venue_order_id)] if venue_order_id else [("cl_ord_id", client_order_id or "")]
        result = await self.http.private("QueryOrders", fields)
        if not result:
            exc = VenueRejected("EOrder:Unknown order", "Unknown order")
            exc.reason = "unknown_order"  # type: ignore[attr-defined]
            raise exc
        txid, info = next(iter(result.items()))
        return self._settle(txid, info)

    async def open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        result = await self.http.private("OpenOrders", [])
        reports = [self._settle(txid, info) for txid, info in (result or {}).get("open", {}).items()]
        return [r for r in reports if symbol is None or r.symbol == symbol]

    async def cancel_all(self, symbol: str) -> list[OrderReport]:
        reports = await self.open_orders(symbol)
        return [await self.cancel(CancelOrder(symbol, venue_order_id=r.venue_order_id)) for r in reports]

    async def reconcile(self) -> None:
        open_ids = {r.venue_order_id for r in await self.open_orders()}
        for symbol, vid, _cid in self.sink.tracker.open_orders():
            if vid not in open_ids:
                await self.query(symbol, venue_order_id=vid)
        await self.outcomes.sweep(
            self._lookup, lambda p: self.sink.publish([not_placed_event(self.name, p, self.server_clock.now_ns())])
        )

    def health(self) -> VenueHealth:
        used, limit = self.limiter.usage("COUNTER")
        return VenueHealth(venue=self.name, clock_offset_ms=self.server_clock.offset_ms, weight_used=used,
                           weight_limit=limit, banned_until_ns=self.limiter.banned_until_ns,
                           stream_state=StreamState.DISCONNECTED, stream_reconnects=0, unresolved_orders=len(self.outcomes),
                           last_event_ns=self.sink.last_event_ns)
