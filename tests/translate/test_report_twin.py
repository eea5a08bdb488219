"""The compiled report writer (``fixgw_ext._report``) writes exactly the fields of the pure one.

``fixgw.translate.outbound.pure_report_fields`` is the specification; ``report_fields`` is the compiled
twin when it is built. Both must return the same ``(tag, value)`` list, or raise the same error, for
every input: both FIX versions, every kind and status, decimals of any size and sign (cached or not),
AvgPx places inside and past the cache's bound, and TransactTimes in one second, across seconds and
outside what the timestamp cache takes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixgw.orders.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from fixgw.translate import ExecKind, outbound, reply_for_event, table_for
from fixgw.translate.decimals import MAX_PLACES
from fixgw.translate.tables import REJ

pytest.importorskip("fixgw_ext._report")
if outbound.REPORT_IMPLEMENTATION != "compiled":  # FIXGW_NO_EXTENSIONS=1: nothing to compare
    pytest.skip("the compiled report writer is switched off", allow_module_level=True)

D = Decimal
T = 1_764_036_000_123_000_000
PROFILE = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TABLES = [table_for("FIX.4.2"), table_for("FIX.4.4")]
any_decimal = st.builds(lambda neg, digits, exp: D(f"{'-' if neg else ''}{digits}E{exp}"),
                        st.booleans(), st.integers(0, 10**31), st.integers(-45, 12))
odd_decimal = st.sampled_from([D("NaN"), D("sNaN"), D("Infinity"), D("-0"), D("0E-30"), D("1E+40")])
decimal = st.one_of(any_decimal, any_decimal, odd_decimal)
ident = st.one_of(st.none(), st.text(max_size=12))
times = st.one_of(
    st.integers(T, T + 5 * 10**9),  # one order's seconds: the cached prefix, then a new second
    st.integers(0, 253_402_300_799 * 10**9),  # up to 9999-12-31
    st.integers(-(10**12), -1),  # before the epoch: not the cache's case
    st.just(2**63 + 5),  # past a 64-bit integer
)


def outcome(fn: Any, args: tuple, kwargs: dict) -> Any:
    try:
        return ("fields", fn(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - the twin must raise what the specification raises
        return ("raises", type(exc), str(exc))


def both(*args: Any, **kwargs: Any) -> Any:
    pure = outcome(outbound.pure_report_fields, args, kwargs)
    compiled = outcome(outbound.report_fields, args, kwargs)
    assert compiled == pure
    return pure


@PROFILE
@given(
    table=st.sampled_from(TABLES), kind=st.sampled_from(list(ExecKind)), status=st.sampled_from(list(OrderStatus)),
    order_id=st.text(max_size=10), exec_id=st.text(max_size=10), cl=ident, orig=ident,
    side=st.sampled_from(list(outbound.SIDE_CODES)), order_type=st.one_of(st.none(), st.sampled_from(list(OrderType))),
    quantity=st.one_of(st.none(), decimal), price=st.one_of(st.none(), decimal),
    stop_price=st.one_of(st.none(), decimal),
    tif=st.one_of(st.none(), st.sampled_from(list(TimeInForce))), post_only=st.booleans(),
    last_qty=st.one_of(st.none(), decimal), last_px=st.one_of(st.none(), decimal), leaves=decimal, cum=decimal,
    avg=decimal, places=st.one_of(st.integers(0, MAX_PLACES), st.integers(-3, MAX_PLACES + 40)), ts=times,
    text=ident, rej=st.one_of(st.none(), st.sampled_from([v for k, v in vars(REJ).items() if k.isupper()])),
    extra=st.fixed_dictionaries({}, optional={
        "account": st.text(max_size=6), "ord_status_req_id": st.text(max_size=6),
        "mass_status_req_id": st.text(max_size=6), "tot_num_reports": st.integers(0, 99),
        "last_rpt_requested": st.booleans()}),
)
def test_report_fields_compiled_any_terms_same_fields_as_pure(
    table: Any, kind: ExecKind, status: OrderStatus, order_id: str, exec_id: str, cl: Any, orig: Any,
    side: OrderSide, order_type: Any, quantity: Any, price: Any, stop_price: Any, tif: Any, post_only: bool,
    last_qty: Any, last_px: Any, leaves: Decimal, cum: Decimal, avg: Decimal, places: int, ts: int, text: Any,
    rej: Any, extra: dict,
) -> None:
    both(table, kind, status, order_id, exec_id, cl, orig, "BTC/USDT", side, order_type, quantity, price,
         stop_price, tif, post_only, last_qty, last_px, leaves, cum, avg, places, ts, text, rej, **extra)


def test_report_fields_compiled_same_second_twice_then_next_second_timestamps_match() -> None:
    table = table_for("FIX.4.4")
    args = (table, ExecKind.NEW, OrderStatus.NEW, "o-1", "o-1-1", "c1", None, "BTC/USDT", OrderSide.BUY,
            OrderType.LIMIT, D("0.001"), D("30000"), None, TimeInForce.IOC, False, None, None, D("0.001"),
            D(0), D(0), 6)
    for ts in (T, T + 1_000_000, T + 999_999_999, T + 10**9, T + 10**9 + 7_000_000, T - 1):
        fields = both(*args, ts)[1]
        assert dict(fields)[60] == outbound.format_utc_timestamp(ts)


def test_report_fields_compiled_4_2_fill_and_status_kinds_take_codes_from_status() -> None:
    table = table_for("FIX.4.2")
    for kind, status, want in ((ExecKind.TRADE, OrderStatus.FILLED, b"2"),
                               (ExecKind.TRADE, OrderStatus.PARTIALLY_FILLED, b"1"),
                               (ExecKind.ORDER_STATUS, OrderStatus.CANCELED, b"4"),
                               (ExecKind.REPLACED, OrderStatus.NEW, b"5")):
        fields = outbound.report_fields(table, kind, status, "o", "e", "c", None, "S", OrderSide.SELL, None,
                                        None, None, None, None, False, None, None, D(1), D(0), D(0), 6, T)
        assert dict(fields)[150] == want
        assert fields == outbound.pure_report_fields(table, kind, status, "o", "e", "c", None, "S", OrderSide.SELL,
                                                     None, None, None, None, None, False, None, None, D(1), D(0),
                                                     D(0), 6, T)


_STEPS = ["accept", "fill", "partial", "cancel_req", "canceled", "cancel_rej", "replace_req", "replaced",
          "replace_rej", "reject", "expire"]


def _event(what: str, order: Any, book: Any, n: int, a: int) -> Any:
    from fixgw.orders import CancelOrder, ReplaceOrder
    from fixgw.orders import events as E

    oid, ts = order.order_id, T + 10 + n
    if what == "accept":
        return E.OrderAccepted(order_id=oid, ts_ns=ts, venue_order_id=f"V{a}")
    if what in ("fill", "partial"):
        qty = order.leaves_qty if what == "fill" else D(a).scaleb(-8)
        return E.OrderFilled(order_id=oid, ts_ns=ts, trade_id=f"t{n}", last_qty=qty, last_px=D(a).scaleb(-2))
    if what == "cancel_req":
        book.cancel(CancelOrder(cl_ord_id=f"x{n}", ts_ns=ts, orig_cl_ord_id=order.cl_ord_id))
        return None
    if what == "replace_req":
        book.replace(ReplaceOrder(cl_ord_id=f"r{n}", ts_ns=ts, orig_cl_ord_id=order.cl_ord_id, quantity=D(a)))
        return None
    if what == "canceled":
        return E.OrderCanceled(order_id=oid, ts_ns=ts, reason="" if a % 2 else "by the venue")
    if what == "cancel_rej":
        return E.OrderCancelRejected(order_id=oid, ts_ns=ts, reason="" if a % 2 else "too late")
    if what == "replaced":
        return E.OrderReplaced(order_id=oid, ts_ns=ts, quantity=D(a))
    if what == "replace_rej":
        return E.OrderReplaceRejected(order_id=oid, ts_ns=ts, reason="nope")
    if what == "reject":
        return E.OrderRejected(order_id=oid, ts_ns=ts, reason=["insufficient balance", "unknown symbol", ""][a % 3])
    return E.OrderExpired(order_id=oid, ts_ns=ts)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    table=st.sampled_from(TABLES), side=st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
    order_type=st.sampled_from([OrderType.LIMIT, OrderType.MARKET]),
    steps=st.lists(st.tuples(st.sampled_from(_STEPS), st.integers(1, 10**6)), max_size=7),
    places=st.one_of(st.none(), st.integers(0, MAX_PLACES + 3)),
    reject_reason=st.one_of(st.none(), st.sampled_from([REJ.EXCEEDS_LIMIT, REJ.UNKNOWN_SYMBOL])),
)
def test_reply_for_event_compiled_any_order_history_same_reply_as_pure(
    table: Any, side: OrderSide, order_type: OrderType, steps: list, places: Any, reject_reason: Any,
) -> None:
    from fixgw.orders import OrderBook, SubmitOrder
    from fixgw.orders import events as E
    from fixgw.translate import reports

    book = OrderBook("A")
    order = book.submit(SubmitOrder(cl_ord_id="c1", symbol="BTC/USDT", side=side, order_type=order_type,
                                    quantity=D("2.5"), price=D("30000.01") if order_type is OrderType.LIMIT else None,
                                    time_in_force=TimeInForce.GTC, ts_ns=T))
    kw: dict[str, Any] = {"reject_reason": reject_reason}
    if places is not None:
        kw["avg_px_places"] = places
    pending = [E.OrderSubmitted(order_id=order.order_id, ts_ns=T + 1)]
    for n, (what, a) in enumerate(steps):
        try:
            event = _event(what, order, book, n, a)
            if event is not None:
                book.apply(event)
                pending.append(event)
        except Exception:  # a transition the table refuses: the order is unchanged
            continue
        for ev in pending:  # every event so far, against the order as it now stands
            pure = outcome(reports.pure_reply_for_event, (table, order, ev, "BTC-USDT"), kw)
            assert outcome(reports.reply_for_event, (table, order, ev, "BTC-USDT"), kw) == pure


def test_reply_for_event_uses_compiled_writer_when_built() -> None:
    from fixgw.translate import reports

    assert reports.report_fields is outbound.report_fields
    assert reply_for_event is reports.reply_for_event is not reports.pure_reply_for_event


def test_report_writer_without_extensions_is_pure() -> None:
    code = ("from fixgw.translate import outbound as o, reports as r; "
            "print(o.REPORT_IMPLEMENTATION, o.report_fields is o.pure_report_fields, "
            "r.reply_for_event is r.pure_reply_for_event)")
    env = {**os.environ, "FIXGW_NO_EXTENSIONS": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["pure", "True", "True"]
