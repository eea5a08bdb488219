"""Binance events handed straight to the gateway's sink: each once, in order, without the stream; balance
events dropped before they are decoded. Against the simulator over real loopback HTTP/WS."""

from __future__ import annotations

from decimal import Decimal as D

import anyio
import pytest

from fixgw.clock import SystemClock
from fixgw.orders.enums import OrderSide, OrderType, TimeInForce
from fixgw.sim import DEMO_API_KEY, DEMO_API_SECRET
from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.streaming import SinkSend, use_sink
from fixgw.venues.base import NewOrder, VenueAccepted, VenueExpired, VenueOrderEvent
from fixgw.venues.binance.config import BinanceConfig
from fixgw.venues.binance.websocket import BinanceUserStream
from .simharness import adapter, empty_sim

pytestmark = pytest.mark.anyio


async def _until(events: list, count: int, quiet_s: float = 0.5) -> None:
    """Wait until ``count`` events came, then ``quiet_s`` more (for any duplicate that might follow)."""
    with anyio.fail_after(10):
        while len(events) < count:
            await anyio.sleep(0.01)
    await anyio.sleep(quiet_s)


async def test_binance_event_sink_ioc_order_each_event_once_in_order_none_on_the_stream():
    with empty_sim() as sim:
        async with adapter(sim, sim.warp) as ad:
            got: list[VenueOrderEvent] = []
            ad.set_event_sink(got.append)
            order = NewOrder("sink1", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, quantity=D("0.001"),
                             price=D("30000"), time_in_force=TimeInForce.IOC)
            await ad.submit(order)  # an empty book: the order expires at once (answer, then NEW and EXPIRED events)
            await _until(got, 2)
            assert [(type(e), e.client_order_id) for e in got] == [(VenueAccepted, "sink1"), (VenueExpired, "sink1")]
            with pytest.raises(anyio.WouldBlock):
                ad.events().receive_nowait()  # type: ignore[attr-defined]

            ad.set_event_sink(None)  # the stream again
            await ad.submit(NewOrder("sink2", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, quantity=D("0.001"),
                                     price=D("30000"), time_in_force=TimeInForce.IOC))
            with anyio.fail_after(10):
                first = await ad.events().__anext__()
            assert (type(first), first.client_order_id) == (VenueAccepted, "sink2")
            assert len(got) == 2


def test_binance_user_stream_skipped_kinds_not_decoded_others_passed_on():
    seen: list[dict] = []

    def on_event(event: dict) -> None:
        seen.append(event)

    cfg = BinanceConfig(rest_url="http://127.0.0.1:9", ws_api_url="ws://127.0.0.1:9", api_key=DEMO_API_KEY,
                        api_secret=DEMO_API_SECRET)
    stream = BinanceUserStream(cfg, ServerClock(SystemClock()), on_event=on_event,
                               skip_events=("outboundAccountPosition", "balanceUpdate"))
    stream._handle('{"subscriptionId":0,"event":{"e":"outboundAccountPosition","E":1,"u":1,"B":[]}}')
    stream._handle('{"subscriptionId":0,"event":{"e":"balanceUpdate","E":1,"a":"BTC","d":"1","T":1}}')
    stream._handle('{"subscriptionId":0,"event":{"e":"balanceUpdate" broken')  # dropped, never decoded
    # a client order id naming a skipped kind is escaped in the text: the event still passes
    stream._handle('{"subscriptionId":0,"event":{"e":"executionReport","c":"\\"e\\":\\"balanceUpdate\\""}}')
    stream._handle('{"subscriptionId":0,"event":{"e":"listStatus","E":1}}')
    assert [e["e"] for e in seen] == ["executionReport", "listStatus"]
    assert seen[0]["c"] == '"e":"balanceUpdate"'


def test_binance_user_stream_unreadable_frames_skipped_stream_goes_on():
    seen: list[dict] = []
    cfg = BinanceConfig(rest_url="http://127.0.0.1:9", ws_api_url="ws://127.0.0.1:9", api_key=DEMO_API_KEY,
                        api_secret=DEMO_API_SECRET)
    stream = BinanceUserStream(cfg, ServerClock(SystemClock()), on_event=seen.append)
    for text in ("{not json", "[1, 2]", "17", '"event"'):
        stream._handle(text)  # no exception: the connection's reader keeps reading
    stream._handle('{"subscriptionId":0,"event":{"e":"executionReport","i":1}}')
    assert seen == [{"e": "executionReport", "i": 1}]


async def test_use_sink_sends_go_to_the_sink_close_closes_the_stream_none_restores_it():
    send, recv = anyio.create_memory_object_stream(10)
    got: list[str] = []
    swapped = use_sink(send, got.append)
    assert isinstance(swapped, SinkSend)
    swapped.send_nowait("a")  # what every sender of the adapter calls
    assert got == ["a"] and recv.statistics().current_buffer_used == 0
    restored = use_sink(use_sink(swapped, got.append), None)
    assert restored is send
    restored.send_nowait("b")
    assert recv.receive_nowait() == "b"
    await use_sink(send, got.append).aclose()
    with pytest.raises(anyio.EndOfStream):
        recv.receive_nowait()
