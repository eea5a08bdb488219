"""Adapter conformance suite: the Binance adapter against the simulator over real loopback HTTP/WS.

Cases are numbered (c01 ...). Each case uses its own client order ids; the simulator is shared by
the module and its fault switches are reset after every case. Every case runs twice: with orders
over the WebSocket API (``order_entry="ws"``, the default) and over REST (``"rest"``).
"""

from __future__ import annotations

import itertools
from decimal import Decimal as D

import anyio
import pytest

from fixgw.errors import VenueBanned, VenueRejected
from fixgw.sim import LimitConfig
from fixgw.orders.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from fixgw.venues.base import (
    AmendOrder,
    CancelOrder,
    NewOrder,
    ReplaceOrder,
    StreamState,
    VenueAccepted,
    VenueAmended,
    VenueCanceled,
    VenueExpired,
    VenueFilled,
)
from fixgw.venues.rules import check_order
from . import simharness
from .simharness import Counterparty, adapter, book_top, collect, fills_of, start_sim

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

_ids = itertools.count(1)


def cid(tag: str) -> str:
    return f"{tag}-{next(_ids)}"


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


@pytest.fixture(autouse=True, params=["ws", "rest"])
def order_entry(request, monkeypatch):
    monkeypatch.setattr(simharness, "ORDER_ENTRY", request.param)
    return request.param


def _sent_over(ad, order_entry: str) -> None:
    """The orders of a case went the configured way."""
    if order_entry == "ws":
        assert ad.wsapi is not None and ad.wsapi.requests > 0
    else:
        assert ad.wsapi is None


def _limit(c: str, side: OrderSide, qty: str, px: D | str, symbol: str = "BTC/USDT", **kw) -> NewOrder:
    return NewOrder(c, symbol, side, OrderType.LIMIT, quantity=D(qty), price=D(px), **kw)


async def test_c01_place_limit_ack_event_and_query_agree(sim, order_entry):
    async with adapter(sim, sim.warp) as ad:
        bid, _ = await book_top(ad, "BTCUSDT")
        c = cid("c01")
        report = await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))
        assert report.status is OrderStatus.NEW and report.venue_order_id
        events = await collect(ad)
        assert [type(e) for e in events] == [VenueAccepted]
        ack = events[0]
        assert (ack.client_order_id, ack.venue_order_id, ack.quantity, ack.price) == (
            c, report.venue_order_id, D("0.001"), bid - 1000)
        q = await ad.query("BTC/USDT", client_order_id=c)
        assert q.status is OrderStatus.NEW and q.quantity == D("0.001") and q.cum_qty == 0
        assert ad.health().stream_state is StreamState.SUBSCRIBED
        await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))
        _sent_over(ad, order_entry)


async def test_c02_partial_then_full_fill_exact_quantities(sim):
    other = Counterparty(sim, sim.warp)
    async with adapter(sim, sim.warp) as ad:
        bid, ask = await book_top(ad, "ETHUSDT")
        px = bid + D("0.01")
        assert px < ask
        c = cid("c02")
        await ad.submit(_limit(c, OrderSide.BUY, "0.5", px, "ETH/USDT"))
        await other.order("ETHUSDT", "SELL", D("0.3"), px)
        await other.order("ETHUSDT", "SELL", D("0.2"), px)
        events = await collect(ad, until=lambda ev: len(fills_of(ev, c)) >= 2)
        fills = fills_of(events, c)
        assert [(f.last_qty, f.cum_qty, f.done) for f in fills] == [
            (D("0.3"), D("0.3"), False), (D("0.2"), D("0.5"), True)]
        assert all(f.last_px == px for f in fills)
        assert len({f.trade_id for f in fills}) == 2 and all(not f.trade_id.startswith("recon:") for f in fills)
        assert all(f.fee > 0 and f.fee_asset == "ETH" for f in fills)  # a buyer pays commission in base
        q = await ad.query("ETH/USDT", client_order_id=c)
        assert q.status is OrderStatus.FILLED and q.cum_qty == D("0.5") and q.avg_px == px
    await other.aclose()


async def test_c03_cancel_once_then_unknown(sim):
    async with adapter(sim, sim.warp) as ad:
        bid, _ = await book_top(ad, "BTCUSDT")
        c = cid("c03")
        await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 2000))
        report = await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))
        assert report.status is OrderStatus.CANCELED and report.client_order_id == c
        events = await collect(ad)
        assert [type(e) for e in events] == [VenueAccepted, VenueCanceled]
        assert events[1].client_order_id == c
        with pytest.raises(VenueRejected) as info:
            await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))
        assert info.value.reason == "unknown_order"
        assert await collect(ad, quiet_s=0.2) == []


async def test_c04_amend_keep_priority_decrease_then_increase_refused(sim):
    async with adapter(sim, sim.warp) as ad:
        bid, _ = await book_top(ad, "BTCUSDT")
        c, c2 = cid("c04"), cid("c04b")
        placed = await ad.submit(_limit(c, OrderSide.BUY, "0.003", bid - 1500))
        report = await ad.amend(AmendOrder("BTC/USDT", D("0.002"), orig_client_order_id=c, new_client_order_id=c2))
        assert report.quantity == D("0.002") and report.venue_order_id == placed.venue_order_id
        events = await collect(ad)
        amended = [e for e in events if isinstance(e, VenueAmended)]
        assert len(amended) == 1
        assert (amended[0].client_order_id, amended[0].orig_client_order_id, amended[0].quantity) == (c2, c, D("0.002"))
        q = await ad.query("BTC/USDT", client_order_id=c2)
        assert q.quantity == D("0.002") and q.venue_order_id == placed.venue_order_id
        with pytest.raises(VenueRejected):
            await ad.amend(AmendOrder("BTC/USDT", D("0.005"), orig_client_order_id=c2))
        await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c2))


async def test_c05_cancel_replace_new_venue_id_old_canceled(sim):
    async with adapter(sim, sim.warp) as ad:
        bid, _ = await book_top(ad, "BTCUSDT")
        c, c2 = cid("c05"), cid("c05b")
        old = await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))
        new = await ad.replace(ReplaceOrder(c, _limit(c2, OrderSide.BUY, "0.002", bid - 900)))
        assert new.venue_order_id != old.venue_order_id and new.client_order_id == c2
        events = await collect(ad)
        kinds = [(type(e), e.client_order_id) for e in events]
        assert kinds == [(VenueAccepted, c), (VenueCanceled, c), (VenueAccepted, c2)]
        assert events[2].price == bid - 900 and events[2].quantity == D("0.002")
        with pytest.raises(VenueRejected) as info:
            await ad.replace(ReplaceOrder(cid("nope"), _limit(cid("c05c"), OrderSide.BUY, "0.001", bid - 800)))
        assert info.value.reason == "unknown_order"
        open_ids = {r.client_order_id for r in await ad.open_orders("BTC/USDT")}
        assert c2 in open_ids and c not in open_ids
        await ad.cancel_all("BTC/USDT")


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


async def test_c07_unknown_symbol_rejected_locally_and_by_venue(sim):
    async with adapter(sim, sim.warp) as ad:
        with pytest.raises(VenueRejected) as info:
            await ad.submit(_limit(cid("c07"), OrderSide.BUY, "1", "1", symbol="FOO/BAR"))
        assert info.value.reason == "unknown_symbol"
        with pytest.raises(VenueRejected) as info:
            await ad.http.request("GET", "/api/v3/order", [("symbol", "FOOBAR"), ("orderId", 1)], signed=True)
        assert info.value.reason == "unknown_symbol" and info.value.code == -1121


async def test_c08_duplicate_client_order_id_rejected_original_intact(sim):
    async with adapter(sim, sim.warp) as ad:
        bid, _ = await book_top(ad, "BTCUSDT")
        c = cid("c08")
        first = await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))
        with pytest.raises(VenueRejected) as info:
            await ad.submit(_limit(c, OrderSide.BUY, "0.002", bid - 1100))
        assert info.value.reason == "duplicate_order"
        events = await collect(ad)
        assert [type(e) for e in events] == [VenueAccepted]
        q = await ad.query("BTC/USDT", client_order_id=c)
        assert q.venue_order_id == first.venue_order_id and q.quantity == D("0.001") and q.status is OrderStatus.NEW
        await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))


async def test_c09_ioc_and_market_remainders_expire(sim):
    async with adapter(sim, sim.warp) as ad:
        depth = await ad.http.request("GET", "/api/v3/depth", [("symbol", "SOLUSDT"), ("limit", 5)])
        best_ask, best_qty = D(depth["asks"][0][0]), D(depth["asks"][0][1])
        c = cid("c09")
        qty = best_qty + D("1")
        report = await ad.submit(_limit(c, OrderSide.BUY, str(qty), best_ask, "SOL/USDT", time_in_force=TimeInForce.IOC))
        assert report.status is OrderStatus.EXPIRED and report.cum_qty == best_qty
        events = await collect(ad, until=lambda ev: any(isinstance(e, VenueExpired) for e in ev))
        mine = [e for e in events if e.client_order_id == c]
        assert [type(e) for e in mine] == [VenueAccepted, VenueFilled, VenueExpired]
        assert mine[1].last_qty == best_qty and mine[2].cum_qty == best_qty


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


async def test_c11_injected_429s_retried_caller_sees_success(sim):
    async with adapter(sim, sim.warp) as ad:
        bid, _ = await book_top(ad, "BTCUSDT")
        sim.set_faults(rate_limit_burst=2)
        c = cid("c11")
        report = await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))
        assert report.status is OrderStatus.NEW
        assert ad.limiter.rate_limited_count == 2
        assert [type(e) for e in await collect(ad)] == [VenueAccepted]
        await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))


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


async def test_c13_fill_missed_during_stream_outage_reported_exactly_once(sim):
    gate = anyio.Event()

    async def stream_sleep(_s: float) -> None:
        await gate.wait()

    other = Counterparty(sim, sim.warp)
    async with adapter(sim, sim.warp, stream_sleep=stream_sleep) as ad:
        bid, ask = await book_top(ad, "ETHUSDT")
        px = bid + D("0.01")
        c = cid("c13")
        await ad.submit(_limit(c, OrderSide.BUY, "0.4", px, "ETH/USDT"))
        assert [type(e) for e in await collect(ad)] == [VenueAccepted]
        sim.drop_websockets()
        with anyio.fail_after(5):
            while ad.stream.state is not StreamState.DISCONNECTED:
                await anyio.sleep(0.01)
        fill = await other.order("ETHUSDT", "SELL", D("0.25"), px)  # happens while we are deaf
        assert fill["status"] == "FILLED"
        assert await collect(ad, quiet_s=0.3) == []
        gate.set()  # reconnect: resubscribe, then reconcile
        events = await collect(ad, until=lambda ev: len(fills_of(ev, c)) >= 1, quiet_s=1.5)
        fills = fills_of(events, c)
        assert len(fills) == 1 and len(events) == 1
        f = fills[0]
        assert (f.last_qty, f.cum_qty, f.last_px, f.done) == (D("0.25"), D("0.25"), px, False)
        assert f.from_reconciliation and not f.trade_id.startswith("recon:")  # the real trade id, from the trade list
        assert ad.health().stream_reconnects == 1
        await ad.reconcile()  # again: nothing new
        assert await collect(ad, quiet_s=0.3) == []
        # and the stream is live again
        await other.order("ETHUSDT", "SELL", D("0.15"), px)
        events = await collect(ad, until=lambda ev: len(fills_of(ev, c)) >= 1)
        assert [(f.last_qty, f.cum_qty, f.done, f.from_reconciliation) for f in fills_of(events, c)] == [
            (D("0.15"), D("0.4"), True, False)]
    await other.aclose()


@pytest.mark.parametrize("mode", ["error", "drop", "hang"])
async def test_c14_timed_out_submit_found_by_reconciliation_not_duplicated(sim, mode, order_entry):
    async with adapter(sim, sim.warp, request_timeout_s=0.5) as ad:
        bid, _ = await book_top(ad, "BTCUSDT")
        sim.set_faults(order_timeouts=1, order_timeout_mode=mode, hang_seconds=1.0)
        c = cid(f"c14{mode}")
        report = await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))
        assert report.status is OrderStatus.NEW and report.client_order_id == c
        events = await collect(ad)
        assert [(type(e), e.client_order_id) for e in events] == [(VenueAccepted, c)]
        mine = [r for r in await ad.open_orders("BTC/USDT") if r.client_order_id == c]
        assert len(mine) == 1
        assert ad.health().unresolved_orders == 0
        await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))
        _sent_over(ad, order_entry)


async def test_c15_clock_skew_corrected_at_start_and_mid_session(sim):
    sim.set_faults(clock_skew_ms=5000)
    async with adapter(sim, sim.warp) as ad:
        assert ad.health().clock_offset_ms == pytest.approx(5000, abs=300)
        bid, _ = await book_top(ad, "BTCUSDT")
        c = cid("c15")
        assert (await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))).status is OrderStatus.NEW
        sim.set_faults(clock_skew_ms=-4000)  # the venue's clock jumps: our stamps are now 4 s ahead
        c2 = cid("c15b")
        assert (await ad.submit(_limit(c2, OrderSide.BUY, "0.001", bid - 1000))).status is OrderStatus.NEW
        assert ad.health().clock_offset_ms == pytest.approx(-4000, abs=300)
        await ad.cancel_all("BTC/USDT")


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


async def test_c17_cancel_all_and_open_orders(sim):
    async with adapter(sim, sim.warp) as ad:
        bid, _ = await book_top(ad, "BTCUSDT")
        await ad.cancel_all("BTC/USDT")
        ids = [cid("c17") for _ in range(3)]
        for i, c in enumerate(ids):
            await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000 - i))
        assert {r.client_order_id for r in await ad.open_orders("BTC/USDT")} == set(ids)
        canceled = await ad.cancel_all("BTC/USDT")
        assert {r.client_order_id for r in canceled} == set(ids)
        assert all(r.status is OrderStatus.CANCELED for r in canceled)
        events = await collect(ad)
        assert sorted(e.client_order_id for e in events if isinstance(e, VenueCanceled)) == sorted(ids)
        assert await ad.open_orders("BTC/USDT") == []


async def test_c18_run_in_caller_task_group_started_and_cancelled(sim):
    from .simharness import config
    from fixgw.venues.binance import BinanceAdapter

    ad = BinanceAdapter(config(sim), clock=sim.warp, sleep=sim.warp.sleep)
    async with anyio.create_task_group() as tg:
        started = await tg.start(ad.run)
        assert started is ad and ad.health().stream_state is StreamState.SUBSCRIBED
        bid, _ = await book_top(ad, "BTCUSDT")
        c = cid("c18")
        await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))
        await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))
        assert [type(e) for e in await collect(ad)] == [VenueAccepted, VenueCanceled]
        tg.cancel_scope.cancel()
    assert ad.health().stream_state is StreamState.DISCONNECTED


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
