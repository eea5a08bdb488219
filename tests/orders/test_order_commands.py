"""Command validation and the exact JSON round trip of every command and event."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.errors import OrderError, StoreError
from fixgw.orders import (
    Party,
    Route,
    RECORD_TYPES,
    CancelOrder,
    OrderSide,
    OrderType,
    ReplaceOrder,
    SubmitOrder,
    TimeInForce,
    record_from_json,
    record_to_json,
)

D = Decimal


def submit(**kw):
    base = dict(cl_ord_id="c1", symbol="BTCUSDT", side=OrderSide.BUY, order_type=OrderType.LIMIT,
                quantity=D("1"), price=D("10"), ts_ns=1)
    base.update(kw)
    return SubmitOrder(**base)


@pytest.mark.parametrize(
    "changes",
    [
        dict(price=None),  # limit without price
        dict(quantity=None),  # no quantity at all
        dict(quote_quantity=D("5")),  # both quantities
        dict(quantity=None, quote_quantity=D("5")),  # quote amount on a limit order
        dict(order_type=OrderType.MARKET),  # market with a price
        dict(order_type=OrderType.STOP_LIMIT),  # no trigger price
        dict(trigger_price=D("9")),  # trigger on a plain limit
        dict(time_in_force=TimeInForce.GTD),  # GTD without expiry
        dict(expire_time_ns=5),  # expiry without GTD
        dict(post_only=True, time_in_force=TimeInForce.IOC),
        dict(quantity=D("0")),
        dict(quantity=D("-1")),
        dict(quantity=D("NaN")),
        dict(quantity=1.5),  # floats are refused
        dict(price=D("Infinity")),
        dict(cl_ord_id=""),
        dict(side="buy"),
        dict(ts_ns=1.0),
    ],
)
def test_submit_order_invalid_combination_raises_order_error(changes):
    with pytest.raises(OrderError):
        submit(**changes)


@pytest.mark.parametrize(
    "changes",
    [
        dict(),
        dict(order_type=OrderType.MARKET, price=None, quantity=None, quote_quantity=D("100")),
        dict(order_type=OrderType.STOP, price=None, trigger_price=D("9")),
        dict(order_type=OrderType.TAKE_PROFIT_LIMIT, trigger_price=D("11")),
        dict(time_in_force=TimeInForce.GTD, expire_time_ns=1_700_000_000_000_000_000),
        dict(post_only=True),
        dict(side=OrderSide.SELL_SHORT),
    ],
)
def test_submit_order_valid_combination_accepted(changes):
    submit(**changes)


def test_cancel_order_without_target_raises_order_error():
    with pytest.raises(OrderError):
        CancelOrder(cl_ord_id="x", ts_ns=1)
    with pytest.raises(OrderError):
        ReplaceOrder(cl_ord_id="x", ts_ns=1)


decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(lambda d: d > 0)
texts = st.text(min_size=1, max_size=12)
_maybe_text = st.one_of(st.none(), texts)
parties = st.tuples(_maybe_text, _maybe_text, _maybe_text).filter(lambda t: t != (None, None, None)).map(
    lambda t: Party(*t))
routes = st.tuples(st.one_of(st.none(), parties), st.one_of(st.none(), parties)).filter(
    lambda t: t != (None, None)).map(lambda t: Route(*t))


def _strategy_for(cls):
    """Build records of ``cls`` from field types; invalid combinations are filtered out."""
    import typing

    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        base = args[0] if args else hint
        if base is Decimal:
            s = st.one_of(decimals, st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: d.copy_abs() + 1))
        elif base is str:
            s = texts
        elif base is bool:
            s = st.booleans()
        elif base is int:
            s = st.integers(min_value=0, max_value=2**63 - 1)
        elif base is Route:
            s = routes
        else:
            s = st.sampled_from(list(base))
        if type(None) in typing.get_args(hint):
            s = st.one_of(st.none(), s)
        kwargs[f.name] = s

    def build(values):
        try:
            return cls(**values)
        except OrderError:
            return None

    return st.fixed_dictionaries(kwargs).map(build).filter(lambda r: r is not None)


records = st.one_of([_strategy_for(cls) for cls in RECORD_TYPES.values()])


@settings(max_examples=300, deadline=None)
@given(records)
def test_record_json_round_trip_exact(record):
    text = record_to_json(record)
    back = record_from_json(text)
    assert back == record
    for f in dataclasses.fields(record):
        a, b = getattr(record, f.name), getattr(back, f.name)
        if isinstance(a, Decimal):
            assert a.as_tuple() == b.as_tuple()  # exponent and trailing zeros kept


def test_record_json_decimal_written_as_string():
    text = record_to_json(submit(quantity=D("1.000"), price=D("1E+3")))
    assert '"quantity":"1.000"' in text and '"price":"1E+3"' in text


@pytest.mark.parametrize("text", ['{"type":"Nope"}', "[1]", "not json", '{"type":"SubmitOrder","cl_ord_id":"x"}'])
def test_record_json_unreadable_raises_store_error(text):
    with pytest.raises(StoreError):
        record_from_json(text)


def test_record_json_route_kept_and_old_record_without_route_reads_none():
    route = Route(on_behalf_of=Party("BUREAU", "DESK7", None), deliver_to=Party(location_id="NY"))
    text = record_to_json(submit(route=route))
    assert '"route":{"on_behalf_of":["BUREAU","DESK7",null],"deliver_to":[null,null,"NY"]}' in text
    assert record_from_json(text).route == route
    old = text.replace(',"route":{"on_behalf_of":["BUREAU","DESK7",null],"deliver_to":[null,null,"NY"]}', "")
    assert '"route"' not in old and record_from_json(old).route is None


@pytest.mark.parametrize("route", ['"x"', '{"on_behalf_of":["A","B"]}', '{"on_behalf_of":[null,null,null]}',
                                   '{"on_behalf_of":null,"deliver_to":null}'])
def test_record_json_malformed_route_raises_store_error(route):
    text = record_to_json(submit(route=Route(on_behalf_of=Party("A"))))
    bad = text.replace('{"on_behalf_of":["A",null,null],"deliver_to":null}', route)
    with pytest.raises(StoreError):
        record_from_json(bad)


@settings(max_examples=200, deadline=None)
@given(records)
def test_record_dict_generated_encoder_writes_each_field_by_its_codec(record):
    from fixgw.orders import serial

    expected = {"type": type(record).__name__}
    for name, enc, _ in serial._CODECS[type(record)]:
        expected[name] = enc(getattr(record, name))
    got = serial.record_to_dict(record)
    assert got == expected and list(got) == list(expected)
    assert all(type(got[k]) is type(v) for k, v in expected.items())  # "1" stays a str, not an enum member
