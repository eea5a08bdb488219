"""What a client reads: every decimal in plain notation, bounded decimals, one half-even rounding."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.codec import Message, Parser, encode, format_decimal
from fixgw.orders.enums import OrderSide, OrderStatus, OrderType
from fixgw.translate import FIX42, FIX44, ExecKind, ExecReport, SymbolMap, execution_report
from fixgw.translate.decimals import (
    AVG_PX_PLACES,
    MAX_PLACES,
    average_price,
    avg_px_places,
    plain,
    step_places,
    wire_decimal,
)

D = Decimal
T = 1_764_036_000_123_000_000
_WIDE = Context(prec=400)

# Any finite Decimal: up to 31 digits at any exponent, as arithmetic on client and venue numbers makes them.
any_decimal = st.builds(lambda neg, digits, exp: D(f"{'-' if neg else ''}{digits}E{exp}"),
                        st.booleans(), st.integers(0, 10**31), st.integers(-45, 12))
positive = st.builds(lambda digits, exp: D(f"{digits}E{exp}"), st.integers(1, 10**31), st.integers(-45, 12))


def _decimals_in(text: str) -> int:
    return len(text.partition(".")[2])


def _exact_half_even(d: Decimal, places: int) -> Decimal:
    return d.quantize(D(1).scaleb(-places), rounding=ROUND_HALF_EVEN, context=_WIDE)


@pytest.mark.parametrize(("value", "text"), [
    ("0.0000001", "0.0000001"), ("1E-7", "0.0000001"), ("60000.00", "60000"), ("1E+3", "1000"),
    ("0.10000000", "0.1"), ("-0.000", "0"), ("0E-8", "0"),
    ("60117.57142857142857142857143", "60117.571428571428571429"),
    ("1E-19", "0"), ("5E-18", "0.000000000000000005"), ("-2.50", "-2.5"),
])
def test_decimals_plain_known_values_expected_text(value: str, text: str) -> None:
    assert plain(D(value)) == text


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_decimals_wire_decimal_not_finite_raises_value_error(value: str) -> None:
    with pytest.raises(ValueError):
        wire_decimal(D(value))


@settings(max_examples=400, deadline=None)
@given(any_decimal, st.integers(min_value=0, max_value=MAX_PLACES))
def test_decimals_any_value_plain_bounded_and_parses_back_within_rounding(d: Decimal, places: int) -> None:
    text = format_decimal(wire_decimal(d, places)).decode()
    assert text == plain(d, places)
    assert "E" not in text and "e" not in text
    assert _decimals_in(text) <= places
    if "." in text:
        assert not text.endswith("0") and not text.endswith(".")
    assert text != "-0"
    back = D(text)
    assert back == _exact_half_even(d, places)
    assert abs(back - d) <= D(1).scaleb(-places) / 2


@settings(max_examples=300, deadline=None)
@given(positive, positive, st.integers(min_value=0, max_value=MAX_PLACES))
def test_decimals_average_price_is_exact_quotient_rounded_once(notional: Decimal, qty: Decimal, places: int) -> None:
    got = average_price(notional, qty, places)
    exact = _WIDE.divide(notional, qty)  # 400 digits: far past any tie the rounding could meet
    assert got == _exact_half_even(exact, places)
    assert _decimals_in(format_decimal(got).decode()) <= places


def test_decimals_average_price_of_repeating_quotient_ten_places() -> None:
    # The 28-digit AvgPx a client once read: 6=60117.57142857142857142857143.
    assert format_decimal(average_price(D("420823.0"), D("7"))) == b"60117.5714285714"
    assert average_price(D("5"), D("0")) == 0
    # Exactly half at the tenth place rounds to even, both ways.
    assert average_price(D("0.00000000005"), D(1)) == 0
    assert average_price(D("0.00000000015"), D(1)) == D("0.0000000002")


@pytest.mark.parametrize(("step", "places"), [("0.01", 2), ("0.01000000", 2), ("1", 0), ("10", 0),
                                               ("1E-12", 12), (None, None), ("0", None)])
def test_decimals_step_places_of_tick_expected(step: str | None, places: int | None) -> None:
    assert step_places(None if step is None else D(step)) == places


def test_decimals_avg_px_places_ten_unless_tick_finer() -> None:
    assert avg_px_places(D("0.01")) == AVG_PX_PLACES
    assert avg_px_places(None) == AVG_PX_PLACES
    assert avg_px_places(D("1E-12")) == 12
    symbols = SymbolMap([("PEPE/USDT", "PEPE", "USDT")], tick_sizes={"PEPE/USDT": D("1E-12")})
    assert symbols.avg_px_places("PEPE/USDT") == 12
    assert symbols.avg_px_places("BTC/USDT") == AVG_PX_PLACES


def _wire(begin: str, built: tuple[bytes, list]) -> Message:
    p = Parser()
    p.feed(encode(begin, built[0], [(49, "G"), (56, "C"), (34, 1), *built[1]]))
    m = p.next_event()
    assert isinstance(m, Message)
    return m


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([FIX42, FIX44]), st.lists(positive, min_size=8, max_size=8),
       st.integers(min_value=0, max_value=MAX_PLACES))
def test_decimals_execution_report_every_decimal_plain_bounded(table, values: list[Decimal], avg_places: int) -> None:
    qty, price, stop, last_qty, last_px, cum, leaves, avg = values
    r = ExecReport(kind=ExecKind.TRADE, status=OrderStatus.PARTIALLY_FILLED, order_id="O1", exec_id="E1",
                   cl_ord_id="c1", symbol="BTC/USDT", side=OrderSide.BUY, cum_qty=cum, leaves_qty=leaves,
                   avg_px=avg, transact_time_ns=T, order_type=OrderType.STOP_LIMIT, quantity=qty, price=price,
                   stop_price=stop, last_qty=last_qty, last_px=last_px, avg_px_places=avg_places,
                   text="fill")
    m = _wire(table.begin_string, execution_report(table, r))
    bounds = {38: (qty, MAX_PLACES), 44: (price, MAX_PLACES), 99: (stop, MAX_PLACES), 32: (last_qty, MAX_PLACES),
              31: (last_px, MAX_PLACES), 14: (cum, MAX_PLACES), 151: (leaves, MAX_PLACES), 6: (avg, avg_places)}
    for tag, (value, places) in bounds.items():
        text = m[tag].decode()
        assert "E" not in text and _decimals_in(text) <= places, (tag, text)
        assert D(text) == _exact_half_even(value, places), (tag, text, value)
