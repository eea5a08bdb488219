"""Order events applied to a book -> the FIX message each one is reported as, in both versions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fixgw.codec import Message, Parser, encode
from fixgw.orders import (
    CancelOrder,
    OrderAccepted,
    OrderBook,
    OrderCanceled,
    OrderCancelRejected,
    OrderFilled,
    OrderRejected,
    OrderReplaced,
    OrderReplaceRejected,
    OrderSubmitted,
    OrderTriggered,
    ReplaceOrder,
    SubmitOrder,
)
from fixgw.orders.enums import OrderSide, OrderType
from fixgw.translate import FIX42, FIX44, reject_reason_for_text, reply_for_event, status_report, table_for

T = 1_764_036_000_000_000_000
D = Decimal


def wire(begin: str, built: tuple[bytes, list] | None) -> Message:
    assert built is not None
    p = Parser()
    p.feed(encode(begin, built[0], [(49, "G"), (56, "C"), (34, 1), *built[1]]))
    m = p.next_event()
    assert isinstance(m, Message)
    return m


def working(book: OrderBook, qty: str = "1", order_type: OrderType = OrderType.LIMIT):  # type: ignore[no-untyped-def]
    order = book.submit(SubmitOrder(cl_ord_id="c1", symbol="BTC/USDT", side=OrderSide.BUY, order_type=order_type,
                                    quantity=D(qty), price=D("100"), ts_ns=T))
    for e in (OrderSubmitted(order_id=order.order_id, ts_ns=T),
              OrderAccepted(order_id=order.order_id, ts_ns=T, venue_order_id="V1")):
        book.apply(e)
    return order


def applied(book: OrderBook, event):  # type: ignore[no-untyped-def]
    assert book.apply(event)
    return event


@pytest.mark.parametrize("begin", ["FIX.4.2", "FIX.4.4"])
def test_reports_submitted_not_reported_accepted_is_new(begin: str) -> None:
    book = OrderBook("A")
    order = book.submit(SubmitOrder(cl_ord_id="c1", symbol="BTC/USDT", side=OrderSide.BUY,
                                    order_type=OrderType.LIMIT, quantity=D(1), price=D(100), ts_ns=T))
    sub = applied(book, OrderSubmitted(order_id=order.order_id, ts_ns=T))
    assert reply_for_event(table_for(begin), order, sub, "BTC/USDT") is None
    acc = applied(book, OrderAccepted(order_id=order.order_id, ts_ns=T, venue_order_id="V1"))
    m = wire(begin, reply_for_event(table_for(begin), order, acc, "BTC/USDT"))
    assert (m[150], m[39], m[37], m[17]) == (b"0", b"0", b"A-1", b"A-1-2")


@pytest.mark.parametrize(("begin", "partial", "full"), [("FIX.4.2", b"1", b"2"), ("FIX.4.4", b"F", b"F")])
def test_reports_fills_exec_type_per_version_with_last_fields(begin: str, partial: bytes, full: bytes) -> None:
    book = OrderBook("A")
    order = working(book)
    f1 = applied(book, OrderFilled(order_id=order.order_id, ts_ns=T, trade_id="t1", last_qty=D("0.4"),
                                   last_px=D("100")))
    m1 = wire(begin, reply_for_event(table_for(begin), order, f1, "BTC/USDT"))
    assert (m1[150], m1[39], m1[32], m1[31], m1[14], m1[151]) == (partial, b"1", b"0.4", b"100", b"0.4", b"0.6")
    f2 = applied(book, OrderFilled(order_id=order.order_id, ts_ns=T, trade_id="t2", last_qty=D("0.6"),
                                   last_px=D("99")))
    m2 = wire(begin, reply_for_event(table_for(begin), order, f2, "BTC/USDT"))
    assert (m2[150], m2[39], m2[14], m2[151], m2[6]) == (full, b"2", b"1", b"0", b"99.4")
    assert m1[17] != m2[17]


def test_reports_duplicate_fill_not_reported_twice() -> None:
    book = OrderBook("A")
    order = working(book)
    book.apply(OrderFilled(order_id=order.order_id, ts_ns=T, trade_id="t1", last_qty=D("0.4"), last_px=D("100")))
    assert not book.apply(OrderFilled(order_id=order.order_id, ts_ns=T, trade_id="t1", last_qty=D("0.4"),
                                      last_px=D("100")))


@pytest.mark.parametrize("begin", ["FIX.4.2", "FIX.4.4"])
def test_reports_cancel_pending_then_canceled_carry_request_ids(begin: str) -> None:
    book = OrderBook("A")
    order = working(book)
    book.cancel(CancelOrder(cl_ord_id="c2", ts_ns=T, orig_cl_ord_id="c1"))
    pending = wire(begin, reply_for_event(table_for(begin), order, order.events[-1], "BTC/USDT"))
    assert (pending[150], pending[39], pending[11], pending[41]) == (b"6", b"6", b"c2", b"c1")
    done = applied(book, OrderCanceled(order_id=order.order_id, ts_ns=T))
    m = wire(begin, reply_for_event(table_for(begin), order, done, "BTC/USDT"))
    assert (m[150], m[39], m[11], m[41], m[151]) == (b"4", b"4", b"c2", b"c1", b"0")


@pytest.mark.parametrize(("event_cls", "kind", "response_to"), [(OrderCancelRejected, "cancel", b"1"),
                                                                 (OrderReplaceRejected, "replace", b"2")])
def test_reports_request_rejected_becomes_order_cancel_reject(event_cls: type, kind: str, response_to: bytes) -> None:
    book = OrderBook("A")
    order = working(book)
    if kind == "cancel":
        book.cancel(CancelOrder(cl_ord_id="c2", ts_ns=T, orig_cl_ord_id="c1"))
    else:
        book.replace(ReplaceOrder(cl_ord_id="c2", ts_ns=T, orig_cl_ord_id="c1", quantity=D(2)))
    ev = applied(book, event_cls(order_id=order.order_id, ts_ns=T, cl_ord_id="c2", reason="venue says no"))
    m = wire("FIX.4.4", reply_for_event(FIX44, order, ev, "BTC/USDT"))
    assert m.msg_type == b"9"
    assert (m[11], m[41], m[434], m[39], m[58], m[37]) == (b"c2", b"c1", response_to, b"0", b"venue says no", b"A-1")


@pytest.mark.parametrize(("begin", "status"), [("FIX.4.2", b"5"), ("FIX.4.4", b"0")])
def test_reports_replaced_status_per_version(begin: str, status: bytes) -> None:
    book = OrderBook("A")
    order = working(book)
    book.replace(ReplaceOrder(cl_ord_id="c2", ts_ns=T, orig_cl_ord_id="c1", quantity=D(2), price=D(101)))
    pend = wire(begin, reply_for_event(table_for(begin), order, order.events[-1], "BTC/USDT"))
    assert (pend[150], pend[39], pend[11], pend[41]) == (b"E", b"E", b"c2", b"c1")
    ev = applied(book, OrderReplaced(order_id=order.order_id, ts_ns=T, venue_order_id="V2"))
    m = wire(begin, reply_for_event(table_for(begin), order, ev, "BTC/USDT"))
    assert (m[150], m[39], m[11], m[41], m[38], m[44]) == (b"5", status, b"c2", b"c1", b"2", b"101")


@pytest.mark.parametrize(("text", "code44"), [("Duplicate order sent.", b"6"), ("Invalid symbol.", b"1"),
                                              ("Filter failure: LOT_SIZE", b"13"),
                                              ("Account has insufficient balance for requested action.", b"3"),
                                              ("Order would immediately match and take.", b"0")])
def test_reports_venue_reject_text_maps_to_ord_rej_reason(text: str, code44: bytes) -> None:
    book = OrderBook("A")
    order = book.submit(SubmitOrder(cl_ord_id="c1", symbol="BTC/USDT", side=OrderSide.BUY,
                                    order_type=OrderType.LIMIT, quantity=D(1), price=D(100), ts_ns=T))
    book.apply(OrderSubmitted(order_id=order.order_id, ts_ns=T))
    ev = applied(book, OrderRejected(order_id=order.order_id, ts_ns=T, reason=text))
    m = wire("FIX.4.4", reply_for_event(FIX44, order, ev, "BTC/USDT"))
    assert (m[150], m[39], m[103], m[58]) == (b"8", b"8", code44, text.encode())
    assert reject_reason_for_text(text)


def test_reports_triggered_not_reported() -> None:
    book = OrderBook("A")
    order = book.submit(SubmitOrder(cl_ord_id="c1", symbol="BTC/USDT", side=OrderSide.SELL, order_type=OrderType.STOP,
                                    quantity=D(1), trigger_price=D(90), ts_ns=T))
    book.apply(OrderSubmitted(order_id=order.order_id, ts_ns=T))
    book.apply(OrderAccepted(order_id=order.order_id, ts_ns=T))
    ev = OrderTriggered(order_id=order.order_id, ts_ns=T)
    book.apply(ev)
    assert reply_for_event(FIX44, order, ev, "BTC/USDT") is None


def test_reports_status_report_fix42_exec_trans_type_3() -> None:
    book = OrderBook("A")
    order = working(book)
    m = wire("FIX.4.2", status_report(FIX42, order, "BTC/USDT", exec_id="s1", ts_ns=T, ord_status_req_id="r"))
    assert (m[20], m[150], m[39], m[17], m[790]) == (b"3", b"0", b"0", b"s1", b"r")


@pytest.mark.parametrize(("places", "avg"), [(None, b"1.6666666667"), (12, b"1.666666666667")])
def test_reports_avg_px_repeating_quotient_rounded_to_instrument_places(places: int | None, avg: bytes) -> None:
    book = OrderBook("A")
    order = working(book, qty="5")
    applied(book, OrderFilled(order_id=order.order_id, ts_ns=T, trade_id="t1", last_qty=D("1"), last_px=D("1")))
    f2 = applied(book, OrderFilled(order_id=order.order_id, ts_ns=T, trade_id="t2", last_qty=D("2.000"),
                                   last_px=D("2.00")))
    assert len(str(order.avg_px)) > 20  # the model keeps its 28 digits; the report does not
    kw = {} if places is None else {"avg_px_places": places}
    m = wire("FIX.4.4", reply_for_event(FIX44, order, f2, "BTC/USDT", **kw))
    assert (m[6], m[14], m[151], m[32], m[31]) == (avg, b"3", b"2", b"2", b"2")
    s = wire("FIX.4.4", status_report(FIX44, order, "BTC/USDT", exec_id="s1", ts_ns=T, **kw))
    assert s[6] == avg
