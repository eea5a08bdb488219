"""Leg events resolved into order events, by ``LEG_TRANSITIONS``.

A leg event names a venue order of ours by its leg number; what it means depends on where the order's
legs stand. ``resolve`` finds the leg's role and the order's leg state, looks the triple up in
``LEG_TRANSITIONS`` and builds the order event it names (``None`` for ``IGNORE``). Pure and cheap: it
reads the order, it changes nothing; ``Order.apply`` then applies what it returns.
"""

from __future__ import annotations

from typing import Any, Callable

from .events import (
    LegAccepted,
    LegEvent,
    LegExpired,
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderLegEnded,
    OrderRejected,
    OrderReplaced,
    OrderReplaceRejected,
)
from .transitions import LEG_TRANSITIONS, LegRole, LegState, Rule

__all__ = ["leg_role", "leg_state", "resolve", "resolve_in"]

_REJECTED = "rejected"  # the text of a refusal the venue gave no words for


def leg_role(order: Any, leg: int) -> LegRole:
    """Return what venue leg ``leg`` is to ``order``."""
    if leg == order.leg:
        return LegRole.CURRENT
    if leg == order.pending_leg:
        return LegRole.NEW
    return LegRole.OLD


def leg_state(order: Any) -> LegState:
    """Return where ``order``'s legs stand."""
    if order.pending_leg is None:
        return LegState.STEADY
    return LegState.REPLACING if order.held_end is None else LegState.HELD


def resolve(order: Any, event: LegEvent) -> OrderEvent | None:
    """Return the order event ``event`` amounts to for ``order`` now, ``None`` if it changes nothing."""
    return resolve_in(order, event, order.pending_leg is not None, order.held_end is not None)


def resolve_in(order: Any, event: LegEvent, replacing: bool, held: bool) -> OrderEvent | None:
    """``resolve`` for a caller that knows whether a replace is pending and an end is held (the order)."""
    leg = event.leg
    if leg == order.leg:
        role = _CUR
    elif replacing and leg == order.legs_requested:
        role = _NEW
    else:
        role = _OLD
    build = _FAST[((_HELD if held else _REPLACING) if replacing else _STEADY, type(event), role)]
    return None if build is None else build(order, event)


def _accepted(order: Any, e: Any) -> OrderEvent:
    return OrderAccepted(order_id=e.order_id, ts_ns=e.ts_ns, venue_order_id=e.venue_order_id)


def _replaced(order: Any, e: Any) -> OrderEvent:
    # An acceptance names the new venue order; an amend in place keeps the order's.
    vid = e.venue_order_id if type(e) is LegAccepted else None
    return OrderReplaced(order_id=e.order_id, ts_ns=e.ts_ns, venue_order_id=vid)


def _replace_rejected(order: Any, e: Any) -> OrderEvent:
    return OrderReplaceRejected(order_id=e.order_id, ts_ns=e.ts_ns, cl_ord_id=order.pending_cl_ord_id,
                                reason=e.reason or _REJECTED)


def _rejected(order: Any, e: Any) -> OrderEvent:
    return OrderRejected(order_id=e.order_id, ts_ns=e.ts_ns, reason=e.reason or _REJECTED)


def _canceled(order: Any, e: Any) -> OrderEvent:
    return OrderCanceled(order_id=e.order_id, ts_ns=e.ts_ns, reason=e.reason)


def _expired(order: Any, e: Any) -> OrderEvent:
    return OrderExpired(order_id=e.order_id, ts_ns=e.ts_ns, reason=e.reason)


def _held(order: Any, e: Any) -> OrderEvent:
    return OrderLegEnded(order_id=e.order_id, ts_ns=e.ts_ns, leg=e.leg, expired=type(e) is LegExpired,
                         reason=e.reason)


_BUILD: dict[type, Callable[[Any, Any], OrderEvent]] = {
    OrderAccepted: _accepted,
    OrderReplaced: _replaced,
    OrderReplaceRejected: _replace_rejected,
    OrderRejected: _rejected,
    OrderCanceled: _canceled,
    OrderExpired: _expired,
    OrderLegEnded: _held,
}

_STEADY, _REPLACING, _HELD = LegState.STEADY.value, LegState.REPLACING.value, LegState.HELD.value
_CUR, _NEW, _OLD = LegRole.CURRENT.value, LegRole.NEW.value, LegRole.OLD.value
#: ``LEG_TRANSITIONS`` keyed by the enums' values, with the builders: one cheap lookup per leg event
#: (a tuple of enum members hashes through Python code). Built from the table, never edited by hand.
_FAST: dict[tuple[str, type, str], Callable[[Any, Any], OrderEvent] | None] = {
    (state.value, kind, role.value): None if target is Rule.IGNORE else _BUILD[target]  # type: ignore[index]
    for (state, kind, role), target in LEG_TRANSITIONS.items()
}
