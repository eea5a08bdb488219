"""Builders shared by the order tests: orders in a given status and one sample event per type."""

from __future__ import annotations

from decimal import Decimal

from fixgw.orders import (
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderExpired,
    OrderFilled,
    OrderLegEnded,
    OrderPendingCancel,
    OrderPendingReplace,
    OrderRejected,
    OrderReplaced,
    OrderReplaceRejected,
    OrderSide,
    OrderStatus,
    OrderSubmitted,
    OrderTriggered,
    OrderType,
    SubmitOrder,
)

D = Decimal
S = OrderStatus
OID = "acct-1"


def limit(cl_ord_id: str = "c1", quantity: str = "10", price: str = "100", **kw) -> SubmitOrder:
    return SubmitOrder(
        cl_ord_id=cl_ord_id,
        symbol="BTCUSDT",
        side=OrderSide.BUY,
        order_type=OrderType.LIMIT,
        quantity=D(quantity),
        price=D(price),
        ts_ns=1,
        **kw,
    )


def stop_limit(cl_ord_id: str = "c1", quantity: str = "10") -> SubmitOrder:
    return SubmitOrder(
        cl_ord_id=cl_ord_id,
        symbol="BTCUSDT",
        side=OrderSide.SELL,
        order_type=OrderType.STOP_LIMIT,
        quantity=D(quantity),
        price=D("90"),
        trigger_price=D("95"),
        ts_ns=1,
    )


def fill(trade_id: str, qty: str, px: str = "100", order_id: str = OID, **kw) -> OrderFilled:
    return OrderFilled(order_id=order_id, ts_ns=10, trade_id=trade_id, last_qty=D(qty), last_px=D(px), **kw)


def new_order(command: SubmitOrder | None = None) -> Order:
    return Order(OID, "acct", command or limit())


def order_in(status: OrderStatus) -> Order:
    """Return an order of 10 @ 100 brought to ``status`` by a short, typical history."""
    o = new_order(stop_limit() if status is S.TRIGGERED else None)
    steps = {
        S.INITIALIZED: [],
        S.PENDING_NEW: [OrderSubmitted(order_id=OID, ts_ns=2)],
        S.NEW: [OrderSubmitted(order_id=OID, ts_ns=2), OrderAccepted(order_id=OID, ts_ns=3, venue_order_id="V1")],
    }
    accepted = steps[S.NEW]
    steps[S.TRIGGERED] = accepted + [OrderTriggered(order_id=OID, ts_ns=4)]
    steps[S.PARTIALLY_FILLED] = accepted + [fill("T1", "4")]
    steps[S.PENDING_CANCEL] = accepted + [OrderPendingCancel(order_id=OID, ts_ns=4, cl_ord_id="c1-cx")]
    steps[S.PENDING_REPLACE] = accepted + [
        OrderPendingReplace(order_id=OID, ts_ns=4, cl_ord_id="c1-rp", quantity=D("12"), price=D("101"))
    ]
    steps[S.FILLED] = accepted + [fill("T1", "10")]
    steps[S.CANCELED] = accepted + [OrderCanceled(order_id=OID, ts_ns=4)]
    steps[S.REJECTED] = steps[S.PENDING_NEW] + [OrderRejected(order_id=OID, ts_ns=3, reason="no")]
    steps[S.EXPIRED] = accepted + [OrderExpired(order_id=OID, ts_ns=4)]
    for event in steps[status]:
        o.apply(event)
    assert o.status is status
    return o


def sample_events(order_id: str = OID) -> dict[type, object]:
    """Return one plausible event of every type for the order built by ``order_in``."""
    events = [
        OrderSubmitted(order_id=order_id, ts_ns=20),
        OrderAccepted(order_id=order_id, ts_ns=20, venue_order_id="V1"),
        OrderRejected(order_id=order_id, ts_ns=20, reason="refused"),
        fill("T-new", "1", order_id=order_id),
        OrderPendingCancel(order_id=order_id, ts_ns=20, cl_ord_id="new-cx"),
        OrderCanceled(order_id=order_id, ts_ns=20),
        OrderCancelRejected(order_id=order_id, ts_ns=20),
        OrderPendingReplace(order_id=order_id, ts_ns=20, cl_ord_id="new-rp", quantity=D("11")),
        OrderReplaced(order_id=order_id, ts_ns=20),
        OrderReplaceRejected(order_id=order_id, ts_ns=20),
        OrderExpired(order_id=order_id, ts_ns=20),
        OrderTriggered(order_id=order_id, ts_ns=20),
        OrderLegEnded(order_id=order_id, ts_ns=20),
    ]
    return {type(e): e for e in events}
