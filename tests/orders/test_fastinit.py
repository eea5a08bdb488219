"""``frozen_init``: the faster ``__init__`` of the order path's frozen records builds exactly the object the
dataclass-generated one builds, refuses what it refuses, and leaves the object frozen."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import FrozenInstanceError, dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.errors import OrderError
from fixgw.orders import commands, events
from fixgw.orders._fastinit import frozen_init
from fixgw.orders.enums import OrderSide, OrderType, TimeInForce
from fixgw.translate import inbound

FAST = [c for mod in (commands, events, inbound) for c in vars(mod).values()
        if isinstance(c, type) and dataclasses.is_dataclass(c) and c.__module__ == mod.__name__
        and "__dataclass_init__" in vars(c)]


def test_frozen_init_covers_the_order_path_records() -> None:
    names = {c.__name__ for c in FAST}
    assert {"SubmitOrder", "OrderSubmitted", "OrderAccepted", "OrderExpired", "OrderFilled",
            "NewOrderRequest"} <= names


@pytest.mark.parametrize("cls", FAST, ids=lambda c: c.__name__)
def test_frozen_init_same_signature_as_the_dataclass_init(cls: type) -> None:
    fast = inspect.signature(cls.__init__)
    generated = inspect.signature(cls.__dataclass_init__)  # type: ignore[attr-defined]
    assert [(p.name, p.kind, p.default) for p in fast.parameters.values()] == [
        (p.name, p.kind, p.default) for p in generated.parameters.values()]


def _build(cls: type, init: Any, kwargs: dict) -> Any:
    obj = object.__new__(cls)
    try:
        init(obj, **kwargs)
    except Exception as exc:  # noqa: BLE001 - both must refuse alike
        return ("raises", type(exc), str(exc))
    return ("ok", obj)


_decimals = st.one_of(st.none(), st.sampled_from([Decimal("1"), Decimal("0.001"), Decimal("-2"), Decimal("NaN"),
                                                  Decimal("0")]))


@settings(max_examples=200, deadline=None)
@given(cl=st.sampled_from(["c1", "", None]), side=st.sampled_from([*OrderSide, "buy"]),
       order_type=st.sampled_from([*OrderType, "limit"]), tif=st.sampled_from(list(TimeInForce)),
       qty=_decimals, quote=_decimals, price=_decimals, trigger=_decimals, display=_decimals,
       post_only=st.booleans(), expire=st.sampled_from([None, 5, "5"]), ts=st.sampled_from([1, 1.0]))
def test_frozen_init_submit_order_any_terms_same_object_or_same_refusal(
    cl: Any, side: Any, order_type: Any, tif: Any, qty: Any, quote: Any, price: Any, trigger: Any, display: Any,
    post_only: bool, expire: Any, ts: Any,
) -> None:
    kwargs = dict(cl_ord_id=cl, symbol="BTC/USDT", side=side, order_type=order_type, ts_ns=ts, quantity=qty,
                  quote_quantity=quote, price=price, trigger_price=trigger, time_in_force=tif,
                  expire_time_ns=expire, post_only=post_only, display_quantity=display)
    cls = commands.SubmitOrder
    fast, generated = _build(cls, cls.__init__, kwargs), _build(cls, cls.__dataclass_init__, kwargs)
    assert fast == generated
    if fast[0] == "ok":
        assert hash(fast[1]) == hash(generated[1]) and repr(fast[1]) == repr(generated[1])


def test_frozen_init_defaults_and_missing_arguments_as_generated() -> None:
    e = events.OrderFilled(order_id="o", ts_ns=1, trade_id="t", last_qty=Decimal(1), last_px=Decimal(2))
    assert e.fee == Decimal(0) and e.venue_order_id is None and e.final is False
    with pytest.raises(TypeError):
        events.OrderAccepted(order_id="o")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        events.OrderAccepted("o", 1)  # type: ignore[misc]  # keyword-only, as generated
    req = inbound.NewOrderRequest("c", "BTC/USDT", "BTC-USDT", OrderSide.BUY, OrderType.MARKET, Decimal(1))
    assert req.price is None and req.post_only is False
    assert dataclasses.replace(req, price=Decimal(3)).price == Decimal(3)


def test_frozen_init_objects_stay_frozen_and_checked() -> None:
    e = events.OrderAccepted(order_id="o", ts_ns=1)
    with pytest.raises(FrozenInstanceError):
        e.order_id = "p"  # type: ignore[misc]
    with pytest.raises(OrderError):
        commands.SubmitOrder(cl_ord_id="c", symbol="S", side=OrderSide.BUY, order_type=OrderType.LIMIT, ts_ns=1,
                             quantity=Decimal(1))  # no price: __post_init__ still runs


def test_frozen_init_leaves_classes_it_does_not_fit_unchanged() -> None:
    @dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclass(frozen=True, slots=True)
    class Factory:
        a: list = field(default_factory=list)

    @dataclass(slots=True)
    class NotFrozen:
        a: int

    for cls in (NoSlots, Factory, NotFrozen):
        init = cls.__init__
        assert frozen_init(cls) is cls and cls.__init__ is init and "__dataclass_init__" not in vars(cls)
