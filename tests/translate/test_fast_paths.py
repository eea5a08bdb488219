"""The report path's shortcuts write exactly what the plain path writes: the cached decimal texts, and
``reply_for_event`` passing an order's values straight to the field writer instead of an ``ExecReport``."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.orders import OrderAccepted, OrderBook, OrderCanceled, OrderFilled, OrderRejected, SubmitOrder
from fixgw.orders.enums import OrderSide, OrderType, TimeInForce
from fixgw.translate import ExecKind, execution_report, order_report, reply_for_event, table_for
from fixgw.translate import decimals
from fixgw.translate.decimals import MAX_PLACES, wire_text
from fixgw.translate.tables import kind_for_hint

D = Decimal
T = 1_764_036_000_123_000_000

any_decimal = st.builds(lambda neg, digits, exp: D(f"{'-' if neg else ''}{digits}E{exp}"),
                        st.booleans(), st.integers(0, 10**31), st.integers(-45, 12))


@settings(max_examples=300, deadline=None)
@given(d=any_decimal, places=st.integers(0, MAX_PLACES))
def test_wire_text_cached_text_is_the_computed_text(d: Decimal, places: int) -> None:
    first = wire_text(d, places)
    assert first == decimals._wire_text(d, places)
    assert wire_text(d, places) == first  # a cache hit
    # An equal value with other trailing zeros reads the same (it shares the cache entry).
    assert wire_text(d.normalize(decimals._context(60, "ROUND_HALF_EVEN")), places) == first
    assert wire_text(d, places + 30) == decimals._wire_text(d, places + 30)  # past the bound: uncached


def test_wire_text_same_value_other_places_not_mixed_up() -> None:
    d = D("1.23456789")
    assert wire_text(d, 2) == b"1.23"
    assert wire_text(d) == b"1.23456789"
    assert wire_text(d, 2) == b"1.23"


@pytest.mark.parametrize("bad", [D("NaN"), D("-NaN"), D("sNaN"), D("Infinity"), D("-Infinity")])
def test_wire_text_non_finite_refused_every_time_never_cached(bad: Decimal) -> None:
    for _ in range(2):
        with pytest.raises(ValueError):
            wire_text(bad)


def test_wire_text_cache_stays_bounded() -> None:
    for n in range(decimals._CACHE_SIZE + 10):
        assert wire_text(D(n).scaleb(-3)) == (D(n).scaleb(-3).normalize().to_eng_string().encode()
                                               if n % 1000 else str(n // 1000).encode())
    assert all(len(cache) <= decimals._CACHE_SIZE for cache in decimals._caches)


_events = st.lists(
    st.tuples(st.sampled_from(["fill", "cancel", "reject"]),
              st.integers(1, 10**6), st.integers(1, 10**6), st.integers(0, 12)),
    min_size=0, max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(
    begin=st.sampled_from(["FIX.4.2", "FIX.4.4"]),
    side=st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
    order_type=st.sampled_from([OrderType.LIMIT, OrderType.MARKET]),
    tif=st.sampled_from([TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]),
    qty=st.integers(1, 10**9), qty_exp=st.integers(-8, 2),
    places=st.integers(0, MAX_PLACES),
    steps=_events,
)
def test_reply_for_event_matches_the_exec_report_path(begin, side, order_type, tif, qty, qty_exp, places,
                                                      steps) -> None:  # type: ignore[no-untyped-def]
    table = table_for(begin)
    book = OrderBook("A")
    quantity = D(qty).scaleb(qty_exp)
    price = D("30000.01") if order_type is OrderType.LIMIT else None
    order = book.submit(SubmitOrder(cl_ord_id="c1", symbol="BTC/USDT", side=side, order_type=order_type,
                                    quantity=quantity, price=price, time_in_force=tif, ts_ns=T))
    events = [OrderAccepted(order_id=order.order_id, ts_ns=T + 1, venue_order_id="V1")]
    for n, (what, a, b, exp) in enumerate(steps):
        ts = T + 2 + n
        if what == "fill":
            last_qty = min(quantity, D(a).scaleb(-exp))
            events.append(OrderFilled(order_id=order.order_id, ts_ns=ts, trade_id=f"t{n}", last_qty=last_qty,
                                      last_px=D(b).scaleb(-exp % 5), venue_order_id="V1"))
        elif what == "cancel":
            events.append(OrderCanceled(order_id=order.order_id, ts_ns=ts, reason="canceled"))
        else:
            events.append(OrderRejected(order_id=order.order_id, ts_ns=ts, reason="insufficient balance"))
    for event in events:
        try:
            if not book.apply(event):
                continue
        except Exception:  # a transition the table refuses (e.g. an overfill): not reported either way
            continue
        fast = reply_for_event(table, order, event, "BTC-USDT", avg_px_places=places)
        kind = kind_for_hint(event.exec_type)
        assert kind is not None
        extra = {"last_qty": event.last_qty, "last_px": event.last_px} if isinstance(event, OrderFilled) else {}
        text = getattr(event, "reason", "") or None
        if kind is ExecKind.REJECTED:
            extra["ord_rej_reason"] = "EXCEEDS_LIMIT"
        plain = execution_report(table, order_report(order, kind, "BTC-USDT", exec_id=order.exec_id,
                                                     ts_ns=event.ts_ns, avg_px_places=places, text=text,
                                                     **extra))
        assert fast == plain
