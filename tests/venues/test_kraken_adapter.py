"""The Kraken adapter against the simulator's Kraken dialect over real loopback sockets: what the
shared conformance suite does not cover (Kraken's instruments, in-place amend and its client-id alias,
the feed's clock, rate-limit backoff, authentication, the REST fallback while the feed is down)."""

from __future__ import annotations

from decimal import Decimal as D
from types import SimpleNamespace

import anyio
import pytest

from fixgw.errors import VenueAuthError, VenueRateLimited, VenueRejected
from fixgw.orders.enums import OrderSide, OrderStatus, OrderType
from fixgw.sim import DEMO_API_KEY
from fixgw.venues.base import AmendOrder, CancelOrder, NewOrder, StreamState, VenueAmended, VenueCanceled
from fixgw.venues.kraken import KrakenAdapter, KrakenConfig

from .harness_kraken import Counterparty, adapter, book_top, collect, config, fills_of, start_sim
from .simfixtures import client_ids, module_sim, reset_faults_after  # noqa: F401  (fixtures)

pytestmark = pytest.mark.anyio

sim = module_sim(start_sim)
cid = client_ids()


def _limit(c: str, side: OrderSide, qty: str, px: D, symbol: str = "BTC/USDT") -> NewOrder:
    return NewOrder(c, symbol, side, OrderType.LIMIT, quantity=D(qty), price=px)


async def test_kraken_adapter_instruments_from_asset_pairs_in_venue_spelling(sim):
    async with adapter(sim, sim.warp) as ad:
        btc = ad.instrument("BTC/USDT")
        spec = sim.call(lambda st: st.engine.instruments["BTCUSDT"])
        assert (btc.venue_symbol, btc.base, btc.quote) == ("XBTUSDT", "BTC", "USDT")
        assert (btc.tick_size, btc.lot_step, btc.min_qty, btc.min_notional) == (
            spec.tick_size, spec.step_size, spec.min_qty, spec.min_notional)
        with pytest.raises(VenueRejected) as info:
            ad.instrument("XBT/USDT")  # the port speaks common asset codes only
        assert info.value.reason == "unknown_symbol"


async def test_kraken_adapter_amend_decrease_keeps_queue_priority(sim):
    other = Counterparty(sim, sim.warp)
    async with adapter(sim, sim.warp) as ad:
        bid, _ = await book_top(ad, "ETHUSDT")
        px = bid + D("0.01")
        c = cid("prio")
        await ad.submit(_limit(c, OrderSide.BUY, "0.5", px, "ETH/USDT"))
        await other.order("ETHUSDT", "BUY", D("0.5"), px)  # queued behind ours at the same price
        report = await ad.amend(AmendOrder("ETH/USDT", D("0.3"), orig_client_order_id=c))
        assert report.quantity == D("0.3") and report.status is OrderStatus.NEW
        await other.order("ETHUSDT", "SELL", D("0.3"), px)  # takes the first in the queue: still ours
        events = await collect(ad, until=lambda ev: len(fills_of(ev, c)) >= 1)
        (fill,) = fills_of(events, c)
        assert (fill.last_qty, fill.cum_qty, fill.done) == (D("0.3"), D("0.3"), True)
    await other.aclose()


async def test_kraken_adapter_amend_with_new_client_id_is_an_alias_for_later_events(sim):
    async with adapter(sim, sim.warp) as ad:
        bid, _ = await book_top(ad, "BTCUSDT")
        c, c2 = cid("al"), cid("alb")
        placed = await ad.submit(_limit(c, OrderSide.BUY, "0.003", bid - 1500))
        await ad.amend(AmendOrder("BTC/USDT", D("0.002"), orig_client_order_id=c, new_client_order_id=c2))
        # the venue still knows the order by its first cl_ord_id; the adapter names it by the new one
        venue_side = await ad.http.private("QueryOrders", [("txid", placed.venue_order_id)])
        assert venue_side[placed.venue_order_id]["cl_ord_id"] == c
        report = await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c2))
        assert (report.client_order_id, report.status) == (c2, OrderStatus.CANCELED)
        events = await collect(ad)
        assert [(type(e), e.client_order_id) for e in events][1:] == [(VenueAmended, c2), (VenueCanceled, c2)]
        with pytest.raises(VenueRejected) as info:  # an increase is the venue's to refuse (simulated: refused)
            await ad.amend(AmendOrder("BTC/USDT", D("0.01"), orig_client_order_id=c2))
        assert info.value.reason in ("amend_rejected", "unknown_order")


async def test_kraken_adapter_feed_dropped_by_fault_reconnects_and_reconciles_missed_fill(sim):
    other = Counterparty(sim, sim.warp)
    gate = anyio.Event()

    async def stream_sleep(_s: float) -> None:
        await gate.wait()

    async with adapter(sim, sim.warp, stream_sleep=stream_sleep) as ad:
        bid, _ = await book_top(ad, "ETHUSDT")
        px = bid + D("0.01")
        c = cid("drop")
        await ad.submit(_limit(c, OrderSide.BUY, "0.4", px, "ETH/USDT"))
        await collect(ad)
        sim.set_faults(drop_user_streams_after=1)
        await other.order("ETHUSDT", "SELL", D("0.1"), px)  # its trade entry goes out, then the feed is cut
        with anyio.fail_after(5):
            while ad.stream.state is not StreamState.DISCONNECTED:
                await anyio.sleep(0.01)
        await other.order("ETHUSDT", "SELL", D("0.2"), px)  # missed
        gate.set()
        events = await collect(ad, until=lambda ev: sum(f.last_qty for f in fills_of(ev, c)) >= D("0.3"))
        fills = fills_of(events, c)
        assert [(f.last_qty, f.cum_qty) for f in fills] == [(D("0.1"), D("0.1")), (D("0.2"), D("0.3"))]
        assert fills[1].from_reconciliation and not fills[1].trade_id.startswith("recon:")
        assert ad.health().stream_reconnects == 1 and ad.health().stream_state is StreamState.SUBSCRIBED
        await ad.cancel(CancelOrder("ETH/USDT", client_order_id=c))
    await other.aclose()


async def test_kraken_adapter_commands_answered_over_rest_while_the_feed_is_down(sim):
    gate = anyio.Event()

    async def stream_sleep(_s: float) -> None:
        await gate.wait()

    async with adapter(sim, sim.warp, stream_sleep=stream_sleep, stream_wait_s=5.0) as ad:
        bid, _ = await book_top(ad, "BTCUSDT")
        sim.drop_websockets()
        with anyio.fail_after(5):
            while ad.stream.state is not StreamState.DISCONNECTED:
                await anyio.sleep(0.01)
        c = cid("down")
        with anyio.fail_after(3):  # no waiting for a feed that is not there
            assert (await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))).status is OrderStatus.NEW
            report = await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))
        assert report.status is OrderStatus.CANCELED
        assert [type(e) for e in await collect(ad)][-1] is VenueCanceled
        gate.set()


async def test_kraken_adapter_fill_while_the_feed_is_down_found_by_polling(sim):
    other = Counterparty(sim, sim.warp)
    gate = anyio.Event()

    async def stream_sleep(_s: float) -> None:
        await gate.wait()

    async with adapter(sim, sim.warp, stream_sleep=stream_sleep, poll_while_down_s=0.2) as ad:
        bid, _ = await book_top(ad, "ETHUSDT")
        px = bid + D("0.01")
        c = cid("poll")
        await ad.submit(_limit(c, OrderSide.BUY, "0.2", px, "ETH/USDT"))
        await collect(ad)
        sim.drop_websockets()
        with anyio.fail_after(5):
            while ad.stream.state is not StreamState.DISCONNECTED:
                await anyio.sleep(0.01)
        await other.order("ETHUSDT", "SELL", D("0.2"), px)
        events = await collect(ad, until=lambda ev: len(fills_of(ev, c)) >= 1)
        (fill,) = fills_of(events, c)
        assert fill.from_reconciliation and fill.done and ad.stream.state is not StreamState.SUBSCRIBED
        gate.set()
    await other.aclose()


async def test_kraken_adapter_429_backoff_then_success_and_persistent_429_raised(sim):
    async with adapter(sim, sim.warp) as ad:
        bid, _ = await book_top(ad, "BTCUSDT")
        slept = sim.warp.slept
        sim.set_faults(rate_limit_burst=3)
        c = cid("rl")
        assert (await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))).status is OrderStatus.NEW
        assert ad.limiter.rate_limited_count == 3 and sim.warp.slept > slept  # backed off between tries
        await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))
    async with adapter(sim, sim.warp, max_retries=1) as ad:
        sim.set_faults(rate_limit_burst=5)
        with pytest.raises(VenueRateLimited):
            await ad.open_orders()


async def test_kraken_adapter_wrong_secret_fails_start_with_auth_error(sim):
    cfg = config(sim)
    bad = KrakenConfig(rest_url=cfg.rest_url, api_key=DEMO_API_KEY, api_secret="d3Jvbmcgc2VjcmV0")
    with pytest.raises(VenueAuthError) as info:
        async with KrakenAdapter(bad, clock=sim.warp, sleep=sim.warp.sleep):
            pass
    assert "EAPI:Invalid signature" in str(info.value)


async def test_kraken_adapter_long_client_id_sent_as_uuid_and_found_again_after_restart(sim):
    long_id = cid("GATEWAYSESSION_44_a1b2") + ".r1"  # longer than the 18 characters Kraken takes
    async with adapter(sim, sim.warp) as ad:
        bid, _ = await book_top(ad, "BTCUSDT")
        placed = await ad.submit(_limit(long_id, OrderSide.BUY, "0.001", bid - 1000))
        venue_side = (await ad.http.private("QueryOrders", [("txid", placed.venue_order_id)]))[placed.venue_order_id]
        assert venue_side["cl_ord_id"] != long_id and len(venue_side["cl_ord_id"]) == 36  # a UUID
        events = await collect(ad)
        assert [(type(e).__name__, e.client_order_id) for e in events] == [("VenueAccepted", long_id)]
    async with adapter(sim, sim.warp) as ad:  # a restart: nothing remembered, the same UUID asked for
        found = await ad.query("BTC/USDT", client_order_id=long_id)
        assert (found.venue_order_id, found.client_order_id) == (placed.venue_order_id, long_id)
        assert (await ad.cancel(CancelOrder("BTC/USDT", client_order_id=long_id))).status is OrderStatus.CANCELED


async def test_kraken_adapter_clock_offset_read_from_the_feed_to_the_millisecond(sim):
    sim.set_faults(clock_skew_ms=2345)
    async with adapter(sim, sim.warp) as ad:
        assert ad.health().clock_offset_ms == pytest.approx(2345, abs=50)  # Time alone: whole seconds


async def test_kraken_adapter_balances_every_asset_in_one_call(sim):
    async with adapter(sim, sim.warp) as ad:
        bid, _ = await book_top(ad, "BTCUSDT")
        c = cid("bal")
        await ad.submit(_limit(c, OrderSide.BUY, "0.002", bid - 1000))
        sent = ad.http.sent
        balances = await ad.balances()
        assert ad.http.sent == sent + 1  # one request for every asset
        assert {"BTC", "ETH", "USDT"} <= balances.keys()
        free, held = balances["USDT"]
        assert held >= (bid - 1000) * D("0.002") and free > 0
        await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))


def test_kraken_config_from_venue_config_and_feed_url():
    venue = SimpleNamespace(name="kr1", rest_url="https://api.example", ws_url="", api_key="k", api_secret="c2VjcmV0")
    cfg = KrakenConfig.from_venue_config(venue)
    assert (cfg.name, cfg.rest_url, cfg.feed_url) == ("kr1", "https://api.example", "wss://api.example/v2")
    assert "c2VjcmV0" not in repr(cfg) and "k'" not in repr(cfg)
    explicit = KrakenConfig.from_venue_config(SimpleNamespace(**{**venue.__dict__, "ws_url": "wss://feed/v2"}))
    assert explicit.feed_url == "wss://feed/v2"
    assert KrakenConfig(rest_url="http://127.0.0.1:9", api_key="k", api_secret="s").feed_url == "ws://127.0.0.1:9/v2"
