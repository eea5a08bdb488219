"""Venue legs in the order's tables: cancel-replace legs, the held end of the old leg, amends in place.

The expected resolutions below are written out by hand, independently of ``LEG_TRANSITIONS``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from fixgw.errors import OrderError
from fixgw.orders import (
    LEG_EVENT_TYPES,
    LEG_TRANSITIONS,
    LegAccepted,
    LegAmended,
    LegCanceled,
    LegExpired,
    LegRejected,
    LegRole,
    LegState,
    Order,
    OrderAccepted,
    OrderBook,
    OrderCanceled,
    OrderExpired,
    OrderLegEnded,
    OrderRejected,
    OrderReplaced,
    OrderReplaceRejected,
    OrderStatus,
    OrderSubmitted,
    ReplaceOrder,
    Rule,
    describe_table,
)
from fixgw.orders.legs import resolve
from fixgw.stores.journal_memory import MemoryOrderJournal

from orders_helpers import OID, fill, limit, new_order

D = Decimal
S = OrderStatus
L = LegState
CUR, NEW, OLD = LegRole.CURRENT, LegRole.NEW, LegRole.OLD

# (leg state, leg event, role) -> the order event it amounts to ("-": ignored). STEADY has no NEW leg.
EXPECTED = {
    L.STEADY: {CUR: "Accepted - Canceled Expired Rejected", OLD: "- - - - -"},
    L.REPLACING: {CUR: "Accepted Replaced LegEnded LegEnded -", NEW: "Replaced Replaced - - ReplaceRejected",
                  OLD: "- - - - -"},
    L.HELD: {CUR: "Accepted Replaced - - -", NEW: "Replaced Replaced - - ReplaceRejected", OLD: "- - - - -"},
}


def _name(target) -> str:
    return "-" if target is Rule.IGNORE else target.__name__.removeprefix("Order")


def test_leg_table_every_triple_listed_as_expected():
    expected = {(state, kind, role): cell
                for state, roles in EXPECTED.items() for role, row in roles.items()
                for kind, cell in zip(LEG_EVENT_TYPES, row.split(), strict=True)}
    assert {k: _name(v) for k, v in LEG_TRANSITIONS.items()} == expected


def test_leg_table_described_for_documentation():
    text = describe_table()
    assert "| held | LegRejected | new | OrderReplaceRejected |" in text
    assert "| pending_replace | OrderLegEnded | hold |" in text


# -- helpers ---------------------------------------------------------------------------------------


def accepted(quantity: str = "10") -> Order:
    o = new_order(limit(quantity=quantity))
    o.apply(OrderSubmitted(order_id=OID, ts_ns=2))
    o.apply(LegAccepted(order_id=OID, ts_ns=3, leg=0, venue_order_id="V0"))
    return o


def book_with_accepted() -> tuple[OrderBook, MemoryOrderJournal, str]:
    journal = MemoryOrderJournal("acct", serialize=True)
    book = OrderBook("acct", journal, autocommit=True)
    order = book.submit(limit())
    book.apply(OrderSubmitted(order_id=order.order_id, ts_ns=2))
    book.apply(LegAccepted(order_id=order.order_id, ts_ns=3, leg=0, venue_order_id="V0"))
    return book, journal, order.order_id


def replace(book: OrderBook, order_id: str, cl: str, quantity: str = "12", ts: int = 5) -> None:
    book.replace(ReplaceOrder(cl_ord_id=cl, order_id=order_id, quantity=D(quantity), price=D("101"), ts_ns=ts))


def apply_with_due(book: OrderBook, event) -> list:
    """What the gateway's router does: apply, then apply what the transition left due. Return the
    events reported (the order events the leg events amounted to)."""
    order = book.get(event.order_id)
    reported = []
    if book.apply(event):
        reported.append(order.events[-1])
    due = order.due()
    if due is not None and book.apply(due):
        reported.append(order.events[-1])
    return reported


# -- the order knows its legs ----------------------------------------------------------------------


def test_legs_replace_landed_moves_current_leg_and_counts_its_fills():
    book, _, oid = book_with_accepted()
    order = book.get(oid)
    book.apply(fill("T1", "3", order_id=oid))
    replace(book, oid, "r1")
    assert (order.leg, order.pending_leg, order.legs_requested) == (0, 1, 1)
    assert order.leg_filled == D(3)
    assert apply_with_due(book, LegAccepted(order_id=oid, ts_ns=6, leg=1, venue_order_id="V1")) == [
        OrderReplaced(order_id=oid, ts_ns=6, venue_order_id="V1")]
    assert (order.status, order.leg, order.pending_leg, order.venue_order_id) == (S.PARTIALLY_FILLED, 1, None, "V1")
    assert (order.quantity, order.price) == (D(12), D(101))
    assert order.leg_filled == 0
    book.apply(fill("T2", "2", order_id=oid))
    assert (order.leg_filled, order.cum_qty) == (D(2), D(5))


def test_legs_rejected_replace_next_request_asks_for_a_new_leg_number():
    book, _, oid = book_with_accepted()
    order = book.get(oid)
    replace(book, oid, "r1")
    assert apply_with_due(book, LegRejected(order_id=oid, ts_ns=6, leg=1, reason="")) == [
        OrderReplaceRejected(order_id=oid, ts_ns=6, cl_ord_id="r1", reason="rejected")]
    assert (order.status, order.leg, order.pending_leg) == (S.NEW, 0, None)
    replace(book, oid, "r2", ts=7)
    assert (order.leg, order.pending_leg) == (0, 2)
    # Leg 1 is an old leg now: a late word about it changes nothing.
    assert apply_with_due(book, LegAccepted(order_id=oid, ts_ns=8, leg=1, venue_order_id="V1")) == []
    assert order.status is S.PENDING_REPLACE


def test_legs_old_leg_end_after_replace_landed_ignored():
    book, journal, oid = book_with_accepted()
    replace(book, oid, "r1")
    apply_with_due(book, LegAccepted(order_id=oid, ts_ns=6, leg=1, venue_order_id="V1"))
    journaled = len(journal)
    assert apply_with_due(book, LegCanceled(order_id=oid, ts_ns=7, leg=0)) == []
    assert book.get(oid).status is S.NEW and len(journal) == journaled


def test_legs_current_leg_canceled_without_replace_cancels_order():
    o = accepted()
    assert o.apply(LegCanceled(order_id=OID, ts_ns=5, leg=0, reason="stp")) is True
    assert o.status is S.CANCELED and o.events[-1] == OrderCanceled(order_id=OID, ts_ns=5, reason="stp")


def test_legs_current_leg_expired_without_replace_expires_order():
    o = accepted()
    assert o.apply(LegExpired(order_id=OID, ts_ns=5, leg=0)) is True
    assert o.status is S.EXPIRED and type(o.events[-1]) is OrderExpired


def test_legs_first_leg_refused_before_ack_rejects_order():
    o = new_order()
    o.apply(OrderSubmitted(order_id=OID, ts_ns=2))
    assert o.apply(LegRejected(order_id=OID, ts_ns=3, leg=0, reason="post only")) is True
    assert o.status is S.REJECTED and o.events[-1] == OrderRejected(order_id=OID, ts_ns=3, reason="post only")


def test_legs_amended_in_place_under_either_id_replaces():
    for leg in (0, 1):
        book, _, oid = book_with_accepted()
        replace(book, oid, "r1", quantity="8")
        assert apply_with_due(book, LegAmended(order_id=oid, ts_ns=6, leg=leg)) == [
            OrderReplaced(order_id=oid, ts_ns=6)]
        order = book.get(oid)
        assert (order.status, order.quantity, order.leg, order.venue_order_id) == (S.NEW, D(8), 1, "V0")


def test_legs_amend_without_replace_pending_ignored():
    o = accepted()
    assert o.apply(LegAmended(order_id=OID, ts_ns=5, leg=0)) is False and o.event_seq == 2


def test_legs_event_of_another_order_refused():
    o = accepted()
    with pytest.raises(OrderError):
        o.apply(LegCanceled(order_id="acct-9", ts_ns=5, leg=0))
    assert o.status is S.NEW


# -- the held end of the old leg -------------------------------------------------------------------


def test_held_end_replace_rejected_then_order_canceled_once():
    book, journal, oid = book_with_accepted()
    order = book.get(oid)
    replace(book, oid, "r1")
    # A cancel-and-new venue cancels the old leg first: held, journaled, not reported.
    assert apply_with_due(book, LegCanceled(order_id=oid, ts_ns=6, leg=0, reason="replaced")) == []
    assert order.held_end == OrderLegEnded(order_id=oid, ts_ns=6, leg=0, reason="replaced")
    assert order.status is S.PENDING_REPLACE and order.due() is None
    assert type(list(journal.records())[-1][1]) is OrderLegEnded
    # A second word of the same end is not held twice.
    journaled = len(journal)
    assert apply_with_due(book, LegExpired(order_id=oid, ts_ns=7, leg=0)) == []
    assert len(journal) == journaled
    # The new leg is refused: the replace is rejected, then the held end applies and ends the order.
    reported = apply_with_due(book, LegRejected(order_id=oid, ts_ns=8, leg=1, reason="would cross"))
    assert reported == [OrderReplaceRejected(order_id=oid, ts_ns=8, cl_ord_id="r1", reason="would cross"),
                        OrderCanceled(order_id=oid, ts_ns=6, reason="replaced")]
    assert order.status is S.CANCELED and order.held_end is None and order.due() is None
    assert apply_with_due(book, LegRejected(order_id=oid, ts_ns=9, leg=1)) == []


def test_held_end_expired_leg_ends_order_expired():
    book, _, oid = book_with_accepted()
    replace(book, oid, "r1")
    apply_with_due(book, LegExpired(order_id=oid, ts_ns=6, leg=0, reason="day end"))
    reported = apply_with_due(book, OrderReplaceRejected(order_id=oid, ts_ns=8, cl_ord_id="r1", reason="no"))
    assert [type(e) for e in reported] == [OrderReplaceRejected, OrderExpired]
    assert book.get(oid).status is S.EXPIRED


def test_held_end_replace_landed_drops_it():
    book, _, oid = book_with_accepted()
    order = book.get(oid)
    replace(book, oid, "r1")
    apply_with_due(book, LegCanceled(order_id=oid, ts_ns=6, leg=0))
    assert apply_with_due(book, LegAccepted(order_id=oid, ts_ns=7, leg=1, venue_order_id="V1")) == [
        OrderReplaced(order_id=oid, ts_ns=7, venue_order_id="V1")]
    assert (order.status, order.held_end, order.due()) == (S.NEW, None, None)


def test_held_end_survives_journal_replay_and_applies_after_restart():
    book, journal, oid = book_with_accepted()
    replace(book, oid, "r1")
    apply_with_due(book, LegCanceled(order_id=oid, ts_ns=6, leg=0, reason="replaced"))
    recovered = OrderBook.recover(journal.reopen(), autocommit=True)
    assert recovered.snapshot() == book.snapshot()
    order = recovered.get(oid)
    assert order.held_end is not None and (order.leg, order.pending_leg) == (0, 1)
    reported = apply_with_due(recovered, LegRejected(order_id=oid, ts_ns=8, leg=1))
    assert [type(e) for e in reported] == [OrderReplaceRejected, OrderCanceled]
    assert order.status is S.CANCELED


def test_held_end_fill_completes_order_meanwhile_nothing_due():
    book, _, oid = book_with_accepted()
    order = book.get(oid)
    replace(book, oid, "r1")
    apply_with_due(book, LegCanceled(order_id=oid, ts_ns=6, leg=0))
    book.apply(fill("T1", "10", order_id=oid))
    assert order.status is S.FILLED
    reported = apply_with_due(book, LegRejected(order_id=oid, ts_ns=8, leg=1))
    assert [type(e) for e in reported] == [OrderReplaceRejected]  # too late: the order is filled
    assert order.status is S.FILLED and order.due() is None


def test_resolve_reads_the_order_changes_nothing():
    o = accepted()
    before = o.snapshot()
    assert resolve(o, LegCanceled(order_id=OID, ts_ns=5, leg=0)) == OrderCanceled(order_id=OID, ts_ns=5)
    assert resolve(o, LegCanceled(order_id=OID, ts_ns=5, leg=3)) is None
    assert resolve(o, LegAccepted(order_id=OID, ts_ns=5, leg=0, venue_order_id="V0")) == OrderAccepted(
        order_id=OID, ts_ns=5, venue_order_id="V0")
    assert o.snapshot() == before


def test_held_end_applied_twice_directly_held_once():
    book, journal, oid = book_with_accepted()
    replace(book, oid, "r1")
    held = OrderLegEnded(order_id=oid, ts_ns=6, leg=0, reason="replaced")
    assert book.apply(held) is False and book.get(oid).held_end == held
    journaled = len(journal)
    assert book.apply(OrderLegEnded(order_id=oid, ts_ns=7, leg=0, expired=True)) is False
    assert book.get(oid).held_end == held and len(journal) == journaled
