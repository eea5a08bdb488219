"""The per-venue feature table and its refusals (pure), FIX MaxFloor / OrdType J translation, and the
iceberg part rule checked against the simulator's own implementation of the same filter."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixgw.codec import Message, Parser, encode
from fixgw.errors import OrderError
from fixgw.orders import SubmitOrder
from fixgw.orders.enums import OrderSide, OrderType, TimeInForce
from fixgw.sim.instruments import InstrumentSpec
from fixgw.translate import NewOrderRequest, OrderReject, SymbolMap, parse_request
from fixgw.translate.outbound import ORD_TYPE_CODES
from fixgw.venues.base import Instrument, NewOrder
from fixgw.venues.binance.adapter import BINANCE_CAPABILITIES
from fixgw.venues.coinbase.adapter import COINBASE_CAPABILITIES
from fixgw.venues.kraken.adapter import KRAKEN_CAPABILITIES
from fixgw.venues.rules import check_order

BTC = Instrument("BTC/USDT", "BTCUSDT", "BTC", "USDT", tick_size=D("0.01"), lot_step=D("0.001"),
                 min_qty=D("0.001"), iceberg_allowed=True, iceberg_parts=10, post_only_allowed=True)
BUY = OrderSide.BUY


def _order(otype: OrderType, **kw) -> NewOrder:
    kw.setdefault("quantity", D("1"))
    if otype in (OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT):
        kw.setdefault("price", D("100"))
    if otype not in (OrderType.MARKET, OrderType.LIMIT):
        kw.setdefault("stop_price", D("90"))
    return NewOrder("c1", "BTC/USDT", BUY, otype, **kw)


# venue, type, display quantity, expected refusal text (None: passes)
TABLE = [
    (BINANCE_CAPABILITIES, OrderType.STOP, None, None),
    (BINANCE_CAPABILITIES, OrderType.TAKE_PROFIT_LIMIT, None, None),
    (BINANCE_CAPABILITIES, OrderType.LIMIT, D("0.1"), None),
    (COINBASE_CAPABILITIES, OrderType.STOP, None, "order type STOP is not supported"),
    (COINBASE_CAPABILITIES, OrderType.TAKE_PROFIT, None, "order type TAKE_PROFIT is not supported"),
    (COINBASE_CAPABILITIES, OrderType.LIMIT, D("0.1"), "iceberg orders (MaxFloor) are not supported"),
    (KRAKEN_CAPABILITIES, OrderType.TAKE_PROFIT_LIMIT, None, None),
    (KRAKEN_CAPABILITIES, OrderType.LIMIT, D("0.1"), "iceberg orders (MaxFloor) are not supported"),
]


@pytest.mark.parametrize("caps,otype,shown,text", TABLE)
def test_feature_table_refuses_what_the_venue_lacks_with_a_text_that_says_so(caps, otype, shown, text):
    v = check_order(BTC, _order(otype, display_quantity=shown), caps)
    if text is None:
        assert v is None
    else:
        assert v is not None and v.unsupported and v.reason == text


def test_post_only_refused_where_neither_venue_nor_symbol_offers_it():
    from dataclasses import replace

    from fixgw.venues.base import VenueCapabilities

    v = check_order(replace(BTC, post_only_allowed=False), _order(OrderType.LIMIT, post_only=True),
                    VenueCapabilities())
    assert v is not None and v.unsupported and v.rule == "post_only"


@pytest.mark.parametrize("changes,rule", [
    (dict(time_in_force=TimeInForce.IOC), "iceberg"),
    (dict(display_quantity=D("1")), "iceberg"),  # not below the quantity
    (dict(display_quantity=D("0.0005")), "lot"),
    (dict(display_quantity=D("0.09")), "iceberg_parts"),  # 12 parts
])
def test_iceberg_shape_checked_before_sending(changes, rule):
    kw = {"display_quantity": D("0.1"), **changes}
    v = check_order(BTC, _order(OrderType.LIMIT, **kw), BINANCE_CAPABILITIES)
    assert v is not None and v.rule == rule


@given(qty_steps=st.integers(1, 5000), shown_steps=st.integers(1, 5000), parts=st.integers(1, 50))
def test_iceberg_parts_local_rule_agrees_with_the_simulators_filter(qty_steps, shown_steps, parts):
    qty, shown = D(qty_steps) * D("0.001"), D(shown_steps) * D("0.001")
    if shown >= qty:
        return
    local = check_order(_with_parts(parts), _order(OrderType.LIMIT, quantity=qty, display_quantity=shown),
                        BINANCE_CAPABILITIES)
    spec = InstrumentSpec("BTCUSDT", "BTC", "USDT", tick_size=D("0.01"), step_size=D("0.001"), min_qty=D("0.001"),
                          iceberg_parts=parts)
    try:
        spec.check_iceberg(qty, shown)
        venue_ok = True
    except Exception as exc:  # the simulator's -1013 "Filter failure: ICEBERG_PARTS"
        assert "ICEBERG_PARTS" in str(exc)
        venue_ok = False
    assert (local is None) == venue_ok


def _with_parts(parts: int) -> Instrument:
    from dataclasses import replace

    return replace(BTC, iceberg_parts=parts)


# -- FIX -> order requests -------------------------------------------------------------------------

SYMBOLS = SymbolMap([("BTC/USDT", "BTC", "USDT")])
NOS = [(11, "c1"), (55, "BTC/USDT"), (54, "1"), (38, "0.5"), (60, "20261125-02:00:00.000")]


def _fix(fields: list[tuple[int, object]], begin: str = "FIX.4.4") -> Message:
    p = Parser()
    p.feed(encode(begin, "D", [(49, "C"), (56, "G"), (34, 7), (52, "20261125-02:00:00.000"), *fields]))
    m = p.next_event()
    assert isinstance(m, Message)
    return m


def test_fix_ord_type_j_is_a_take_profit_with_its_stop_px_and_reported_back_as_j():
    r = parse_request(_fix([*NOS, (40, "J"), (99, "31000"), (44, "1")]), SYMBOLS)
    assert isinstance(r, NewOrderRequest)
    assert (r.order_type, r.stop_price, r.price) == (OrderType.TAKE_PROFIT, D("31000"), None)
    assert ORD_TYPE_CODES[OrderType.TAKE_PROFIT] == b"J"


def test_fix_ord_type_j_without_stop_px_rejected():
    r = parse_request(_fix([*NOS, (40, "J")]), SYMBOLS)
    assert isinstance(r, OrderReject) and "StopPx (99) is required" in r.text


def test_fix_max_floor_becomes_the_display_quantity():
    r = parse_request(_fix([*NOS, (40, "2"), (44, "30000"), (111, "0.1")]), SYMBOLS)
    assert isinstance(r, NewOrderRequest) and r.max_floor == D("0.1")


@pytest.mark.parametrize("fields,text", [
    ([(40, "1"), (111, "0.1")], "MaxFloor (111) (iceberg) needs a limit order"),
    ([(40, "2"), (44, "30000"), (111, "0.5")], "MaxFloor (111) must be below OrderQty (38)"),
    ([(40, "2"), (44, "30000"), (111, "0")], "MaxFloor (111) must be positive"),
])
def test_fix_bad_max_floor_rejected_with_the_reason(fields, text):
    r = parse_request(_fix([*NOS, *fields]), SYMBOLS)
    assert isinstance(r, OrderReject) and r.text == text


def test_submit_order_iceberg_needs_a_resting_limit_below_its_quantity():
    base = dict(cl_ord_id="c", symbol="BTC/USDT", side=BUY, ts_ns=0, quantity=D("1"))
    SubmitOrder(order_type=OrderType.LIMIT, price=D("1"), display_quantity=D("0.1"), **base)
    with pytest.raises(OrderError, match="needs a limit order"):
        SubmitOrder(order_type=OrderType.MARKET, display_quantity=D("0.1"), **base)
    with pytest.raises(OrderError, match="below quantity"):
        SubmitOrder(order_type=OrderType.LIMIT, price=D("1"), display_quantity=D("1"), **base)
    with pytest.raises(OrderError, match="IOC or FOK"):
        SubmitOrder(order_type=OrderType.LIMIT, price=D("1"), display_quantity=D("0.1"),
                    time_in_force=TimeInForce.IOC, **base)
