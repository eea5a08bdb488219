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

A pair that is not in the table raises ``InvalidTransition``: the order is left untouched. Edges that
look surprising carry a one-line reason.
"""

from __future__ import annotations

from enum import Enum

from .enums import OrderStatus
from .events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderExpired,
    OrderFilled,
    OrderPendingCancel,
    OrderPendingReplace,
    OrderRejected,
    OrderReplaced,
    OrderReplaceRejected,
    OrderSubmitted,
    OrderTriggered,
)

__all__ = ["Rule", "TRANSITIONS", "Target", "describe_table"]


class Rule(Enum):
    """Targets that depend on more than the (status, event type) pair; see the module docstring."""

    FILL = "fill"
    SETTLE = "settle"
    REPLACE = "replace"
    ABSORB = "absorb"
    IGNORE = "ignore"


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
    # FILLED: terminal.
    (S.FILLED, OrderAccepted): R.ABSORB,  # a market order's REST answer after its stream fills
    (S.FILLED, OrderFilled): R.FILL,  # duplicates are dropped; any new trade is an overfill
    (S.FILLED, OrderCancelRejected): R.SETTLE,  # too late to cancel: the client still gets its reject
    (S.FILLED, OrderReplaceRejected): R.SETTLE,
    (S.FILLED, OrderTriggered): R.IGNORE,  # reordered stream
    # CANCELED: terminal, but trades executed before the cancel may still be reported.
    (S.CANCELED, OrderAccepted): R.ABSORB,  # canceled before the ack arrived
    (S.CANCELED, OrderFilled): R.FILL,  # late fill: applied, the order stays canceled unless complete
    (S.CANCELED, OrderCanceled): R.IGNORE,  # the REST answer and the stream both confirm
    (S.CANCELED, OrderCancelRejected): R.SETTLE,
    (S.CANCELED, OrderReplaceRejected): R.SETTLE,
    # REJECTED: terminal; a rejected order never traded, so a fill here is a loud error.
    (S.REJECTED, OrderRejected): R.IGNORE,
    (S.REJECTED, OrderCancelRejected): R.SETTLE,  # a cancel sent before the ack, then the order refused
    # EXPIRED: terminal, with late fills as for CANCELED.
    (S.EXPIRED, OrderAccepted): R.ABSORB,
    (S.EXPIRED, OrderFilled): R.FILL,  # IOC: its trades may be reported after its expiry
    (S.EXPIRED, OrderExpired): R.IGNORE,
    (S.EXPIRED, OrderCancelRejected): R.SETTLE,
    (S.EXPIRED, OrderReplaceRejected): R.SETTLE,
}


def describe_table() -> str:
    """Return the table as Markdown rows (status | event | target), for documentation."""
    lines = ["| status | event | target |", "|---|---|---|"]
    for (status, event_type), target in TRANSITIONS.items():
        lines.append(f"| {status.value} | {event_type.__name__} | {target.value} |")
    return "\n".join(lines)
