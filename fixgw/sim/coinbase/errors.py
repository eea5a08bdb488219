"""The venue's error answer: an HTTP status and ``{"message": "..."}``; engine refusals in its words.

Messages are the venue's where they are documented or widely quoted (``Insufficient funds``,
``price is too accurate. Smallest unit is 0.01000000``, ``request timestamp expired``, ``invalid
signature``); the others are this simulator's own wording, listed in docs/venues/coinbase.md.
"""

from __future__ import annotations

from fixgw.errors import FixgwError

from ..errors import DUPLICATE_ORDER, INSUFFICIENT_BALANCE, ApiError
from ..instruments import InstrumentSpec, fmt

__all__ = ["CoinbaseError", "not_found", "from_engine"]


class CoinbaseError(FixgwError):
    """A refusal: HTTP ``status`` and ``message`` (the whole body is ``{"message": message}``)."""

    def __init__(self, status: int, message: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.retry_after_s = retry_after_s

    def body(self) -> dict[str, str]:
        return {"message": self.message}


def not_found() -> CoinbaseError:
    return CoinbaseError(404, "NotFound")


def from_engine(err: ApiError, spec: InstrumentSpec | None = None) -> CoinbaseError:
    """Say an engine refusal (Binance-coded) the way this venue does."""
    msg = err.msg
    if msg == INSUFFICIENT_BALANCE:
        return CoinbaseError(400, "Insufficient funds")
    if msg == DUPLICATE_ORDER:
        return CoinbaseError(400, "duplicate client_oid")
    if err.code == -2011 or err.code == -2013:
        return not_found()
    if err.code == -1121:
        return CoinbaseError(400, "Invalid product_id")
    if msg.startswith("Filter failure: MAX_NUM"):
        return CoinbaseError(400, "Too many open orders")
    if msg.startswith("Filter failure: PRICE_FILTER") and spec is not None:
        return CoinbaseError(400, f"price is too accurate. Smallest unit is {fmt(spec.tick_size)}")
    if msg.startswith("Filter failure: ") and "LOT" in msg and spec is not None:
        return CoinbaseError(400, f"size is too accurate. Smallest unit is {fmt(spec.step_size)}")
    if "NOTIONAL" in msg and spec is not None:
        return CoinbaseError(400, f"funds is too small. Minimum size is {fmt(spec.min_notional)}")
    if msg == "Market is closed.":
        return CoinbaseError(400, "Trading is disabled for this product")
    if err.status == 401:
        return CoinbaseError(401, "Invalid API Key")
    return CoinbaseError(400 if err.status < 500 else err.status, msg.rstrip("."))
