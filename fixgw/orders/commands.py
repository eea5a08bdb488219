"""Order commands: what a client asks for, before anything happened.

Commands are validated on construction (an impossible combination raises ``OrderError`` with a text
fit for the client), journaled by the ``OrderBook`` when it accepts them, and never change an order by
themselves: the book turns them into an order (``SubmitOrder``) or a pending-request event.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from fixgw.errors import OrderError

from ._fastinit import frozen_init
from .enums import PRICED_TYPES, TRIGGERED_TYPES, OrderSide, OrderType, TimeInForce
from .route import Route

__all__ = ["SubmitOrder", "CancelOrder", "ReplaceOrder", "Command", "check_decimal"]


def check_decimal(name: str, value: object, *, positive: bool = True, optional: bool = False) -> None:
    """Raise ``OrderError`` unless ``value`` is a finite ``Decimal`` (> 0 when ``positive``)."""
    if value is None:
        if optional:
            return
        raise OrderError(f"{name} is required")
    if type(value) is not Decimal:
        raise OrderError(f"{name} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise OrderError(f"{name} must be finite")
    if positive and value <= 0:
        raise OrderError(f"{name} must be positive")


def _check_id(name: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if type(value) is not str or not value:
        raise OrderError(f"{name} must be a non-empty string")


@frozen_init
@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitOrder:
    """Open a new order.

    Give exactly one of ``quantity`` (base amount) and ``quote_quantity`` (quote amount, market orders
    only). ``price`` goes with the limit types, ``trigger_price`` with the stop and take-profit types,
    ``expire_time_ns`` with GTD, ``display_quantity`` (iceberg) with the limit types. ``owner`` names who gets the reports (a FIX session key, ``"bridge"``);
    it is journaled so routing survives a restart. ``route`` names the party behind the session the
    order is for (``fixgw.orders.route``); every report about the order goes back by it.
    """

    cl_ord_id: str
    symbol: str
    side: OrderSide
    order_type: OrderType
    ts_ns: int
    quantity: Decimal | None = None
    quote_quantity: Decimal | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    expire_time_ns: int | None = None
    post_only: bool = False
    owner: str = ""
    route: Route | None = None
    #: Iceberg: the quantity shown on the book at a time (FIX MaxFloor 111); ``None`` shows it all.
    display_quantity: Decimal | None = None

    def __post_init__(self) -> None:
        _check_id("cl_ord_id", self.cl_ord_id)
        _check_id("symbol", self.symbol)
        if self.route is not None and not isinstance(self.route, Route):
            raise OrderError(f"route must be a Route, not {self.route!r}")
        if not isinstance(self.side, OrderSide):
            raise OrderError(f"side must be an OrderSide, not {self.side!r}")
        if not isinstance(self.order_type, OrderType):
            raise OrderError(f"order_type must be an OrderType, not {self.order_type!r}")
        if not isinstance(self.time_in_force, TimeInForce):
            raise OrderError(f"time_in_force must be a TimeInForce, not {self.time_in_force!r}")
        if (self.quantity is None) == (self.quote_quantity is None):
            raise OrderError("give exactly one of quantity and quote_quantity")
        check_decimal("quantity", self.quantity, optional=True)
        check_decimal("quote_quantity", self.quote_quantity, optional=True)
        if self.quote_quantity is not None and self.order_type is not OrderType.MARKET:
            raise OrderError("quote_quantity is only for market orders")
        if self.order_type in PRICED_TYPES:
            check_decimal("price", self.price)
        elif self.price is not None:
            raise OrderError(f"a {self.order_type.value} order takes no price")
        if self.order_type in TRIGGERED_TYPES:
            check_decimal("trigger_price", self.trigger_price)
        elif self.trigger_price is not None:
            raise OrderError(f"a {self.order_type.value} order takes no trigger_price")
        if self.time_in_force is TimeInForce.GTD:
            if type(self.expire_time_ns) is not int:
                raise OrderError("a GTD order needs expire_time_ns")
        elif self.expire_time_ns is not None:
            raise OrderError("expire_time_ns goes only with GTD")
        if self.post_only:
            if self.order_type is not OrderType.LIMIT:
                raise OrderError("post_only is only for limit orders")
            if self.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
                # A post-only order must rest; IOC/FOK must not: the two contradict each other.
                raise OrderError("post_only cannot be IOC or FOK")
        if self.display_quantity is not None:
            check_decimal("display_quantity", self.display_quantity)
            if self.order_type not in PRICED_TYPES:
                raise OrderError("an iceberg (display_quantity) needs a limit order")
            if self.quantity is None or self.display_quantity >= self.quantity:
                raise OrderError("display_quantity must be below quantity")
            if self.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
                raise OrderError("an iceberg order rests: it cannot be IOC or FOK")
        if type(self.ts_ns) is not int:
            raise OrderError("ts_ns must be an int (UTC epoch ns)")


@frozen_init
@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOrder:
    """Cancel an open order.

    ``cl_ord_id`` is the request's own (new) client order id. The order is found by ``order_id`` (our
    internal id or the venue's, as reported in FIX OrderID 37) when given, else by ``orig_cl_ord_id``
    (the current client order id or any earlier one in its chain).
    """

    cl_ord_id: str
    ts_ns: int
    orig_cl_ord_id: str | None = None
    order_id: str | None = None

    def __post_init__(self) -> None:
        _check_id("cl_ord_id", self.cl_ord_id)
        _check_id("orig_cl_ord_id", self.orig_cl_ord_id, optional=True)
        _check_id("order_id", self.order_id, optional=True)
        if self.orig_cl_ord_id is None and self.order_id is None:
            raise OrderError("give orig_cl_ord_id or order_id")


@frozen_init
@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaceOrder:
    """Change an open order's quantity, price or trigger price; ``None`` keeps the current value.

    The order is found as for ``CancelOrder``; ``cl_ord_id`` becomes the order's client order id once
    the venue confirms.
    """

    cl_ord_id: str
    ts_ns: int
    orig_cl_ord_id: str | None = None
    order_id: str | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None

    def __post_init__(self) -> None:
        _check_id("cl_ord_id", self.cl_ord_id)
        _check_id("orig_cl_ord_id", self.orig_cl_ord_id, optional=True)
        _check_id("order_id", self.order_id, optional=True)
        if self.orig_cl_ord_id is None and self.order_id is None:
            raise OrderError("give orig_cl_ord_id or order_id")
        check_decimal("quantity", self.quantity, optional=True)
        check_decimal("price", self.price, optional=True)
        check_decimal("trigger_price", self.trigger_price, optional=True)


Command = SubmitOrder | CancelOrder | ReplaceOrder
