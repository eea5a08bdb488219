"""Venue events -> order events -> books -> reports.

A venue event names its order by the venue client order id (``_ids``): the router finds the session,
the order and the leg. Each venue event becomes ONE order event, decided by nothing but its type: a
fill is an ``OrderFilled`` whatever the leg (the order drops a fill it has seen by its key); any other
is a leg event (``LegAccepted``, ``LegCanceled``...) naming the leg, and the order's tables decide what
it means (an acceptance, a replace that landed, an end held back while a replace is pending...).
``Router.apply`` applies it and reports what the transition says. No order state is decided here.

``VenueInbox`` holds a venue's events until they are applied. Whatever puts the first event of a turn
in asks once for a pass: at the end of the WebSocket read that carried it, in the same turn, when the
event comes from one (the gateway's scheduler, ``ws.after_read``), else at the loop's next turn; a pass applies what waits (at most
``EVENTS_PER_TURN``, the rest at the following turn) inside one ``Router.batch``: one commit point and
one write per session for all of them, so an order's acceptance and its end, published together,
leave in one message batch. A venue worker applies what its call published as soon as the call
returns (``VenueContext``), so an answer known at once is reported in the turn of the call.
"""

from __future__ import annotations

import logging
from collections import deque
from decimal import Decimal
from typing import Callable

from ..orders import LegAccepted, LegAmended, LegCanceled, LegExpired, LegRejected, OrderFilled
from ..orders.enums import LiquiditySide
from ..venues import base as V
from ._router import Router

__all__ = ["on_venue_event", "plain", "VenueInbox", "EVENTS_PER_TURN"]

log = logging.getLogger("fixgw.gateway")

#: Venue events applied in one pass at most, so a backlog cannot hold the FIX sessions up.
EVENTS_PER_TURN = 64


class VenueInbox:
    """A venue's events waiting to be applied, in the order published (one consumer: this inbox).

    ``put`` is the adapter's sink (``VenueAdapter.set_event_sink``), called on the event-loop thread;
    ``schedule`` runs a callback at the loop's next turn (``next_turn_scheduler``); ``apply`` applies
    one event (the gateway's, which handles its errors).
    """

    __slots__ = ("waiting", "closed", "_router", "_apply", "_schedule", "_scheduled")

    def __init__(self, router: Router, apply: Callable[[V.VenueOrderEvent], None],
                 schedule: Callable[[Callable[[], None]], object]) -> None:
        #: Events published and not applied yet, oldest first.
        self.waiting: deque[V.VenueOrderEvent] = deque()
        self._router = router
        self._apply = apply
        self._schedule = schedule
        self._scheduled = False
        #: Set once the gateway's store is closing: nothing more is applied (a restart reconciles it).
        self.closed = False

    def put(self, event: V.VenueOrderEvent) -> None:
        """Take ``event``; it is applied at the latest at the loop's next turn."""
        if self.closed:
            return
        self.waiting.append(event)
        if not self._scheduled:
            self._scheduled = True
            self._schedule(self._pass)

    def _pass(self) -> None:
        self._scheduled = False
        self.drain()

    def drain(self) -> None:
        """Apply what waits now (up to ``EVENTS_PER_TURN``; a pass at the next turn takes the rest)."""
        waiting = self.waiting
        if self.closed:
            waiting.clear()
        if not waiting:
            return
        apply = self._apply

        def step() -> None:
            for _ in range(EVENTS_PER_TURN):
                if not waiting:
                    return
                apply(waiting.popleft())

        try:
            self._router.batch(step)
        finally:
            if waiting and not self._scheduled:
                self._scheduled = True
                self._schedule(self._pass)


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
