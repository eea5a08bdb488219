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
from fixgw.errors import VenueRejected
from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.polling import PollingAdapter
from fixgw.venues._common.ratelimit import Bucket, RateLimiter
from fixgw.orders.enums import TimeInForce
from fixgw.venues.base import CancelOrder, Instrument, NewOrder, OrderReport, VenueCapabilities
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

_BUCKET = "COUNTER"


def _order_ref(client_order_id: str | None, venue_order_id: str | None) -> list[tuple[str, str]]:
    return [("txid", venue_order_id)] if venue_order_id else [("cl_ord_id", client_order_id or "")]


class KrakenAdapter(PollingAdapter):
    accept_window_s = 10.0  # Kraken has no receive window by default: bound the wait ourselves
    unsupported_by = "this Kraken adapter"
    http: KrakenHttp

    def __init__(self, config: KrakenConfig, *, clock: Clock | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        server_clock = ServerClock(clock or SystemClock())
        # Kraken's private counter decays continuously; a fixed window at the decay rate approximates it
        window_s = config.counter_limit / config.counter_decay_per_s
        limiter = RateLimiter([Bucket(_BUCKET, config.counter_limit, window_s)], clock=server_clock.clock)
        super().__init__(
            name=config.name, capabilities=KRAKEN_CAPABILITIES, server_clock=server_clock, limiter=limiter,
            bucket=_BUCKET,
            http=KrakenHttp(config, server_clock=server_clock, limiter=limiter, transport=transport),
        )

    async def load_instruments(self) -> dict[str, Instrument]:
        return self._set_instruments(parse_asset_pairs(await self.http.public("/0/public/AssetPairs")))

    def _unknown_symbol(self, symbol: str) -> VenueRejected:
        return VenueRejected("EQuery:Unknown asset pair", f"unknown pair {symbol}", reason="unknown_symbol")

    def _settle(self, txid: str, info: dict[str, Any]) -> OrderReport:
        pair = (info.get("descr") or {}).get("pair", "")
        return self._fold(parse_order(txid, info, self._symbol(pair)))

    async def _place(self, order: NewOrder, inst: Instrument) -> Any:
        fields = add_order_params(order, inst.venue_symbol, 0)[1:]  # the client adds the real nonce
        result = await self.http.private("AddOrder", fields)
        return result["txid"][0]

    async def _placed(self, order: NewOrder, answer: Any) -> OrderReport:
        return await self.query(order.symbol, venue_order_id=answer)

    async def cancel(self, request: CancelOrder) -> OrderReport:
        await self.http.private("CancelOrder", _order_ref(request.client_order_id, request.venue_order_id))
        return await self.query(request.symbol, client_order_id=request.client_order_id,
                                venue_order_id=request.venue_order_id)

    async def query(self, symbol: str, *, client_order_id: str | None = None,
                    venue_order_id: str | None = None) -> OrderReport:
        result = await self.http.private("QueryOrders", _order_ref(client_order_id, venue_order_id))
        if not result:
            raise VenueRejected("EOrder:Unknown order", "Unknown order", reason="unknown_order")
        txid, info = next(iter(result.items()))
        return self._settle(txid, info)

    async def open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        result = await self.http.private("OpenOrders", [])
        reports = [self._settle(txid, info) for txid, info in (result or {}).get("open", {}).items()]
        return [r for r in reports if symbol is None or r.symbol == symbol]

    async def cancel_all(self, symbol: str) -> list[OrderReport]:
        reports = await self.open_orders(symbol)
        return [await self.cancel(CancelOrder(symbol, venue_order_id=r.venue_order_id)) for r in reports]
