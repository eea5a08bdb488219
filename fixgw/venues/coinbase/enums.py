"""Coinbase Exchange enumerations and their mapping to the order model's enums (``fixgw.orders``)."""

from __future__ import annotations

from fixgw.orders.enums import OrderSide, OrderStatus, OrderType, TimeInForce

__all__ = ["STATUS", "DONE_REASON", "SIDE_OUT", "SIDE_IN", "TIF_OUT", "TYPE_OUT", "TYPE_IN", "VENUE_CANCELS"]

# "open", "pending", "done" are documented; "active"/"received"/"rejected" are seen in client code.
STATUS: dict[str, OrderStatus] = {
    "pending": OrderStatus.PENDING_NEW,
    "received": OrderStatus.PENDING_NEW,
    "open": OrderStatus.NEW,
    "active": OrderStatus.NEW,
    "rejected": OrderStatus.REJECTED,
}
# a finished order is "done" with a done_reason
DONE_REASON: dict[str, OrderStatus] = {
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "rejected": OrderStatus.REJECTED,
}
#: ``cancel_reason`` codes of a ``done`` the venue made itself (the order expired rather than was canceled)
VENUE_CANCELS: dict[int, str] = {
    101: "time_in_force", 102: "self_trade_prevention", 103: "admin", 104: "price_bound",
    105: "insufficient_funds", 106: "insufficient_liquidity", 107: "broker",
}
SIDE_OUT = {OrderSide.BUY: "buy", OrderSide.SELL: "sell"}
SIDE_IN = {v: k for k, v in SIDE_OUT.items()}
# GTD needs cancel_after (min|hour|day), which the port cannot express: not offered
TIF_OUT = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}
TYPE_OUT = {OrderType.LIMIT: "limit", OrderType.MARKET: "market"}
TYPE_IN = {v: k for k, v in TYPE_OUT.items()}
