"""The normalized order, driven only by events.

Theory of operation. An ``Order`` is opened from a ``SubmitOrder`` in INITIALIZED and changes only
through ``apply(event)``. ``apply`` looks the pair (status, event type) up in ``TRANSITIONS``, then
runs the event's handler, which checks everything first (raising before any change, so a refused
event leaves the order as it was), then hands the event to an optional ``record`` callback (the book
journals it there), then changes the order. Applied events are kept in ``events`` and counted in
``event_seq``, so ``exec_id`` (``f"{order_id}-{event_seq}"``) is the same after a journal replay.

A cancel or replace in flight is held as a ``_Pending`` with the status to return to; fills,
acknowledgements and triggers that arrive meanwhile update that status, so a rejected request returns
the order to where it would be without it.

The order knows its venue legs (see ``transitions``): ``leg`` is the current one, ``legs_requested``
counts the replace requests (the k-th asks for leg k), ``pending_leg`` is the one a pending replace
asked for. A leg event is resolved (``legs.resolve``) into the order event it amounts to, and that is
applied (and journaled) in its place. An end of the old leg held while its replace was pending is
kept in ``held_end``; once the replace is rejected, ``due()`` returns it as the event to apply next.

Quantities are exact: sums and products use a context wide enough never to round; only the average
price is a quotient (28 significant digits).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, Inexact, InvalidOperation, Overflow
from typing import Callable

from fixgw.errors import InvalidTransition, OrderError, OverfillError

from .commands import SubmitOrder
from .enums import PRICED_TYPES, TERMINAL_STATUSES, TRIGGERED_TYPES, OrderStatus
from .events import (
    LEG_EVENT_TYPES,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderLegEnded,
    OrderPendingCancel,
    OrderPendingReplace,
    OrderRejected,
    OrderReplaced,
    OrderReplaceRejected,
    OrderSubmitted,
    OrderTriggered,
)
from .legs import resolve_in
from .snapshot import OrderSnapshot
from .transitions import TRANSITIONS, Rule

__all__ = ["Order", "OrderSnapshot"]

S = OrderStatus
_ZERO = Decimal(0)
# Sums and products of finite decimals are exact at this precision; Inexact would mean a bug.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[Inexact, InvalidOperation, Overflow])
_AVG = Context(prec=28)
_CANCEL = "cancel"
_REPLACE = "replace"
# Statuses in which a fill that does not complete the order leaves the status as it is.
_FILL_KEEPS = frozenset({S.PENDING_CANCEL, S.PENDING_REPLACE, S.CANCELED, S.EXPIRED})
_LEG_EVENTS = frozenset(LEG_EVENT_TYPES)

Recorder = Callable[[OrderEvent], None] | None


@dataclass(frozen=True, slots=True)
class _Pending:
    kind: str
    cl_ord_id: str
    previous: OrderStatus
    quantity: Decimal | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None


class Order:
    """One order: identity, terms, fills and status, changed only by ``apply(event)``.

    ``quantity`` is ``None`` for a quote-amount order (``quote_quantity`` set); its base leaves are not
    known, so ``leaves_qty`` is 0 for it, and it completes on a fill marked ``final`` or when its
    notional reaches ``quote_quantity``.
    """

    __slots__ = (
        "order_id",
        "account",
        "owner",
        "route",
        "symbol",
        "side",
        "order_type",
        "time_in_force",
        "expire_time_ns",
        "post_only",
        "display_quantity",
        "quantity",
        "quote_quantity",
        "price",
        "trigger_price",
        "status",
        "cl_ord_id",
        "orig_cl_ord_id",
        "cl_ord_ids",
        "venue_order_id",
        "cum_qty",
        "notional",
        "fees",
        "trade_ids",
        "events",
        "event_seq",
        "ts_init_ns",
        "ts_last_ns",
        "leg",
        "legs_requested",
        "_leg_cum",
        "_held",
        "_pending",
    )

    def __init__(self, order_id: str, account: str, command: SubmitOrder) -> None:
        self.order_id = order_id
        self.account = account
        self.owner = command.owner
        self.route = command.route
        self.symbol = command.symbol
        self.side = command.side
        self.order_type = command.order_type
        self.time_in_force = command.time_in_force
        self.expire_time_ns = command.expire_time_ns
        self.post_only = command.post_only
        self.display_quantity: Decimal | None = command.display_quantity
        self.quantity: Decimal | None = command.quantity
        self.quote_quantity: Decimal | None = command.quote_quantity
        self.price: Decimal | None = command.price
        self.trigger_price: Decimal | None = command.trigger_price
        self.status = S.INITIALIZED
        self.cl_ord_id = command.cl_ord_id
        self.orig_cl_ord_id: str | None = None
        #: Every client order id the order has carried, oldest first (the OrigClOrdID chain).
        self.cl_ord_ids: list[str] = [command.cl_ord_id]
        self.venue_order_id: str | None = None
        self.cum_qty = _ZERO
        #: Σ(last_px · last_qty): the quote amount traded.
        self.notional = _ZERO
        #: Fees by currency (negative: rebates).
        self.fees: dict[str, Decimal] = {}
        self.trade_ids: set[str] = set()
        self.events: list[OrderEvent] = []
        self.event_seq = 0
        self.ts_init_ns = command.ts_ns
        self.ts_last_ns = command.ts_ns
        #: The venue leg the order lives in (0: as first sent; k: its k-th replace request's).
        self.leg = 0
        #: How many replace requests the order has had (the newest asked for leg ``legs_requested``).
        self.legs_requested = 0
        self._leg_cum = _ZERO  # cum_qty when the current leg became current
        self._held: OrderLegEnded | None = None
        self._pending: _Pending | None = None

    # -- derived state -------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """Return whether the order is live (not in a terminal status)."""
        return self.status not in TERMINAL_STATUSES

    @property
    def leaves_qty(self) -> Decimal:
        """Return quantity − cumulative quantity; 0 once terminal and for quote-amount orders."""
        if self.quantity is None or self.status in TERMINAL_STATUSES:
            return _ZERO
        return self.quantity - self.cum_qty

    @property
    def avg_px(self) -> Decimal:
        """Return Σ(px·qty)/Σqty over the fills, 0 before the first fill."""
        if not self.cum_qty:
            return _ZERO
        return _AVG.divide(self.notional, self.cum_qty)

    @property
    def exec_id(self) -> str:
        """Return the id of the last applied event, stable across restarts (FIX ExecID fallback)."""
        return f"{self.order_id}-{self.event_seq}"

    @property
    def pending_cl_ord_id(self) -> str | None:
        """Return the client order id of the cancel/replace request in flight, if any."""
        p = self._pending
        return None if p is None else p.cl_ord_id

    @property
    def pending_kind(self) -> str | None:
        """Return ``"cancel"`` or ``"replace"`` while such a request is unanswered, else ``None``."""
        p = self._pending
        return None if p is None else p.kind

    @property
    def pending_leg(self) -> int | None:
        """Return the venue leg the pending replace asked for, ``None`` when no replace is pending."""
        p = self._pending
        return self.legs_requested if p is not None and p.kind == _REPLACE else None

    @property
    def leg_filled(self) -> Decimal:
        """Return the quantity filled since the current leg became current."""
        return self.cum_qty - self._leg_cum

    @property
    def held_end(self) -> OrderLegEnded | None:
        """Return the end of the old leg held while its replace is pending (or just failed), if any."""
        return self._held

    def due(self) -> OrderCanceled | OrderExpired | None:
        """Return the event the order's state makes due, ``None`` if none: the held end of the old leg
        once its replace has failed, as the cancel or expiry it is. Apply it next (and report it)."""
        h = self._held
        if h is None or not self.is_open or (self._pending is not None and self._pending.kind == _REPLACE):
            return None
        cls = OrderExpired if h.expired else OrderCanceled
        return cls(order_id=self.order_id, ts_ns=h.ts_ns, reason=h.reason)

    def snapshot(self) -> OrderSnapshot:
        """Return a frozen copy of the current state."""
        p = self._pending
        return OrderSnapshot(
            order_id=self.order_id,
            account=self.account,
            owner=self.owner,
            route=self.route,
            symbol=self.symbol,
            side=self.side,
            order_type=self.order_type,
            time_in_force=self.time_in_force,
            expire_time_ns=self.expire_time_ns,
            post_only=self.post_only,
            quantity=self.quantity,
            quote_quantity=self.quote_quantity,
            price=self.price,
            trigger_price=self.trigger_price,
            status=self.status,
            cl_ord_id=self.cl_ord_id,
            orig_cl_ord_id=self.orig_cl_ord_id,
            cl_ord_ids=tuple(self.cl_ord_ids),
            venue_order_id=self.venue_order_id,
            cum_qty=self.cum_qty,
            leaves_qty=self.leaves_qty,
            notional=self.notional,
            avg_px=self.avg_px,
            fees=tuple(sorted(self.fees.items())),
            trade_ids=frozenset(self.trade_ids),
            event_seq=self.event_seq,
            pending_kind=None if p is None else p.kind,
            pending_cl_ord_id=None if p is None else p.cl_ord_id,
            pending_previous=None if p is None else p.previous,
            ts_init_ns=self.ts_init_ns,
            ts_last_ns=self.ts_last_ns,
            leg=self.leg,
            legs_requested=self.legs_requested,
            held_end=self._held,
        )

    def __repr__(self) -> str:
        return (
            f"Order({self.order_id!r}, {self.cl_ord_id!r}, {self.status.value}, "
            f"cum={self.cum_qty}, qty={self.quantity if self.quantity is not None else self.quote_quantity})"
        )

    # -- applying events -----------------------------------------------------------------------

    def apply(self, event: OrderEvent) -> bool:
        """Apply one event; return whether it should be reported.

        ``False`` means it was dropped (a duplicate: nothing changed) or absorbed (bookkeeping only,
        such as a late acknowledgement). Raise ``InvalidTransition`` for a pair outside the table,
        ``OverfillError`` when a fill or a replace would put cumulative above quantity, and
        ``OrderError`` for an event of another order; the order is unchanged when anything raises.
        """
        return self._apply(event, None)

    def _apply(self, event: OrderEvent, record: Recorder) -> bool:
        event_type = type(event)
        if event_type in _LEG_EVENTS:
            if event.order_id != self.order_id:
                raise OrderError(f"event for {event.order_id!r} applied to order {self.order_id!r}")
            p = self._pending
            event = resolve_in(self, event, p is not None and p.kind == _REPLACE, self._held is not None)
            if event is None:
                return False
            event_type = type(event)
        target = TRANSITIONS.get((self.status, event_type))
        if target is None:
            raise InvalidTransition(self.status, event_type.__name__)
        if event.order_id != self.order_id:
            raise OrderError(f"event for {event.order_id!r} applied to order {self.order_id!r}")
        if target is Rule.IGNORE:
            return False
        return _HANDLERS[event_type](self, event, target, record)

    def _done(self, event: OrderEvent, record: Recorder) -> None:
        """Second phase, shared by every handler: record, then count and keep the event."""
        if record is not None:
            record(event)
        self.events.append(event)
        self.event_seq += 1
        self.ts_last_ns = event.ts_ns

    def _resting_status(self, previous: OrderStatus) -> OrderStatus:
        """Return the status the order has without its pending request."""
        if self.cum_qty:
            return S.PARTIALLY_FILLED
        return previous

    def _is_complete(self, cum_qty: Decimal, notional: Decimal, final: bool) -> bool:
        if self.quantity is not None:
            return cum_qty == self.quantity
        return final or notional == self.quote_quantity

    # One handler per event type; each checks everything before ``_done`` and changes after it.

    def _on_submitted(self, e: OrderSubmitted, target: OrderStatus, record: Recorder) -> bool:
        self._done(e, record)
        self.status = target
        return True

    def _on_accepted(self, e: OrderAccepted, target: OrderStatus | Rule, record: Recorder) -> bool:
        if target is not Rule.ABSORB:
            self._done(e, record)
            if e.venue_order_id is not None:
                self.venue_order_id = e.venue_order_id
            self.status = target
            return True
        learn_id = self.venue_order_id is None and e.venue_order_id is not None
        p = self._pending
        promote = p is not None and self.status is _pending_status(p) and p.previous is S.PENDING_NEW
        if not (learn_id or promote):
            return False
        self._done(e, record)
        if learn_id:
            self.venue_order_id = e.venue_order_id
        if promote:
            self._pending = _replace_previous(p, S.NEW)
        return False

    def _on_rejected(self, e: OrderRejected, target: OrderStatus, record: Recorder) -> bool:
        if self.cum_qty or (self.status is S.PENDING_CANCEL and self._pending.previous is not S.PENDING_NEW):
            # Only an unacknowledged order that never traded can still be refused.
            raise InvalidTransition(self.status, type(e).__name__)
        self._done(e, record)
        self.status = target
        return True

    def _on_filled(self, e: OrderFilled, target: Rule, record: Recorder) -> bool:
        if e.trade_id in self.trade_ids:
            return False
        if self.status is S.FILLED:
            raise OverfillError(
                f"order {self.order_id} is filled; trade {e.trade_id} of {e.last_qty:f} would overfill it"
            )
        cum = _EXACT.add(self.cum_qty, e.last_qty)
        notional = _EXACT.add(self.notional, _EXACT.multiply(e.last_px, e.last_qty))
        if self.quantity is not None:
            if cum > self.quantity:
                raise OverfillError(
                    f"order {self.order_id}: trade {e.trade_id} takes cumulative {cum:f} past {self.quantity:f}"
                )
        elif notional > self.quote_quantity:
            raise OverfillError(
                f"order {self.order_id}: trade {e.trade_id} takes notional {notional:f} past {self.quote_quantity:f}"
            )
        if self._is_complete(cum, notional, e.final):
            status = S.FILLED
        elif self.status in _FILL_KEEPS:
            status = self.status
        else:
            status = S.PARTIALLY_FILLED
        self._done(e, record)
        self.trade_ids.add(e.trade_id)
        self.cum_qty = cum
        self.notional = notional
        if e.fee:
            self.fees[e.fee_currency] = _EXACT.add(self.fees.get(e.fee_currency, _ZERO), e.fee)
        if self.venue_order_id is None and e.venue_order_id is not None:
            self.venue_order_id = e.venue_order_id
        self.status = status
        return True

    def _on_pending_cancel(self, e: OrderPendingCancel, target: OrderStatus, record: Recorder) -> bool:
        _check_request_id(self, e.cl_ord_id)
        self._done(e, record)
        self._pending = _Pending(_CANCEL, e.cl_ord_id, self.status)
        self.status = target
        return True

    def _on_canceled(self, e: OrderCanceled, target: OrderStatus, record: Recorder) -> bool:
        self._done(e, record)
        p = self._pending
        self._held = None
        if self.status is S.PENDING_CANCEL:
            # Our cancel landed: its ClOrdID becomes the order's (FIX: 11 = cancel, 41 = previous).
            self._advance_cl_ord_id(p.cl_ord_id)
            self._pending = None
        self.status = target
        return True

    def _on_cancel_rejected(self, e: OrderCancelRejected, target: Rule, record: Recorder) -> bool:
        return self._settle(e, _CANCEL, S.PENDING_CANCEL, record)

    def _on_replace_rejected(self, e: OrderReplaceRejected, target: Rule, record: Recorder) -> bool:
        return self._settle(e, _REPLACE, S.PENDING_REPLACE, record)

    def _settle(self, e, kind: str, pending_status: OrderStatus, record: Recorder) -> bool:
        p = self._pending
        if p is None or p.kind != kind or (e.cl_ord_id is not None and e.cl_ord_id != p.cl_ord_id):
            return False  # answers a request already settled: a duplicate
        self._done(e, record)
        if self.status is pending_status:
            self.status = self._resting_status(p.previous)
        self._pending = None
        return True

    def _on_pending_replace(self, e: OrderPendingReplace, target: OrderStatus, record: Recorder) -> bool:
        _check_request_id(self, e.cl_ord_id)
        if self.quantity is None:
            raise OrderError(f"order {self.order_id} is by quote amount and cannot be replaced")
        _check_terms(self, e.price, e.trigger_price)
        quantity = self.quantity if e.quantity is None else e.quantity
        if quantity < self.cum_qty:
            raise OverfillError(
                f"order {self.order_id}: quantity {quantity:f} is below cumulative {self.cum_qty:f}"
            )
        self._done(e, record)
        self._pending = _Pending(_REPLACE, e.cl_ord_id, self.status, e.quantity, e.price, e.trigger_price)
        self.legs_requested += 1
        self.status = target
        return True

    def _on_replaced(self, e: OrderReplaced, target: Rule, record: Recorder) -> bool:
        p = self._pending
        quantity = _first(e.quantity, p.quantity, self.quantity)
        price = _first(e.price, p.price, self.price)
        trigger_price = _first(e.trigger_price, p.trigger_price, self.trigger_price)
        _check_terms(self, e.price, e.trigger_price)
        if quantity < self.cum_qty:
            raise OverfillError(
                f"order {self.order_id}: replaced quantity {quantity:f} is below cumulative {self.cum_qty:f}"
            )
        self._done(e, record)
        self.quantity = quantity
        self.price = price
        self.trigger_price = trigger_price
        if e.venue_order_id is not None:
            self.venue_order_id = e.venue_order_id
        self._advance_cl_ord_id(p.cl_ord_id)
        self._pending = None
        self.leg = self.legs_requested
        self._leg_cum = self.cum_qty
        self._held = None  # the old leg's end was the replace at work
        # FIX: a quantity reduced to the cumulative quantity leaves the order filled.
        self.status = S.FILLED if quantity == self.cum_qty else self._resting_status(p.previous)
        return True

    def _on_expired(self, e: OrderExpired, target: OrderStatus, record: Recorder) -> bool:
        self._done(e, record)
        self._held = None
        self.status = target
        return True

    def _on_leg_ended(self, e: OrderLegEnded, target: Rule, record: Recorder) -> bool:
        if target is not Rule.HOLD or self._held is not None:
            return False  # an ended order, or an end already held: nothing new
        self._done(e, record)
        self._held = e
        return False

    def _on_triggered(self, e: OrderTriggered, target: OrderStatus | Rule, record: Recorder) -> bool:
        if target is not Rule.ABSORB:
            self._done(e, record)
            self.status = target
            return True
        p = self._pending
        if p is None or p.previous not in (S.PENDING_NEW, S.NEW):
            return False
        self._done(e, record)
        self._pending = _replace_previous(p, S.TRIGGERED)
        return False

    def _advance_cl_ord_id(self, cl_ord_id: str) -> None:
        self.orig_cl_ord_id = self.cl_ord_id
        self.cl_ord_id = cl_ord_id
        self.cl_ord_ids.append(cl_ord_id)


def _pending_status(p: _Pending) -> OrderStatus:
    return S.PENDING_CANCEL if p.kind == _CANCEL else S.PENDING_REPLACE


def _replace_previous(p: _Pending, previous: OrderStatus) -> _Pending:
    return _Pending(p.kind, p.cl_ord_id, previous, p.quantity, p.price, p.trigger_price)


def _first(*values):
    for v in values:
        if v is not None:
            return v
    return None


def _check_request_id(order: Order, cl_ord_id: str) -> None:
    if type(cl_ord_id) is not str or not cl_ord_id:
        raise OrderError("a cancel or replace request needs its own client order id")
    if cl_ord_id == order.cl_ord_id:
        raise OrderError(f"request client order id {cl_ord_id!r} is the order's own")


def _check_terms(order: Order, price: Decimal | None, trigger_price: Decimal | None) -> None:
    if price is not None and order.order_type not in PRICED_TYPES:
        raise OrderError(f"a {order.order_type.value} order takes no price")
    if trigger_price is not None and order.order_type not in TRIGGERED_TYPES:
        raise OrderError(f"a {order.order_type.value} order takes no trigger_price")


_HANDLERS = {
    OrderSubmitted: Order._on_submitted,
    OrderAccepted: Order._on_accepted,
    OrderRejected: Order._on_rejected,
    OrderFilled: Order._on_filled,
    OrderPendingCancel: Order._on_pending_cancel,
    OrderCanceled: Order._on_canceled,
    OrderCancelRejected: Order._on_cancel_rejected,
    OrderPendingReplace: Order._on_pending_replace,
    OrderReplaced: Order._on_replaced,
    OrderReplaceRejected: Order._on_replace_rejected,
    OrderExpired: Order._on_expired,
    OrderTriggered: Order._on_triggered,
    OrderLegEnded: Order._on_leg_ended,
}
