"""The simulator's answer to a bad request: a Binance error code, its message and the HTTP status.

Raised by the matching engine and the request layer alike; the REST and WebSocket API front ends turn
it into ``{"code": -1121, "msg": "Invalid symbol."}`` (REST) or the ``error`` member of a WS API reply.
"""

from __future__ import annotations

from typing import Any

from fixgw.errors import FixgwError

__all__ = [
    "ApiError",
    "bad_symbol",
    "mandatory",
    "illegal_chars",
    "unknown_order",
    "new_order_rejected",
    "filter_failure",
    "INSUFFICIENT_BALANCE",
    "DUPLICATE_ORDER",
    "WOULD_TAKE",
    "WOULD_TRIGGER",
    "UNKNOWN_ORDER",
]

INSUFFICIENT_BALANCE = "Account has insufficient balance for requested action."
DUPLICATE_ORDER = "Duplicate order sent."
WOULD_TAKE = "Order would immediately match and take."
WOULD_TRIGGER = "Order would trigger immediately."
UNKNOWN_ORDER = "Unknown order sent."


class ApiError(FixgwError):
    """A Binance-style error: ``code`` (negative int), ``msg``, HTTP ``status`` and optional ``data``."""

    def __init__(
        self, code: int, msg: str, status: int = 400, data: Any = None, retry_after_ms: int | None = None
    ) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.data = data
        self.retry_after_ms = retry_after_ms  # 418/429: when the client may try again (epoch ms)

    def body(self) -> dict[str, Any]:
        """Return the JSON error body as the venue sends it."""
        out: dict[str, Any] = {"code": self.code, "msg": self.msg}
        if self.data is not None:
            out["data"] = self.data
        return out


def bad_symbol() -> ApiError:
    return ApiError(-1121, "Invalid symbol.")


def mandatory(name: str) -> ApiError:
    return ApiError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def illegal_chars(name: str, legal: str = "^([0-9]{1,20})(\\.[0-9]{1,20})?$") -> ApiError:
    return ApiError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.")


def unknown_order(code: int = -2011) -> ApiError:
    return ApiError(code, UNKNOWN_ORDER)


def new_order_rejected(msg: str) -> ApiError:
    return ApiError(-2010, msg)


def filter_failure(name: str) -> ApiError:
    return ApiError(-1013, f"Filter failure: {name}")
