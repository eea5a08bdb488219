"""Instrument rule checks: one pure function, exact ``Decimal`` arithmetic, a clear reason.

The gateway calls ``check_order`` before sending so that an order the venue would refuse for its
shape (tick, lot, min/max quantity, notional, unsupported type) is refused locally with a reason.
Multiples are taken from zero (``price % tick == 0``), the current Binance rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext
from typing import TYPE_CHECKING

from fixgw.orders.enums import OrderSide, OrderType, TimeInForce

if TYPE_CHECKING:  # pragma: no cover
    from fixgw.venues.base import Instrument, NewOrder, VenueCapabilities

__all__ = ["RuleViolation", "check_order", "is_multiple", "PLAIN_SIDES"]

#: Sides every venue takes; ``OrderSide.SELL_SHORT`` only where ``VenueCapabilities.sides`` says so.
PLAIN_SIDES = frozenset({OrderSide.BUY, OrderSide.SELL})
_MARKET_TYPES = frozenset({OrderType.MARKET, OrderType.STOP, OrderType.TAKE_PROFIT})
_TRIGGERED_TYPES = frozenset({OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT,
                              OrderType.TAKE_PROFIT_LIMIT})


@dataclass(frozen=True, slots=True)
class RuleViolation:
    """Why an order breaks a rule. ``rule`` is a stable key; ``reason`` is human text."""

    rule: str  # "tick", "lot", "min_qty", "max_qty", "min_price", "max_price", "min_notional", ...
    reason: str
    unsupported: bool = False  # True: the venue cannot do this at all (vs. a bad value)


def is_multiple(value: Decimal, step: Decimal | None) -> bool:
    """Return whether ``value`` is an exact multiple of ``step`` (a missing or zero step always passes)."""
    if not step:
        return True
    try:  # the common case: the quotient fits the current context and the remainder is exact
        r = value % step
        if not r.is_nan():
            return r == 0
    except InvalidOperation:
        pass
    with localcontext() as ctx:
        ctx.prec = 80  # remainder needs the whole quotient; default 28 digits can overflow
        return value % step == 0


def _num(d: Decimal | None) -> str:
    """A number as a client reads it in a refusal's text: plain notation (never ``1E-7``), no padding zeros."""
    if d is None:
        return "none"
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _positive(v: Decimal | None) -> Decimal | None:
    return v if v else None


def check_order(
    instrument: Instrument,
    order: NewOrder,
    capabilities: VenueCapabilities | None = None,
    reference_price: Decimal | None = None,
) -> RuleViolation | None:
    """Return the first rule the order breaks, or ``None`` when it passes.

    ``reference_price`` (the venue's average or reference price) enables the per-side price band and
    stands in for the price of a MARKET order in notional checks; without it those are left to the
    venue.
    """
    if not instrument.trading:
        return RuleViolation("trading", f"{instrument.symbol} is not trading", unsupported=True)
    if order.side not in (capabilities.sides if capabilities is not None else PLAIN_SIDES):
        return RuleViolation("side", f"side {order.side.value} is not supported by the venue", True)
    from fixgw.venues.capabilities import feature_violation  # (it builds on this module)

    feature = feature_violation(order, capabilities, instrument)
    if feature is not None:
        return feature
    tif = order.time_in_force
    allowed_tif = instrument.time_in_force or (capabilities.time_in_force if capabilities else frozenset())
    if tif is not None and allowed_tif and tif not in allowed_tif:
        return RuleViolation("time_in_force", f"time in force {tif.name} not supported", True)
    if order.post_only:
        if order.order_type is not OrderType.LIMIT:
            return RuleViolation("post_only", "post-only needs a LIMIT order", True)
        if not (instrument.post_only_allowed or (capabilities and capabilities.post_only)):
            return RuleViolation("post_only", "post-only not supported", True)
        if tif is not None and tif is not TimeInForce.GTC:
            return RuleViolation("post_only", "post-only orders rest: time in force must be GTC", True)
    if order.order_type in _TRIGGERED_TYPES and order.stop_price is None:
        return RuleViolation("stop_price", "stop price required")

    is_market = order.order_type in _MARKET_TYPES
    needs_price = not is_market
    if needs_price and order.price is None:
        return RuleViolation("price", "price required")
    if is_market and order.price is not None:
        return RuleViolation("price", "a market order takes no price")

    # quantity
    if order.quote_quantity is not None:
        if order.order_type is not OrderType.MARKET:
            return RuleViolation("quote_qty", "quantity by quote amount needs a MARKET order", True)
        if not (instrument.quote_qty_market_allowed or (capabilities and capabilities.quote_qty_market)):
            return RuleViolation("quote_qty", "market orders by quote amount not supported", True)
        if order.quantity is not None:
            return RuleViolation("quote_qty", "give quantity or quote quantity, not both")
        if order.quote_quantity <= 0:
            return RuleViolation("quote_qty", f"quote quantity {_num(order.quote_quantity)} must be positive")
    else:
        if order.quantity is None:
            return RuleViolation("quantity", "quantity required")
        v = _check_qty(instrument, order.quantity, is_market)
        if v is not None:
            return v

    # prices (limit price and stop price obey the same filter)
    for name, px in (("price", order.price), ("stop_price", order.stop_price)):
        if px is None:
            continue
        v = _check_price(instrument, name, px)
        if v is not None:
            return v

    # price band around the reference price
    if reference_price is not None and order.price is not None:
        if order.side is OrderSide.BUY:
            up, down = instrument.bid_multiplier_up, instrument.bid_multiplier_down
        else:
            up, down = instrument.ask_multiplier_up, instrument.ask_multiplier_down
        if up and order.price > reference_price * up:
            return RuleViolation("price_band", f"price {_num(order.price)} above {_num(reference_price * up)} "
                                               f"({_num(up)} x reference)")
        if down and order.price < reference_price * down:
            return RuleViolation("price_band", f"price {_num(order.price)} below {_num(reference_price * down)} "
                                               f"({_num(down)} x reference)")

    # notional
    px_for_notional = order.price if not is_market else reference_price
    if order.quantity is not None and px_for_notional is not None:
        notional = order.quantity * px_for_notional
        check_min = not is_market or instrument.min_notional_applies_to_market
        check_max = not is_market or instrument.max_notional_applies_to_market
        lo, hi = _positive(instrument.min_notional), _positive(instrument.max_notional)
        if check_min and lo is not None and notional < lo:
            return RuleViolation("min_notional", f"notional {_num(notional)} below minimum {_num(lo)}")
        if check_max and hi is not None and notional > hi:
            return RuleViolation("max_notional", f"notional {_num(notional)} above maximum {_num(hi)}")
    elif order.quote_quantity is not None:
        lo = _positive(instrument.min_notional)
        if instrument.min_notional_applies_to_market and lo is not None and order.quote_quantity < lo:
            return RuleViolation("min_notional", f"notional {_num(order.quote_quantity)} below minimum {_num(lo)}")
    return None


def _check_qty(instrument: Instrument, qty: Decimal, is_market: bool) -> RuleViolation | None:
    if qty <= 0:
        return RuleViolation("quantity", f"quantity {_num(qty)} must be positive")
    checks = [(instrument.lot_step, instrument.min_qty, instrument.max_qty)]
    if is_market:
        checks.append((instrument.market_lot_step, instrument.market_min_qty, instrument.market_max_qty))
    for step, lo, hi in checks:
        lo, hi = _positive(lo), _positive(hi)
        if lo is not None and qty < lo:
            return RuleViolation("min_qty", f"quantity {_num(qty)} below minimum {_num(lo)}")
        if hi is not None and qty > hi:
            return RuleViolation("max_qty", f"quantity {_num(qty)} above maximum {_num(hi)}")
        if not is_multiple(qty, step):
            return RuleViolation("lot", f"quantity {_num(qty)} is not a multiple of the lot step {_num(step)}")
    return None


def _check_price(instrument: Instrument, name: str, px: Decimal) -> RuleViolation | None:
    if px <= 0:
        return RuleViolation(name, f"{name} {_num(px)} must be positive")
    lo, hi = _positive(instrument.min_price), _positive(instrument.max_price)
    if lo is not None and px < lo:
        return RuleViolation("min_price", f"{name} {_num(px)} below minimum {_num(lo)}")
    if hi is not None and px > hi:
        return RuleViolation("max_price", f"{name} {_num(px)} above maximum {_num(hi)}")
    if not is_multiple(px, instrument.tick_size):
        return RuleViolation("tick",
                             f"{name} {_num(px)} is not a multiple of the tick size {_num(instrument.tick_size)}")
    return None
