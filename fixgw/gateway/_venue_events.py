"""Venue events -> order events -> books -> reports.

A venue event names its order by the venue client order id (``_ids``): the router finds the session,
the order and the leg. Each venue event becomes ONE order event, decided by nothing but its type: a
fill is an ``OrderFilled`` whatever the leg (the order drops a fill it has seen by its key); any other
is a leg event (``LegAccepted``, ``LegCanceled``...) naming the leg, and the order's tables decide what
it means (an acceptance, a replace that landed, an end held back while a replace is pending...).
``Router.apply`` applies it and reports what the transition says. No order state is decided here.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from ..orders import LegAccepted, LegAmended, LegCanceled, LegExpired, LegRejected, OrderFilled
from ..orders.enums import LiquiditySide
from ..venues import base as V
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
    oid = order.order_id
    ts = ev.ts_ns or router.clock.now_ns()
    if isinstance(ev, V.VenueFilled):
        router.last_px[order.symbol] = ev.last_px
        liquidity = LiquiditySide.NONE if ev.is_maker is None else (
            LiquiditySide.MAKER if ev.is_maker else LiquiditySide.TAKER)
        event: object = OrderFilled(
            order_id=oid, ts_ns=ts, trade_id=ev.fill_key, last_qty=plain(ev.last_qty),
            last_px=plain(ev.last_px), fee=ev.fee, fee_currency=ev.fee_asset or "", liquidity=liquidity,
            venue_order_id=ev.venue_order_id,  # learned only by an order that has none yet
            final=ev.done)  # the venue says it is filled: ends a quote-amount order, whose quantity is unknown
    elif isinstance(ev, V.VenueAccepted):
        event = LegAccepted(order_id=oid, ts_ns=ts, leg=leg, venue_order_id=ev.venue_order_id)
    elif isinstance(ev, V.VenueCanceled):
        event = LegCanceled(order_id=oid, ts_ns=ts, leg=leg, reason=ev.reason)
    elif isinstance(ev, V.VenueExpired):
        event = LegExpired(order_id=oid, ts_ns=ts, leg=leg, reason=ev.reason)
    elif isinstance(ev, V.VenueOrderRejected):
        event = LegRejected(order_id=oid, ts_ns=ts, leg=leg, reason=ev.reason)
    elif isinstance(ev, V.VenueAmended):
        event = LegAmended(order_id=oid, ts_ns=ts, leg=leg)
    else:
        log.debug("venue event of no known kind: %r", ev)
        return
    router.apply(ctx, order, event)
