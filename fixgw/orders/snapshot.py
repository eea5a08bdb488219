"""A frozen copy of an order's state, for queries and for comparing books."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .enums import OrderSide, OrderStatus, OrderType, TimeInForce
from .events import OrderLegEnded
from .route import Route

__all__ = ["OrderSnapshot"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderSnapshot:
    """A read-only copy of an order's state (for queries, and to compare books)."""

    order_id: str
    account: str
    owner: str
    symbol: str
    side: OrderSide
    order_type: OrderType
    time_in_force: TimeInForce
    expire_time_ns: int | None
    post_only: bool
    quantity: Decimal | None
    quote_quantity: Decimal | None
    price: Decimal | None
    trigger_price: Decimal | None
    status: OrderStatus
    cl_ord_id: str
    orig_cl_ord_id: str | None
    cl_ord_ids: tuple[str, ...]
    venue_order_id: str | None
    cum_qty: Decimal
    leaves_qty: Decimal
    notional: Decimal
    avg_px: Decimal
    fees: tuple[tuple[str, Decimal], ...]
    trade_ids: frozenset[str]
    event_seq: int
    pending_kind: str | None
    pending_cl_ord_id: str | None
    pending_previous: OrderStatus | None
    ts_init_ns: int
    ts_last_ns: int
    route: Route | None = None
    leg: int = 0
    legs_requested: int = 0
    held_end: OrderLegEnded | None = None
