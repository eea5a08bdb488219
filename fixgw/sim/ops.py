"""The venue's operations, shared by the REST API and the WebSocket API.

Each operation reads string parameters (``Params``), calls the matching engine and returns the JSON
answer; failures are ``ApiError``. Weights and security follow the venue's endpoint table.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterable

from . import formats
from .engine import MatchingEngine
from .errors import ApiError, bad_symbol, illegal_chars, mandatory, new_order_rejected
from .instruments import fmt
from .mdops import klines_weight, op_avg_price, op_book_ticker, op_klines, op_ticker_24hr, ticker_24hr_weight
from .model import NewOrder

__all__ = ["Params", "Context", "Operation", "OPERATIONS", "REST_ROUTES", "WS_METHODS", "parse_new_order"]

_DECIMAL = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_INT = re.compile(r"^-?[0-9]{1,20}$")
_EIGHT_PLACES = Decimal("0.00000001")
_SIDES = ("BUY", "SELL")
_TIFS = ("GTC", "IOC", "FOK")
_TYPES = ("LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER")
_ICEBERG_TYPES = ("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")  # icebergQty goes with these
_STP = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH")
_TIF_TYPES = ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")  # these need timeInForce (and a price)
_STOP_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")  # these need stopPrice


class Params:
    """Request parameters in the order sent; a repeated name is -1101."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._d: dict[str, str] = {}
        for k, v in items:
            if k in self._d:
                raise ApiError(-1101, "Duplicate values for a parameter detected.")
            self._d[k] = v

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> "Params":
        """The parameters of a WebSocket API request: a JSON object's names are unique already.

        Strings stay as sent; ``true``/``false`` become ``"true"``/``"false"``, arrays and objects
        compact JSON, anything else ``str()``.
        """
        params = cls.__new__(cls)
        # text and whole numbers (timestamp, recvWindow: most values) converted without a call
        params._d = {k: v if type(v) is str else str(v) if type(v) is int else _json_text(v) for k, v in raw.items()}
        return params

    def __contains__(self, name: str) -> bool:
        return name in self._d and self._d[name] != ""

    def raw(self) -> dict[str, str]:
        return dict(self._d)

    def str(self, name: str, required: bool = False) -> str | None:
        v = self._d.get(name)
        if v is None or v == "":
            if required:
                raise mandatory(name)
            return None
        return v

    def dec(self, name: str, required: bool = False) -> Decimal | None:
        v = self.str(name, required)
        if v is None:
            return None
        m = _DECIMAL.match(v)
        if m is None:
            raise illegal_chars(name)
        d = Decimal(v)  # the pattern admits only plain decimals
        fraction = m.group(2)  # "." and up to 20 digits: more than 8 must be zeros
        if fraction is not None and len(fraction) > 9 and d != d.quantize(_EIGHT_PLACES):
            raise ApiError(-1111, "Precision is over the maximum defined for this asset.")
        return d

    def int(self, name: str, required: bool = False) -> int | None:
        v = self.str(name, required)
        if v is None:
            return None
        if not _INT.match(v):
            raise illegal_chars(name, "^-?[0-9]{1,20}$")
        return int(v)

    def bool(self, name: str) -> bool:
        v = self.str(name)
        if v is None:
            return False
        if v.lower() not in ("true", "false"):
            raise ApiError(-1130, f"Data sent for parameter '{name}' is not valid.")
        return v.lower() == "true"


def _json_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


@dataclass(slots=True)
class Context:
    """Who is asking and when (fields in this order: the WebSocket API passes them by position)."""

    engine: MatchingEngine
    account_id: str | None
    now_ms: int
    ws_api: bool = False
    rate_limits: list[dict[str, Any]] = field(default_factory=list)
    market: Any = None  # the MarketFeed (stale-snapshot fault), when served by a running simulator


@dataclass(frozen=True)
class Operation:
    name: str
    fn: Callable[[Context, Params], Any]
    weight: Callable[[Params], int]
    signed: bool = False
    places_order: int = 0  # the orders it places (counted against the unfilled-order limit); an order list 2


def _const(n: int) -> Callable[[Params], int]:
    return lambda _p: n


# == market data ==================================================================================
def op_ping(ctx: Context, p: Params) -> Any:
    return {}


def op_time(ctx: Context, p: Params) -> Any:
    return {"serverTime": ctx.now_ms}


def _symbols_param(ctx: Context, p: Params) -> list[str] | None:
    engine = ctx.engine
    if "symbol" in p:
        s = p.str("symbol")
        engine.spec(s)  # type: ignore[arg-type]
        return [s]  # type: ignore[list-item]
    if "symbols" in p:
        raw = p.str("symbols") or ""
        try:
            names = [str(x) for x in json.loads(raw)]
        except ValueError:
            raise ApiError(-1100, "Illegal characters found in parameter 'symbols'.") from None
        for s in names:
            engine.spec(s)
        return names
    return None


def op_exchange_info(ctx: Context, p: Params) -> Any:
    names = _symbols_param(ctx, p) or sorted(ctx.engine.instruments)
    return {
        "timezone": "UTC",
        "serverTime": ctx.now_ms,
        "rateLimits": ctx.rate_limits,
        "exchangeFilters": [],
        "symbols": [ctx.engine.instruments[s].symbol_json() for s in names],
        "sors": [],
    }


def _depth_limit(p: Params) -> int:
    limit = p.int("limit") or 100
    return max(1, min(limit, 5000))


def _depth_weight(p: Params) -> int:
    try:
        limit = _depth_limit(p)
    except ApiError:
        return 5
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def op_depth(ctx: Context, p: Params) -> Any:
    symbol = p.str("symbol", True)
    ctx.engine.spec(symbol)  # type: ignore[arg-type]
    limit = _depth_limit(p)
    if ctx.market is not None:
        stale = ctx.market.stale_snapshot(symbol, limit)
        if stale is not None:
            return stale
    return formats.depth_snapshot(ctx.engine, symbol, limit)  # type: ignore[arg-type]


def op_trades(ctx: Context, p: Params) -> Any:
    symbol = p.str("symbol", True)
    ctx.engine.spec(symbol)  # type: ignore[arg-type]
    limit = max(1, min(p.int("limit") or 500, 1000))
    trades = list(ctx.engine.trades[symbol])[-limit:]  # type: ignore[index]
    return [
        {
            "id": t.trade_id,
            "price": fmt(t.price),
            "qty": fmt(t.qty),
            "quoteQty": fmt(t.price * t.qty),
            "time": t.time,
            "isBuyerMaker": t.buyer_is_maker,
            "isBestMatch": True,
        }
        for t in trades
    ]


def op_ticker_price(ctx: Context, p: Params) -> Any:
    names = _symbols_param(ctx, p)
    single = "symbol" in p
    out = []
    for s in names or sorted(ctx.engine.instruments):
        price = ctx.engine.reference_price(s)
        out.append({"symbol": s, "price": fmt(price)})
    return out[0] if single else out


def _ticker_weight(p: Params) -> int:
    return 2 if "symbol" in p else 4


# == orders =======================================================================================
def parse_new_order(p: Params, engine: MatchingEngine) -> tuple[NewOrder, str]:
    """Check the syntax of a new order; returns it and its response type.

    Runs for every order: the parameters are read from the dict directly (``get(name) or None`` is
    ``p.str(name)``: every value is text, and only the empty text is false), in the order of the checks.
    """
    get = p._d.get
    symbol = get("symbol") or None
    if symbol is None:
        raise mandatory("symbol")
    side = get("side") or None
    if side is None:
        raise mandatory("side")
    otype = get("type") or None
    if otype is None:
        raise mandatory("type")
    if symbol not in engine.instruments:
        raise bad_symbol()
    if side not in _SIDES:
        raise ApiError(-1117, "Invalid side.")
    if otype not in _TYPES:
        raise ApiError(-1116, "Invalid orderType.")
    tif = get("timeInForce") or None
    if tif is not None and tif not in _TIFS:
        raise ApiError(-1115, "Invalid timeInForce.")
    needs_tif = otype in _TIF_TYPES
    needs_price = needs_tif or otype == "LIMIT_MAKER"
    needs_stop = otype in _STOP_TYPES
    if get("trailingDelta"):
        raise new_order_rejected("Trailing stop orders are not supported for this symbol.")
    if needs_tif and tif is None:
        raise mandatory("timeInForce")
    if not needs_tif and tif is not None:
        raise ApiError(-1106, "Parameter 'timeInForce' sent when not required.")
    if otype == "MARKET":
        has_qty, has_quote = bool(get("quantity")), bool(get("quoteOrderQty"))
        if has_qty and has_quote:
            raise ApiError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
        if not has_qty and not has_quote:
            raise ApiError(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")
        quantity = p.dec("quantity")
        quote_qty = p.dec("quoteOrderQty")
    else:
        if get("quoteOrderQty"):
            raise ApiError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
        quantity = p.dec("quantity", True)
        quote_qty = None
    iceberg = p.dec("icebergQty") if get("icebergQty") else None
    if iceberg is not None:
        if not engine.spec(symbol).iceberg_allowed:
            raise new_order_rejected("Iceberg orders are not supported for this symbol.")
        if otype not in _ICEBERG_TYPES or (tif or "GTC") != "GTC":
            raise new_order_rejected("Unsupported order combination")
        if iceberg <= 0:
            raise ApiError(-1013, "Invalid quantity.")
        if quantity is not None and iceberg >= quantity:
            raise new_order_rejected("IcebergQty exceeds QTY.")
    price = p.dec("price", True) if needs_price else None
    if not needs_price and get("price"):
        raise ApiError(-1106, "Parameter 'price' sent when not required.")
    stop = p.dec("stopPrice", True) if needs_stop else None
    if not needs_stop and get("stopPrice"):
        raise ApiError(-1106, "Parameter 'stopPrice' sent when not required.")
    if quantity is not None and quantity <= 0:
        raise ApiError(-1013, "Invalid quantity.")
    if quote_qty is not None and quote_qty <= 0:
        raise ApiError(-1013, "Invalid quantity.")
    if price is not None and price <= 0:
        raise ApiError(-1013, "Invalid price.")
    client_id = get("newClientOrderId") or None
    if client_id is not None and not _CLIENT_ID.match(client_id):
        raise illegal_chars("newClientOrderId", "^[\\.A-Z\\:/a-z0-9_-]{1,36}$")
    stp = get("selfTradePreventionMode") or "NONE"
    if stp not in _STP:
        raise ApiError(-1130, "Data sent for parameter 'selfTradePreventionMode' is not valid.")
    resp_type = get("newOrderRespType") or ("FULL" if otype in ("LIMIT", "MARKET") else "ACK")
    if resp_type not in ("ACK", "RESULT", "FULL"):
        raise ApiError(-1130, "Data sent for parameter 'newOrderRespType' is not valid.")
    strategy_type = p.int("strategyType") if get("strategyType") else None
    if strategy_type is not None and strategy_type < 1000000:
        raise ApiError(-1134, "`strategyType` was less than 1000000.")
    req = NewOrder(
        symbol,
        side,
        otype,
        quantity,
        price,
        tif,
        quote_qty,
        stop,
        client_id,
        stp,
        p.int("strategyId") if get("strategyId") else None,
        strategy_type,
        iceberg,
    )
    return req, resp_type


def _account(ctx: Context) -> str:
    assert ctx.account_id is not None
    return ctx.account_id


def op_new_order(ctx: Context, p: Params) -> Any:
    req, resp_type = parse_new_order(p, ctx.engine)
    result = ctx.engine.place(_account(ctx), req, ctx.now_ms)
    order = result.order
    if resp_type == "ACK":
        return formats.order_ack(order)
    if resp_type == "RESULT":
        return formats.order_result(order)
    return formats.order_full(order, result.fills)


def op_test_order(ctx: Context, p: Params) -> Any:
    req, _ = parse_new_order(p, ctx.engine)
    ctx.engine.validate(_account(ctx), req)
    if p.bool("computeCommissionRates"):
        m, t = fmt(ctx.engine.maker_commission), fmt(ctx.engine.taker_commission)
        return {
            "standardCommissionForOrder": {"maker": m, "taker": t},
            "taxCommissionForOrder": {"maker": fmt(None), "taker": fmt(None)},
            "discount": {"enabledForAccount": False, "enabledForSymbol": False, "discountAsset": "BNB",
                         "discount": fmt(None)},
        }
    return {}


def _test_weight(p: Params) -> int:
    return 20 if p.str("computeCommissionRates") == "true" else 1


def _order_ref(p: Params, id_name: str = "orderId", client_name: str = "origClientOrderId") -> tuple[int | None, str | None]:
    order_id = p.int(id_name)
    client_id = p.str(client_name)
    if order_id is None and client_id is None:
        raise ApiError(-1102, f"Param '{client_name}' or '{id_name}' must be sent, but both were empty/null!")
    return order_id, client_id


def _symbol(ctx: Context, p: Params) -> str:
    symbol = p.str("symbol", True)
    ctx.engine.spec(symbol)  # type: ignore[arg-type]
    return symbol  # type: ignore[return-value]


def op_cancel(ctx: Context, p: Params) -> Any:
    symbol = _symbol(ctx, p)
    order_id, client_id = _order_ref(p)
    restrictions = p.str("cancelRestrictions")
    if restrictions is not None and restrictions not in ("ONLY_NEW", "ONLY_PARTIALLY_FILLED"):
        raise ApiError(-1145, "Invalid cancelRestrictions")
    new_id = p.str("newClientOrderId")
    order, cancel_id = ctx.engine.cancel(
        _account(ctx), symbol, ctx.now_ms, order_id=order_id, orig_client_order_id=client_id,
        new_client_order_id=new_id, cancel_restrictions=restrictions,
    )
    return formats.order_cancel(order, cancel_id, ctx.now_ms)


def op_query_order(ctx: Context, p: Params) -> Any:
    symbol = _symbol(ctx, p)
    order_id, client_id = _order_ref(p)
    order = ctx.engine.find_order(_account(ctx), symbol, order_id, client_id)
    if order is None:
        raise ApiError(-2013, "Order does not exist.")
    return formats.order_query(order)


def op_open_orders(ctx: Context, p: Params) -> Any:
    symbol = p.str("symbol")
    orders = ctx.engine.open_orders(_account(ctx), symbol)
    return [formats.order_query(o) for o in sorted(orders, key=lambda o: (o.symbol, o.order_id))]


def _open_orders_weight(p: Params) -> int:
    return 6 if "symbol" in p else 80


def op_cancel_open_orders(ctx: Context, p: Params) -> Any:
    symbol = _symbol(ctx, p)
    done = ctx.engine.cancel_all(_account(ctx), symbol, ctx.now_ms)
    return [formats.order_cancel(o, cid, ctx.now_ms) for o, cid in done]


def op_cancel_replace(ctx: Context, p: Params) -> Any:
    symbol = _symbol(ctx, p)
    mode = p.str("cancelReplaceMode", True)
    if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
        raise ApiError(-1130, "Data sent for parameter 'cancelReplaceMode' is not valid.")
    if not ctx.engine.instruments[symbol].cancel_replace_allowed:
        raise new_order_rejected("Order cancel-replace is not supported for this symbol.")
    cancel_id, cancel_client = _order_ref(p, "cancelOrderId", "cancelOrigClientOrderId")
    restrictions = p.str("cancelRestrictions")
    if restrictions is not None and restrictions not in ("ONLY_NEW", "ONLY_PARTIALLY_FILLED"):
        raise ApiError(-1145, "Invalid cancelRestrictions")
    req, resp_type = parse_new_order(p, ctx.engine)  # syntax errors fail the whole request
    account = _account(ctx)
    cancel_result: Any
    try:
        order, cid = ctx.engine.cancel(
            account, symbol, ctx.now_ms, order_id=cancel_id, orig_client_order_id=cancel_client,
            new_client_order_id=p.str("cancelNewClientOrderId"), cancel_restrictions=restrictions,
        )
        cancel_ok, cancel_result = True, formats.order_cancel(order, cid, ctx.now_ms)
    except ApiError as e:
        cancel_ok, cancel_result = False, {"code": e.code, "msg": e.msg}
    new_ok, new_result = False, None
    if cancel_ok or mode == "ALLOW_FAILURE":
        try:
            placed = ctx.engine.place(account, req, ctx.now_ms)
            new_ok = True
            if resp_type == "ACK":
                new_result = formats.order_ack(placed.order)
            elif resp_type == "RESULT":
                new_result = formats.order_result(placed.order)
            else:
                new_result = formats.order_full(placed.order, placed.fills)
        except ApiError as e:
            new_result = {"code": e.code, "msg": e.msg}
    body = {
        "cancelResult": "SUCCESS" if cancel_ok else "FAILURE",
        "newOrderResult": "SUCCESS" if new_ok else ("FAILURE" if (cancel_ok or mode == "ALLOW_FAILURE") else "NOT_ATTEMPTED"),
        "cancelResponse": cancel_result,
        "newOrderResponse": new_result,
    }
    if cancel_ok and new_ok:
        return body
    if cancel_ok or new_ok:
        raise ApiError(-2021, "Order cancel-replace partially failed.", status=409, data=body)
    raise ApiError(-2022, "Order cancel-replace failed.", status=400, data=body)


def op_amend(ctx: Context, p: Params) -> Any:
    symbol = _symbol(ctx, p)
    order_id, client_id = _order_ref(p)
    new_qty = p.dec("newQty", True)
    assert new_qty is not None
    before = ctx.engine.find_order(_account(ctx), symbol, order_id, client_id)
    orig_client = before.client_order_id if before else ""
    order, exec_id = ctx.engine.amend_keep_priority(
        _account(ctx), symbol, new_qty, ctx.now_ms, order_id=order_id, orig_client_order_id=client_id,
        new_client_order_id=p.str("newClientOrderId"),
    )
    return formats.order_amended(order, orig_client, exec_id, ctx.now_ms)


def op_account(ctx: Context, p: Params) -> Any:
    return formats.account_json(ctx.engine, _account(ctx), ctx.now_ms, p.bool("omitZeroBalances"))


def op_my_trades(ctx: Context, p: Params) -> Any:
    symbol = _symbol(ctx, p)
    order_id = p.int("orderId")
    start, end, from_id = p.int("startTime"), p.int("endTime"), p.int("fromId")
    limit = max(1, min(p.int("limit") or 500, 1000))
    out = []
    for f in ctx.engine.fills.get(_account(ctx), []):
        if f.symbol != symbol or (order_id is not None and f.order_id != order_id):
            continue
        if (start is not None and f.time < start) or (end is not None and f.time > end):
            continue
        if from_id is not None and f.trade_id < from_id:
            continue
        out.append(formats.my_trade(f))
    if from_id is None and start is None:
        out = out[-limit:]
    return out[:limit]


def _my_trades_weight(p: Params) -> int:
    return 5 if "orderId" in p else 20


OPERATIONS: dict[str, Operation] = {
    "ping": Operation("ping", op_ping, _const(1)),
    "time": Operation("time", op_time, _const(1)),
    "exchangeInfo": Operation("exchangeInfo", op_exchange_info, _const(20)),
    "depth": Operation("depth", op_depth, _depth_weight),
    "trades": Operation("trades", op_trades, _const(25)),
    "ticker.price": Operation("ticker.price", op_ticker_price, _ticker_weight),
    "ticker.book": Operation("ticker.book", op_book_ticker, _ticker_weight),
    "ticker.24hr": Operation("ticker.24hr", op_ticker_24hr, ticker_24hr_weight),
    "klines": Operation("klines", op_klines, klines_weight),
    "avgPrice": Operation("avgPrice", op_avg_price, _const(2)),
    "order.place": Operation("order.place", op_new_order, _const(1), signed=True, places_order=True),
    "order.test": Operation("order.test", op_test_order, _test_weight, signed=True),
    "order.cancel": Operation("order.cancel", op_cancel, _const(1), signed=True),
    "order.status": Operation("order.status", op_query_order, _const(4), signed=True),
    "openOrders.status": Operation("openOrders.status", op_open_orders, _open_orders_weight, signed=True),
    "openOrders.cancelAll": Operation("openOrders.cancelAll", op_cancel_open_orders, _const(1), signed=True),
    "order.cancelReplace": Operation(
        "order.cancelReplace", op_cancel_replace, _const(1), signed=True, places_order=True
    ),
    "order.amend.keepPriority": Operation("order.amend.keepPriority", op_amend, _const(4), signed=True),
    "account.status": Operation("account.status", op_account, _const(20), signed=True),
    "myTrades": Operation("myTrades", op_my_trades, _my_trades_weight, signed=True),
}

REST_ROUTES: dict[tuple[str, str], Operation] = {
    ("GET", "/api/v3/ping"): OPERATIONS["ping"],
    ("GET", "/api/v3/time"): OPERATIONS["time"],
    ("GET", "/api/v3/exchangeInfo"): OPERATIONS["exchangeInfo"],
    ("GET", "/api/v3/depth"): OPERATIONS["depth"],
    ("GET", "/api/v3/trades"): OPERATIONS["trades"],
    ("GET", "/api/v3/ticker/price"): OPERATIONS["ticker.price"],
    ("GET", "/api/v3/ticker/bookTicker"): OPERATIONS["ticker.book"],
    ("GET", "/api/v3/ticker/24hr"): OPERATIONS["ticker.24hr"],
    ("GET", "/api/v3/klines"): OPERATIONS["klines"],
    ("GET", "/api/v3/uiKlines"): OPERATIONS["klines"],
    ("GET", "/api/v3/avgPrice"): OPERATIONS["avgPrice"],
    ("POST", "/api/v3/order"): OPERATIONS["order.place"],
    ("POST", "/api/v3/order/test"): OPERATIONS["order.test"],
    ("DELETE", "/api/v3/order"): OPERATIONS["order.cancel"],
    ("GET", "/api/v3/order"): OPERATIONS["order.status"],
    ("GET", "/api/v3/openOrders"): OPERATIONS["openOrders.status"],
    ("DELETE", "/api/v3/openOrders"): OPERATIONS["openOrders.cancelAll"],
    ("POST", "/api/v3/order/cancelReplace"): OPERATIONS["order.cancelReplace"],
    ("PUT", "/api/v3/order/amend/keepPriority"): OPERATIONS["order.amend.keepPriority"],
    ("GET", "/api/v3/account"): OPERATIONS["account.status"],
    ("GET", "/api/v3/myTrades"): OPERATIONS["myTrades"],
}

WS_METHODS: dict[str, Operation] = {
    name: op for name, op in OPERATIONS.items() if name not in ("trades", "myTrades")
} | {
    "trades.recent": OPERATIONS["trades"],
    "myTrades": OPERATIONS["myTrades"],
}

# order lists (OCO, OTO): their own module, on the same engine
from .orderlist_ops import ORDER_LIST_OPERATIONS, ORDER_LIST_ROUTES  # noqa: E402  (needs the names above)

OPERATIONS.update(ORDER_LIST_OPERATIONS)
REST_ROUTES.update(ORDER_LIST_ROUTES)
WS_METHODS.update(ORDER_LIST_OPERATIONS)
