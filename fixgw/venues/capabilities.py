"""Order features a venue can take, and the refusal of those it cannot, before anything is sent.

Each adapter declares its ``VenueCapabilities`` (``fixgw.venues.base``); each instrument adds what the
venue's instrument list says of that market (order types, post-only, iceberg and its part limit).
``feature_violation`` compares an order's features with both and returns the first one missing, as an
``unsupported`` ``RuleViolation`` whose text names the feature as clients write it, so the gateway can
answer with an ExecutionReport rejection (FIX) or a 4xx JSON body (bridge) instead of a venue round trip.

The features, and the FIX fields that ask for them:

| feature | FIX | capability |
|---|---|---|
| stop-loss (market / limit) | OrdType 3 / 4 + StopPx 99 | ``stop_orders`` |
| take-profit (market) | OrdType J (4.4) + StopPx 99 | ``take_profit_orders`` |
| take-profit limit | bridge only (no FIX 4.2/4.4 code) | ``take_profit_orders`` |
| post-only | ExecInst 18 = 6 | ``post_only`` |
| iceberg | MaxFloor 111 | ``iceberg`` |
| order lists (OCO, OTO) | bridge only (ContingencyType 1385 is FIX 5.0) | ``order_lists`` (``fixgw.venues.orderlists``) |
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from fixgw.orders.enums import OrderType, TimeInForce
from fixgw.venues.rules import RuleViolation, is_multiple

if TYPE_CHECKING:  # pragma: no cover
    from fixgw.venues.base import Instrument, NewOrder, VenueCapabilities

__all__ = ["feature_violation", "ICEBERG_TYPES"]

_STOP_TYPES = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})
_TAKE_PROFIT_TYPES = frozenset({OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT})
#: Types an iceberg can be: the ones that rest with a limit price.
ICEBERG_TYPES = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT})


def _parts(quantity: Decimal, shown: Decimal) -> Decimal:
    """CEIL(quantity / shown), exactly (``divmod`` keeps the remainder exact; ``//`` would truncate)."""
    whole, rest = divmod(quantity, shown)
    return whole + 1 if rest else whole


def feature_violation(
    order: NewOrder, capabilities: VenueCapabilities | None, instrument: Instrument
) -> RuleViolation | None:
    """Return the first feature of ``order`` the venue (or this instrument) lacks, or ``None``."""
    # Types are named as FIX users and venues write them (STOP_LIMIT, TAKE_PROFIT).
    kind = order.order_type.name
    if capabilities is not None:
        if order.order_type in _STOP_TYPES and not capabilities.stop_orders:
            return RuleViolation("order_type", f"order type {kind} is not supported", True)
        if order.order_type in _TAKE_PROFIT_TYPES and not capabilities.take_profit_orders:
            return RuleViolation("order_type", f"order type {kind} is not supported", True)
    if instrument.order_types and order.order_type not in instrument.order_types:
        return RuleViolation("order_type", f"order type {kind} not allowed on {instrument.symbol}", True)
    shown = order.display_quantity
    if shown is None:
        return None
    if capabilities is not None and not capabilities.iceberg:
        return RuleViolation("iceberg", "iceberg orders (MaxFloor) are not supported", True)
    if not instrument.iceberg_allowed:
        return RuleViolation("iceberg", f"iceberg orders are not allowed on {instrument.symbol}", True)
    if order.order_type not in ICEBERG_TYPES:
        return RuleViolation("iceberg", f"an iceberg needs a limit order, not {kind}", True)
    if order.time_in_force not in (None, TimeInForce.GTC):
        return RuleViolation("iceberg", "an iceberg order must be GTC", True)
    if shown <= 0 or order.quantity is None or shown >= order.quantity:
        return RuleViolation("iceberg", "the display quantity (MaxFloor) must be positive and below the quantity")
    if not is_multiple(shown, instrument.lot_step):
        return RuleViolation("lot", f"display quantity {shown.normalize():f} is not a multiple of the lot step "
                                    f"{instrument.lot_step.normalize():f}")  # type: ignore[union-attr]
    if instrument.iceberg_parts and _parts(order.quantity, shown) > instrument.iceberg_parts:
        return RuleViolation("iceberg_parts", f"an iceberg of more than {instrument.iceberg_parts} parts "
                                              f"(quantity / display quantity) is not allowed")
    return None
