"""Instrument rule checks: exact decimals, documented filter cases, clear reasons."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixgw.orders.enums import OrderSide, OrderType, TimeInForce
from fixgw.venues.base import (
    Instrument,
    NewOrder,
)
from fixgw.venues.binance.adapter import BINANCE_CAPABILITIES
from fixgw.venues.binance.parsing import parse_exchange_info
from fixgw.venues.rules import check_order, is_multiple
from .conftest import vectors

CASES = vectors("filter_check_cases_DERIVED")[0]["cases"]


def _instrument_from_filter(params: dict) -> Instrument:
    info = {"symbols": [{"symbol": "XY", "baseAsset": "X", "quoteAsset": "Y", "filters": [params],
                         "orderTypes": ["LIMIT", "MARKET", "LIMIT_MAKER"]}]}
    return parse_exchange_info(info)[0]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['filter']}-{c.get('price')}-{c.get('quantity')}")
def test_check_order_documented_filter_case_matches_expected(case):
    inst = _instrument_from_filter(case["params"])
    price = D(case.get("price", "1"))
    qty = D(case.get("quantity", "1"))
    side = OrderSide[case.get("side", "BUY")]  # the vectors spell sides as the venue does
    ref = D(case["reference_or_avg_price"]) if "reference_or_avg_price" in case else None
    order = NewOrder("c1", "X/Y", side, OrderType.LIMIT, quantity=qty, price=price)
    violation = check_order(inst, order, BINANCE_CAPABILITIES, reference_price=ref)
    assert (violation is None) == case["passes"], violation


def _btc() -> Instrument:
    return Instrument(
        symbol="BTC/USDT", venue_symbol="BTCUSDT", base="BTC", quote="USDT", tick_size=D("0.01"),
        min_price=D("0.01"), max_price=D("1000000"), lot_step=D("0.00001"), min_qty=D("0.00001"),
        max_qty=D("9000"), min_notional=D("5"), order_types=frozenset(OrderType),
        time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK}),
        post_only_allowed=True, quote_qty_market_allowed=True,
    )


def test_check_order_tick_violation_names_the_tick():
    v = check_order(_btc(), NewOrder("c", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, D("0.001"), D("50000.005")))
    assert v is not None and v.rule == "tick" and "0.01" in v.reason


def test_check_order_lot_violation_names_the_step():
    v = check_order(_btc(), NewOrder("c", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, D("0.000015"), D("50000")))
    assert v is not None and v.rule == "lot"


def test_check_order_min_notional_below_rejected():
    v = check_order(_btc(), NewOrder("c", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, D("0.0001"), D("100")))
    assert v is not None and v.rule == "min_notional" and "notional 0.01 below minimum 5" in v.reason


def test_check_order_day_time_in_force_unsupported():
    v = check_order(_btc(), NewOrder("c", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, D("1"), D("100"),
                                     time_in_force=TimeInForce.DAY), BINANCE_CAPABILITIES)
    assert v is not None and v.unsupported


def test_check_order_market_with_quote_quantity_passes():
    v = check_order(_btc(), NewOrder("c", "BTC/USDT", OrderSide.BUY, OrderType.MARKET, quote_quantity=D("100")),
                    BINANCE_CAPABILITIES)
    assert v is None


def test_check_order_post_only_ioc_refused():
    v = check_order(_btc(), NewOrder("c", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, D("1"), D("100"),
                                     time_in_force=TimeInForce.IOC, post_only=True), BINANCE_CAPABILITIES)
    assert v is not None and v.rule == "post_only"


def test_check_order_sell_short_unsupported_unless_the_venue_takes_it():
    order = NewOrder("c", "BTC/USDT", OrderSide.SELL_SHORT, OrderType.LIMIT, D("1"), D("100"))
    for caps in (None, BINANCE_CAPABILITIES):
        v = check_order(_btc(), order, caps)
        assert v is not None and (v.rule, v.unsupported) == ("side", True)
        assert v.reason == "side sell_short is not supported by the venue"
    shorting = replace(BINANCE_CAPABILITIES, sides=frozenset(OrderSide))
    assert check_order(_btc(), order, shorting) is None


def test_check_order_texts_name_types_and_times_in_force_as_venues_do():
    inst = replace(_btc(), order_types=frozenset({OrderType.LIMIT}))
    v = check_order(inst, NewOrder("c", "BTC/USDT", OrderSide.BUY, OrderType.STOP_LIMIT, D("1"), D("100"),
                                   stop_price=D("99")))
    assert v is not None and v.reason == "order type STOP_LIMIT not allowed on BTC/USDT"
    v = check_order(_btc(), NewOrder("c", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, D("1"), D("100"),
                                     time_in_force=TimeInForce.DAY), BINANCE_CAPABILITIES)
    assert v is not None and v.reason == "time in force DAY not supported"


@given(st.integers(min_value=1, max_value=10**12), st.integers(min_value=0, max_value=12))
def test_is_multiple_exact_for_scaled_integers_true(n, places):
    step = D(1).scaleb(-places)
    assert is_multiple(D(n).scaleb(-places), step)
    assert not is_multiple(D(n).scaleb(-places) + step / 2, step)


def test_is_multiple_huge_quotient_no_overflow():
    assert is_multiple(D("100000000000000000000000.00000000"), D("0.00000001"))
