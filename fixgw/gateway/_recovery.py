"""Start-up: ask the venue about every order the journal says is open.

Runs after the books are rebuilt from the journal and the venue event streams are being consumed,
before the acceptor listens. What changed while the gateway was down arrives as venue events (or as
the answers here) and is reported through the sessions' stores, so a returning client gets it by
resend. An order journaled but never sent is rejected; a cancel journaled but not done is sent again;
a leg the venue never heard of settles its order (replace rejected, or new order rejected).

A venue query answers with the order complete: the fills behind its executed quantity are published
before it returns (the port's contract). Reconciliation then waits until every venue's events are
applied (``VenueContext.caught_up``), so the acceptor opens on books that already hold what the venue
did while we were away: a client's first report about an order filled meanwhile is its fill, and a
cancel sent right after the Logon is answered from the true state.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import TransportError, VenueError, VenueRejected
from ..orders import LegRejected, OrderRejected, OrderStatus
from ..venues import base as V
from ._ids import venue_cl_id
from ._orders import OrderFlow
from ._router import Router, SessionContext, log_text

__all__ = ["reconcile"]

log = logging.getLogger("fixgw.gateway")


async def reconcile(router: Router, flow: OrderFlow, only: list[SessionContext] | None = None) -> None:
    """Ask the venue about every open order of every session (``only``: of those, on a takeover);
    what changed arrives as events."""
    contexts = list(router.accounts.values()) if only is None else only  # FIX sessions' and bridge accounts'
    for ctx in contexts:
        for order in ctx.book.open_orders():
            if order.status is OrderStatus.INITIALIZED:
                router.apply(ctx, order, OrderRejected(order_id=order.order_id, ts_ns=router.clock.now_ns(),
                                                       reason="not sent to the venue before a restart"))
                continue
            report = await _query(router, ctx, order, order.leg, "not found at the venue")
            pend = order.pending_leg
            if pend is not None:
                await _query(router, ctx, order, pend, "not placed")
            elif order.pending_kind == "cancel" and report is not None and not report.status.is_terminal:
                # The cancel was journaled but the venue never got it (or its answer was lost): again.
                router.spawn(flow.venue_cancel, ctx, order.order_id)
    venues = {id(ctx.venue): ctx.venue for ctx in contexts}
    for venue in venues.values():
        if not await venue.caught_up():
            log.warning("venue %s: its events were not all applied before the acceptor opened", venue.config.name)


async def _query(router: Router, ctx: SessionContext, order: Any, leg: int, missing: str) -> V.OrderReport | None:
    """Ask the venue about ``leg`` of ``order``; a leg it never heard of is refused (``missing``: why),
    which the order's tables read (a pending replace rejected, an order never placed rejected...)."""
    try:
        return await ctx.venue.adapter.query(order.symbol, client_order_id=venue_cl_id(order, leg))
    except VenueRejected as exc:
        log.info("%s: %s leg %d not at the venue: %s", ctx.key, order.order_id, leg, log_text(exc))
        if leg == order.leg and (order.status is not OrderStatus.PENDING_NEW or order.cum_qty):
            return None  # a working order the venue no longer lists: its events tell the rest
        router.apply(ctx, order, LegRejected(order_id=order.order_id, ts_ns=router.clock.now_ns(), leg=leg,
                                             reason=missing))
    except (VenueError, TransportError) as exc:
        log.warning("%s: cannot reconcile %s yet: %s", ctx.key, order.order_id, log_text(exc))
    return None
