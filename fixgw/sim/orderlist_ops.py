"""The venue's order-list operations (REST and WebSocket API), over ``fixgw.sim.orderlists``.

Each leg's parameters (``aboveType``, ``belowPrice``, ``workingTimeInForce``, ``pendingStopPrice`` ...)
are read as a plain new order's (``ops.parse_new_order``: the same syntax checks and error codes), an
error naming the leg's own parameter. Weights (rest-api.md, web-socket-api.md): place 1 (2 orders
against the unfilled-order count), cancel 1, query 4, open lists 6.
"""

from __future__ import annotations

from typing import Any

from . import formats
from .errors import ApiError, bad_symbol, illegal_chars, mandatory
from .model import NewOrder, Order
from .ops import _CLIENT_ID, Context, Operation, Params, parse_new_order
from .orderlists import ListStatus, OrderList, order_lists_of

__all__ = ["ORDER_LIST_OPERATIONS", "ORDER_LIST_ROUTES", "list_json", "list_status_json"]


def list_status_json(ev: ListStatus) -> dict[str, Any]:
    """A ``listStatus`` user-data event (user-data-stream.md)."""
    return {
        "e": "listStatus",
        "E": ev.event_time,
        "s": ev.symbol,
        "g": ev.list_id,
        "c": ev.contingency,
        "l": ev.list_status_type,
        "L": ev.list_order_status,
        "r": "NONE",
        "C": ev.client_list_id,
        "T": ev.transaction_time,
        "O": [{"s": s, "i": i, "c": c} for s, i, c in ev.orders],
    }


formats.USER_EVENT_FORMATS[ListStatus] = list_status_json  # published as the other user-data events


def list_json(lst: OrderList, reports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The order list as the venue answers it; ``reports``: its ``orderReports`` (placement, cancel)."""
    status_type, order_status = lst.status()
    out: dict[str, Any] = {
        "orderListId": lst.list_id,
        "contingencyType": lst.contingency,
        "listStatusType": status_type,
        "listOrderStatus": order_status,
        "listClientOrderId": lst.client_list_id,
        "transactionTime": lst.transaction_time,
        "symbol": lst.symbol,
        "orders": [{"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.client_order_id}
                   for o in lst.orders],
    }
    if reports is not None:
        out["orderReports"] = reports
    return out


_LEG_FIELDS = ("Type", "Price", "StopPrice", "TimeInForce", "IcebergQty", "ClientOrderId", "StrategyId",
               "StrategyType", "TrailingDelta", "Side", "Quantity")
_PLAIN = {"Type": "type", "Price": "price", "StopPrice": "stopPrice", "TimeInForce": "timeInForce",
          "IcebergQty": "icebergQty", "ClientOrderId": "newClientOrderId", "StrategyId": "strategyId",
          "StrategyType": "strategyType", "TrailingDelta": "trailingDelta", "Side": "side", "Quantity": "quantity"}
_OCO_TYPES = ("STOP_LOSS_LIMIT", "STOP_LOSS", "LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")


def _leg(ctx: Context, p: Params, prefix: str, shared: dict[str, str]) -> NewOrder:
    """The ``prefix`` leg of an order list as a new order (its syntax checked as the venue checks one)."""
    raw = p.raw()
    items = dict(shared)
    for name in _LEG_FIELDS:
        value = raw.get(prefix + name)
        if value is not None and value != "":
            items[_PLAIN[name]] = value
    try:
        req, _resp = parse_new_order(Params(items.items()), ctx.engine)
    except ApiError as exc:
        msg = exc.msg
        for name, plain in _PLAIN.items():  # name the leg's parameter, as sent
            msg = msg.replace(f"'{plain}'", f"'{prefix}{name}'")
        raise ApiError(exc.code, msg, exc.status) from None
    return req


def _list_id(p: Params, name: str) -> str | None:
    client = p.str(name)
    if client is not None and not _CLIENT_ID.match(client):
        raise illegal_chars(name, "^[\\.A-Z\\:/a-z0-9_-]{1,36}$")
    return client


def _symbol(ctx: Context, p: Params) -> str:
    symbol = p.str("symbol", True)
    if symbol not in ctx.engine.instruments:
        raise bad_symbol()
    return symbol  # type: ignore[return-value]


def _reports(orders: list[Order], resp_type: str) -> list[dict[str, Any]]:
    if resp_type == "ACK":
        return []
    return [formats.order_result(o) for o in orders]


def _resp_type(p: Params) -> str:
    resp_type = p.str("newOrderRespType") or "FULL"
    if resp_type not in ("ACK", "RESULT", "FULL"):
        raise ApiError(-1130, "Data sent for parameter 'newOrderRespType' is not valid.")
    return resp_type


def op_place_oco(ctx: Context, p: Params) -> Any:
    symbol = _symbol(ctx, p)
    side = p.str("side", True)
    quantity = p.str("quantity", True)
    for leg in ("above", "below"):
        if p.str(leg + "Type") is None:
            raise mandatory(leg + "Type")
        if p.str(leg + "Type") not in _OCO_TYPES:
            raise ApiError(-1158, "Order type not supported in OCO.")
    shared = {"symbol": symbol, "side": side, "quantity": quantity}  # type: ignore[dict-item]
    stp = p.str("selfTradePreventionMode")
    if stp is not None:
        shared["selfTradePreventionMode"] = stp
    above, below = _leg(ctx, p, "above", shared), _leg(ctx, p, "below", shared)
    resp_type = _resp_type(p)
    lst, orders = order_lists_of(ctx.engine).place_oco(
        ctx.account_id, side, above, below, _list_id(p, "listClientOrderId"), ctx.now_ms)  # type: ignore[arg-type]
    return list_json(lst, _reports(orders, resp_type))


def op_place_oto(ctx: Context, p: Params) -> Any:
    symbol = _symbol(ctx, p)
    shared = {"symbol": symbol}
    stp = p.str("selfTradePreventionMode")
    if stp is not None:
        shared["selfTradePreventionMode"] = stp
    for name in ("workingType", "workingSide", "workingPrice", "workingQuantity", "pendingType", "pendingSide",
                 "pendingQuantity"):
        p.str(name, True)
    if p.str("workingType") not in ("LIMIT", "LIMIT_MAKER"):
        raise ApiError(-1116, "Invalid orderType.")
    if p.str("pendingType") == "MARKET" and "pendingQuoteOrderQty" in p:
        raise ApiError(-1106, "Parameter 'pendingQuoteOrderQty' sent when not required.")
    working, pending = _leg(ctx, p, "working", shared), _leg(ctx, p, "pending", shared)
    resp_type = _resp_type(p)
    lst, orders = order_lists_of(ctx.engine).place_oto(
        ctx.account_id, working, pending, _list_id(p, "listClientOrderId"), ctx.now_ms)  # type: ignore[arg-type]
    return list_json(lst, _reports(orders, resp_type))


def op_cancel_list(ctx: Context, p: Params) -> Any:
    symbol = _symbol(ctx, p)
    list_id = p.int("orderListId")
    client = p.str("listClientOrderId")
    if list_id is None and client is None:
        raise ApiError(-1102, "Param 'listClientOrderId' or 'orderListId' must be sent, but both were empty/null!")
    lst, done = order_lists_of(ctx.engine).cancel(
        ctx.account_id, symbol, ctx.now_ms, list_id=list_id, client_list_id=client,  # type: ignore[arg-type]
        new_client_order_id=p.str("newClientOrderId"))
    return list_json(lst, [formats.order_cancel(o, cid, ctx.now_ms) for o, cid in done])


def op_query_list(ctx: Context, p: Params) -> Any:
    list_id = p.int("orderListId")
    client = p.str("origClientOrderId")
    if list_id is None and client is None:
        raise ApiError(-1102, "Param 'origClientOrderId' or 'orderListId' must be sent, but both were empty/null!")
    lst = order_lists_of(ctx.engine).find(ctx.account_id, list_id, client)  # type: ignore[arg-type]
    if lst is None:
        raise ApiError(-2013, "Order list does not exist.")
    return list_json(lst)


def op_open_lists(ctx: Context, p: Params) -> Any:
    return [list_json(lst) for lst in order_lists_of(ctx.engine).open_lists(ctx.account_id)]  # type: ignore[arg-type]


def _const(n: int) -> Any:
    return lambda _p: n


ORDER_LIST_OPERATIONS: dict[str, Operation] = {
    "orderList.place.oco": Operation("orderList.place.oco", op_place_oco, _const(1), signed=True, places_order=2),
    "orderList.place.oto": Operation("orderList.place.oto", op_place_oto, _const(1), signed=True, places_order=2),
    "orderList.cancel": Operation("orderList.cancel", op_cancel_list, _const(1), signed=True),
    "orderList.status": Operation("orderList.status", op_query_list, _const(4), signed=True),
    "openOrderLists.status": Operation("openOrderLists.status", op_open_lists, _const(6), signed=True),
}

ORDER_LIST_ROUTES: dict[tuple[str, str], Operation] = {
    ("POST", "/api/v3/orderList/oco"): ORDER_LIST_OPERATIONS["orderList.place.oco"],
    ("POST", "/api/v3/orderList/oto"): ORDER_LIST_OPERATIONS["orderList.place.oto"],
    ("DELETE", "/api/v3/orderList"): ORDER_LIST_OPERATIONS["orderList.cancel"],
    ("GET", "/api/v3/orderList"): ORDER_LIST_OPERATIONS["orderList.status"],
    ("GET", "/api/v3/openOrderList"): ORDER_LIST_OPERATIONS["openOrderLists.status"],
}
