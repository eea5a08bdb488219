"""Kraken spot enumerations and their mapping to the order model's enums (``fixgw.orders``)."""

from __future__ import annotations

from fixgw.orders.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from fixgw.venues.assets import ASSET_ALIASES as _SHARED_ALIASES

__all__ = ["STATUS", "WS_STATUS", "SIDE_OUT", "SIDE_IN", "TYPE_OUT", "TYPE_IN", "TIF_OUT", "ASSET_ALIASES"]

#: REST order status
STATUS = {
    "pending": OrderStatus.PENDING_NEW,
    "open": OrderStatus.NEW,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
}
#: WebSocket v2 ``order_status``
WS_STATUS = {
    "pending_new": OrderStatus.PENDING_NEW,
    "new": OrderStatus.NEW,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
}
SIDE_OUT = {OrderSide.BUY: "buy", OrderSide.SELL: "sell"}
SIDE_IN = {v: k for k, v in SIDE_OUT.items()}
TYPE_OUT = {OrderType.LIMIT: "limit", OrderType.MARKET: "market", OrderType.STOP: "stop-loss",
            OrderType.STOP_LIMIT: "stop-loss-limit", OrderType.TAKE_PROFIT: "take-profit",
            OrderType.TAKE_PROFIT_LIMIT: "take-profit-limit"}
TYPE_IN = {v: k for k, v in TYPE_OUT.items()}
TIF_OUT = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC"}
#: Kraken's asset codes and altnames -> the common codes: the venues' one table (never strip prefixes)
ASSET_ALIASES = _SHARED_ALIASES
