"""Pre-trade risk: session limits then venue rules, with the text the client reads."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fixgw.config import Limits
from fixgw.orders.commands import SubmitOrder
from fixgw.orders.enums import OrderSide, OrderType
from fixgw.risk import check_order
from fixgw.translate import REJ
from fixgw.venues.base import Instrument, NewOrder, VenueCapabilities
from fixgw.venues.rules import check_order as venue_check

D = Decimal
BTC = Instrument(symbol="BTC/USDT", venue_symbol="BTCUSDT", base="BTC", quote="USDT", tick_size=D("0.01"),
                 lot_step=D("0.001"), min_qty=D("0.001"), min_notional=D("10"))
CAPS = VenueCapabilities(stop_orders=True)


def venue_verdict(o: SubmitOrder):  # type: ignore[no-untyped-def]
    vt = OrderType.LIMIT if o.order_type is OrderType.LIMIT else OrderType.MARKET
    return venue_check(BTC, NewOrder(client_order_id="x", symbol=o.symbol, side=OrderSide.BUY, order_type=vt,
                                     quantity=o.quantity, price=o.price), CAPS)


def limit(qty: str = "1", px: str = "100") -> SubmitOrder:
    return SubmitOrder(cl_ord_id="x", symbol="BTC/USDT", side=OrderSide.BUY, order_type=OrderType.LIMIT,
                       quantity=D(qty), price=D(px), ts_ns=0)


def market(qty: str = "1") -> SubmitOrder:
    return SubmitOrder(cl_ord_id="x", symbol="BTC/USDT", side=OrderSide.BUY, order_type=OrderType.MARKET,
                       quantity=D(qty), ts_ns=0)


def stop(qty: str, trigger: str) -> SubmitOrder:
    return SubmitOrder(cl_ord_id="x", symbol="BTC/USDT", side=OrderSide.SELL, order_type=OrderType.STOP,
                       quantity=D(qty), trigger_price=D(trigger), ts_ns=0)


@pytest.mark.parametrize(
    ("order", "limits", "open_orders", "last", "check", "reason", "fragment"),
    [
        (limit(), Limits(kill_switch=True), 0, None, "kill_switch", REJ.BROKER_OPTION, "kill switch"),
        (limit(), Limits(allowed_symbols=frozenset({"ETH/USDT"})), 0, None, "allowed_symbols", REJ.BROKER_OPTION,
         "not allowed"),
        (limit(), Limits(max_open_orders=2), 2, None, "max_open_orders", REJ.EXCEEDS_LIMIT, "open orders limit"),
        (limit("5"), Limits(max_order_qty=D("4")), 0, None, "max_order_qty", REJ.EXCEEDS_LIMIT, "exceeds the limit 4"),
        (limit("2", "600"), Limits(max_notional=D("1000")), 0, None, "max_notional", REJ.EXCEEDS_LIMIT,
         "notional 1200"),
        (market("2"), Limits(max_notional=D("1000")), 0, D("600"), "max_notional", REJ.EXCEEDS_LIMIT,
         "notional 1200"),
        (stop("2", "600"), Limits(max_notional=D("1000")), 0, None, "max_notional", REJ.EXCEEDS_LIMIT,
         "notional 1200"),
        (limit("1", "111"), Limits(price_band_pct=D("10")), 0, D("100"), "price_band", REJ.EXCEEDS_LIMIT,
         "more than 10%"),
        (limit("1", "89"), Limits(price_band_pct=D("10")), 0, D("100"), "price_band", REJ.EXCEEDS_LIMIT, "89"),
        (stop("1", "50"), Limits(price_band_pct=D("10")), 0, D("100"), "price_band", REJ.EXCEEDS_LIMIT,
         "stop price 50"),
        (limit("1.0005"), Limits(), 0, None, "venue:lot", REJ.INCORRECT_QUANTITY, "lot step"),
        (limit("1", "100.005"), Limits(), 0, None, "venue:tick", REJ.OTHER, "tick size"),
        (limit("0.001", "100"), Limits(), 0, None, "venue:min_notional", REJ.OTHER, "below minimum 10"),
    ],
)
def test_risk_breach_refused_with_text(order: SubmitOrder, limits: Limits, open_orders: int, last: Decimal | None,
                                       check: str, reason: str, fragment: str) -> None:
    r = check_order(order, limits, client_symbol="BTC/USDT", open_orders=open_orders, last_price=last,
                    venue_violation=venue_verdict(order))
    assert r is not None
    assert (r.check, r.reason) == (check, reason)
    assert fragment in r.text


@pytest.mark.parametrize(
    ("order", "limits", "open_orders", "last"),
    [
        (limit(), Limits(), 0, None),
        (limit("4"), Limits(max_order_qty=D("4"), max_open_orders=3), 2, None),
        (limit("1", "110"), Limits(price_band_pct=D("10")), 0, D("100")),
        (limit("1", "150"), Limits(price_band_pct=D("10")), 0, None),  # no last trade yet: band unknown
        (market("50"), Limits(max_notional=D("1000")), 0, None),  # no reference price: venue decides
        (limit("1"), Limits(allowed_symbols=frozenset({"BTC/USDT"})), 0, None),
    ],
)
def test_risk_within_limits_passes(order: SubmitOrder, limits: Limits, open_orders: int,
                                   last: Decimal | None) -> None:
    assert check_order(order, limits, client_symbol="BTC/USDT", open_orders=open_orders, last_price=last,
                       venue_violation=venue_verdict(order)) is None


def test_risk_session_limit_checked_before_venue_rule() -> None:
    o = limit("5.0005")
    r = check_order(o, Limits(max_order_qty=D("1")), client_symbol="BTC/USDT", open_orders=0, last_price=None,
                    venue_violation=venue_verdict(o))
    assert r is not None and r.check == "max_order_qty"


@pytest.mark.parametrize(
    ("order", "limits", "last", "text"),
    [
        (limit("0.0000002"), Limits(max_order_qty=D("1E-7")), None,
         "order quantity 0.0000002 exceeds the limit 0.0000001"),
        (limit("0.0000001", "100"), Limits(), None, "venue rule: quantity 0.0000001 below minimum 0.001"),
        (limit("1E+3", "1E+2"), Limits(max_notional=D("1E+4")), None,
         "order notional 100000 exceeds the limit 10000"),
        (limit("1", "0.00000050"), Limits(price_band_pct=D("1E+1")), D("0.000001"),
         "price 0.0000005 is more than 10% from the last trade 0.000001"),
        (limit("1", "100.0000001"), Limits(), None,
         "venue rule: price 100.0000001 is not a multiple of the tick size 0.01"),
    ],
)
def test_risk_refusal_text_numbers_plain_without_exponent(order: SubmitOrder, limits: Limits, last: Decimal | None,
                                                          text: str) -> None:
    r = check_order(order, limits, client_symbol="BTC/USDT", open_orders=0, last_price=last,
                    venue_violation=venue_verdict(order))
    assert r is not None
    assert r.text == text
    assert "E+" not in r.text and "E-" not in r.text
