"""Binance adapter under venue faults that once slipped through: a venue clock that jumps while the
user-data stream is down, and a WebSocket API ``retryAfter`` read against the venue's clock."""

from __future__ import annotations

from decimal import Decimal as D

import anyio
import pytest

from fixgw.sim import NewOrder as SimOrder
from fixgw.orders.enums import OrderSide, OrderStatus, OrderType
from fixgw.venues.base import (
    NewOrder,
    StreamState,
    VenueAccepted,
    VenueFilled,
)
from . import simharness
from .simharness import adapter, book_top, collect, start_sim

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture(scope="module")
def sim():
    server, warp = start_sim()
    server.warp = warp
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _reset_faults(sim):
    yield
    sim.reset_faults()


@pytest.mark.parametrize("skew_ms", [8000, -5000])
async def test_stream_resubscribe_refused_for_stale_timestamp_resyncs_clock_and_subscribes(sim, skew_ms):
    async with adapter(sim, sim.warp) as ad:
        assert ad.stream.state is StreamState.SUBSCRIBED
        sim.set_faults(clock_skew_ms=skew_ms)  # the venue's clock jumps while nothing of ours is signed
        sim.drop_websockets()
        with anyio.fail_after(5):
            while ad.stream.ws.reconnects == 0 or ad.stream.state is not StreamState.SUBSCRIBED:
                await anyio.sleep(0.02)
        assert abs(ad.server_clock.offset_ms - skew_ms) < 1000


async def test_ws_api_429_retry_after_read_on_the_venue_clock(sim, monkeypatch):
    monkeypatch.setattr(simharness, "ORDER_ENTRY", "ws")
    sim.set_faults(clock_skew_ms=5000)  # learned at start: the venue runs 5 s ahead of us
    async with adapter(sim, sim.warp) as ad:
        bid, _ = await book_top(ad, "BTCUSDT")
        sim.set_faults(rate_limit_burst=1, rate_limit_retry_after_s=1)
        before = sim.warp.slept
        report = await ad.submit(NewOrder("skew-429", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, quantity=D("0.001"),
                                          price=bid - 1000))
        assert report.status is OrderStatus.NEW
        assert ad.wsapi is not None and ad.wsapi.requests == 2
        # retryAfter is the venue's "now + 1 s"; read against our clock it would be 6 s
        assert sim.warp.slept - before == pytest.approx(1.0, abs=0.5)


async def test_query_of_order_filled_unseen_publishes_its_fills_before_returning(sim):
    async with adapter(sim, sim.warp) as ad:
        assert ad.stream.state is StreamState.SUBSCRIBED  # a gap would wait for the stream's trades
        bid, ask = await book_top(ad, "ETHUSDT")
        px = bid + D("0.01")
        assert px < ask
        await ad.submit(NewOrder("unseen-fill-1", "ETH/USDT", OrderSide.BUY, OrderType.LIMIT, quantity=D("0.4"),
                                 price=px))
        mine = [e for e in await collect(ad) if e.client_order_id == "unseen-fill-1"]
        assert [type(e) for e in mine] == [VenueAccepted]

        def trade_unseen(st):  # the trade happens; the user-data stream never tells
            st.engine.place("counterparty", SimOrder(symbol="ETHUSDT", side="SELL", type="LIMIT",
                                                     quantity=D("0.4"), price=px, time_in_force="GTC"), st.now_ms())
            st.engine.drain_events()

        sim.call(trade_unseen)
        report = await ad.query("ETH/USDT", client_order_id="unseen-fill-1")
        assert (report.status, report.cum_qty) == (OrderStatus.FILLED, D("0.4"))
        published = []
        events = ad.events()
        while True:
            try:
                published.append(events.receive_nowait())  # type: ignore[attr-defined]
            except anyio.WouldBlock:
                break
        fills = [e for e in published if isinstance(e, VenueFilled)]
        assert [(f.last_qty, f.last_px, f.cum_qty, f.done) for f in fills] == [
            (D("0.4"), px, D("0.4"), True)]
        assert not fills[0].trade_id.startswith("recon:")  # the venue's own trade, from its trade list
