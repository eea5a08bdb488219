"""Unknown outcomes: never a reject until the venue has told us the order's fate.

Theory of operation
-------------------
A timeout, a 5XX or Binance's -1007 after an order request means the order may or may not exist.
``OutcomeResolver`` keeps every such order (by client order id) and asks the venue for it:

* found               -> the caller gets the venue's report (events follow through the tracker);
* not found, but the venue could still accept the request (its clock has not passed the request's
  timestamp plus receive window, or whatever bound the venue gives) -> ask again;
* not found after that bound -> definitively not placed (``VenueRejected`` with reason
  ``not_placed``), the only way an unknown outcome ever becomes a reject;
* the venue cannot be asked (timeouts, 5XX, rate limit) -> keep asking until ``wait_s``, then
  ``VenueUnknownOutcome``; the order stays pending and ``sweep()`` (called by the adapter's
  maintenance task and after every reconnect) keeps asking.

Venue-neutral: "not found" is a ``VenueRejected`` whose reason key is ``unknown_order``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

import anyio

from fixgw.clock import Clock
from fixgw.errors import TransportError, VenueRateLimited, VenueRejected, VenueUnknownOutcome
from fixgw.venues.base import VenueOrderRejected, reject_reason

__all__ = ["Pending", "OutcomeResolver", "not_placed", "not_placed_event"]

R = TypeVar("R")


@dataclass(slots=True)
class Pending:
    client_order_id: str
    symbol: str
    absent_after_ns: int  # venue time after which "not found" is final
    context: Any = None  # whatever the adapter needs to ask again (the command, venue symbol ...)


def not_placed(client_order_id: str) -> VenueRejected:
    return VenueRejected(
        "NOT_PLACED", f"order {client_order_id} not found after its acceptance window: not placed", reason="not_placed"
    )


def not_placed_event(venue: str, p: Pending, ts_ns: int) -> VenueOrderRejected:
    """The event that closes an order found, in the background, never to have been placed."""
    return VenueOrderRejected(
        venue=venue, symbol=p.symbol, client_order_id=p.client_order_id, venue_order_id="",
        cum_qty=Decimal(0), ts_ns=ts_ns, reason="not_placed",
        code="NOT_PLACED", from_reconciliation=True,
    )


class OutcomeResolver(Generic[R]):
    """Track orders of unknown fate and resolve them by asking the venue."""

    def __init__(self, venue_clock: Clock, *, poll_s: float = 0.25) -> None:
        self._clock = venue_clock
        self._poll_s = poll_s
        self.pending: dict[str, Pending] = {}

    def __len__(self) -> int:
        return len(self.pending)

    def add(self, client_order_id: str, symbol: str, window_s: float, context: Any = None) -> Pending:
        """Register an order whose request may still be accepted for ``window_s`` of venue time."""
        p = Pending(client_order_id, symbol, self._clock.now_ns() + int(window_s * 1e9), context)
        self.pending[client_order_id] = p
        return p

    def discard(self, client_order_id: str) -> None:
        """Forget an order whose fate became known some other way (e.g. a stream event)."""
        self.pending.pop(client_order_id, None)

    async def _ask(self, p: Pending, lookup: Callable[[Pending], Awaitable[R]]) -> R | None:
        """One attempt: the report, ``None`` if the venue could not say, or raise ``not_placed``."""
        try:
            report = await lookup(p)
        except VenueRejected as exc:
            if reject_reason(exc) != "unknown_order":
                raise
            if self._clock.now_ns() > p.absent_after_ns:
                self.pending.pop(p.client_order_id, None)
                raise not_placed(p.client_order_id) from exc
            return None
        except (VenueUnknownOutcome, TransportError, VenueRateLimited):
            return None
        self.pending.pop(p.client_order_id, None)
        return report

    async def resolve(self, p: Pending, lookup: Callable[[Pending], Awaitable[R]], *, wait_s: float) -> R:
        """Ask until the fate is known or ``wait_s`` passes (then ``VenueUnknownOutcome``)."""
        with anyio.move_on_after(wait_s):
            while True:
                report = await self._ask(p, lookup)
                if report is not None:
                    return report
                await anyio.sleep(self._poll_s)
        raise VenueUnknownOutcome(f"order {p.client_order_id}: fate still unknown; reconciliation continues")

    async def sweep(
        self, lookup: Callable[[Pending], Awaitable[R]], on_not_placed: Callable[[Pending], None]
    ) -> None:
        """Ask once for every pending order; report the ones now known not to exist."""
        for p in list(self.pending.values()):
            try:
                await self._ask(p, lookup)
            except VenueRejected as exc:
                if reject_reason(exc) == "not_placed":
                    on_not_placed(p)
