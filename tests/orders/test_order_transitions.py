"""Every (status, event type) pair: a listed transition with the expected outcome, or InvalidTransition.

The expected outcomes below are written out by hand, independently of ``TRANSITIONS``, so a change to
the table has to be made twice on purpose. Cells: a status value (reported), the same with a trailing
``-`` (not reported: dropped or absorbed), ``X`` (InvalidTransition), ``OF`` (OverfillError).
"""

from __future__ import annotations

import pytest

from fixgw.errors import InvalidTransition, OverfillError
from fixgw.orders import EVENT_TYPES, TRANSITIONS, OrderStatus

from orders_helpers import order_in, sample_events

S = OrderStatus

# Columns in EVENT_TYPES order:
#   Submitted Accepted Rejected Filled PendingCancel Canceled CancelRejected PendingReplace Replaced
#   ReplaceRejected Expired Triggered LegEnded
EXPECTED = {
    S.INITIALIZED: "pending_new new rejected partially_filled X canceled X X X X expired triggered X",
    S.PENDING_NEW: "X new rejected partially_filled pending_cancel canceled pending_new- X X X expired triggered X",
    S.NEW: "X new- X partially_filled pending_cancel canceled new- pending_replace X new- expired triggered X",
    S.TRIGGERED: "X triggered- X partially_filled pending_cancel canceled triggered- pending_replace X "
    "triggered- expired triggered- X",
    S.PARTIALLY_FILLED: "X partially_filled- X partially_filled pending_cancel canceled partially_filled- "
    "pending_replace X partially_filled- expired partially_filled- X",
    S.PENDING_CANCEL: "X pending_cancel- X pending_cancel X canceled new X X pending_cancel- expired pending_cancel- X",
    S.PENDING_REPLACE: "X pending_replace- X pending_replace X canceled pending_replace- X new new expired "
    "pending_replace- pending_replace-",
    S.FILLED: "X filled- X OF X X filled- X X filled- X filled- filled-",
    S.CANCELED: "X canceled- X canceled X canceled- canceled- X X canceled- X X canceled-",
    S.REJECTED: "X X rejected- X X X rejected- X X X X X X",
    S.EXPIRED: "X expired- X expired X X expired- X X expired- expired- X expired-",
}

PAIRS = [(status, event_type) for status in S for event_type in EVENT_TYPES]


def test_expected_matrix_covers_every_pair():
    assert set(EXPECTED) == set(S)
    for status, row in EXPECTED.items():
        assert len(row.split()) == len(EVENT_TYPES), status


@pytest.mark.parametrize("status,event_type", PAIRS, ids=[f"{s.value}-{e.__name__}" for s, e in PAIRS])
def test_transition_pair_listed_or_invalid_transition(status, event_type):
    order = order_in(status)
    event = sample_events()[event_type]
    expected = EXPECTED[status].split()[EVENT_TYPES.index(event_type)]
    before = order.snapshot()
    if expected in ("X", "OF"):
        error = InvalidTransition if expected == "X" else OverfillError
        with pytest.raises(error):
            order.apply(event)
        assert order.snapshot() == before, "a refused event must leave the order untouched"
        if expected == "X" and (status, event_type) in TRANSITIONS:
            # Listed, but refused by its handler: only the documented data-dependent refusals.
            assert (status, event_type.__name__) == (S.PENDING_CANCEL, "OrderRejected")
        return
    assert (status, event_type) in TRANSITIONS, "an accepted pair must be listed in the one table"
    reported = order.apply(event)
    target = expected.rstrip("-")
    assert order.status.value == target
    assert reported is not expected.endswith("-")
    if not reported:
        assert order.event_seq in (before.event_seq, before.event_seq + 1)
    else:
        assert order.event_seq == before.event_seq + 1


def test_unlisted_pairs_all_raise_invalid_transition():
    for status, event_type in PAIRS:
        if (status, event_type) in TRANSITIONS:
            continue
        order = order_in(status)
        with pytest.raises(InvalidTransition) as info:
            order.apply(sample_events()[event_type])
        assert info.value.status is status
        assert info.value.event_type == event_type.__name__


def test_terminal_statuses_leave_only_by_late_fill():
    for (status, event_type), target in TRANSITIONS.items():
        if status.is_terminal and isinstance(target, OrderStatus):
            pytest.fail(f"{status} leaves for {target} on {event_type.__name__}")
