"""The order transition table: the one place that says which event may move an order where.

Theory of operation. ``TRANSITIONS`` maps (status the order is in, event class) to a target. A target
is either a status to move to, or a ``Rule`` that the event's handler in ``order.py`` resolves from
the order's quantities and its pending request:

- ``FILL``: apply the trade; FILLED once the order is complete, else PARTIALLY_FILLED from a working
  status, else the status stays (a pending request is still in flight, or the fill is late).
- ``SETTLE``: a cancel/replace reject. Matching the outstanding request: leave the pending status for
  the status the order would have without it, or stay in a terminal status (the reject crossed the
  order's end and the client still needs its answer). Matching nothing: a duplicate, dropped.
- ``REPLACE``: install the pending replace; FILLED if the new quantity equals the cumulative one.
- ``ABSORB``: news the order already implies (a late acknowledgement, a trigger seen after fills):
  record what is new (the venue order id, the status a pending request returns to), report nothing.
- ``IGNORE``: a duplicate of what already happened; dropped without a trace.
- ``HOLD``: the end of the old leg while its replace is pending: recorded (journaled), not reported.
  If the replace is then rejected, the held end is due (``Order.due``): the caller applies it next,
  and it ends the order; if the replace lands, the held end is dropped.

A pair that is not in the table raises ``InvalidTransition``: the order is left untouched. Edges that
look surprising carry a one-line reason.

Legs. An order lives at the venue as one venue order at a time, its current *leg* (0 as first sent,
k once its k-th replace request landed); a pending replace asks for a new leg. ``LEG_TRANSITIONS``
maps (leg state, leg event type, the leg's role) to the order event the venue's word about that leg
amounts to, which then goes through ``TRANSITIONS`` like any other (so every status change is in one
table), or to ``IGNORE``. The leg state is STEADY (no replace pending), REPLACING, or HELD (replacing,
and the current leg's end already held). Every triple that can occur is listed (STEADY has no NEW leg).
"""

from __future__ import annotations

from enum import Enum

from .enums import OrderStatus
from .events import (
    LegAccepted,
    LegAmended,
    LegCanceled,
    LegExpired,
    LegRejected,
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
    OrderSubmitted,
    OrderTriggered,
)

__all__ = ["Rule", "TRANSITIONS", "Target", "LegState", "LegRole", "LEG_TRANSITIONS", "describe_table"]


class Rule(Enum):
    """Targets that depend on more than the (status, event type) pair; see the module docstring."""

    FILL = "fill"
    SETTLE = "settle"
    REPLACE = "replace"
    ABSORB = "absorb"
    IGNORE = "ignore"
    HOLD = "hold"


class LegState(Enum):
    """Where an order's legs stand (the first key of ``LEG_TRANSITIONS``)."""

    STEADY = "steady"  # no replace pending: the current leg is the order at the venue
    REPLACING = "replacing"  # a replace is pending: its new leg may be accepted or refused
    HELD = "held"  # a replace is pending and the current leg's end is held until it settles


class LegRole(Enum):
    """What a leg is to its order (the third key of ``LEG_TRANSITIONS``)."""

    CURRENT = "current"  # the venue order the order lives in
    NEW = "new"  # the venue order the pending replace asked for
    OLD = "old"  # any other: replaced before, or asked for by a replace that failed


Target = OrderStatus | Rule

S = OrderStatus
R = Rule

TRANSITIONS: dict[tuple[OrderStatus, type], Target] = {
    # INITIALIZED: held by the gateway (pre-trade checks), not sent yet.
    (S.INITIALIZED, OrderSubmitted): S.PENDING_NEW,
    (S.INITIALIZED, OrderRejected): S.REJECTED,  # refused before it was sent
    # The next five: a crash between journaling the submit and its OrderSubmitted leaves the order
    # here while the venue has it; reconciliation then reports the venue's view, taken as from PENDING_NEW.
    (S.INITIALIZED, OrderAccepted): S.NEW,
    (S.INITIALIZED, OrderFilled): R.FILL,
    (S.INITIALIZED, OrderCanceled): S.CANCELED,
    (S.INITIALIZED, OrderExpired): S.EXPIRED,
    (S.INITIALIZED, OrderTriggered): S.TRIGGERED,
    # PENDING_NEW: sent, not acknowledged.
    (S.PENDING_NEW, OrderAccepted): S.NEW,
    (S.PENDING_NEW, OrderRejected): S.REJECTED,
    (S.PENDING_NEW, OrderFilled): R.FILL,  # the venue's stream often outruns its REST answer
    (S.PENDING_NEW, OrderPendingCancel): S.PENDING_CANCEL,  # FIX lets a client cancel before the ack
    (S.PENDING_NEW, OrderCanceled): S.CANCELED,
    (S.PENDING_NEW, OrderCancelRejected): R.SETTLE,  # a duplicate reject after a reverted cancel
    (S.PENDING_NEW, OrderExpired): S.EXPIRED,  # IOC/FOK that found nothing to trade
    (S.PENDING_NEW, OrderTriggered): S.TRIGGERED,  # a stop may trigger before its ack arrives
    # NEW: working at the venue, nothing filled.
    (S.NEW, OrderAccepted): R.ABSORB,  # the REST answer and the stream both acknowledge
    (S.NEW, OrderFilled): R.FILL,
    (S.NEW, OrderPendingCancel): S.PENDING_CANCEL,
    (S.NEW, OrderCanceled): S.CANCELED,  # unsolicited: venue, self-trade prevention, operator
    (S.NEW, OrderCancelRejected): R.SETTLE,
    (S.NEW, OrderPendingReplace): S.PENDING_REPLACE,
    (S.NEW, OrderReplaceRejected): R.SETTLE,
    (S.NEW, OrderExpired): S.EXPIRED,
    (S.NEW, OrderTriggered): S.TRIGGERED,
    # TRIGGERED: a stop that activated, nothing filled yet; behaves as NEW.
    (S.TRIGGERED, OrderAccepted): R.ABSORB,
    (S.TRIGGERED, OrderFilled): R.FILL,
    (S.TRIGGERED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.TRIGGERED, OrderCanceled): S.CANCELED,
    (S.TRIGGERED, OrderCancelRejected): R.SETTLE,
    (S.TRIGGERED, OrderPendingReplace): S.PENDING_REPLACE,
    (S.TRIGGERED, OrderReplaceRejected): R.SETTLE,
    (S.TRIGGERED, OrderExpired): S.EXPIRED,
    (S.TRIGGERED, OrderTriggered): R.IGNORE,
    # PARTIALLY_FILLED: working, some filled.
    (S.PARTIALLY_FILLED, OrderAccepted): R.ABSORB,  # the ack arrived after the first fill
    (S.PARTIALLY_FILLED, OrderFilled): R.FILL,
    (S.PARTIALLY_FILLED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, OrderCanceled): S.CANCELED,
    (S.PARTIALLY_FILLED, OrderCancelRejected): R.SETTLE,
    (S.PARTIALLY_FILLED, OrderPendingReplace): S.PENDING_REPLACE,
    (S.PARTIALLY_FILLED, OrderReplaceRejected): R.SETTLE,
    (S.PARTIALLY_FILLED, OrderExpired): S.EXPIRED,
    (S.PARTIALLY_FILLED, OrderTriggered): R.IGNORE,  # fills already imply the trigger; reordered stream
    # PENDING_CANCEL: a cancel is in flight; one request at a time.
    (S.PENDING_CANCEL, OrderAccepted): R.ABSORB,  # the cancel was sent before the ack
    (S.PENDING_CANCEL, OrderRejected): S.REJECTED,  # only before the ack: the venue refused the order itself
    (S.PENDING_CANCEL, OrderFilled): R.FILL,  # trades until the cancel lands
    (S.PENDING_CANCEL, OrderCanceled): S.CANCELED,
    (S.PENDING_CANCEL, OrderCancelRejected): R.SETTLE,  # back to where the order was
    (S.PENDING_CANCEL, OrderReplaceRejected): R.SETTLE,
    (S.PENDING_CANCEL, OrderExpired): S.EXPIRED,
    (S.PENDING_CANCEL, OrderTriggered): R.ABSORB,  # the order returns to TRIGGERED if the cancel fails
    # PENDING_REPLACE: a replace is in flight.
    (S.PENDING_REPLACE, OrderAccepted): R.ABSORB,
    (S.PENDING_REPLACE, OrderFilled): R.FILL,  # trades at the old terms until the replace lands
    (S.PENDING_REPLACE, OrderCanceled): S.CANCELED,  # cancel-and-new venues: the new half failed
    (S.PENDING_REPLACE, OrderCancelRejected): R.SETTLE,
    (S.PENDING_REPLACE, OrderReplaced): R.REPLACE,
    (S.PENDING_REPLACE, OrderReplaceRejected): R.SETTLE,  # back to where the order was
    (S.PENDING_REPLACE, OrderExpired): S.EXPIRED,
    (S.PENDING_REPLACE, OrderTriggered): R.ABSORB,
    (S.PENDING_REPLACE, OrderLegEnded): R.HOLD,  # the old leg ended first: ends the order if the replace fails
    # FILLED: terminal.
    (S.FILLED, OrderAccepted): R.ABSORB,  # a market order's REST answer after its stream fills
    (S.FILLED, OrderFilled): R.FILL,  # duplicates are dropped; any new trade is an overfill
    (S.FILLED, OrderCancelRejected): R.SETTLE,  # too late to cancel: the client still gets its reject
    (S.FILLED, OrderReplaceRejected): R.SETTLE,
    (S.FILLED, OrderTriggered): R.IGNORE,  # reordered stream
    (S.FILLED, OrderLegEnded): R.IGNORE,  # filled while its replace was pending: the end adds nothing
    # CANCELED: terminal, but trades executed before the cancel may still be reported.
    (S.CANCELED, OrderAccepted): R.ABSORB,  # canceled before the ack arrived
    (S.CANCELED, OrderFilled): R.FILL,  # late fill: applied, the order stays canceled unless complete
    (S.CANCELED, OrderCanceled): R.IGNORE,  # the REST answer and the stream both confirm
    (S.CANCELED, OrderCancelRejected): R.SETTLE,
    (S.CANCELED, OrderReplaceRejected): R.SETTLE,
    (S.CANCELED, OrderLegEnded): R.IGNORE,
    # REJECTED: terminal; a rejected order never traded, so a fill here is a loud error.
    (S.REJECTED, OrderRejected): R.IGNORE,
    (S.REJECTED, OrderCancelRejected): R.SETTLE,  # a cancel sent before the ack, then the order refused
    # EXPIRED: terminal, with late fills as for CANCELED.
    (S.EXPIRED, OrderAccepted): R.ABSORB,
    (S.EXPIRED, OrderFilled): R.FILL,  # IOC: its trades may be reported after its expiry
    (S.EXPIRED, OrderExpired): R.IGNORE,
    (S.EXPIRED, OrderCancelRejected): R.SETTLE,
    (S.EXPIRED, OrderReplaceRejected): R.SETTLE,
    (S.EXPIRED, OrderLegEnded): R.IGNORE,
}

L = LegState
CUR, NEW, OLD = LegRole.CURRENT, LegRole.NEW, LegRole.OLD

LegTarget = type | Rule

LEG_TRANSITIONS: dict[tuple[LegState, type, LegRole], LegTarget] = {
    # STEADY: no replace pending (a leg cannot be NEW). An OLD leg was replaced, or its replace failed.
    (L.STEADY, LegAccepted, CUR): OrderAccepted,
    (L.STEADY, LegAccepted, OLD): R.IGNORE,  # the order lives on in a later leg
    (L.STEADY, LegAmended, CUR): R.IGNORE,  # no replace asked for: nothing to confirm
    (L.STEADY, LegAmended, OLD): R.IGNORE,
    (L.STEADY, LegCanceled, CUR): OrderCanceled,  # on our request, or unsolicited
    (L.STEADY, LegCanceled, OLD): R.IGNORE,  # the old leg of a replace that landed: the order lives on
    (L.STEADY, LegExpired, CUR): OrderExpired,
    (L.STEADY, LegExpired, OLD): R.IGNORE,
    (L.STEADY, LegRejected, CUR): OrderRejected,  # the order itself was refused (before its ack)
    (L.STEADY, LegRejected, OLD): R.IGNORE,  # a new leg refused after its replace settled
    # REPLACING: a replace is pending.
    (L.REPLACING, LegAccepted, CUR): OrderAccepted,  # a late ack of the current leg
    (L.REPLACING, LegAccepted, NEW): OrderReplaced,  # the new leg accepted: the replace landed
    (L.REPLACING, LegAccepted, OLD): R.IGNORE,
    (L.REPLACING, LegAmended, CUR): OrderReplaced,  # amended in place under the old id
    (L.REPLACING, LegAmended, NEW): OrderReplaced,  # amended in place under the new id
    (L.REPLACING, LegAmended, OLD): R.IGNORE,
    (L.REPLACING, LegCanceled, CUR): OrderLegEnded,  # held: the order lives on if the new leg is accepted
    (L.REPLACING, LegCanceled, NEW): R.IGNORE,  # a new leg that never became the order
    (L.REPLACING, LegCanceled, OLD): R.IGNORE,
    (L.REPLACING, LegExpired, CUR): OrderLegEnded,
    (L.REPLACING, LegExpired, NEW): R.IGNORE,
    (L.REPLACING, LegExpired, OLD): R.IGNORE,
    (L.REPLACING, LegRejected, CUR): R.IGNORE,  # an acknowledged order is not refused any more
    (L.REPLACING, LegRejected, NEW): OrderReplaceRejected,  # the new leg refused: the replace failed
    (L.REPLACING, LegRejected, OLD): R.IGNORE,
    # HELD: as REPLACING, the current leg's end already held (a second end is not held twice).
    (L.HELD, LegAccepted, CUR): OrderAccepted,
    (L.HELD, LegAccepted, NEW): OrderReplaced,  # the held end is dropped
    (L.HELD, LegAccepted, OLD): R.IGNORE,
    (L.HELD, LegAmended, CUR): OrderReplaced,
    (L.HELD, LegAmended, NEW): OrderReplaced,
    (L.HELD, LegAmended, OLD): R.IGNORE,
    (L.HELD, LegCanceled, CUR): R.IGNORE,
    (L.HELD, LegCanceled, NEW): R.IGNORE,
    (L.HELD, LegCanceled, OLD): R.IGNORE,
    (L.HELD, LegExpired, CUR): R.IGNORE,
    (L.HELD, LegExpired, NEW): R.IGNORE,
    (L.HELD, LegExpired, OLD): R.IGNORE,
    (L.HELD, LegRejected, CUR): R.IGNORE,
    (L.HELD, LegRejected, NEW): OrderReplaceRejected,  # then the held end is due and ends the order
    (L.HELD, LegRejected, OLD): R.IGNORE,
}


def describe_table() -> str:
    """Return both tables as Markdown rows, for documentation."""
    lines = ["| status | event | target |", "|---|---|---|"]
    for (status, event_type), target in TRANSITIONS.items():
        lines.append(f"| {status.value} | {event_type.__name__} | {target.value} |")
    lines += ["", "| legs | leg event | leg | order event |", "|---|---|---|---|"]
    for (state, event_type, role), leg_target in LEG_TRANSITIONS.items():
        name = leg_target.value if isinstance(leg_target, Rule) else leg_target.__name__
        lines.append(f"| {state.value} | {event_type.__name__} | {role.value} | {name} |")
    return "\n".join(lines)
