"""Reports and rejections -> FIX messages, FIX 4.2 vs 4.4 from the version tables."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fixgw.orders.enums import OrderSide, OrderStatus, OrderType, TimeInForce

from fixgw.codec import Message, Parser, encode
from fixgw.translate import (
    FIX42,
    FIX44,
    REJ,
    BusinessReject,
    CancelReject,
    ExecKind,
    ExecReport,
    MassCancelReject,
    OrderReject,
    business_reject,
    cancel_reject,
    execution_report,
    mass_cancel_report,
    order_reject,
    table_for,
)

T = 1_764_036_000_123_000_000  # 2025-11-25 02:00:00.123 UTC


def wire(begin: str, built: tuple[bytes, list]) -> Message:
    msg_type, fields = built
    p = Parser()
    p.feed(encode(begin, msg_type, [(49, "G"), (56, "C"), (34, 1), *fields]))
    m = p.next_event()
    assert isinstance(m, Message)
    return m


def report(kind: ExecKind, status: Status, **kw: object) -> ExecReport:
    base = dict(
        kind=kind, status=status, order_id="O-1", exec_id="O-1-1", cl_ord_id="c1", symbol="BTC/USDT",
        side=OrderSide.BUY, cum_qty=Decimal("0"), leaves_qty=Decimal("1"), avg_px=Decimal("0"), transact_time_ns=T,
        order_type=OrderType.LIMIT, quantity=Decimal("1"), price=Decimal("100.5"), time_in_force=TimeInForce.GTC,
    )
    base.update(kw)
    return ExecReport(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "status", "v42", "v44"),
    [
        # (ExecType, OrdStatus[, ExecTransType]) per version
        (ExecKind.NEW, OrderStatus.NEW, (b"0", b"0", b"0"), (b"0", b"0")),
        (ExecKind.PENDING_NEW, OrderStatus.PENDING_NEW, (b"A", b"A", b"0"), (b"A", b"A")),
        (ExecKind.TRADE, OrderStatus.PARTIALLY_FILLED, (b"1", b"1", b"0"), (b"F", b"1")),
        (ExecKind.TRADE, OrderStatus.FILLED, (b"2", b"2", b"0"), (b"F", b"2")),
        (ExecKind.CANCELED, OrderStatus.CANCELED, (b"4", b"4", b"0"), (b"4", b"4")),
        (ExecKind.REPLACED, OrderStatus.NEW, (b"5", b"5", b"0"), (b"5", b"0")),
        (ExecKind.REPLACED, OrderStatus.PARTIALLY_FILLED, (b"5", b"5", b"0"), (b"5", b"1")),
        (ExecKind.PENDING_CANCEL, OrderStatus.PENDING_CANCEL, (b"6", b"6", b"0"), (b"6", b"6")),
        (ExecKind.PENDING_REPLACE, OrderStatus.PENDING_REPLACE, (b"E", b"E", b"0"), (b"E", b"E")),
        (ExecKind.REJECTED, OrderStatus.REJECTED, (b"8", b"8", b"0"), (b"8", b"8")),
        (ExecKind.EXPIRED, OrderStatus.EXPIRED, (b"C", b"C", b"0"), (b"C", b"C")),
        (ExecKind.ORDER_STATUS, OrderStatus.PARTIALLY_FILLED, (b"1", b"1", b"3"), (b"I", b"1")),
        (ExecKind.ORDER_STATUS, OrderStatus.NEW, (b"0", b"0", b"3"), (b"I", b"0")),
    ],
)
def test_execution_report_kind_maps_exec_type_per_version(kind: ExecKind, status: Status, v42: tuple,
                                                          v44: tuple) -> None:
    m42 = wire("FIX.4.2", execution_report(FIX42, report(kind, status)))
    assert (m42[150], m42[39], m42[20]) == v42
    m44 = wire("FIX.4.4", execution_report(FIX44, report(kind, status)))
    assert (m44[150], m44[39]) == v44
    assert 20 not in m44


@pytest.mark.parametrize("begin", ["FIX.4.2", "FIX.4.4"])
def test_execution_report_trade_carries_every_order_field(begin: str) -> None:
    r = report(
        ExecKind.TRADE, OrderStatus.PARTIALLY_FILLED, orig_cl_ord_id="c0", last_qty=Decimal("0.25"),
        last_px=Decimal("100.5"), cum_qty=Decimal("0.25"), leaves_qty=Decimal("0.75"), avg_px=Decimal("100.5"),
        text="fill", stop_price=None, account="a1",
    )
    m = wire(begin, execution_report(table_for(begin), r))
    expect = {37: b"O-1", 11: b"c1", 41: b"c0", 17: b"O-1-1", 55: b"BTC/USDT", 54: b"1", 38: b"1", 40: b"2",
              44: b"100.5", 59: b"1", 32: b"0.25", 31: b"100.5", 14: b"0.25", 151: b"0.75", 6: b"100.5",
              60: b"20251125-02:00:00.123", 58: b"fill", 1: b"a1"}
    for tag, v in expect.items():
        assert m[tag] == v, tag
    assert 99 not in m


def test_execution_report_decimals_plain_trailing_zeros_stripped() -> None:
    r = report(ExecKind.TRADE, OrderStatus.FILLED, cum_qty=Decimal("0.30000000"), avg_px=Decimal("1E+1"),
               last_qty=Decimal("0.1"), last_px=Decimal("10"), leaves_qty=Decimal(0))
    m = wire("FIX.4.4", execution_report(FIX44, r))
    assert (m[14], m[6], m[151]) == (b"0.3", b"10", b"0")


def test_execution_report_status_reply_carries_request_ids() -> None:
    r = report(ExecKind.ORDER_STATUS, OrderStatus.NEW, ord_status_req_id="q1", mass_status_req_id="m1",
               tot_num_reports=3, last_rpt_requested=True)
    m = wire("FIX.4.4", execution_report(FIX44, r))
    assert (m[790], m[584], m[911], m[912]) == (b"q1", b"m1", b"3", b"Y")


def test_execution_report_post_only_and_stop_written() -> None:
    r = report(ExecKind.NEW, OrderStatus.NEW, post_only=True, order_type=OrderType.STOP_LIMIT, stop_price=Decimal("99"))
    m = wire("FIX.4.4", execution_report(FIX44, r))
    assert (m[18], m[40], m[99]) == (b"6", b"4", b"99")


@pytest.mark.parametrize(
    ("begin", "reason", "code"),
    [
        ("FIX.4.4", REJ.UNKNOWN_SYMBOL, b"1"),
        ("FIX.4.2", REJ.UNKNOWN_SYMBOL, b"1"),
        ("FIX.4.4", REJ.EXCEEDS_LIMIT, b"3"),
        ("FIX.4.4", REJ.DUPLICATE_ORDER, b"6"),
        ("FIX.4.2", REJ.DUPLICATE_ORDER, b"6"),
        ("FIX.4.4", REJ.UNSUPPORTED, b"11"),
        ("FIX.4.2", REJ.UNSUPPORTED, b"0"),
        ("FIX.4.4", REJ.INCORRECT_QUANTITY, b"13"),
        ("FIX.4.2", REJ.INCORRECT_QUANTITY, b"0"),
        ("FIX.4.4", REJ.OTHER, b"99"),
        ("FIX.4.2", REJ.OTHER, b"0"),
    ],
)
def test_order_reject_reason_maps_to_ord_rej_reason(begin: str, reason: str, code: bytes) -> None:
    rej = OrderReject("c9", reason, "because", ((55, b"BTC/USDT"), (54, b"2"), (38, b"1")))
    m = wire(begin, order_reject(table_for(begin), rej, exec_id="R-1", transact_time_ns=T))
    assert m.msg_type == b"8"
    assert (m[150], m[39], m[103], m[58], m[11], m[37]) == (b"8", b"8", code, b"because", b"c9", b"NONE")
    assert (m[55], m[54], m[38], m[14], m[151]) == (b"BTC/USDT", b"2", b"1", b"0", b"0")
    assert (20 in m) == (begin == "FIX.4.2")


@pytest.mark.parametrize(
    ("begin", "reason", "code"),
    [
        ("FIX.4.4", REJ.UNKNOWN_ORDER, b"1"),
        ("FIX.4.2", REJ.UNKNOWN_ORDER, b"1"),
        ("FIX.4.4", REJ.TOO_LATE, b"0"),
        ("FIX.4.4", REJ.PENDING, b"3"),
        ("FIX.4.4", REJ.DUPLICATE_ORDER, b"6"),
        ("FIX.4.2", REJ.DUPLICATE_ORDER, b"2"),
        ("FIX.4.4", REJ.OTHER, b"99"),
    ],
)
def test_cancel_reject_reason_maps_to_cxl_rej_reason(begin: str, reason: str, code: bytes) -> None:
    rej = CancelReject("c2", "c1", None, 1, reason, "no")
    m = wire(begin, cancel_reject(table_for(begin), rej, transact_time_ns=T))
    assert m.msg_type == b"9"
    assert (m[37], m[11], m[41], m[39], m[434], m[102], m[58]) == (b"NONE", b"c2", b"c1", b"8", b"1", code, b"no")


def test_cancel_reject_known_order_carries_status_and_order_id() -> None:
    rej = CancelReject("c3", "c1", None, 2, REJ.PENDING, "pending")
    m = wire("FIX.4.4", cancel_reject(FIX44, rej, transact_time_ns=T, status=OrderStatus.PARTIALLY_FILLED,
                                      order_id="O-7"))
    assert (m[37], m[39], m[434]) == (b"O-7", b"1", b"2")


def test_business_reject_fields_written() -> None:
    m = wire("FIX.4.2", business_reject(BusinessReject(12, b"E", "x", 3, "unsupported")))
    assert m.msg_type == b"j"
    assert (m[45], m[372], m[379], m[380], m[58]) == (b"12", b"E", b"x", b"3", b"unsupported")


def test_mass_cancel_report_affected_orders_grouped() -> None:
    built = mass_cancel_report(cl_ord_id="m1", report_id="MC-1", request_type=7, transact_time_ns=T,
                               affected=[("c1", "O-1"), ("c2", "O-2")])
    m = wire("FIX.4.4", built)
    assert m.msg_type == b"r"
    assert (m[530], m[531], m[533], m[534]) == (b"7", b"7", b"2", b"2")
    assert m.get_all(41) == [b"c1", b"c2"] and m.get_all(535) == [b"O-1", b"O-2"]


def test_mass_cancel_report_reject_response_zero() -> None:
    rej = MassCancelReject("m1", b"3", 0, "not supported")
    m = wire("FIX.4.4", mass_cancel_report(cl_ord_id="m1", report_id="MC-2", request_type=b"3",
                                           transact_time_ns=T, reject=rej))
    assert (m[531], m[532], m[58]) == (b"0", b"0", b"not supported")
    assert 533 not in m
