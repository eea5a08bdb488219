"""Kraken's shapes of the engine's orders, trades and events (REST order info, WS v2 executions).

REST amounts are decimal strings; WebSocket v2 amounts are JSON numbers, written here with the
exact decimal text (``dumps_numbers``: a ``Decimal`` becomes a bare JSON number, never a float).
REST times are epoch seconds with a fraction; WS v2 times are RFC 3339 with microseconds.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from decimal import Decimal
from typing import Any

from ..model import ZERO, ExecutionReport, Fill, Order
from .names import PairNames

__all__ = ["STATUS", "TYPES_OUT", "order_info", "trade_info", "execution_entries", "order_entry",
           "trade_entry", "dumps_numbers", "rfc3339", "seconds", "describe"]

#: engine status -> REST order status
STATUS = {"NEW": "open", "PARTIALLY_FILLED": "open", "PENDING_NEW": "pending", "FILLED": "closed",
          "CANCELED": "canceled", "EXPIRED": "expired", "EXPIRED_IN_MATCH": "expired", "REJECTED": "canceled"}
#: engine status -> WS v2 order_status
WS_STATUS = {"NEW": "new", "PARTIALLY_FILLED": "partially_filled", "FILLED": "filled", "CANCELED": "canceled",
             "EXPIRED": "expired", "EXPIRED_IN_MATCH": "expired", "REJECTED": "canceled"}
#: engine order type -> Kraken ordertype (REST spelling; WS v2 uses the same words)
TYPES_OUT = {"LIMIT": "limit", "LIMIT_MAKER": "limit", "MARKET": "market", "STOP_LOSS": "stop-loss",
             "STOP_LOSS_LIMIT": "stop-loss-limit", "TAKE_PROFIT": "take-profit",
             "TAKE_PROFIT_LIMIT": "take-profit-limit"}

TYPES_STOP = frozenset({"STOP_LOSS", "TAKE_PROFIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
_NUMBER = re.compile(r'"\\u0000N:([-0-9.Ee+]+)"')


def _mark(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return "\u0000N:" + format(obj, "f")
    if isinstance(obj, dict):
        return {k: _mark(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_mark(v) for v in obj]
    return obj


def dumps_numbers(obj: Any) -> bytes:
    """Compact JSON with every ``Decimal`` written as a JSON number with its exact digits."""
    text = json.dumps(_mark(obj), separators=(",", ":"))
    return _NUMBER.sub(r"\1", text).encode()


#: the engine's client order id of an order placed without ``cl_ord_id`` starts with this
NO_CLIENT_ID = "\u0000"


def client_id(order: Order) -> str | None:
    """The order's ``cl_ord_id``, or None when it was placed without one."""
    cid = order.client_order_id
    return None if not cid or cid.startswith(NO_CLIENT_ID) else cid


def rfc3339(ms: int) -> str:
    t = _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{(ms % 1000) * 1000:06d}Z"


def seconds(ms: int) -> float:
    return ms / 1000


def _s(v: Decimal) -> str:
    return format(v.normalize() if v else ZERO, "f")


def _price_of(order: Order) -> Decimal:
    return order.stop_price if order.type in TYPES_STOP else order.price


def describe(order: Order, pair: PairNames) -> str:
    """``descr.order``: "buy 1.45 XBTUSD @ limit 27500.0"."""
    kind = TYPES_OUT.get(order.type, "limit")
    text = f"{order.side.lower()} {_s(order.orig_qty)} {pair.altname} @ {kind}"
    if order.type != "MARKET":
        text += f" {_s(_price_of(order))}"
    return text


def order_info(order: Order, pair: PairNames, userref: int | None, trades: list[str] | None) -> dict[str, Any]:
    """An order as OpenOrders / ClosedOrders / QueryOrders give it."""
    limit_types = ("STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
    out: dict[str, Any] = {
        "refid": None,
        "userref": userref or 0,
        "status": STATUS.get(order.status, "open"),
        "opentm": seconds(order.time),
        "starttm": 0,
        "expiretm": 0,
        "descr": {
            "pair": pair.altname,
            "type": order.side.lower(),
            "ordertype": TYPES_OUT.get(order.type, "limit"),
            "price": _s(_price_of(order)) if order.type != "MARKET" else "0",
            "price2": _s(order.price) if order.type in limit_types else "0",
            "leverage": "none",
            "order": describe(order, pair),
            "close": "",
        },
        "vol": f"{order.orig_qty:.8f}",
        "vol_exec": f"{order.executed_qty:.8f}",
        "cost": f"{order.cum_quote:.8f}",
        "fee": "0.00000000",
        "price": f"{(order.cum_quote / order.executed_qty if order.executed_qty else ZERO):.8f}",
        "stopprice": "0.00000000",
        "limitprice": "0.00000000",
        "misc": "",
        "oflags": "post,fciq" if order.type == "LIMIT_MAKER" else "fciq",
    }
    if client_id(order) is not None:
        out["cl_ord_id"] = order.client_order_id
    if order.is_done:
        out["closetm"] = seconds(order.update_time)
        out["reason"] = {"CANCELED": "User requested", "EXPIRED": "Insufficient liquidity"}.get(order.status)
    if trades is not None:
        out["trades"] = trades
    return out


def trade_info(fill: Fill, pair: PairNames, order_txid: str, order_type: str, fee_quote: Decimal) -> dict[str, Any]:
    """A trade as TradesHistory gives it (``fee`` in the quote currency)."""
    return {
        "ordertxid": order_txid,
        "postxid": "",
        "pair": pair.altname,
        "time": seconds(fill.time),
        "type": "buy" if fill.is_buyer else "sell",
        "ordertype": TYPES_OUT.get(order_type, "limit"),
        "price": f"{fill.price:.8f}",
        "cost": f"{fill.quote_qty:.8f}",
        "fee": f"{fee_quote:.8f}",
        "vol": f"{fill.qty:.8f}",
        "margin": "0.00000000",
        "misc": "",
        "trade_id": fill.trade_id,
        "maker": fill.is_maker,
    }


def order_entry(order: Order, pair: PairNames, txid: str, exec_type: str, ts: int,
                userref: int | None) -> dict[str, Any]:
    """The full executions entry of an order (snapshots, pending_new, new)."""
    out: dict[str, Any] = {
        "order_id": txid,
        "symbol": pair.symbol,
        "order_qty": order.orig_qty,
        "cum_cost": order.cum_quote,
        "time_in_force": order.time_in_force,
        "exec_type": exec_type,
        "side": order.side.lower(),
        "order_type": TYPES_OUT.get(order.type, "limit"),
        "order_userref": userref or 0,
        "limit_price_type": "static",
        "order_status": "pending_new" if exec_type == "pending_new" else WS_STATUS.get(order.status, "new"),
        "cum_qty": order.executed_qty,
        "timestamp": rfc3339(ts),
    }
    if order.type != "MARKET":
        out["limit_price"] = order.price if order.type not in TYPES_STOP else order.stop_price
    if order.type == "LIMIT_MAKER":
        out["post_only"] = True
    if client_id(order) is not None:
        out["cl_ord_id"] = order.client_order_id
    if order.executed_qty:
        out["avg_price"] = order.cum_quote / order.executed_qty
    return out


def trade_entry(order: Order, pair: PairNames, txid: str, fill_txid: str, trade_id: int, qty: Decimal,
                price: Decimal, fee: Decimal, fee_asset: str | None, is_maker: bool, ts: int,
                userref: int | None, status: str) -> dict[str, Any]:
    """A ``trade`` entry; ``exec_id`` is the trade's txid (as the REST trade list keys it)."""
    out: dict[str, Any] = {
        "order_id": txid,
        "exec_id": fill_txid,
        "exec_type": "trade",
        "trade_id": trade_id,
        "symbol": pair.symbol,
        "side": order.side.lower(),
        "last_qty": qty,
        "last_price": price,
        "liquidity_ind": "m" if is_maker else "t",
        "cost": qty * price,
        "order_userref": userref or 0,
        "order_status": status,
        "order_type": TYPES_OUT.get(order.type, "limit"),
        "fees": [{"asset": fee_asset or pair.spec.quote_asset, "qty": fee}],
        "fee_usd_equiv": ZERO,
        "cum_qty": order.executed_qty,
        "cum_cost": order.cum_quote,
        "timestamp": rfc3339(ts),
    }
    if client_id(order) is not None:
        out["cl_ord_id"] = order.client_order_id
    return out


def _end_entry(order: Order, pair: PairNames, txid: str, exec_type: str, ts: int, exec_id: str,
               userref: int | None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "order_id": txid,
        "exec_id": exec_id,
        "exec_type": exec_type,
        "symbol": pair.symbol,
        "order_status": exec_type if exec_type != "amended" else WS_STATUS.get(order.status, "new"),
        "order_userref": userref or 0,
        "cum_qty": order.executed_qty,
        "cum_cost": order.cum_quote,
        "timestamp": rfc3339(ts),
        **extra,
    }
    if order.executed_qty:
        out["avg_price"] = order.cum_quote / order.executed_qty
    if client_id(order) is not None:
        out["cl_ord_id"] = order.client_order_id
    return out


def execution_entries(ev: ExecutionReport, pair: PairNames, txid: str, fill_txid: str | None,
                      userref: int | None) -> list[dict[str, Any]]:
    """The executions entries one engine report becomes (a trade that completes the order is two)."""
    o, ts, exec_id = ev.order, ev.transact_time, f"E{ev.execution_id}"
    if ev.exec_type == "NEW":
        return [order_entry(o, pair, txid, "pending_new", ts, userref), order_entry(o, pair, txid, "new", ts, userref)
                ] if not o.executed_qty else [order_entry(o, pair, txid, "new", ts, userref)]
    if ev.exec_type == "TRADE":
        out = [trade_entry(o, pair, txid, fill_txid or exec_id, ev.trade_id, ev.last_qty, ev.last_price,
                           ev.commission, ev.commission_asset,
                           ev.is_maker, ts, userref, "partially_filled")]
        if o.status == "FILLED":
            out.append(_end_entry(o, pair, txid, "filled", ts, exec_id + "F", userref))
        return out
    if ev.exec_type == "CANCELED":
        return [_end_entry(o, pair, txid, "canceled", ts, exec_id, userref, cancel_reason="User requested")]
    if ev.exec_type == "EXPIRED":
        return [_end_entry(o, pair, txid, "expired", ts, exec_id, userref)]
    if ev.exec_type == "REPLACED":
        out = [_end_entry(o, pair, txid, "amended", ts, exec_id, userref, order_qty=o.orig_qty,
                          reason="User requested", amended=True)]
        if o.status == "FILLED":
            out.append(_end_entry(o, pair, txid, "filled", ts, exec_id + "F", userref))
        return out
    return []
