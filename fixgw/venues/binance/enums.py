"""Binance spot enumerations and their mapping to the order model's enums (``fixgw.orders``), as tables."""

from __future__ import annotations

from fixgw.orders.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from fixgw.venues._common.tracker import UpdateKind

__all__ = [
    "STATUS",
    "EXEC_TYPE",
    "ORDER_TYPE_OUT",
    "ORDER_TYPE_IN",
    "TIF_OUT",
    "TIF_IN",
    "SIDE_OUT",
    "SIDE_IN",
    "REJECT_MSG_REASON",
    "WEIGHTS",
    "WS_API_METHODS",
]

# Order status (enums.md). PENDING_CANCEL is "currently unused"; EXPIRED_IN_MATCH is an STP expiry.
STATUS: dict[str, OrderStatus] = {
    "NEW": OrderStatus.NEW,
    "PENDING_NEW": OrderStatus.PENDING_NEW,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "PENDING_CANCEL": OrderStatus.NEW,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
}

# executionReport "x"
EXEC_TYPE: dict[str, UpdateKind] = {
    "NEW": UpdateKind.NEW,
    "TRADE": UpdateKind.TRADE,
    "CANCELED": UpdateKind.CANCELED,
    "EXPIRED": UpdateKind.EXPIRED,
    "REJECTED": UpdateKind.REJECTED,
    "REPLACED": UpdateKind.AMENDED,
    "TRADE_PREVENTION": UpdateKind.SNAPSHOT,
}

# (normalised type, post_only) -> Binance type
ORDER_TYPE_OUT: dict[tuple[OrderType, bool], str] = {
    (OrderType.MARKET, False): "MARKET",
    (OrderType.LIMIT, False): "LIMIT",
    (OrderType.LIMIT, True): "LIMIT_MAKER",
    (OrderType.STOP, False): "STOP_LOSS",
    (OrderType.STOP_LIMIT, False): "STOP_LOSS_LIMIT",
    (OrderType.TAKE_PROFIT, False): "TAKE_PROFIT",
    (OrderType.TAKE_PROFIT_LIMIT, False): "TAKE_PROFIT_LIMIT",
}

ORDER_TYPE_IN: dict[str, OrderType] = {
    "MARKET": OrderType.MARKET,
    "LIMIT": OrderType.LIMIT,
    "LIMIT_MAKER": OrderType.LIMIT,
    "STOP_LOSS": OrderType.STOP,
    "STOP_LOSS_LIMIT": OrderType.STOP_LIMIT,
    "TAKE_PROFIT": OrderType.TAKE_PROFIT,
    "TAKE_PROFIT_LIMIT": OrderType.TAKE_PROFIT_LIMIT,
}

# Binance has GTC/IOC/FOK only: no DAY, no GTD.
TIF_OUT: dict[TimeInForce, str] = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}
TIF_IN: dict[str, TimeInForce] = {v: k for k, v in TIF_OUT.items()}

SIDE_OUT: dict[OrderSide, str] = {OrderSide.BUY: "BUY", OrderSide.SELL: "SELL"}
SIDE_IN: dict[str, OrderSide] = {v: k for k, v in SIDE_OUT.items()}

# -2010/-2011/-2038 carry the matching engine's text; the text, not the code, says why (errors.md).
REJECT_MSG_REASON: dict[str, str] = {
    "Unknown order sent.": "unknown_order",
    "Duplicate order sent.": "duplicate_order",
    "Account has insufficient balance for requested action.": "insufficient_balance",
    "Order would immediately match and take.": "would_take",
    "Order would trigger immediately.": "would_trigger",
    "Market is closed.": "market_closed",
    "Order was not canceled due to cancel restrictions.": "cancel_restricted",
    "Order does not exist.": "unknown_order",
    "Invalid symbol.": "unknown_symbol",
}

# Request weights (rest-api.md). Keys are (method, path); a callable-free table keeps it reviewable.
WEIGHTS: dict[tuple[str, str], int] = {
    ("GET", "/api/v3/time"): 1,
    ("GET", "/api/v3/ping"): 1,
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("POST", "/api/v3/order"): 1,
    ("DELETE", "/api/v3/order"): 1,
    ("GET", "/api/v3/order"): 4,
    ("POST", "/api/v3/order/cancelReplace"): 1,
    ("PUT", "/api/v3/order/amend/keepPriority"): 4,
    ("DELETE", "/api/v3/openOrders"): 1,
    ("GET", "/api/v3/openOrders"): 6,  # 80 without a symbol: see http.weight_of
    ("GET", "/api/v3/myTrades"): 20,
    ("GET", "/api/v3/account"): 20,
    ("POST", "/api/v3/orderList/oco"): 1,
    ("POST", "/api/v3/orderList/oto"): 1,
    ("DELETE", "/api/v3/orderList"): 1,
}

# Order-entry calls the WebSocket API also serves: REST (method, path) -> WebSocket API method.
WS_API_METHODS: dict[tuple[str, str], str] = {
    ("POST", "/api/v3/order"): "order.place",
    ("DELETE", "/api/v3/order"): "order.cancel",
    ("POST", "/api/v3/order/cancelReplace"): "order.cancelReplace",
    ("PUT", "/api/v3/order/amend/keepPriority"): "order.amend.keepPriority",
    ("POST", "/api/v3/orderList/oco"): "orderList.place.oco",
    ("POST", "/api/v3/orderList/oto"): "orderList.place.oto",
    ("DELETE", "/api/v3/orderList"): "orderList.cancel",
}

# Requests that count against the ORDERS (unfilled order count) limit, and how many orders each counts:
# an order list places two orders, and the venue counts both.
ORDER_COUNTED: dict[tuple[str, str], int] = {
    ("POST", "/api/v3/order"): 1,
    ("POST", "/api/v3/order/cancelReplace"): 1,
    ("POST", "/api/v3/orderList/oco"): 2,
    ("POST", "/api/v3/orderList/oto"): 2,
}
