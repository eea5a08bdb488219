"""The event outlet every adapter shares: tracker in, one unbounded single-consumer stream out."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from fixgw.venues._common.tracker import OrderTracker, OrderUpdate
from fixgw.venues.base import VenueOrderEvent

__all__ = ["EventSink"]


class EventSink:
    """Fold observations through an ``OrderTracker`` and publish what it returns, in order."""

    def __init__(self, venue: str) -> None:
        self.tracker = OrderTracker(venue)
        self._send: MemoryObjectSendStream[VenueOrderEvent]
        self._recv: MemoryObjectReceiveStream[VenueOrderEvent]
        self._send, self._recv = anyio.create_memory_object_stream(math.inf)
        self.last_event_ns: int | None = None

    def events(self) -> AsyncIterator[VenueOrderEvent]:
        return self._recv

    def publish(self, events: list[VenueOrderEvent]) -> None:
        for e in events:
            self.last_event_ns = e.ts_ns or self.last_event_ns
            self._send.send_nowait(e)

    def observe(self, u: OrderUpdate, *, from_reconciliation: bool = False, synthesize: bool = False) -> None:
        self.publish(self.tracker.observe(u, synthesize_gaps=synthesize, from_reconciliation=from_reconciliation))

    async def aclose(self) -> None:
        await self._send.aclose()
