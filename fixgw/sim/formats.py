"""JSON shapes of the venue: order responses, queries, user-data and market-data events.

Amounts are strings with eight decimals, as Binance sends them; times are epoch milliseconds.
"""

from __future__ import annotations

import zlib
from typing import Any, Callable

from .engine import MatchingEngine
from .instruments import fmt
from .model import (
    STOP_TYPES,
    ZERO,
    AccountPosition,
    BalanceUpdate,
    ExecutionReport,
    Fill,
    Order,
)

_ZERO_TEXT = fmt(ZERO)  # what ``fmt`` gives the engine's zero

__all__ = [
    "order_ack",
    "order_result",
    "order_full",
    "order_query",
    "order_cancel",
    "order_amended",
    "execution_report",
    "account_position",
    "balance_update",
    "user_event",
    "USER_EVENT_FORMATS",
    "my_trade",
    "account_json",
    "depth_snapshot",
]


def order_ack(order: Order) -> dict[str, Any]:
    return {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": order.order_list_id,
        "clientOrderId": order.client_order_id,
        "transactTime": order.time,
    }


def _order_terms(order: Order) -> dict[str, Any]:
    """The price, quantities, status and kind of an order, as every order answer spells them."""
    return {
        "price": fmt(order.price),
        "origQty": fmt(order.orig_qty),
        "executedQty": fmt(order.executed_qty),
        "origQuoteOrderQty": fmt(order.quote_order_qty),
        "cummulativeQuoteQty": fmt(order.cum_quote),
        "status": order.status,
        "timeInForce": order.time_in_force,
        "type": order.type,
        "side": order.side,
    }


def _conditional(order: Order, out: dict[str, Any]) -> dict[str, Any]:
    if order.type in STOP_TYPES:
        out["stopPrice"] = fmt(order.stop_price)
    if order.iceberg_qty:
        out["icebergQty"] = fmt(order.iceberg_qty)
    if order.strategy_id is not None:
        out["strategyId"] = order.strategy_id
    if order.strategy_type is not None:
        out["strategyType"] = order.strategy_type
    if order.prevented_qty:
        out["preventedQuantity"] = fmt(order.prevented_qty)
    return out


def order_result(order: Order) -> dict[str, Any]:
    out = {  # order_ack's fields, then _order_terms's, in one literal (the answer to every order)
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": order.order_list_id,
        "clientOrderId": order.client_order_id,
        "transactTime": order.time,
        "price": fmt(order.price),
        "origQty": fmt(order.orig_qty),
        "executedQty": fmt(order.executed_qty),
        "origQuoteOrderQty": fmt(order.quote_order_qty),
        "cummulativeQuoteQty": fmt(order.cum_quote),
        "status": order.status,
        "timeInForce": order.time_in_force,
        "type": order.type,
        "side": order.side,
    }
    if order.working_time >= 0:
        out["workingTime"] = order.working_time
    out["selfTradePreventionMode"] = order.stp_mode
    return _conditional(order, out)


def order_full(order: Order, fills: list[Fill]) -> dict[str, Any]:
    out = order_result(order)
    out["fills"] = [
        {
            "price": fmt(f.price),
            "qty": fmt(f.qty),
            "commission": fmt(f.commission),
            "commissionAsset": f.commission_asset,
            "tradeId": f.trade_id,
        }
        for f in fills
    ]
    return out


def order_query(order: Order) -> dict[str, Any]:
    return {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": order.order_list_id,
        "clientOrderId": order.client_order_id,
        "price": fmt(order.price),
        "origQty": fmt(order.orig_qty),
        "executedQty": fmt(order.executed_qty),
        "cummulativeQuoteQty": fmt(order.cum_quote),
        "status": order.status,
        "timeInForce": order.time_in_force,
        "type": order.type,
        "side": order.side,
        "stopPrice": fmt(order.stop_price),
        "icebergQty": fmt(order.iceberg_qty),
        "time": order.time,
        "updateTime": order.update_time,
        "isWorking": order.is_working,
        "workingTime": order.working_time,
        "origQuoteOrderQty": fmt(order.quote_order_qty),
        "selfTradePreventionMode": order.stp_mode,
    }


def order_cancel(order: Order, cancel_client_id: str, transact_time: int) -> dict[str, Any]:
    out = {
        "symbol": order.symbol,
        "origClientOrderId": order.client_order_id,
        "orderId": order.order_id,
        "orderListId": order.order_list_id,
        "clientOrderId": cancel_client_id,
        "transactTime": transact_time,
        **_order_terms(order),
        "selfTradePreventionMode": order.stp_mode,
    }
    return _conditional(order, out)


def order_amended(order: Order, orig_client_id: str, execution_id: int, transact_time: int) -> dict[str, Any]:
    """The amend-keep-priority answer; note its own field names (qty, cumulativeQuoteQty)."""
    amended = {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": order.order_list_id,
        "origClientOrderId": orig_client_id,
        "clientOrderId": order.client_order_id,
        "price": fmt(order.price),
        "qty": fmt(order.orig_qty),
        "executedQty": fmt(order.executed_qty),
        "preventedQty": fmt(order.prevented_qty),
        "quoteOrderQty": fmt(order.quote_order_qty),
        "cumulativeQuoteQty": fmt(order.cum_quote),
        "status": order.status,
        "timeInForce": order.time_in_force,
        "type": order.type,
        "side": order.side,
    }
    if order.working_time >= 0:
        amended["workingTime"] = order.working_time
    amended["selfTradePreventionMode"] = order.stp_mode
    return {"transactTime": transact_time, "executionId": execution_id, "amendedOrder": amended}


def execution_report(ev: ExecutionReport) -> dict[str, Any]:
    o = ev.order
    # two or three per order: amounts still at the engine's zero (most of them) skip the formatter
    last_qty, last_price = ev.last_qty, ev.last_price
    out: dict[str, Any] = {
        "e": "executionReport",
        "E": ev.event_time,
        "s": o.symbol,
        "c": ev.client_order_id,
        "S": o.side,
        "o": o.type,
        "f": o.time_in_force,
        "q": fmt(o.orig_qty),
        "p": fmt(o.price),
        "P": _ZERO_TEXT if o.stop_price is ZERO else fmt(o.stop_price),
        "F": _ZERO_TEXT if o.iceberg_qty is ZERO else fmt(o.iceberg_qty),
        "g": o.order_list_id,
        "C": ev.orig_client_order_id,
        "x": ev.exec_type,
        "X": o.status,
        "r": ev.reject_reason,
        "i": o.order_id,
        "l": _ZERO_TEXT if last_qty is ZERO else fmt(last_qty),
        "z": _ZERO_TEXT if o.executed_qty is ZERO else fmt(o.executed_qty),
        "L": _ZERO_TEXT if last_price is ZERO else fmt(last_price),
        "n": fmt(ev.commission) if ev.commission_asset else "0",
        "N": ev.commission_asset,
        "T": ev.transact_time,
        "t": ev.trade_id,
        "I": ev.execution_id,
        "w": o.is_working,
        "m": ev.is_maker,
        "M": ev.trade_id >= 0,
        "O": o.time,
        "Z": _ZERO_TEXT if o.cum_quote is ZERO else fmt(o.cum_quote),
        # 0 * 0 is a positive zero: the same text
        "Y": _ZERO_TEXT if last_qty is ZERO and last_price is ZERO else fmt(last_qty * last_price),
        "Q": _ZERO_TEXT if o.quote_order_qty is ZERO else fmt(o.quote_order_qty),
    }
    if o.working_time >= 0:
        out["W"] = o.working_time
    out["V"] = o.stp_mode
    if o.strategy_id is not None:
        out["j"] = o.strategy_id
    if o.strategy_type is not None:
        out["J"] = o.strategy_type
    if o.prevented_qty:
        out["A"] = fmt(o.prevented_qty)
    if ev.exec_type == "EXPIRED" and o.expiry_reason:
        out["eR"] = o.expiry_reason
    return out


def account_position(ev: AccountPosition) -> dict[str, Any]:
    return {
        "e": "outboundAccountPosition",
        "E": ev.event_time,
        "u": ev.event_time,
        "B": [{"a": a, "f": fmt(free), "l": fmt(locked)} for a, free, locked in ev.balances],
    }


def balance_update(ev: BalanceUpdate) -> dict[str, Any]:
    return {"e": "balanceUpdate", "E": ev.event_time, "a": ev.asset, "d": fmt(ev.delta), "T": ev.event_time}


def user_event(ev: object) -> dict[str, Any] | None:
    """The user-data payload of an engine event, or None when it is not a user-data event."""
    if isinstance(ev, ExecutionReport):
        return execution_report(ev)
    if isinstance(ev, AccountPosition):
        return account_position(ev)
    if isinstance(ev, BalanceUpdate):
        return balance_update(ev)
    return None


USER_EVENT_FORMATS: dict[type, Callable[[Any], dict[str, Any]]] = {
    ExecutionReport: execution_report,
    AccountPosition: account_position,
    BalanceUpdate: balance_update,
}


def depth_snapshot(engine: MatchingEngine, symbol: str, limit: int) -> dict[str, Any]:
    book = engine.books[symbol]
    return {
        "lastUpdateId": book.update_id,
        "bids": [[fmt(p), fmt(q)] for p, q in book.levels("BUY", limit)],
        "asks": [[fmt(p), fmt(q)] for p, q in book.levels("SELL", limit)],
    }


def my_trade(f: Fill) -> dict[str, Any]:
    return {
        "symbol": f.symbol,
        "id": f.trade_id,
        "orderId": f.order_id,
        "orderListId": f.order_list_id,
        "price": fmt(f.price),
        "qty": fmt(f.qty),
        "quoteQty": fmt(f.quote_qty),
        "commission": fmt(f.commission),
        "commissionAsset": f.commission_asset,
        "time": f.time,
        "isBuyer": f.is_buyer,
        "isMaker": f.is_maker,
        "isBestMatch": True,
    }


def account_json(engine: MatchingEngine, account_id: str, now_ms: int, omit_zero: bool) -> dict[str, Any]:
    acct = engine.accounts[account_id]
    rate_m = engine.maker_commission
    rate_t = engine.taker_commission
    balances = []
    for asset in sorted(acct.balances):
        free, locked = acct.balances[asset]
        if omit_zero and free == 0 and locked == 0:
            continue
        balances.append({"asset": asset, "free": fmt(free), "locked": fmt(locked)})
    return {
        "makerCommission": int(rate_m * 10000),
        "takerCommission": int(rate_t * 10000),
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {"maker": fmt(rate_m), "taker": fmt(rate_t), "buyer": fmt(None), "seller": fmt(None)},
        "canTrade": True,
        "canWithdraw": False,
        "canDeposit": False,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": now_ms,
        "accountType": "SPOT",
        "balances": balances,
        "permissions": ["SPOT"],
        "uid": zlib.crc32(account_id.encode()),
    }
