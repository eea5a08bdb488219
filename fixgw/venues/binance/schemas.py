"""Binance spot payload shapes, as plain data (``TypedDict``), for reading and for tests.

Only the fields the adapter reads are listed; the venue sends more. Amounts are strings on the
wire and become ``Decimal`` in ``parsing``; ids and times are integers.
"""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = [
    "RestError",
    "FillPayload",
    "OrderPayload",
    "AmendPayload",
    "ExecutionReport",
    "StreamEnvelope",
    "SymbolInfo",
    "ExchangeInfo",
    "TradePayload",
]


class RestError(TypedDict):
    code: int
    msg: str


class FillPayload(TypedDict, total=False):
    price: str
    qty: str
    commission: str
    commissionAsset: str
    tradeId: int


class OrderPayload(TypedDict, total=False):
    """New order (ACK/RESULT/FULL), cancel, query and open-order entries."""

    symbol: str
    orderId: int
    orderListId: int
    clientOrderId: str
    origClientOrderId: str  # cancel responses only
    transactTime: int
    time: int
    updateTime: int
    price: str
    origQty: str
    executedQty: str
    cummulativeQuoteQty: str  # sic: double "m" in order responses
    status: str
    timeInForce: str
    type: str
    side: str
    stopPrice: str
    fills: list[FillPayload]


class AmendPayload(TypedDict, total=False):
    """amend/keepPriority: note ``qty`` and ``cumulativeQuoteQty`` (correct spelling)."""

    transactTime: int
    executionId: int
    amendedOrder: dict[str, Any]


class ExecutionReport(TypedDict, total=False):
    e: str
    E: int
    s: str
    c: str
    S: str
    o: str
    f: str
    q: str
    p: str
    C: str
    x: str
    X: str
    r: str
    i: int
    l: str  # noqa: E741 - the venue's key
    z: str
    L: str
    n: str
    N: str | None
    T: int
    t: int
    m: bool
    Z: str
    eR: str


class StreamEnvelope(TypedDict, total=False):
    subscriptionId: int
    event: dict[str, Any]


class SymbolInfo(TypedDict, total=False):
    symbol: str
    status: str
    baseAsset: str
    quoteAsset: str
    orderTypes: list[str]
    quoteOrderQtyMarketAllowed: bool
    cancelReplaceAllowed: bool
    amendAllowed: bool
    filters: list[dict[str, Any]]


class ExchangeInfo(TypedDict, total=False):
    serverTime: int
    rateLimits: list[dict[str, Any]]
    symbols: list[SymbolInfo]


class TradePayload(TypedDict, total=False):
    """GET /api/v3/myTrades entries."""

    symbol: str
    id: int
    orderId: int
    price: str
    qty: str
    quoteQty: str
    commission: str
    commissionAsset: str
    time: int
    isMaker: bool
