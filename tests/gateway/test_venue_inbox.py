"""Venue events through the gateway's inbox: applied in the turn of the venue call that published them,
a backlog a pass at a time, and the events an adapter published before it was given the sink."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Callable

import anyio
import pytest

from fixgw.clock import SystemClock
from fixgw.gateway._ids import parse_venue_cl_id
from fixgw.gateway._router import Router
from fixgw.gateway._venue_events import EVENTS_PER_TURN, VenueInbox
from fixgw.orders import OrderStatus
from fixgw.venues import base as V

from .test_routing import ScriptedVenue, gateway_with, logged_on

pytestmark = pytest.mark.anyio


class SinkVenue(ScriptedVenue):
    """A scripted venue that hands its events to the gateway's sink once it has one (as the real
    adapters do), and answers a submit with the order's acceptance and its end at once."""

    def __init__(self) -> None:
        super().__init__()
        self.sink: Callable[[V.VenueOrderEvent], None] | None = None
        self.before_publish: Callable[[str], None] | None = None
        self.on_start: list[V.VenueOrderEvent] = []
        self.ends = True  # False: the order stays open

    def set_event_sink(self, sink: Callable[[V.VenueOrderEvent], None] | None) -> None:
        self.sink = sink

    def emit(self, event: V.VenueOrderEvent) -> None:
        if self.sink is None:
            super().emit(event)
        else:
            self.sink(event)

    async def start(self) -> None:
        for event in self.on_start:  # what a reconciliation at start-up finds: before the sink is given
            self.emit(event)

    async def submit(self, order: V.NewOrder) -> V.OrderReport:
        self.refuse_unchecked(order)
        self.submitted.append(order)
        self.next_id += 1
        if self.before_publish is not None:
            self.before_publish(order.client_order_id)
        base = self._base(order.client_order_id, str(self.next_id))
        self.emit(V.VenueAccepted(**base))
        if self.ends:
            self.emit(V.VenueExpired(**base))
        return V.OrderReport(venue="sim", symbol=order.symbol, client_order_id=order.client_order_id,
                             venue_order_id=str(self.next_id),
                             status=OrderStatus.EXPIRED if self.ends else OrderStatus.NEW)


async def test_venue_inbox_events_published_by_a_venue_call_reported_before_the_next_turn() -> None:
    venue = SinkVenue()
    seen: list[tuple[OrderStatus, bool]] = []
    async with gateway_with(venue) as gw:
        c = await logged_on(gw)
        sid = next(iter(gw._router.sessions))

        def probe_next_turn(client_order_id: str) -> None:
            parsed = parse_venue_cl_id(client_order_id)
            assert parsed is not None

            def probe() -> None:  # the first thing the loop runs after the venue call's turn
                order = gw.book(sid).get(parsed[1])
                seen.append((order.status, gw.handle(sid).session.has_data_to_send))

            asyncio.get_running_loop().call_soon(probe)

        venue.before_publish = probe_next_turn
        await c.new_order("t1", "1", "0.5", price="100")
        reports = await c.reports("t1", 2)
        assert [(m[150], m[39]) for m in reports] == [(b"0", b"0"), (b"C", b"C")]
        # Both events applied, reported and handed to the socket within the call's own turn.
        assert seen == [(OrderStatus.EXPIRED, False)]
        await c.logout()


async def test_venue_inbox_events_published_before_the_sink_still_applied(tmp_path: Path) -> None:
    store = tmp_path / "gw.db"
    first = ScriptedVenue()  # accepts and leaves the order open
    async with gateway_with(first, store) as gw:
        c = await logged_on(gw)
        await c.new_order("s1", "1", "0.5", price="100")
        await c.reports("s1", 1)
        await c.logout()
    cid = first.submitted[0].client_order_id
    parsed = parse_venue_cl_id(cid)
    assert parsed is not None
    second = SinkVenue()  # at start-up (no sink yet) it finds the order canceled
    second.on_start = [V.VenueCanceled(**second._base(cid, "101"))]
    async with gateway_with(second, store) as gw:
        sid = next(iter(gw._router.sessions))
        assert gw.book(sid).get(parsed[1]).status is OrderStatus.CANCELED
        assert second.sink is not None


async def test_venue_inbox_backlog_applied_a_pass_per_turn_in_order() -> None:
    applied: list[Any] = []
    inbox = VenueInbox(Router(SystemClock()), applied.append, asyncio.get_running_loop().call_soon)
    n = 2 * EVENTS_PER_TURN + 2
    for i in range(n):
        inbox.put(i)
    assert applied == []  # nothing before the loop's next turn
    counts = []
    for _ in range(3):
        await asyncio.sleep(0)  # one turn: the pass scheduled before it runs first
        counts.append(len(applied))
    assert counts == [EVENTS_PER_TURN, 2 * EVENTS_PER_TURN, n]
    assert applied == list(range(n))
    assert not inbox.waiting


async def test_venue_inbox_event_failing_to_apply_leaves_the_rest_for_the_next_pass() -> None:
    applied: list[Any] = []

    def apply(event: Any) -> None:
        if event == "bad":
            raise RuntimeError("cannot apply")
        applied.append(event)

    loop = asyncio.get_running_loop()
    errors: list[Any] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context.get("exception")))
    try:
        inbox = VenueInbox(Router(SystemClock()), apply, loop.call_soon)
        for event in ("a", "bad", "b"):
            inbox.put(event)
        with anyio.fail_after(5):
            while "b" not in applied:
                await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert applied == ["a", "b"]
    assert [type(e) for e in errors] == [RuntimeError]


async def test_venue_inbox_closed_applies_nothing_still_waiting_or_put_later() -> None:
    applied: list[Any] = []
    inbox = VenueInbox(Router(SystemClock()), applied.append, asyncio.get_running_loop().call_soon)
    inbox.put("before")
    inbox.closed = True  # the store is closing while a pass is scheduled
    inbox.put("after")
    await asyncio.sleep(0)
    inbox.drain()
    assert applied == [] and not inbox.waiting


async def test_venue_inbox_gateway_stopped_event_published_after_is_not_applied(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    venue = SinkVenue()
    venue.ends = False
    async with gateway_with(venue, tmp_path / "gw.db") as gw:
        c = await logged_on(gw)
        await c.new_order("z1", "1", "0.5", price="100")
        await c.reports("z1", 1)
        await c.logout()
    assert venue.sink is not None
    loop = asyncio.get_running_loop()
    errors: list[Any] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context.get("exception")))
    try:
        # An adapter winding down publishes after the store closed: nothing applied, nothing raised.
        venue.sink(V.VenueCanceled(**venue._base(venue.submitted[0].client_order_id, "101")))
        for _ in range(3):
            await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert errors == []
    assert not [r for r in caplog.records if r.levelname == "CRITICAL"]
    assert not gw._venues["sim"].inbox.waiting
