"""The shared body of REST-only adapters that learn what happened to orders by asking.

Theory of operation
-------------------
Without a private stream, every fact comes from an order snapshot (a command's answer, a query,
the open-order list). Each snapshot is folded through the ``EventSink``'s tracker with gaps
synthesized, so fills appear as ``recon:...`` fills and every event is still published once.

A submit whose outcome is unknown is asked for by client order id until the venue's acceptance
window (``accept_window_s`` of venue time) has passed; only then is it reported as not placed.
``reconcile`` (run on start) asks again for every tracked order that is no longer open and sweeps
those unresolved submits.

A venue subclass gives the constructor its REST client and limiter, and implements instrument
loading, placement, cancel, query and the open-order list; the rest is here.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncIterator, Iterable
from typing import Any, Protocol

from fixgw.errors import VenueRejected, VenueUnknownOutcome
from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.eventsink import EventSink
from fixgw.venues._common.outcome import OutcomeResolver, Pending, not_placed_event
from fixgw.venues._common.ratelimit import RateLimiter
from fixgw.venues._common.refusals import unsupported
from fixgw.venues._common.tracker import OrderUpdate
from fixgw.venues.base import (
    AmendOrder,
    Instrument,
    NewOrder,
    OrderReport,
    ReplaceOrder,
    StreamState,
    VenueAdapter,
    VenueCapabilities,
    VenueHealth,
    VenueOrderEvent,
)

__all__ = ["PollingAdapter", "RestClient"]


class RestClient(Protocol):
    """What the shared part needs of a venue's REST client."""

    async def sync_time(self) -> int: ...

    async def aclose(self) -> None: ...


class PollingAdapter(VenueAdapter):
    """A venue adapter over REST alone; subclasses fill in the venue's requests."""

    #: venue time after a request's timestamp during which the venue may still accept it
    accept_window_s: float
    #: how the refusal of amend / replace names the venue ("Coinbase Exchange")
    unsupported_by: str

    def __init__(self, *, name: str, capabilities: VenueCapabilities, server_clock: ServerClock,
                 limiter: RateLimiter, bucket: str, http: RestClient) -> None:
        self.name = name
        self.capabilities = capabilities
        self.server_clock = server_clock
        self.limiter = limiter
        self.http = http
        self.sink = EventSink(name)
        self.outcomes: OutcomeResolver[OrderReport] = OutcomeResolver(server_clock)
        self._bucket = bucket
        self._instruments: dict[str, Instrument] = {}
        self._by_venue_symbol: dict[str, str] = {}

    # -- hooks ---------------------------------------------------------------------------------

    @abstractmethod
    def _unknown_symbol(self, symbol: str) -> VenueRejected:
        """Return the refusal of a symbol the venue does not list, in the venue's own words."""

    @abstractmethod
    async def _place(self, order: NewOrder, inst: Instrument) -> Any:
        """Send the order; return what ``_placed`` needs. ``VenueUnknownOutcome`` if its fate is unknown."""

    @abstractmethod
    async def _placed(self, order: NewOrder, answer: Any) -> OrderReport:
        """Turn the venue's answer to a placement into the order's report."""

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.http.sync_time()
        await self.load_instruments()
        await self.reconcile()

    async def close(self) -> None:
        await self.http.aclose()
        await self.sink.aclose()

    # -- instruments ---------------------------------------------------------------------------

    def _set_instruments(self, instruments: Iterable[Instrument]) -> dict[str, Instrument]:
        self._instruments = {i.symbol: i for i in instruments}
        self._by_venue_symbol = {i.venue_symbol: i.symbol for i in self._instruments.values()}
        return dict(self._instruments)

    def instrument(self, symbol: str) -> Instrument:
        try:
            return self._instruments[symbol]
        except KeyError:
            raise self._unknown_symbol(symbol) from None

    def _symbol(self, venue_symbol: str) -> str:
        return self._by_venue_symbol.get(venue_symbol, venue_symbol)

    # -- events --------------------------------------------------------------------------------

    def events(self) -> AsyncIterator[VenueOrderEvent]:
        return self.sink.events()

    def _fold(self, u: OrderUpdate) -> OrderReport:
        """Fold one snapshot in (gaps become synthesized fills); return the tracked report."""
        self.sink.observe(u, from_reconciliation=True, synthesize=True)
        return self.sink.tracker.report(u.symbol, u.venue_order_id)  # type: ignore[return-value]

    # -- commands ------------------------------------------------------------------------------

    async def submit(self, order: NewOrder) -> OrderReport:
        inst = self.instrument(order.symbol)
        self.refuse_unchecked(order)
        try:
            answer = await self._place(order, inst)
        except VenueUnknownOutcome:
            pending = self.outcomes.add(order.client_order_id, order.symbol, self.accept_window_s)
            return await self.outcomes.resolve(pending, self._lookup, wait_s=self.accept_window_s + 5)
        return await self._placed(order, answer)

    async def _lookup(self, p: Pending) -> OrderReport:
        return await self.query(p.symbol, client_order_id=p.client_order_id)

    async def amend(self, request: AmendOrder) -> OrderReport:
        raise unsupported("amend", self.unsupported_by)

    async def replace(self, request: ReplaceOrder) -> OrderReport:
        raise unsupported("cancel/replace", self.unsupported_by)

    # -- reconciliation ------------------------------------------------------------------------

    async def reconcile(self) -> None:
        open_ids = {(r.symbol, r.venue_order_id) for r in await self.open_orders()}
        for symbol, vid, _cid in self.sink.tracker.open_orders():
            if (symbol, vid) not in open_ids:
                await self.query(symbol, venue_order_id=vid)
        await self.outcomes.sweep(
            self._lookup, lambda p: self.sink.publish([not_placed_event(self.name, p, self.server_clock.now_ns())])
        )

    def health(self) -> VenueHealth:
        used, limit = self.limiter.usage(self._bucket)
        return VenueHealth(venue=self.name, clock_offset_ms=self.server_clock.offset_ms, weight_used=used,
                           weight_limit=limit, banned_until_ns=self.limiter.banned_until_ns,
                           stream_state=StreamState.DISCONNECTED, stream_reconnects=0,
                           unresolved_orders=len(self.outcomes), last_event_ns=self.sink.last_event_ns)
