"""Pre-trade risk checks: the session's limits, then the venue's instrument rules. Pure.

``check_order`` looks at one order about to be sent (an order model ``SubmitOrder``, in normalized symbols)
and returns ``None`` or a ``Refusal`` whose ``text`` is what the client reads in Text (58) (numbers in plain
notation: ``translate.plain``) and whose ``reason`` is the symbolic OrdRejReason (``fixgw.translate.REJ``).
Checks run in a fixed order, cheapest and most fundamental first, and the first failure wins:

1. kill switch;  2. allowed symbols;  3. max open orders;  4. max order quantity;
5. max notional (limit price, or the last trade for orders without one);
6. price band around the last trade;  7. the venue's rules (tick, lot, min/max, notional, types).

The state these checks need (open order count, last trade price) is handed in, so the module holds none.
The venue's verdict comes in too (``VenueAdapter.check`` is pure but lives a layer above this one): any
value with ``rule``, ``reason`` and ``unsupported`` attributes, as ``fixgw.venues.rules.RuleViolation``.
A check whose reference is unknown (no last trade yet) passes; the venue still applies its own filters.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from .config import Limits
from .orders.commands import SubmitOrder
from .orders.enums import TRIGGERED_TYPES
from .translate.decimals import plain
from .translate.tables import REJ

__all__ = ["Refusal", "check_order", "violation_to_refusal"]

_HUNDRED = Decimal(100)
_QTY_RULES = frozenset({"lot", "min_qty", "max_qty", "quantity", "quote_qty"})


class Violation(Protocol):
    """A venue rule verdict (``fixgw.venues.rules.RuleViolation``)."""

    rule: str
    reason: str
    unsupported: bool


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an order is refused: ``check`` names the rule, ``reason`` is a ``REJ`` name, ``text`` is for the client."""

    check: str
    reason: str
    text: str


def violation_to_refusal(v: Violation) -> Refusal:
    """Map a venue rule violation to a refusal with the matching OrdRejReason."""
    if v.rule == "trading":
        reason = REJ.EXCHANGE_CLOSED
    elif v.unsupported:
        reason = REJ.UNSUPPORTED
    elif v.rule in _QTY_RULES:
        reason = REJ.INCORRECT_QUANTITY
    elif v.rule == "max_notional":
        reason = REJ.EXCEEDS_LIMIT
    else:
        reason = REJ.OTHER
    return Refusal(f"venue:{v.rule}", reason, f"venue rule: {v.reason}")


def check_order(
    order: SubmitOrder,
    limits: Limits,
    *,
    client_symbol: str,
    open_orders: int,
    last_price: Decimal | None,
    venue_violation: Violation | None = None,
) -> Refusal | None:
    """Return why ``order`` must not be sent, or ``None``.

    ``open_orders`` counts the session's live orders other than this one; ``venue_violation`` is what the
    venue port's pure check (``VenueAdapter.check``) said about the same order.
    """
    if limits.kill_switch:
        return Refusal("kill_switch", REJ.BROKER_OPTION, "kill switch engaged: new orders are refused")
    if limits.allowed_symbols is not None and client_symbol not in limits.allowed_symbols:
        return Refusal("allowed_symbols", REJ.BROKER_OPTION, f"symbol {client_symbol} is not allowed for this session")
    if limits.max_open_orders is not None and open_orders >= limits.max_open_orders:
        return Refusal("max_open_orders", REJ.EXCEEDS_LIMIT,
                       f"open orders limit reached ({limits.max_open_orders})")
    qty = order.quantity
    if limits.max_order_qty is not None and qty is not None and qty > limits.max_order_qty:
        return Refusal("max_order_qty", REJ.EXCEEDS_LIMIT,
                       f"order quantity {plain(qty)} exceeds the limit {plain(limits.max_order_qty)}")
    if limits.max_notional is not None:
        notional = _notional(order, last_price)
        if notional is not None and notional > limits.max_notional:
            return Refusal("max_notional", REJ.EXCEEDS_LIMIT,
                           f"order notional {plain(notional)} exceeds the limit {plain(limits.max_notional)}")
    if limits.price_band_pct is not None and last_price:
        for name, px in (("price", order.price), ("stop price", order.trigger_price)):
            if px is None:
                continue
            deviation = abs(px - last_price) * _HUNDRED / last_price
            if deviation > limits.price_band_pct:
                return Refusal("price_band", REJ.EXCEEDS_LIMIT,
                               f"{name} {plain(px)} is more than {plain(limits.price_band_pct)}% from the last trade "
                               f"{plain(last_price)}")
    if venue_violation is not None:
        return violation_to_refusal(venue_violation)
    return None


def _notional(order: SubmitOrder, last_price: Decimal | None) -> Decimal | None:
    if order.quote_quantity is not None:
        return order.quote_quantity
    if order.quantity is None:
        return None
    px = order.price
    if px is None:
        # A market order trades near the last price; a stop near its trigger.
        px = last_price or (order.trigger_price if order.order_type in TRIGGERED_TYPES else None)
    return None if px is None else order.quantity * px
