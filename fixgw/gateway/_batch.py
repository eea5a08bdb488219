"""Venue calls that carry several orders: the new orders of a batch, and a mass cancel.

Theory of operation
-------------------
Every order of a batch has passed the steps of a single order (``OrderFlow.place``: checks, book,
journal) before any venue call; what differs is only how many calls carry them. ``send_new_orders``
queues one ``submit_batch`` call for a context's journaled new orders (on the venue workers, so after
the commit that holds them); ``cancel_orders`` queues one ``cancel_batch`` call for a mass cancel's
orders where the venue cancels in batches (``capabilities.batch_cancels``; Kraken ``CancelOrderBatch``),
else one cancel per order (a venue's cancel-all would take a shared account's other orders too).

Each order is then settled by its own outcome, as a single call settles it: a definite refusal of a
new order rejects it, of a cancel answers a cancel reject (which the order drops when no cancel of its
own is pending, as for a mass cancel); an unknown fate is left to the adapter's reconciliation, and
what the venue did arrives as events.
"""

from __future__ import annotations

from typing import Any

from ..errors import TransportError, VenueBanned, VenueError, VenueRateLimited, VenueRejected, VenueUnknownOutcome
from ..orders import OrderCancelRejected, OrderRejected, OrderStatus
from ..venues import base as V
from ._ids import venue_cl_id
from ._router import Router, SessionContext, log, log_text

__all__ = ["batches_orders", "send_new_orders", "cancel_orders"]


def batches_orders(ctx: SessionContext) -> bool:
    """Whether ``ctx``'s venue places several orders per request (``capabilities.batch_orders``)."""
    return getattr(ctx.venue.adapter.capabilities, "batch_orders", 1) > 1


def send_new_orders(router: Router, ctx: SessionContext, items: list[tuple[str, V.NewOrder]]) -> None:
    """Queue one venue call placing ``items`` (order id, venue order), all journaled already."""
    if items:
        router.spawn(_send_batch, ctx, router, items)


def cancel_orders(router: Router, flow: Any, ctx: SessionContext, orders: list[Any]) -> None:
    """Queue the venue calls cancelling ``orders`` (a mass cancel's): one batch where the venue has one,
    else ``flow.venue_cancel`` per order."""
    if len(orders) > 1 and getattr(ctx.venue.adapter.capabilities, "batch_cancels", 1) > 1:
        router.spawn(_cancel_batch, ctx, router, [o.order_id for o in orders])
        return
    for order in orders:
        router.spawn(flow.venue_cancel, ctx, order.order_id)


async def _send_batch(ctx: SessionContext, router: Router, items: list[tuple[str, V.NewOrder]]) -> None:
    try:
        outcomes: list[Any] = await ctx.venue.adapter.submit_batch([venue_order for _, venue_order in items])
    except (VenueError, TransportError) as exc:  # the adapter could not say per order
        outcomes = [exc] * len(items)
    for (order_id, _), outcome in zip(items, outcomes):
        if isinstance(outcome, (VenueUnknownOutcome, TransportError)):
            log.warning("%s: submit %s: %s; the venue adapter reconciles", ctx.key, order_id, log_text(outcome))
        elif isinstance(outcome, VenueError):
            order = ctx.book.get(order_id)
            if order.status in (OrderStatus.PENDING_NEW, OrderStatus.INITIALIZED):
                text = getattr(outcome, "message", None) or str(outcome)
                router.apply(ctx, order, OrderRejected(order_id=order_id, ts_ns=router.clock.now_ns(), reason=text))


async def _cancel_batch(ctx: SessionContext, router: Router, order_ids: list[str]) -> None:
    orders = [ctx.book.get(order_id) for order_id in order_ids]
    requests = [V.CancelOrder(symbol=o.symbol, client_order_id=venue_cl_id(o, o.leg), venue_order_id=o.venue_order_id)
                for o in orders]
    try:
        outcomes: list[Any] = await ctx.venue.adapter.cancel_batch(requests)
    except (VenueError, TransportError) as exc:
        outcomes = [exc] * len(orders)
    for order, outcome in zip(orders, outcomes):
        if isinstance(outcome, (VenueRejected, VenueBanned, VenueRateLimited)):  # refused for sure
            router.apply(ctx, order, OrderCancelRejected(
                order_id=order.order_id, ts_ns=router.clock.now_ns(), cl_ord_id=order.pending_cl_ord_id,
                reason=getattr(outcome, "message", None) or str(outcome)))
        elif isinstance(outcome, (VenueError, TransportError)):
            log.warning("%s: cancel of %s: %s; waiting for the venue's events", ctx.key, order.order_id,
                        log_text(outcome))
