"""Adapter conformance, the Binance-only cases: what only Binance has, against the simulator over real
loopback HTTP/WS.

Its filter test endpoint, request weight and 418 bans, per-symbol order ids, raw user-data stream
faults and WebSocket API order entry. The venue-generic cases, run against every dialect, are in
``test_conformance.py``. Every case here runs twice: orders over the WebSocket API
(``order_entry="ws"``, the default) and over REST (``"rest"``).
"""

from __future__ import annotations

from decimal import Decimal as D

import anyio
import pytest

from fixgw.errors import VenueBanned, VenueRejected
from fixgw.sim import LimitConfig
from fixgw.orders.enums import OrderSide, OrderStatus, OrderType
from fixgw.venues.base import CancelOrder, NewOrder, VenueAccepted, VenueCanceled
from fixgw.venues.rules import check_order
from . import simharness
from .simharness import adapter, book_top, collect, fills_of, start_sim
from .simfixtures import client_ids, module_sim, reset_faults_after  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

sim = module_sim(start_sim)
cid = client_ids("b")


@pytest.fixture(autouse=True, params=["ws", "rest"])
def order_entry(request, monkeypatch):
    monkeypatch.setattr(simharness, "ORDER_ENTRY", request.param)
    return request.param


def _limit(c: str, side: OrderSide, qty: str, px: D | str, symbol: str = "BTC/USDT", **kw) -> NewOrder:
    return NewOrder(c, symbol, side, OrderType.LIMIT, quantity=D(qty), price=D(px), **kw)


BAD_ORDERS = [
    ("tick", dict(qty="0.001", px="50000.005"), "PRICE_FILTER"),
    ("lot", dict(qty="0.0000155", px="50000"), "LOT_SIZE"),
    ("min_qty", dict(qty="0.000001", px="50000"), "LOT_SIZE"),
    ("min_notional", dict(qty="0.00001", px="50000"), "NOTIONAL"),
    ("max_qty", dict(qty="9001", px="1"), "LOT_SIZE"),
]


@pytest.mark.parametrize("rule,order,venue_filter", BAD_ORDERS, ids=[b[0] for b in BAD_ORDERS])
async def test_c06_filter_reject_local_check_and_venue_agree(sim, rule, order, venue_filter):
    async with adapter(sim, sim.warp) as ad:
        o = _limit(cid("c06"), OrderSide.BUY, order["qty"], order["px"])
        violation = check_order(ad.instrument("BTC/USDT"), o, ad.capabilities)
        assert violation is not None and violation.rule == rule
        with pytest.raises(VenueRejected) as local:
            await ad.submit(o)
        assert local.value.reason == f"rule:{rule}"
        # the venue's own check of the same order (test endpoint: validated, never placed)
        with pytest.raises(VenueRejected) as venue:
            await ad.http.request("POST", "/api/v3/order/test",
                                  [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
                                   ("quantity", o.quantity), ("price", o.price)], signed=True)
        assert venue.value.reason == f"filter:{venue_filter}"
        assert await collect(ad, quiet_s=0.1) == []


async def test_c06b_valid_order_passes_both_checks(sim):
    async with adapter(sim, sim.warp) as ad:
        o = _limit(cid("c06b"), OrderSide.BUY, "0.00123", "50000.01")
        assert check_order(ad.instrument("BTC/USDT"), o, ad.capabilities) is None
        assert await ad.http.request("POST", "/api/v3/order/test",
                                     [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"),
                                      ("timeInForce", "GTC"), ("quantity", o.quantity), ("price", o.price)],
                                     signed=True) == {}


async def test_c07_unknown_symbol_rejected_by_the_venue_with_its_code(sim):
    async with adapter(sim, sim.warp) as ad:
        with pytest.raises(VenueRejected) as info:
            await ad.http.request("GET", "/api/v3/order", [("symbol", "FOOBAR"), ("orderId", 1)], signed=True)
        assert info.value.reason == "unknown_symbol" and info.value.code == -1121


async def test_c10_burst_held_below_weight_ceiling_no_429():
    server, warp = start_sim(limits=LimitConfig(weight_per_minute=400, ban_after=2))
    try:
        async with adapter(server, warp, weight_limit_per_minute=400, weight_reserve=10) as ad:
            bid, _ = await book_top(ad, "BTCUSDT")
            c = cid("c10")
            await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))
            results = []

            async def one():
                results.append(await ad.query("BTC/USDT", client_order_id=c))

            async with anyio.create_task_group() as tg:
                for _ in range(150):  # 150 x weight 4 = 600 > 400 per minute
                    tg.start_soon(one)
            assert len(results) == 150 and all(r.status is OrderStatus.NEW for r in results)
            assert ad.limiter.rate_limited_count == 0  # no 429 was ever received
            assert ad.limiter.waited_s > 0  # requests were held for the next window
            assert ad.health().banned_until_ns is None
    finally:
        server.stop()


async def test_c12_ban_surfaced_until_it_ends(sim):
    async with adapter(sim, sim.warp) as ad:
        sim.set_faults(ban_seconds=120)
        with pytest.raises(VenueBanned) as info:
            await ad.query("BTC/USDT", client_order_id="whatever")
        until = info.value.until_ns
        assert until is not None and until > sim.warp.now_ns()
        assert ad.health().banned_until_ns == until
        with pytest.raises(VenueBanned):  # refused locally: nothing sent during the ban
            await ad.open_orders("BTC/USDT")
        await sim.warp.sleep((until - sim.warp.now_ns()) / 1e9 + 1)
        assert ad.health().banned_until_ns is None
        await ad.open_orders("BTC/USDT")


async def test_c16_duplicated_and_reordered_stream_events_reported_once_in_order(sim):
    async with adapter(sim, sim.warp) as ad:
        sim.set_faults(duplicate_events=True, reorder_events=True)
        depth = await ad.http.request("GET", "/api/v3/depth", [("symbol", "SOLUSDT"), ("limit", 5)])
        asks = [(D(p), D(q)) for p, q in depth["asks"][:2]]
        step = ad.instrument("SOL/USDT").lot_step
        qty = (asks[0][1] + asks[1][1] / 2) // step * step
        c = cid("c16")
        # through the raw client, so the events come only from the (faulty) stream
        await ad.http.request("POST", "/api/v3/order",
                              [("symbol", "SOLUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quantity", qty),
                               ("newClientOrderId", c), ("newOrderRespType", "ACK")], signed=True)
        events = [e for e in await collect(ad, quiet_s=1.5) if e.client_order_id == c]
        assert type(events[0]) is VenueAccepted
        fills = fills_of(events, c)
        assert sum(f.last_qty for f in fills) == qty and fills[-1].cum_qty == qty
        assert [f.cum_qty for f in fills] == sorted(f.cum_qty for f in fills)
        assert len({f.trade_id for f in fills}) == len(fills)
        assert fills[-1].done and len(events) == 1 + len(fills)


async def test_c19_same_venue_order_id_on_two_symbols_both_reported(sim):
    async with adapter(sim, sim.warp) as ad:
        bids = {"BTC/USDT": (await book_top(ad, "BTCUSDT"))[0] - 1000, "ETH/USDT": (await book_top(ad, "ETHUSDT"))[0] - 100}

        async def place(symbol: str):
            c = cid("c19")
            return await ad.submit(_limit(c, OrderSide.BUY, "0.01", bids[symbol], symbol))

        # the venue numbers orders per symbol: place until an ETH order has a BTC order's number
        last = {s: await place(s) for s in bids}
        while last["BTC/USDT"].venue_order_id != last["ETH/USDT"].venue_order_id:
            behind = min(last, key=lambda s: int(last[s].venue_order_id))
            last[behind] = await place(behind)
        b, e = last["BTC/USDT"].client_order_id, last["ETH/USDT"].client_order_id
        events = [ev for ev in await collect(ad) if ev.client_order_id in (b, e)]
        assert sorted((type(ev).__name__, ev.symbol, ev.client_order_id) for ev in events) == sorted([
            ("VenueAccepted", "BTC/USDT", b), ("VenueAccepted", "ETH/USDT", e)])
        canceled = await ad.cancel(CancelOrder("ETH/USDT", client_order_id=e))
        assert canceled.client_order_id == e and canceled.status is OrderStatus.CANCELED
        assert [(type(ev), ev.client_order_id) for ev in await collect(ad)] == [(VenueCanceled, e)]
        assert (await ad.query("BTC/USDT", client_order_id=b)).status is OrderStatus.NEW
        await ad.reconcile()  # both known, one still open: nothing new
        assert await collect(ad, quiet_s=0.2) == []
        await ad.cancel_all("BTC/USDT")
        await ad.cancel_all("ETH/USDT")


async def test_c20_ws_order_entry_falls_back_to_rest_while_its_connection_is_down(sim, order_entry):
    if order_entry != "ws":
        pytest.skip("WebSocket API order entry only")
    gate = anyio.Event()

    async def stream_sleep(_s: float) -> None:
        await gate.wait()

    async with adapter(sim, sim.warp, stream_sleep=stream_sleep) as ad:
        bid, _ = await book_top(ad, "BTCUSDT")
        assert ad.wsapi is not None and ad.wsapi.available
        sim.drop_websockets()
        with anyio.fail_after(5):
            while ad.wsapi.available:
                await anyio.sleep(0.01)
        sent = ad.wsapi.requests
        c = cid("c20")
        report = await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))  # over REST
        assert report.status is OrderStatus.NEW and ad.wsapi.requests == sent
        gate.set()
        with anyio.fail_after(5):
            while not ad.wsapi.available:
                await anyio.sleep(0.01)
        canceled = await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))  # over the WebSocket API again
        assert canceled.status is OrderStatus.CANCELED and ad.wsapi.requests == sent + 1
        events = await collect(ad)
        assert [(type(e), e.client_order_id) for e in events] == [(VenueAccepted, c), (VenueCanceled, c)]


async def test_c15_clock_jump_mid_session_resynced_after_the_venue_refuses_a_timestamp(sim):
    sim.set_faults(clock_skew_ms=5000)
    async with adapter(sim, sim.warp) as ad:
        bid, _ = await book_top(ad, "BTCUSDT")
        sim.set_faults(clock_skew_ms=-4000)  # outside the receive window: -1021, then a resync and a retry
        c = cid("c15")
        assert (await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))).status is OrderStatus.NEW
        assert ad.health().clock_offset_ms == pytest.approx(-4000, abs=300)
        await ad.cancel_all("BTC/USDT")
