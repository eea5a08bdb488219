"""The one exception tree of fixgw.

Every error raised through a public API is a ``FixgwError``. Errors that must answer a FIX peer carry
the answer (SessionRejectReason 373, RefTagID 371, BusinessRejectReason 380) so the caller never maps
exceptions to reject codes by hand.

::

    FixgwError
    ├── ConfigError                      bad or missing configuration (names the key)
    ├── CodecError                       wire-level problems
    │   └── FieldValueError              a typed getter could not decode a value (carries tag, 373=6)
    ├── ValidationError                  a message breaks the dictionary (carries 373 and 371)
    ├── SessionError
    │   ├── LocalProtocolError           we were asked to do something the session rules forbid
    │   └── RemoteProtocolError          the peer broke the session rules (carries the answer)
    ├── StoreError                       persistence failed; never swallow
    ├── OrderError
    │   ├── InvalidTransition            (status, event type) not in the transition table
    │   ├── OverfillError                cumulative quantity would pass order quantity
    │   ├── DuplicateClOrdID             client order id already live
    │   └── UnknownOrder                 no such order in the book
    ├── TransportError                   sockets and TLS, translated at the boundary
    └── VenueError                       the venue answered with an error
        ├── VenueRejected                a definite reject (code, message)
        ├── VenueUnknownOutcome          timeout / 5XX / -1007: fate unknown, reconcile
        ├── VenueRateLimited             429 (retry_after)
        ├── VenueBanned                  418 (until)
        └── VenueAuthError               bad key or signature
"""

from __future__ import annotations

from .logsafe import printable

__all__ = [
    "FixgwError",
    "ConfigError",
    "CodecError",
    "FieldValueError",
    "ValidationError",
    "SessionError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "StoreError",
    "OrderError",
    "InvalidTransition",
    "OverfillError",
    "DuplicateClOrdID",
    "UnknownOrder",
    "TransportError",
    "VenueError",
    "VenueRejected",
    "VenueUnknownOutcome",
    "VenueRateLimited",
    "VenueBanned",
    "VenueAuthError",
]


class FixgwError(Exception):
    """Base of every error fixgw raises."""


class ConfigError(FixgwError):
    """Configuration is invalid; ``key`` names the offending setting."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


class CodecError(FixgwError):
    """A wire-level problem in the FIX codec."""


class FieldValueError(CodecError):
    """A typed getter could not decode a field value (SessionRejectReason 6)."""

    def __init__(self, tag: int, value: bytes, expected: str) -> None:
        super().__init__(f"tag {tag}: cannot read {value!r} as {expected}")
        self.tag = tag
        self.value = value
        self.expected = expected
        self.reject_reason = 6


class ValidationError(FixgwError):
    """A message breaks its dictionary; carries the SessionRejectReason (373) and RefTagID (371)."""

    def __init__(self, reason: int, ref_tag: int | None, text: str) -> None:
        super().__init__(text)
        self.reason = reason
        self.ref_tag = ref_tag
        self.text = text


class SessionError(FixgwError):
    """A FIX session rule was broken."""


class LocalProtocolError(SessionError):
    """The local application asked for something the session cannot do now."""


class RemoteProtocolError(SessionError):
    """The peer broke a session rule; carries what to answer."""

    def __init__(self, text: str, reject_reason: int | None = None, ref_tag: int | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.reject_reason = reject_reason
        self.ref_tag = ref_tag


class StoreError(FixgwError):
    """Persistence failed."""


class OrderError(FixgwError):
    """An order-model rule was broken."""


class InvalidTransition(OrderError):
    """The (status, event type) pair is not in the transition table."""

    def __init__(self, status: object, event_type: str) -> None:
        super().__init__(f"no transition from {status} on {event_type}")
        self.status = status
        self.event_type = event_type


class OverfillError(OrderError):
    """A fill would take cumulative quantity past the order quantity."""


class DuplicateClOrdID(OrderError):
    """The client order id is already used by a live order."""


class UnknownOrder(OrderError):
    """No order with that id in the book."""


class TransportError(FixgwError):
    """A socket or TLS failure, translated at the transport boundary."""


class VenueError(FixgwError):
    """The venue answered with an error or could not be reached.

    Its text often carries the venue's own words, so ``str()`` escapes control characters: a log line
    that names the error stays one line (``fixgw.logsafe``).
    """

    def __str__(self) -> str:
        return printable(super().__str__())


class VenueRejected(VenueError):
    """The venue refused the request for certain.

    ``code`` and ``message`` are the venue's own; ``reason`` is a stable, venue-neutral key
    (``unknown_symbol``, ``duplicate_order``, ``filter:<NAME>``, ... see ``fixgw.venues.REJECT_REASONS``)
    that the gateway maps to FIX reject reasons.
    """

    def __init__(self, code: int | str | None, message: str, reason: str = "other") -> None:
        super().__init__(f"{code}: {message}" if code is not None else message)
        self.code = code
        self.message = message
        self.reason = reason


class VenueUnknownOutcome(VenueError):
    """The request may or may not have taken effect; reconcile before reporting."""


class VenueRateLimited(VenueError):
    """The venue said 429; ``retry_after`` in seconds when given."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class VenueBanned(VenueError):
    """The venue said 418; no requests until ``until_ns`` (UTC epoch ns) when known."""

    def __init__(self, message: str, until_ns: int | None = None) -> None:
        super().__init__(message)
        self.until_ns = until_ns


class VenueAuthError(VenueError):
    """The venue refused the key or signature."""
