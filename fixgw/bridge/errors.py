"""The bridge's errors and its one JSON error shape.

Every 4xx and 5xx answer of the bridge, whatever produced it (the signature check, a route, FastAPI's
request validation, an unknown path, an unexpected exception), has this body::

    {"error": {"code": "bad_signature", "message": "the signature does not match the request"}}

``code`` is a stable, machine-readable snake_case word (the table is ``CODES`` below and
docs/bridge.md); ``message`` is for people, may change, and never holds a secret.

::

    FixgwError
    ├── ApiError               the server's answer: HTTP status, code, message (raised inside the app)
    └── BridgeRequestError     the client's view of an error answer: status, code, message
"""

from __future__ import annotations

from typing import Any, Mapping

from fixgw.errors import FixgwError
from fixgw.logsafe import printable

__all__ = ["ApiError", "BridgeRequestError", "error_body", "CODES"]

# code -> (HTTP status, meaning). docs/bridge.md shows the same table.
CODES: Mapping[str, tuple[int, str]] = {
    "invalid_request": (400, "the request is malformed (bad JSON, bad parameter)"),
    "missing_credentials": (401, "a signing header is missing or given twice"),
    "unknown_key": (401, "no key has this id"),
    "bad_timestamp": (401, "the timestamp header is not a decimal count of milliseconds"),
    "stale_timestamp": (401, "the timestamp is outside the window (too old or too far ahead)"),
    "bad_signature": (401, "the signature does not match the request"),
    "replayed_request": (401, "this signature was already used"),
    "forbidden_address": (403, "the key may not be used from this address"),
    "missing_permission": (403, "the key lacks the permission this route needs"),
    "not_found": (404, "no such route"),
    "method_not_allowed": (405, "the route does not take this method"),
    "not_logged_on": (409, "the session is not logged on"),
    "session_connected": (409, "the session is connected; log it out first"),
    "ambiguous_id": (409, "several sessions hold an order by this id; name the session"),
    "order_conflict": (409, "this client_order_id already names a different order"),
    "order_not_open": (409, "the order is finished or has a request pending"),
    "replace_refused": (422, "the replace is refused by the order checks"),
    "body_too_large": (413, "the request body is over the limit"),
    "too_many_requests": (429, "too many signed requests inside one window"),
    "internal_error": (500, "the bridge failed; the request may not have been handled"),
    "unsupported": (501, "the venue's adapter cannot answer this (balances)"),
    "venue_error": (502, "the venue answered with an error"),
    "venue_unavailable": (503, "the venue could not be reached in time, or it rate-limits or bans us now"),
    "not_ready": (503, "the gateway is not ready (acceptor not listening or a venue not connected)"),
}


def error_body(code: str, message: str) -> dict[str, Any]:
    """Return the JSON body of an error answer."""
    return {"error": {"code": code, "message": message}}


class ApiError(FixgwError):
    """An error answer of the bridge: ``status``, ``code`` (see ``CODES``), ``message``, extra headers."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message)

    def __str__(self) -> str:
        return printable(super().__str__())


class BridgeRequestError(FixgwError):
    """The bridge answered a client's request with an error (``status``, ``code``, ``message``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return printable(super().__str__())
