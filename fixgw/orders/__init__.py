"""Normalized orders: commands, events, the order state machine and the per-account book.

Pure: no I/O, no clock reads (every command and event carries ``ts_ns``). Money is ``Decimal``.
The journal port is ``OrderJournal``; its implementations live in ``fixgw.stores``.
"""

from __future__ import annotations

from .book import OrderBook
from .commands import CancelOrder, Command, ReplaceOrder, SubmitOrder
from .enums import (
    PENDING_STATUSES,
    TERMINAL_STATUSES,
    ExecTypeHint,
    LiquiditySide,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from .events import (
    EVENT_TYPES,
    LEG_EVENT_TYPES,
    LegAccepted,
    LegAmended,
    LegCanceled,
    LegEvent,
    LegExpired,
    LegRejected,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderLegEnded,
    OrderPendingCancel,
    OrderPendingReplace,
    OrderRejected,
    OrderReplaced,
    OrderReplaceRejected,
    OrderSubmitted,
    OrderTriggered,
)
from .journal import OrderJournal, Record
from .order import Order, OrderSnapshot
from .route import Party, Route
from .serial import RECORD_TYPES, record_from_json, record_to_json
from .transitions import LEG_TRANSITIONS, TRANSITIONS, LegRole, LegState, Rule, describe_table

__all__ = [
    "OrderBook",
    "Order",
    "OrderSnapshot",
    "SubmitOrder",
    "CancelOrder",
    "ReplaceOrder",
    "Command",
    "Party",
    "Route",
    "OrderSide",
    "OrderType",
    "TimeInForce",
    "OrderStatus",
    "LiquiditySide",
    "ExecTypeHint",
    "TERMINAL_STATUSES",
    "PENDING_STATUSES",
    "OrderEvent",
    "EVENT_TYPES",
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
    "LegEvent",
    "LEG_EVENT_TYPES",
    "LegAccepted",
    "LegAmended",
    "LegCanceled",
    "LegExpired",
    "LegRejected",
    "OrderJournal",
    "Record",
    "RECORD_TYPES",
    "record_to_json",
    "record_from_json",
    "TRANSITIONS",
    "LEG_TRANSITIONS",
    "LegState",
    "LegRole",
    "Rule",
    "describe_table",
]
