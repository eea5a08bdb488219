"""Order events: what happened to an order, in the past tense.

Every event names its order by ``order_id`` (the book's stable internal id; find it with
``OrderBook.find`` from a venue's client or order id) and carries ``ts_ns``, the UTC epoch ns the
caller assigns (TransactTime). ``exec_type`` is a class-level hint of what the event reports.

Leg events (``LegAccepted``, ``LegAmended``, ``LegCanceled``, ``LegExpired``, ``LegRejected``) are
what the venue said about one venue order of ours, a *leg*: leg 0 is the order as first sent, leg k
the venue order its k-th replace request asked for. They name the leg, not what it means for the
order: ``Order.apply`` looks up ``LEG_TRANSITIONS`` and applies the order event they amount to (an
acceptance, a replace, the end of the order, an end held back...), which is what is journaled and
reported. They are never journaled themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from fixgw.errors import OrderError

from ._fastinit import frozen_init
from .commands import check_decimal
from .enums import ExecTypeHint, LiquiditySide

__all__ = [
    "OrderSubmitted",
    "OrderAccepted",
    "OrderRejected",
    "OrderFilled",
    "OrderPendingCancel",
    "OrderCanceled",
    "OrderCancelRejected",
    "OrderPendingReplace",
    "OrderReplaced",
    "OrderReplaceRejected",
    "OrderExpired",
    "OrderTriggered",
    "OrderLegEnded",
    "OrderEvent",
    "EVENT_TYPES",
    "LegAccepted",
    "LegAmended",
    "LegCanceled",
    "LegExpired",
    "LegRejected",
    "LegEvent",
    "LEG_EVENT_TYPES",
]

_ZERO = Decimal(0)


@frozen_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderSubmitted:
    """The order was sent to the venue."""

    exec_type: ClassVar[ExecTypeHint] = ExecTypeHint.PENDING_NEW
    order_id: str
    ts_ns: int


@frozen_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderAccepted:
    """The venue acknowledged the order (and usually named it)."""

    exec_type: ClassVar[ExecTypeHint] = ExecTypeHint.NEW
    order_id: str
    ts_ns: int
    venue_order_id: str | None = None


@frozen_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRejected:
    """The order was refused, by the venue or before it was sent."""

    exec_type: ClassVar[ExecTypeHint] = ExecTypeHint.REJECTED
    order_id: str
    ts_ns: int
    reason: str = ""


@frozen_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderFilled:
    """A trade executed against the order.

    ``trade_id`` is the venue's execution id, unique per order: a second fill with the same one is a
    duplicate and is dropped. ``fee`` may be negative (a rebate). ``final`` tells a quote-amount order,
    whose base quantity is not known in advance, that the venue reports it done; a base-quantity
    order ignores it (it is done when cumulative reaches quantity).
    """

    exec_type: ClassVar[ExecTypeHint] = ExecTypeHint.TRADE
    order_id: str
    ts_ns: int
    trade_id: str
    last_qty: Decimal
    last_px: Decimal
    fee: Decimal = _ZERO
    fee_currency: str = ""
    liquidity: LiquiditySide = LiquiditySide.NONE
    venue_order_id: str | None = None
    final: bool = False

    def __post_init__(self) -> None:
        if type(self.trade_id) is not str or not self.trade_id:
            raise OrderError("trade_id must be a non-empty string")
        check_decimal("last_qty", self.last_qty)
        check_decimal("last_px", self.last_px)
        check_decimal("fee", self.fee, positive=False)


@frozen_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderPendingCancel:
    """A cancel request (client order id ``cl_ord_id``) was sent to the venue."""

    exec_type: ClassVar[ExecTypeHint] = ExecTypeHint.PENDING_CANCEL
    order_id: str
    ts_ns: int
    cl_ord_id: str


@frozen_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCanceled:
    """The order was canceled: on our request when one is pending, else by the venue."""

    exec_type: ClassVar[ExecTypeHint] = ExecTypeHint.CANCELED
    order_id: str
    ts_ns: int
    reason: str = ""


@frozen_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCancelRejected:
    """The venue refused the cancel request ``cl_ord_id`` (``None``: the one outstanding)."""

    exec_type: ClassVar[ExecTypeHint] = ExecTypeHint.CANCEL_REJECTED
    order_id: str
    ts_ns: int
    cl_ord_id: str | None = None
    reason: str = ""


@frozen_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderPendingReplace:
    """A replace request (new client order id ``cl_ord_id``) was sent; ``None`` keeps a value."""

    exec_type: ClassVar[ExecTypeHint] = ExecTypeHint.PENDING_REPLACE
    order_id: str
    ts_ns: int
    cl_ord_id: str
    quantity: Decimal | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None

    def __post_init__(self) -> None:
        check_decimal("quantity", self.quantity, optional=True)
        check_decimal("price", self.price, optional=True)
        check_decimal("trigger_price", self.trigger_price, optional=True)


@frozen_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderReplaced:
    """The venue confirmed the pending replace.

    Values left ``None`` are taken from the request; give them when the venue adjusted them. A venue
    that replaces by cancel-and-new gives the new ``venue_order_id``.
    """

    exec_type: ClassVar[ExecTypeHint] = ExecTypeHint.REPLACED
    order_id: str
    ts_ns: int
    quantity: Decimal | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    venue_order_id: str | None = None

    def __post_init__(self) -> None:
        check_decimal("quantity", self.quantity, optional=True)
        check_decimal("price", self.price, optional=True)
        check_decimal("trigger_price", self.trigger_price, optional=True)


@frozen_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderReplaceRejected:
    """The venue refused the replace request ``cl_ord_id`` (``None``: the one outstanding)."""

    exec_type: ClassVar[ExecTypeHint] = ExecTypeHint.REPLACE_REJECTED
    order_id: str
    ts_ns: int
    cl_ord_id: str | None = None
    reason: str = ""


@frozen_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderExpired:
    """The order's time in force ran out (IOC/FOK with nothing left, DAY or GTD end)."""

    exec_type: ClassVar[ExecTypeHint] = ExecTypeHint.EXPIRED
    order_id: str
    ts_ns: int
    reason: str = ""


@frozen_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderTriggered:
    """A dormant stop or take-profit order's trigger price traded; it is now working."""

    exec_type: ClassVar[ExecTypeHint] = ExecTypeHint.TRIGGERED
    order_id: str
    ts_ns: int


@frozen_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderLegEnded:
    """The venue ended the order's current leg while a replace of it was pending (a cancel-and-new
    venue cancels the old venue order first). Held, not reported: it ends the order (as an expiry when
    ``expired``, else a cancel) only if the replace fails; a replace that lands makes it moot."""

    exec_type: ClassVar[ExecTypeHint] = ExecTypeHint.HELD
    order_id: str
    ts_ns: int
    leg: int = 0
    expired: bool = False
    reason: str = ""


OrderEvent = (
    OrderSubmitted
    | OrderAccepted
    | OrderRejected
    | OrderFilled
    | OrderPendingCancel
    | OrderCanceled
    | OrderCancelRejected
    | OrderPendingReplace
    | OrderReplaced
    | OrderReplaceRejected
    | OrderExpired
    | OrderTriggered
    | OrderLegEnded
)

#: Every event class, in a stable order (for tables and tests).
EVENT_TYPES: tuple[type, ...] = (
    OrderSubmitted,
    OrderAccepted,
    OrderRejected,
    OrderFilled,
    OrderPendingCancel,
    OrderCanceled,
    OrderCancelRejected,
    OrderPendingReplace,
    OrderReplaced,
    OrderReplaceRejected,
    OrderExpired,
    OrderTriggered,
    OrderLegEnded,
)


# -- what the venue said about one leg (resolved by ``Order.apply``, never journaled) ---------------
# Not frozen, unlike the order events: one is built and dropped per venue event on the hot path, and a
# frozen dataclass costs about four times as much to build. Nothing changes one after it is built.


@dataclass(slots=True, kw_only=True)
class LegAccepted:
    """The venue accepted leg ``leg`` (and named it ``venue_order_id``)."""

    order_id: str
    ts_ns: int
    leg: int
    venue_order_id: str | None = None


@dataclass(slots=True, kw_only=True)
class LegAmended:
    """The venue changed leg ``leg`` in place (an amend that keeps the order's queue priority)."""

    order_id: str
    ts_ns: int
    leg: int


@dataclass(slots=True, kw_only=True)
class LegCanceled:
    """The venue canceled leg ``leg`` (on our request or not)."""

    order_id: str
    ts_ns: int
    leg: int
    reason: str = ""


@dataclass(slots=True, kw_only=True)
class LegExpired:
    """The venue ended leg ``leg`` by itself (time in force, self-trade prevention...)."""

    order_id: str
    ts_ns: int
    leg: int
    reason: str = ""


@dataclass(slots=True, kw_only=True)
class LegRejected:
    """The venue refused leg ``leg``, or it was found never to have been placed."""

    order_id: str
    ts_ns: int
    leg: int
    reason: str = ""


LegEvent = LegAccepted | LegAmended | LegCanceled | LegExpired | LegRejected

#: Every leg event class, in a stable order (for tables and tests).
LEG_EVENT_TYPES: tuple[type, ...] = (LegAccepted, LegAmended, LegCanceled, LegExpired, LegRejected)
