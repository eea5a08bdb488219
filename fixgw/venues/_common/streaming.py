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

Events go to the ``events()`` stream, or, once the gateway gives one (``set_event_sink``), straight to
its sink, called on the event loop for each event in order: no memory-stream hop and no consumer task
woken per event. ``SinkSend`` stands in for the stream's send side then, so every place that sends an
event (``_publish``, a venue's not-placed event) reaches the sink the same way.
"""

from __future__ import annotations

import logging
import math
from abc import abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from fixgw.errors import VenueRejected
from fixgw.venues.base import Instrument, StreamState, VenueAdapter, VenueHealth, VenueOrderEvent

__all__ = ["StreamingAdapter", "SinkSend", "use_sink"]

log = logging.getLogger("fixgw.venues")


class SinkSend:
    """The send side of an adapter's event stream once its events go to a sink: ``send_nowait`` is the
    sink itself (one call per event, no stream); closing closes the stream it replaced."""

    __slots__ = ("send_nowait", "_stream")

    def __init__(self, sink: Callable[[VenueOrderEvent], None], stream: Any) -> None:
        self.send_nowait = sink
        self._stream = stream

    async def aclose(self) -> None:
        await self._stream.aclose()


def use_sink(send: Any, sink: Callable[[VenueOrderEvent], None] | None) -> Any:
    """The send side to use from now on: ``sink`` in place of the stream ``send`` is (or was) the
    send side of, or the stream itself again for ``None``."""
    stream = send._stream if isinstance(send, SinkSend) else send
    return stream if sink is None else SinkSend(sink, stream)


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

    def set_event_sink(self, sink: Callable[[VenueOrderEvent], None] | None) -> None:
        """Hand every event from now on to ``sink`` (on the event loop, in order, each once) instead of
        the ``events()`` stream; ``None``: back to the stream."""
        self._send = use_sink(self._send, sink)

    def _publish(self, events: Iterable[VenueOrderEvent]) -> None:
        send, discard = self._send.send_nowait, self.outcomes.discard
        for e in events:
            self._last_event_ns = self._clock.now_ns()
            discard(e.client_order_id)
            send(e)

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
