"""Normalized order vocabulary.

Values are short lowercase names, not FIX codes: the translate layer maps them to OrdStatus (39),
ExecType (150), Side (54), OrdType (40) and TimeInForce (59) with its own tables, one per FIX version.
The values are also what the journal writes, so renaming a member is a journal format change.
"""

from __future__ import annotations

from enum import Enum

__all__ = [
    "OrderSide",
    "OrderType",
    "TimeInForce",
    "OrderStatus",
    "LiquiditySide",
    "ExecTypeHint",
    "TERMINAL_STATUSES",
    "PENDING_STATUSES",
    "PRICED_TYPES",
    "TRIGGERED_TYPES",
]


class OrderSide(str, Enum):
    """Side of an order; ``SELL_SHORT`` passes through to venues that accept it."""

    BUY = "buy"
    SELL = "sell"
    SELL_SHORT = "sell_short"


class OrderType(str, Enum):
    """Order type: market, limit and the four triggered kinds."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"  # stop-loss: a market order once the trigger price trades
    STOP_LIMIT = "stop_limit"
    TAKE_PROFIT = "take_profit"  # a market order once the price moves favourably to the trigger
    TAKE_PROFIT_LIMIT = "take_profit_limit"


#: Types that carry a limit price.
PRICED_TYPES = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT})
#: Types that carry a trigger (stop) price and rest dormant until it trades.
TRIGGERED_TYPES = frozenset(
    {OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT}
)


class TimeInForce(str, Enum):
    """How long an order may rest; ``GTD`` needs an expire time."""

    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    DAY = "day"
    GTD = "gtd"


class OrderStatus(str, Enum):
    """Where an order is in its life.

    ``INITIALIZED`` is an order the gateway holds but has not sent yet (pre-trade checks run here); it
    has no FIX OrdStatus of its own and is usually reported, if at all, as pending-new. ``TRIGGERED``
    is a dormant stop that activated; FIX reports it as OrdStatus New (ExecType L in 4.4).
    """

    INITIALIZED = "initialized"
    PENDING_NEW = "pending_new"
    NEW = "new"
    TRIGGERED = "triggered"
    PARTIALLY_FILLED = "partially_filled"
    PENDING_CANCEL = "pending_cancel"
    PENDING_REPLACE = "pending_replace"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        """Return whether the order is done (no further venue activity expected)."""
        return self in TERMINAL_STATUSES

    @property
    def is_pending_request(self) -> bool:
        """Return whether a cancel or replace request is in flight."""
        return self in PENDING_STATUSES


TERMINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)
PENDING_STATUSES = frozenset({OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_REPLACE})


class LiquiditySide(str, Enum):
    """Whether a fill added liquidity (maker) or took it (taker); FIX LastLiquidityInd (851)."""

    NONE = "none"
    MAKER = "maker"
    TAKER = "taker"


class ExecTypeHint(str, Enum):
    """What an applied event reports; each event class carries one as ``exec_type``.

    Translate maps these to ExecType (150): ``TRADE`` is ExecType F in FIX 4.4 and 1/2 (partial fill /
    fill, from the order's status) in FIX 4.2. ``CANCEL_REJECTED`` and ``REPLACE_REJECTED`` are not
    execution reports but OrderCancelReject (35=9) with CxlRejResponseTo (434) 1 and 2.
    """

    PENDING_NEW = "pending_new"
    NEW = "new"
    TRADE = "trade"
    PENDING_CANCEL = "pending_cancel"
    CANCELED = "canceled"
    PENDING_REPLACE = "pending_replace"
    REPLACED = "replaced"
    REJECTED = "rejected"
    EXPIRED = "expired"
    TRIGGERED = "triggered"
    CANCEL_REJECTED = "cancel_rejected"
    REPLACE_REJECTED = "replace_rejected"
    HELD = "held"  # recorded, reported only if what it waits for fails (the old leg of a replace)
