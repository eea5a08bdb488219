"""Translate owns the FIX of a refusal: the OrdRejReason of a known cause and the fields a reject echoes."""

from __future__ import annotations

from decimal import Decimal

from fixgw.orders import OrderBook, OrderRejected, SubmitOrder
from fixgw.orders.enums import OrderSide, OrderType
from fixgw.translate import FIX44, REJ, NewOrderRequest, order_reject, refuse_order, reply_for_event

T = 1_764_036_000_000_000_000


def _rejected_order():  # type: ignore[no-untyped-def]
    book = OrderBook("A")
    order = book.submit(SubmitOrder(cl_ord_id="c1", symbol="BTC/USDT", side=OrderSide.BUY, order_type=OrderType.LIMIT,
                                    quantity=Decimal("1"), price=Decimal("100"), ts_ns=T))
    event = OrderRejected(order_id=order.order_id, ts_ns=T, reason="quantity above the session's limit")
    assert book.apply(event)
    return order, event


def test_reports_rejected_with_known_reason_carries_its_ord_rej_reason() -> None:
    order, event = _rejected_order()
    _, guessed = reply_for_event(FIX44, order, event, "BTC/USDT")  # type: ignore[misc]
    _, known = reply_for_event(FIX44, order, event, "BTC/USDT", reject_reason=REJ.EXCEEDS_LIMIT)  # type: ignore[misc]
    assert dict(guessed)[103] == FIX44.ord_rej_reason[REJ.INCORRECT_QUANTITY]  # guessed from the text
    assert dict(known)[103] == FIX44.ord_rej_reason[REJ.EXCEEDS_LIMIT] == 3
    assert [t for t, _ in known] == [t for t, _ in guessed]  # only the value differs


def test_reports_refuse_order_echoes_parsed_terms_in_plain_notation() -> None:
    req = NewOrderRequest(cl_ord_id="c9", symbol="BTC/USDT", client_symbol="BTCUSDT", side=OrderSide.SELL,
                          order_type=OrderType.LIMIT, quantity=Decimal("1.50"), price=Decimal("100.0"))
    rej = refuse_order(req, REJ.DUPLICATE_ORDER, "duplicate")
    assert rej.echo == ((55, b"BTCUSDT"), (54, b"2"), (38, b"1.5"), (40, b"2"), (44, b"100"))
    _, fields = order_reject(FIX44, rej, exec_id="X1", transact_time_ns=T)
    f = dict(fields)
    assert (f[11], f[103], f[55], f[38], f[44]) == ("c9", 6, b"BTCUSDT", b"1.5", b"100")


def test_reports_refuse_market_order_by_quote_has_no_quantity_or_price() -> None:
    req = NewOrderRequest(cl_ord_id="m1", symbol="BTC/USDT", client_symbol="BTCUSDT", side=OrderSide.BUY,
                          order_type=OrderType.MARKET, quantity=None, quote_quantity=Decimal("25"))
    assert refuse_order(req, REJ.OTHER, "x").echo == ((55, b"BTCUSDT"), (54, b"1"), (40, b"1"))
