"""The shared plumbing of adapters that hear of their orders over a private feed.

Theory of operation
-------------------
Such an adapter syncs its clock, loads instruments, starts its feed (and any other background
runner) in one task group, waits up to ``request_timeout_s`` for the feed to subscribe (it keeps
retrying after that; REST answers meanwhile), reconciles and starts its maintenance loop. Closing
cancels the task group, closes the REST client and ends the event stream. Every event goes out
through ``_publish``, which also notes when the last one came and ends any unknown-outcome wait
for its order.

A venue subclass sets up ``config``, ``http``, ``stream``, ``outcomes``, ``limiter``, ``_clock`` and
``server_clock``, calls ``_init_streaming`` and provides ``_sync_clock``, ``_maintenance``,
``_unknown_symbol`` and the venue's requests; ``_prepare`` and ``_start_runners`` are hooks.
"""

from __future__ import annotations

import logging
import math
from abc import abstractmethod
from collections.abc import AsyncIterator, Iterable
from typing import Any

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from fixgw.errors import VenueRejected
from fixgw.venues.base import Instrument, StreamState, VenueAdapter, VenueHealth, VenueOrderEvent

__all__ = ["StreamingAdapter"]

log = logging.getLogger("fixgw.venues")


class StreamingAdapter(VenueAdapter):
    """Lifecycle, instruments, event stream and health of a feed-driven adapter."""

    #: the warning when the feed has not subscribed within ``request_timeout_s``
    not_subscribed_warning = "private feed not subscribed yet; continuing, it keeps retrying"
    #: the limiter bucket ``health`` reports as the weight used
    health_bucket: str

    config: Any
    http: Any
    stream: Any
    outcomes: Any
    limiter: Any
    server_clock: Any
    _clock: Any

    def _init_streaming(self, maintenance_interval_s: float) -> None:
        self._instruments: dict[str, Instrument] = {}
        self._by_venue_symbol: dict[str, str] = {}
        self._send: MemoryObjectSendStream[VenueOrderEvent]
        self._recv: MemoryObjectReceiveStream[VenueOrderEvent]
        self._send, self._recv = anyio.create_memory_object_stream(math.inf)
        self._tg: TaskGroup | None = None
        self._maintenance_interval_s = maintenance_interval_s
        self._last_event_ns: int | None = None

    # -- hooks ---------------------------------------------------------------------------------

    @abstractmethod
    async def _sync_clock(self) -> None:
        """Learn the venue's clock offset."""

    @abstractmethod
    async def _maintenance(self) -> None:
        """Run for as long as the adapter does (a background task)."""

    @abstractmethod
    def _unknown_symbol(self, symbol: str) -> VenueRejected:
        """Return the refusal of a symbol the venue does not list, in the venue's own words."""

    async def _prepare(self) -> None:
        """Run after the instruments are loaded, before the feed starts."""

    async def _start_runners(self, tg: TaskGroup) -> None:
        """Start the feed (if any) and wait a while for it to subscribe."""
        if self.stream is None:
            return
        tg.start_soon(self.stream.run)
        with anyio.move_on_after(self.config.request_timeout_s):
            await self.stream.ws.subscribed.wait()
        if self.stream.state is not StreamState.SUBSCRIBED:
            log.warning("%s: %s", self.name, self.not_subscribed_warning)

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        await self._sync_clock()
        await self.load_instruments()
        await self._prepare()
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        try:
            await self._start_runners(self._tg)
            await self.reconcile()
            self._tg.start_soon(self._maintenance)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._tg is not None:
            self._tg.cancel_scope.cancel()
            try:
                await self._tg.__aexit__(None, None, None)
            finally:
                self._tg = None
        await self.http.aclose()
        await self._send.aclose()

    # -- instruments ---------------------------------------------------------------------------

    def _set_instruments(self, instruments: Iterable[Instrument]) -> dict[str, Instrument]:
        self._instruments = {i.symbol: i for i in instruments}
        self._by_venue_symbol = {i.venue_symbol: i.symbol for i in self._instruments.values()}
        return dict(self._instruments)

    def instrument(self, symbol: str) -> Instrument:
        inst = self._instruments.get(symbol)
        if inst is None:
            raise self._unknown_symbol(symbol)
        return inst

    def _symbol(self, venue_symbol: str) -> str:
        return self._by_venue_symbol.get(venue_symbol, venue_symbol)

    # -- events --------------------------------------------------------------------------------

    def events(self) -> AsyncIterator[VenueOrderEvent]:
        return self._recv

    def _publish(self, events: Iterable[VenueOrderEvent]) -> None:
        for e in events:
            self._last_event_ns = self._clock.now_ns()
            self.outcomes.discard(e.client_order_id)
            self._send.send_nowait(e)

    # -- health --------------------------------------------------------------------------------

    def health(self) -> VenueHealth:
        used, limit = self.limiter.usage(self.health_bucket)
        return VenueHealth(
            venue=self.name, clock_offset_ms=self.server_clock.offset_ms, weight_used=used, weight_limit=limit,
            banned_until_ns=self.limiter.banned_until_ns,
            stream_state=self.stream.state if self.stream is not None else StreamState.DISCONNECTED,
            stream_reconnects=self.stream.ws.reconnects if self.stream is not None else 0,
            unresolved_orders=len(self.outcomes), last_event_ns=self._last_event_ns,
        )
