"""FIX 4.2 / 4.4 value tables: the one place where the two versions differ.

Everything version-specific in translation is a lookup here; the code in ``inbound`` and ``outbound`` never
compares begin strings itself. The normalized side of each table is the order model's vocabulary
(``fixgw.orders.enums``), so translate and the order book speak the same words.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from ..orders.enums import ExecTypeHint, OrderSide, OrderStatus, OrderType, TimeInForce

__all__ = [
    "ExecKind",
    "kind_for_hint",
    "VersionTable",
    "FIX42",
    "FIX44",
    "table_for",
    "SIDES",
    "ORD_TYPES",
    "TIME_IN_FORCE",
    "REJ",
]


class ExecKind(enum.Enum):
    """What an ExecutionReport reports, before the version decides the ExecType character."""

    PENDING_NEW = "PENDING_NEW"
    NEW = "NEW"
    TRADE = "TRADE"
    CANCELED = "CANCELED"
    REPLACED = "REPLACED"
    PENDING_CANCEL = "PENDING_CANCEL"
    PENDING_REPLACE = "PENDING_REPLACE"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    RESTATED = "RESTATED"
    #: An answer to OrderStatusRequest / OrderMassStatusRequest.
    ORDER_STATUS = "ORDER_STATUS"


def kind_for_hint(hint: ExecTypeHint) -> ExecKind | None:
    """Return the ExecutionReport kind of an order event, ``None`` when the event is not reported as one.

    Cancel/replace rejects become OrderCancelReject; a triggered stop has no ExecType in FIX 4.2/4.4 (L is
    FIX 5.0) and its working state is visible in the next report.
    """
    return _HINT_KIND.get(hint)


_HINT_KIND = {
    ExecTypeHint.PENDING_NEW: ExecKind.PENDING_NEW,
    ExecTypeHint.NEW: ExecKind.NEW,
    ExecTypeHint.TRADE: ExecKind.TRADE,
    ExecTypeHint.PENDING_CANCEL: ExecKind.PENDING_CANCEL,
    ExecTypeHint.CANCELED: ExecKind.CANCELED,
    ExecTypeHint.PENDING_REPLACE: ExecKind.PENDING_REPLACE,
    ExecTypeHint.REPLACED: ExecKind.REPLACED,
    ExecTypeHint.REJECTED: ExecKind.REJECTED,
    ExecTypeHint.EXPIRED: ExecKind.EXPIRED,
}

#: Side 54. Other FIX sides (cross, buy minus...) have no meaning on a spot crypto venue.
SIDES: Mapping[bytes, OrderSide] = MappingProxyType({b"1": OrderSide.BUY, b"2": OrderSide.SELL})
#: OrdType 40. J (Market If Touched, FIX 4.4) is a take-profit: a market order once the price reaches
#: StopPx (99) from the favourable side. FIX 4.2/4.4 have no code for a take-profit limit.
ORD_TYPES: Mapping[bytes, OrderType] = MappingProxyType(
    {b"1": OrderType.MARKET, b"2": OrderType.LIMIT, b"3": OrderType.STOP, b"4": OrderType.STOP_LIMIT,
     b"J": OrderType.TAKE_PROFIT}
)
#: TimeInForce 59. DAY and GTD are translated; whether the venue takes them is the venue rules' call.
TIME_IN_FORCE: Mapping[bytes, TimeInForce] = MappingProxyType(
    {b"0": TimeInForce.DAY, b"1": TimeInForce.GTC, b"3": TimeInForce.IOC, b"4": TimeInForce.FOK,
     b"6": TimeInForce.GTD}
)


class REJ:
    """Symbolic reject reasons; ``VersionTable.ord_rej_reason`` / ``cxl_rej_reason`` give the codes."""

    BROKER_OPTION = "BROKER_OPTION"
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    EXCHANGE_CLOSED = "EXCHANGE_CLOSED"
    EXCEEDS_LIMIT = "EXCEEDS_LIMIT"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    DUPLICATE_ORDER = "DUPLICATE_ORDER"
    UNSUPPORTED = "UNSUPPORTED"
    INCORRECT_QUANTITY = "INCORRECT_QUANTITY"
    OTHER = "OTHER"
    TOO_LATE = "TOO_LATE"
    PENDING = "PENDING"


@dataclass(frozen=True, slots=True)
class VersionTable:
    """The values one FIX version uses."""

    begin_string: str
    #: ExecType 150 per kind; TRADE is absent in 4.2 (partial 1 / fill 2 depend on the status).
    exec_type: Mapping[ExecKind, bytes]
    ord_status: Mapping[OrderStatus, bytes]
    #: ExecTransType 20 (FIX 4.2 only): 0 New, 3 Status.
    has_exec_trans_type: bool
    #: OrdStatus after a replace in 4.2 is 5 Replaced; 4.4 shows the order's state.
    replaced_ord_status: bytes | None
    ord_rej_reason: Mapping[str, int]
    cxl_rej_reason: Mapping[str, int]
    #: OrderMassCancelRequest / OrderMassStatusRequest exist from FIX 4.3 on.
    mass_messages: bool

    def exec_type_for(self, kind: ExecKind, status: OrderStatus) -> bytes:
        """Return ExecType for ``kind``; FIX 4.2 status replies and fills take it from the status."""
        if kind is ExecKind.TRADE and ExecKind.TRADE not in self.exec_type:
            return b"2" if status is OrderStatus.FILLED else b"1"
        if kind is ExecKind.ORDER_STATUS and ExecKind.ORDER_STATUS not in self.exec_type:
            return self.ord_status[status]
        return self.exec_type[kind]


_COMMON_EXEC = {
    ExecKind.PENDING_NEW: b"A",
    ExecKind.NEW: b"0",
    ExecKind.CANCELED: b"4",
    ExecKind.REPLACED: b"5",
    ExecKind.PENDING_CANCEL: b"6",
    ExecKind.REJECTED: b"8",
    ExecKind.EXPIRED: b"C",
    ExecKind.RESTATED: b"D",
    ExecKind.PENDING_REPLACE: b"E",
}
_ORD_STATUS = MappingProxyType(
    {
        OrderStatus.INITIALIZED: b"A",  # held by the gateway, not yet at the venue: pending new
        OrderStatus.PENDING_NEW: b"A",
        OrderStatus.NEW: b"0",
        OrderStatus.TRIGGERED: b"0",  # a working stop is New in FIX 4.2/4.4
        OrderStatus.PARTIALLY_FILLED: b"1",
        OrderStatus.FILLED: b"2",
        OrderStatus.CANCELED: b"4",
        OrderStatus.PENDING_CANCEL: b"6",
        OrderStatus.REJECTED: b"8",
        OrderStatus.EXPIRED: b"C",
        OrderStatus.PENDING_REPLACE: b"E",
    }
)

FIX42 = VersionTable(
    begin_string="FIX.4.2",
    exec_type=MappingProxyType(dict(_COMMON_EXEC)),
    ord_status=_ORD_STATUS,
    has_exec_trans_type=True,
    replaced_ord_status=b"5",
    # 4.2 OrdRejReason stops at 8 and CxlRejReason at 3: everything else is "broker option".
    ord_rej_reason=MappingProxyType(
        {REJ.BROKER_OPTION: 0, REJ.UNKNOWN_SYMBOL: 1, REJ.EXCHANGE_CLOSED: 2, REJ.EXCEEDS_LIMIT: 3,
         REJ.TOO_LATE: 4, REJ.UNKNOWN_ORDER: 5, REJ.DUPLICATE_ORDER: 6, REJ.UNSUPPORTED: 0,
         REJ.INCORRECT_QUANTITY: 0, REJ.OTHER: 0}
    ),
    cxl_rej_reason=MappingProxyType(
        {REJ.TOO_LATE: 0, REJ.UNKNOWN_ORDER: 1, REJ.BROKER_OPTION: 2, REJ.PENDING: 3, REJ.DUPLICATE_ORDER: 2,
         REJ.OTHER: 2, REJ.EXCEEDS_LIMIT: 2, REJ.UNKNOWN_SYMBOL: 2, REJ.UNSUPPORTED: 2,
         REJ.INCORRECT_QUANTITY: 2, REJ.EXCHANGE_CLOSED: 2}
    ),
    mass_messages=False,
)

FIX44 = VersionTable(
    begin_string="FIX.4.4",
    exec_type=MappingProxyType({**_COMMON_EXEC, ExecKind.TRADE: b"F", ExecKind.ORDER_STATUS: b"I"}),
    ord_status=_ORD_STATUS,
    has_exec_trans_type=False,
    replaced_ord_status=None,
    ord_rej_reason=MappingProxyType(
        {REJ.BROKER_OPTION: 0, REJ.UNKNOWN_SYMBOL: 1, REJ.EXCHANGE_CLOSED: 2, REJ.EXCEEDS_LIMIT: 3,
         REJ.TOO_LATE: 4, REJ.UNKNOWN_ORDER: 5, REJ.DUPLICATE_ORDER: 6, REJ.UNSUPPORTED: 11,
         REJ.INCORRECT_QUANTITY: 13, REJ.OTHER: 99}
    ),
    cxl_rej_reason=MappingProxyType(
        {REJ.TOO_LATE: 0, REJ.UNKNOWN_ORDER: 1, REJ.BROKER_OPTION: 2, REJ.PENDING: 3, REJ.DUPLICATE_ORDER: 6,
         REJ.OTHER: 99, REJ.EXCEEDS_LIMIT: 2, REJ.UNKNOWN_SYMBOL: 2, REJ.UNSUPPORTED: 2,
         REJ.INCORRECT_QUANTITY: 2, REJ.EXCHANGE_CLOSED: 2}
    ),
    mass_messages=True,
)

_TABLES = {"FIX.4.2": FIX42, "FIX.4.4": FIX44, b"FIX.4.2": FIX42, b"FIX.4.4": FIX44}


def table_for(begin_string: str | bytes) -> VersionTable:
    """Return the table of a supported FIX version (``KeyError`` otherwise)."""
    return _TABLES[begin_string]
