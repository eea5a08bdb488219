"""The order rules one at a time: fills, averages, late and early events, request rejects, replaces."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fixgw.errors import InvalidTransition, OrderError, OverfillError
from fixgw.orders import (
    ExecTypeHint,
    LiquiditySide,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderExpired,
    OrderPendingCancel,
    OrderPendingReplace,
    OrderRejected,
    OrderReplaced,
    OrderReplaceRejected,
    OrderSide,
    OrderStatus,
    OrderSubmitted,
    OrderTriggered,
    OrderType,
    SubmitOrder,
)

from orders_helpers import OID, fill, limit, new_order, order_in, stop_limit

D = Decimal
S = OrderStatus


def test_fill_partial_then_complete_statuses_and_leaves():
    o = order_in(S.NEW)
    assert o.apply(fill("T1", "3"))
    assert (o.status, o.cum_qty, o.leaves_qty) == (S.PARTIALLY_FILLED, D("3"), D("7"))
    assert o.apply(fill("T2", "7"))
    assert (o.status, o.cum_qty, o.leaves_qty) == (S.FILLED, D("10"), D("0"))


def test_fill_average_price_exact_decimal():
    o = order_in(S.NEW)
    o.apply(fill("T1", "0.1", "100.01"))
    o.apply(fill("T2", "0.2", "100.02"))
    assert o.notional == D("30.005")
    assert o.avg_px == D("30.005") / D("0.3")
    assert o.avg_px == D("100.0166666666666666666666667")


def test_fill_tiny_and_huge_values_sum_exactly():
    o = new_order(limit(quantity="100000000"))
    o.apply(fill("T1", "0.000000000000000000000000000001", "123456789.123456789"))
    o.apply(fill("T2", "99999999", "0.00000001"))
    assert o.cum_qty == D("99999999.000000000000000000000000000001")
    assert o.notional == D("0.999999990000000000000123456789123456789")


def test_fill_duplicate_trade_id_dropped():
    o = order_in(S.NEW)
    assert o.apply(fill("T1", "3"))
    seq = o.event_seq
    assert o.apply(fill("T1", "3")) is False
    assert o.cum_qty == D("3") and o.event_seq == seq


def test_fill_duplicate_of_final_fill_dropped_not_overfill():
    o = order_in(S.NEW)
    o.apply(fill("T1", "10"))
    assert o.apply(fill("T1", "10")) is False
    assert o.status is S.FILLED


def test_fill_past_quantity_raises_overfill_and_keeps_order():
    o = order_in(S.PARTIALLY_FILLED)
    before = o.snapshot()
    with pytest.raises(OverfillError):
        o.apply(fill("T9", "6.0000001"))
    assert o.snapshot() == before


def test_fill_before_acceptance_applied_and_late_ack_absorbed():
    o = order_in(S.PENDING_NEW)
    assert o.apply(fill("T1", "4", venue_order_id="V7"))
    assert o.status is S.PARTIALLY_FILLED and o.venue_order_id == "V7"
    assert o.apply(OrderAccepted(order_id=OID, ts_ns=11, venue_order_id="V7")) is False
    assert o.status is S.PARTIALLY_FILLED


def test_accept_after_fill_without_venue_id_learns_it_silently():
    o = order_in(S.PENDING_NEW)
    o.apply(fill("T1", "10"))
    seq = o.event_seq
    assert o.apply(OrderAccepted(order_id=OID, ts_ns=11, venue_order_id="V7")) is False
    assert o.venue_order_id == "V7" and o.status is S.FILLED and o.event_seq == seq + 1


def test_fill_after_cancel_requested_keeps_pending_cancel():
    o = order_in(S.PENDING_CANCEL)
    assert o.apply(fill("T1", "4"))
    assert o.status is S.PENDING_CANCEL and o.cum_qty == D("4")


def test_fill_after_cancel_confirmed_applied_late():
    o = order_in(S.PENDING_CANCEL)
    o.apply(OrderCanceled(order_id=OID, ts_ns=5))
    assert o.apply(fill("T1", "4"))
    assert (o.status, o.cum_qty, o.leaves_qty) == (S.CANCELED, D("4"), D("0"))


def test_late_fill_completing_canceled_order_makes_it_filled():
    o = order_in(S.CANCELED)
    assert o.apply(fill("T1", "10"))
    assert o.status is S.FILLED


def test_fill_on_rejected_order_raises_invalid_transition():
    with pytest.raises(InvalidTransition):
        order_in(S.REJECTED).apply(fill("T1", "1"))


def test_cancel_reject_returns_to_previous_status():
    o = order_in(S.PENDING_CANCEL)
    assert o.apply(OrderCancelRejected(order_id=OID, ts_ns=5, cl_ord_id="c1-cx", reason="busy"))
    assert o.status is S.NEW and o.pending_cl_ord_id is None and o.cl_ord_id == "c1"


def test_cancel_reject_after_fill_while_pending_returns_to_partially_filled():
    o = order_in(S.PENDING_CANCEL)
    o.apply(fill("T1", "4"))
    o.apply(OrderCancelRejected(order_id=OID, ts_ns=5))
    assert o.status is S.PARTIALLY_FILLED


def test_cancel_reject_before_ack_returns_to_pending_new_then_new_after_ack():
    o = order_in(S.PENDING_NEW)
    o.apply(OrderPendingCancel(order_id=OID, ts_ns=3, cl_ord_id="c1-cx"))
    o.apply(OrderCancelRejected(order_id=OID, ts_ns=4))
    assert o.status is S.PENDING_NEW
    o2 = order_in(S.PENDING_NEW)
    o2.apply(OrderPendingCancel(order_id=OID, ts_ns=3, cl_ord_id="c1-cx"))
    assert o2.apply(OrderAccepted(order_id=OID, ts_ns=4, venue_order_id="V1")) is False
    o2.apply(OrderCancelRejected(order_id=OID, ts_ns=5))
    assert o2.status is S.NEW and o2.venue_order_id == "V1"


def test_cancel_reject_for_other_request_dropped():
    o = order_in(S.PENDING_CANCEL)
    assert o.apply(OrderCancelRejected(order_id=OID, ts_ns=5, cl_ord_id="someone-else")) is False
    assert o.status is S.PENDING_CANCEL


def test_cancel_reject_after_order_filled_reported_and_status_kept():
    o = order_in(S.PENDING_CANCEL)
    o.apply(fill("T1", "10"))
    assert o.status is S.FILLED
    assert o.apply(OrderCancelRejected(order_id=OID, ts_ns=5, reason="too late"))
    assert o.status is S.FILLED and o.pending_kind is None
    assert o.apply(OrderCancelRejected(order_id=OID, ts_ns=6)) is False


def test_cancel_confirmed_moves_clordid_chain():
    o = order_in(S.PENDING_CANCEL)
    o.apply(OrderCanceled(order_id=OID, ts_ns=5))
    assert (o.cl_ord_id, o.orig_cl_ord_id, o.cl_ord_ids) == ("c1-cx", "c1", ["c1", "c1-cx"])


def test_unsolicited_cancel_keeps_clordid():
    o = order_in(S.NEW)
    o.apply(OrderCanceled(order_id=OID, ts_ns=5, reason="self-trade prevention"))
    assert o.status is S.CANCELED and o.cl_ord_id == "c1" and o.orig_cl_ord_id is None


def test_second_cancel_while_pending_raises_invalid_transition():
    o = order_in(S.PENDING_CANCEL)
    with pytest.raises(InvalidTransition):
        o.apply(OrderPendingCancel(order_id=OID, ts_ns=5, cl_ord_id="c1-cx2"))


def test_rejected_after_cancel_sent_before_ack_is_rejected():
    o = order_in(S.PENDING_NEW)
    o.apply(OrderPendingCancel(order_id=OID, ts_ns=3, cl_ord_id="c1-cx"))
    assert o.apply(OrderRejected(order_id=OID, ts_ns=4, reason="insufficient balance"))
    assert o.status is S.REJECTED
    assert o.apply(OrderCancelRejected(order_id=OID, ts_ns=5, reason="unknown order"))
    assert o.status is S.REJECTED


def test_replace_keeps_identity_and_history_changes_terms():
    o = order_in(S.PARTIALLY_FILLED)
    events_before = list(o.events)
    o.apply(OrderPendingReplace(order_id=OID, ts_ns=5, cl_ord_id="c2", quantity=D("8"), price=D("99")))
    assert o.status is S.PENDING_REPLACE and o.quantity == D("10")
    assert o.apply(OrderReplaced(order_id=OID, ts_ns=6, venue_order_id="V2"))
    assert o.order_id == OID and o.events[: len(events_before)] == events_before
    assert (o.cl_ord_id, o.orig_cl_ord_id) == ("c2", "c1")
    assert (o.quantity, o.price, o.cum_qty, o.leaves_qty) == (D("8"), D("99"), D("4"), D("4"))
    assert o.status is S.PARTIALLY_FILLED and o.venue_order_id == "V2"


def test_replace_venue_values_override_request():
    o = order_in(S.PENDING_REPLACE)
    o.apply(OrderReplaced(order_id=OID, ts_ns=6, price=D("100.5")))
    assert (o.quantity, o.price, o.status) == (D("12"), D("100.5"), S.NEW)


def test_replace_quantity_below_cumulative_refused():
    o = order_in(S.PARTIALLY_FILLED)
    with pytest.raises(OverfillError):
        o.apply(OrderPendingReplace(order_id=OID, ts_ns=5, cl_ord_id="c2", quantity=D("3.9")))
    assert o.status is S.PARTIALLY_FILLED


def test_replace_confirmed_below_fills_made_meanwhile_raises_overfill():
    o = order_in(S.NEW)
    o.apply(OrderPendingReplace(order_id=OID, ts_ns=5, cl_ord_id="c2", quantity=D("5")))
    o.apply(fill("T1", "6"))
    with pytest.raises(OverfillError):
        o.apply(OrderReplaced(order_id=OID, ts_ns=6))
    assert o.status is S.PENDING_REPLACE


def test_replace_quantity_equal_cumulative_fills_order():
    o = order_in(S.PARTIALLY_FILLED)
    o.apply(OrderPendingReplace(order_id=OID, ts_ns=5, cl_ord_id="c2", quantity=D("4")))
    o.apply(OrderReplaced(order_id=OID, ts_ns=6))
    assert o.status is S.FILLED and o.leaves_qty == 0


def test_replace_reject_returns_to_previous_status_and_keeps_terms():
    o = order_in(S.PENDING_REPLACE)
    assert o.apply(OrderReplaceRejected(order_id=OID, ts_ns=6, cl_ord_id="c1-rp"))
    assert (o.status, o.quantity, o.price, o.cl_ord_id) == (S.NEW, D("10"), D("100"), "c1")


def test_replace_price_on_market_order_refused():
    o = new_order(SubmitOrder(cl_ord_id="m", symbol="X", side=OrderSide.BUY, order_type=OrderType.MARKET,
                              quantity=D("1"), ts_ns=1))
    o.apply(OrderSubmitted(order_id=OID, ts_ns=2))
    o.apply(OrderAccepted(order_id=OID, ts_ns=3))
    with pytest.raises(OrderError):
        o.apply(OrderPendingReplace(order_id=OID, ts_ns=5, cl_ord_id="c2", price=D("1")))


def test_trigger_while_cancel_pending_returns_to_triggered():
    o = new_order(stop_limit())
    o.apply(OrderSubmitted(order_id=OID, ts_ns=2))
    o.apply(OrderAccepted(order_id=OID, ts_ns=3))
    o.apply(OrderPendingCancel(order_id=OID, ts_ns=4, cl_ord_id="cx"))
    assert o.apply(OrderTriggered(order_id=OID, ts_ns=5)) is False
    o.apply(OrderCancelRejected(order_id=OID, ts_ns=6))
    assert o.status is S.TRIGGERED


def test_quote_order_completes_on_final_fill():
    cmd = SubmitOrder(cl_ord_id="q", symbol="BTCUSDT", side=OrderSide.BUY, order_type=OrderType.MARKET,
                      quote_quantity=D("1000"), ts_ns=1)
    o = new_order(cmd)
    o.apply(OrderSubmitted(order_id=OID, ts_ns=2))
    o.apply(fill("T1", "0.01", "50000"))
    assert o.status is S.PARTIALLY_FILLED and o.leaves_qty == 0 and o.quantity is None
    o.apply(fill("T2", "0.0099", "50100", final=True))
    assert o.status is S.FILLED and o.notional == D("995.99")


def test_quote_order_notional_past_quote_quantity_raises_overfill():
    cmd = SubmitOrder(cl_ord_id="q", symbol="BTCUSDT", side=OrderSide.BUY, order_type=OrderType.MARKET,
                      quote_quantity=D("100"), ts_ns=1)
    o = new_order(cmd)
    o.apply(OrderSubmitted(order_id=OID, ts_ns=2))
    with pytest.raises(OverfillError):
        o.apply(fill("T1", "1.0001", "100"))


def test_fees_accumulate_per_currency_with_rebates():
    o = order_in(S.NEW)
    o.apply(fill("T1", "1", fee=D("0.001"), fee_currency="BNB", liquidity=LiquiditySide.TAKER))
    o.apply(fill("T2", "1", fee=D("-0.0002"), fee_currency="BNB", liquidity=LiquiditySide.MAKER))
    o.apply(fill("T3", "1", fee=D("0.1"), fee_currency="USDT"))
    assert o.fees == {"BNB": D("0.0008"), "USDT": D("0.1")}


def test_exec_id_counts_applied_events():
    o = order_in(S.NEW)
    assert o.exec_id == f"{OID}-2"
    o.apply(fill("T1", "1"))
    assert o.exec_id == f"{OID}-3"


def test_event_exec_type_hints_cover_fix_reports():
    assert fill("T1", "1").exec_type is ExecTypeHint.TRADE
    assert OrderCancelRejected(order_id=OID, ts_ns=1).exec_type is ExecTypeHint.CANCEL_REJECTED
    assert OrderExpired(order_id=OID, ts_ns=1).exec_type is ExecTypeHint.EXPIRED


def test_event_for_other_order_raises_order_error():
    o = order_in(S.NEW)
    with pytest.raises(OrderError):
        o.apply(fill("T1", "1", order_id="other"))


def test_fill_with_float_quantity_refused():
    with pytest.raises(OrderError):
        fill("T1", "1").__class__(order_id=OID, ts_ns=1, trade_id="T", last_qty=1.0, last_px=D("1"))


def test_pending_request_with_orders_own_clordid_refused():
    o = order_in(S.NEW)
    with pytest.raises(OrderError):
        o.apply(OrderPendingCancel(order_id=OID, ts_ns=5, cl_ord_id="c1"))
