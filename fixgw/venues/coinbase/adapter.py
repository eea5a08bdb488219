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
from fixgw.errors import VenueRejected
from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.polling import PollingAdapter
from fixgw.venues._common.ratelimit import Bucket, RateLimiter
from fixgw.orders.enums import TimeInForce
from fixgw.venues.base import CancelOrder, Instrument, NewOrder, OrderReport, VenueCapabilities
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

_BUCKET = "REQUESTS:1S"


def _order_ref(client_order_id: str | None, venue_order_id: str | None) -> str:
    return venue_order_id or f"client:{client_order_id}"


class CoinbaseExchangeAdapter(PollingAdapter):
    accept_window_s = 30.0  # the venue accepts a request up to 30 s after its timestamp
    unsupported_by = "Coinbase Exchange"
    http: CoinbaseHttp

    def __init__(self, config: CoinbaseConfig, *, clock: Clock | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        server_clock = ServerClock(clock or SystemClock())
        limiter = RateLimiter([Bucket(_BUCKET, config.requests_per_second, 1.0)], clock=server_clock.clock)
        super().__init__(
            name=config.name, capabilities=COINBASE_CAPABILITIES, server_clock=server_clock, limiter=limiter,
            bucket=_BUCKET,
            http=CoinbaseHttp(config, server_clock=server_clock, limiter=limiter, transport=transport),
        )

    async def load_instruments(self) -> dict[str, Instrument]:
        return self._set_instruments(parse_products(await self.http.request("GET", "/products", signed=False)))

    def _unknown_symbol(self, symbol: str) -> VenueRejected:
        return VenueRejected("UNKNOWN_SYMBOL", f"unknown product {symbol}", reason="unknown_symbol")

    def _settle(self, row: dict[str, Any], symbol: str | None = None) -> OrderReport:
        product = row.get("product_id", "")
        return self._fold(parse_order(row, symbol or self._symbol(product)))

    async def _place(self, order: NewOrder, inst: Instrument) -> Any:
        return await self.http.request("POST", "/orders", order_body(order, inst.venue_symbol))

    async def _placed(self, order: NewOrder, answer: Any) -> OrderReport:
        return self._settle(answer, order.symbol)

    async def cancel(self, request: CancelOrder) -> OrderReport:
        await self.http.request("DELETE", f"/orders/{_order_ref(request.client_order_id, request.venue_order_id)}")
        return await self.query(request.symbol, client_order_id=request.client_order_id,
                                venue_order_id=request.venue_order_id)

    async def query(self, symbol: str, *, client_order_id: str | None = None,
                    venue_order_id: str | None = None) -> OrderReport:
        row = await self.http.request("GET", f"/orders/{_order_ref(client_order_id, venue_order_id)}")
        return self._settle(row, symbol)

    async def open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        path = "/orders?status=open"
        if symbol is not None:
            path += f"&product_id={self.instrument(symbol).venue_symbol}"
        return [self._settle(row) for row in await self.http.request("GET", path)]

    async def cancel_all(self, symbol: str) -> list[OrderReport]:
        ids = await self.http.request("DELETE", f"/orders?product_id={self.instrument(symbol).venue_symbol}")
        return [await self.query(symbol, venue_order_id=i) for i in ids or []]
