"""Venue events -> order events -> books -> reports.

A venue event names its order by the venue client order id (``_ids``): the router finds the session,
the order and the leg. Fills apply whatever the leg (the book drops a fill it has seen by trade id);
an accept, cancel or reject is about the current leg or the pending replace leg. The end of the old
leg that a cancel-replace causes is held back until the replace settles, and reported only if the
replace failed (the order then ended at the venue after all).
"""

from __future__ import annotations

import logging
from decimal import Decimal

from ..orders import (
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderReplaced,
    OrderReplaceRejected,
    OrderStatus,
)
from ..orders.enums import LiquiditySide
from ..venues import base as V
from ._ids import legs
from ._router import Router

__all__ = ["on_venue_event", "plain"]

log = logging.getLogger("fixgw.gateway")


def plain(d: Decimal) -> Decimal:
    """Drop a venue's padding zeros (``0.10000000`` -> ``0.1``) without changing the value."""
    n = d.normalize()
    return n if n.as_tuple().exponent <= 0 else n.quantize(Decimal(1))


def on_venue_event(router: Router, ev: V.VenueOrderEvent) -> None:
    """Apply one venue event to the order it names and report what changed."""
    found = router.locate(ev.client_order_id)
    if found is None:
        log.debug("event for an order that is not ours: %r", ev)
        return
    ctx, order, leg = found
    cur, pend = legs(order)
    oid = order.order_id
    ts = ev.ts_ns or router.clock.now_ns()
    replacing = order.pending_kind == "replace"
    if isinstance(ev, V.OrderFilled):
        router.last_px[order.symbol] = ev.last_px
        liquidity = LiquiditySide.NONE if ev.is_maker is None else (
            LiquiditySide.MAKER if ev.is_maker else LiquiditySide.TAKER)
        router.apply(ctx, order, OrderFilled(
            order_id=oid, ts_ns=ts, trade_id=f"{ev.symbol}:{ev.trade_id}", last_qty=plain(ev.last_qty),
            last_px=plain(ev.last_px), fee=ev.fee, fee_currency=ev.fee_asset or "", liquidity=liquidity,
            venue_order_id=ev.venue_order_id if leg == cur else None))
    elif isinstance(ev, V.OrderAccepted):
        if replacing and leg == pend and leg != cur:
            router.settle_replace(ctx, order, OrderReplaced(order_id=oid, ts_ns=ts, venue_order_id=ev.venue_order_id))
        elif leg == cur:
            router.apply(ctx, order, OrderAccepted(order_id=oid, ts_ns=ts, venue_order_id=ev.venue_order_id))
    elif isinstance(ev, V.OrderAmended):
        if replacing:
            router.settle_replace(ctx, order, OrderReplaced(order_id=oid, ts_ns=ts))
    elif isinstance(ev, (V.OrderCanceled, V.OrderExpired)):
        if leg != cur:
            return  # an old leg of a cancel-replace: the order lives on in its new leg
        if replacing:
            router.held_cancels[oid] = ev  # the old leg's end: reported only if the replace fails
            return
        cls = OrderCanceled if isinstance(ev, V.OrderCanceled) else OrderExpired
        router.apply(ctx, order, cls(order_id=oid, ts_ns=ts, reason=ev.reason))
    elif isinstance(ev, V.OrderRejected):
        if replacing and leg == pend and leg != cur:
            router.settle_replace(ctx, order, OrderReplaceRejected(
                order_id=oid, ts_ns=ts, cl_ord_id=order.pending_cl_ord_id, reason=ev.reason or "rejected"))
        elif leg == cur and order.cum_qty == 0 and order.status in (OrderStatus.PENDING_NEW,
                                                                     OrderStatus.INITIALIZED):
            router.apply(ctx, order, OrderRejected(order_id=oid, ts_ns=ts, reason=ev.reason or "rejected"))
