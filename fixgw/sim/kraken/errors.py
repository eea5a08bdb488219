"""Kraken's error answers: ``{"error": ["EOrder:Insufficient funds"], "result": ...}``.

An error string is ``<severity><category>:<message>[:<detail>]``. The simulator answers ordinary
errors with HTTP 200 (what clients report of the venue; the status is not documented) and rate
limits with 429 and the same envelope. ``from_engine`` turns the matching engine's refusals (Binance
codes, the engine's own vocabulary) into Kraken's strings.
"""

from __future__ import annotations

from ..errors import (
    DUPLICATE_ORDER,
    INSUFFICIENT_BALANCE,
    WOULD_TAKE,
    WOULD_TRIGGER,
    ApiError,
)

__all__ = ["KrakenError", "from_engine", "invalid_arguments", "INVALID_ORDER", "UNKNOWN_PAIR",
           "RATE_LIMIT", "ORDER_RATE_LIMIT", "INVALID_NONCE", "INVALID_KEY", "INVALID_SIGNATURE",
           "LOCKOUT", "UNAVAILABLE", "INVALID_TOKEN"]

INVALID_ORDER = "EOrder:Invalid order"
UNKNOWN_PAIR = "EQuery:Unknown asset pair"
RATE_LIMIT = "EAPI:Rate limit exceeded"
ORDER_RATE_LIMIT = "EOrder:Rate limit exceeded"
INVALID_NONCE = "EAPI:Invalid nonce"
INVALID_KEY = "EAPI:Invalid key"
INVALID_SIGNATURE = "EAPI:Invalid signature"
LOCKOUT = "EGeneral:Temporary lockout"
UNAVAILABLE = "EService:Unavailable"
INVALID_TOKEN = "EAPI:Invalid token"


class KrakenError(Exception):
    """A refusal in Kraken's words, with the HTTP status the simulator answers it with."""

    def __init__(self, error: str, status: int = 200) -> None:
        super().__init__(error)
        self.error = error
        self.status = status

    def body(self) -> dict[str, list[str]]:
        return {"error": [self.error]}


def invalid_arguments(name: str) -> KrakenError:
    return KrakenError(f"EGeneral:Invalid arguments:{name}")


_FILTERS = {
    "PRICE_FILTER": "EOrder:Tick size check failed",
    "LOT_SIZE": "EOrder:Order minimum not met",
    "MARKET_LOT_SIZE": "EOrder:Order minimum not met",
    "NOTIONAL": "EOrder:Cost minimum not met",
    "MIN_NOTIONAL": "EOrder:Cost minimum not met",
    "PERCENT_PRICE_BY_SIDE": "EOrder:Invalid price",
    "MAX_NUM_ORDERS": "EOrder:Orders limit exceeded",
    "MAX_NUM_ALGO_ORDERS": "EOrder:Orders limit exceeded",
}
_REJECTS = {
    INSUFFICIENT_BALANCE: "EOrder:Insufficient funds",
    DUPLICATE_ORDER: "EOrder:Duplicate order",  # the venue's wording is not documented
    WOULD_TAKE: "EOrder:Post only order",
    WOULD_TRIGGER: "EOrder:Invalid price",
    "Market is closed.": "EService:Market in cancel_only mode",
}


def from_engine(err: ApiError) -> KrakenError:
    """The engine's refusal in Kraken's words."""
    if err.code == -1013:
        return KrakenError(_FILTERS.get(err.msg.removeprefix("Filter failure: "), "EOrder:Invalid order"))
    if err.code == -2010:
        return KrakenError(_REJECTS.get(err.msg, "EOrder:Invalid order"))
    if err.code in (-2011, -2013):
        return KrakenError(INVALID_ORDER)
    if err.code == -1121:
        return KrakenError(UNKNOWN_PAIR)
    if err.code == -2038:
        return invalid_arguments("order_qty")
    if err.code == -1116:
        return invalid_arguments("ordertype")
    if err.code == -2015:
        return KrakenError(INVALID_KEY)
    return KrakenError("EGeneral:Internal error", 500)
