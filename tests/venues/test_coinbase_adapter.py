"""The Coinbase Exchange adapter against the simulator's Coinbase dialect over real loopback HTTP/WS.

The simulator is shared by the module; faults are reset after every case and every case uses its
own client order ids.
"""

from __future__ import annotations

from decimal import Decimal as D

import anyio
import pytest

from fixgw.config.schema import VenueConfig
from fixgw.errors import ConfigError, VenueAuthError, VenueRejected
from fixgw.orders.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from fixgw.venues.base import (
    AmendOrder,
    CancelOrder,
    NewOrder,
    ReplaceOrder,
    StreamState,
    VenueAccepted,
    VenueCanceled,
    VenueExpired,
    VenueFilled,
)
from fixgw.venues.coinbase import CoinbaseConfig

from .harness_coinbase import Counterparty, adapter, book_top, collect, fills_of, start_sim
from .simfixtures import client_ids, module_sim, reset_faults_after  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

sim = module_sim(start_sim)
cid = client_ids()


def _limit(c: str, side: OrderSide, qty: str, px: D | str, symbol: str = "BTC/USDT", **kw) -> NewOrder:
    return NewOrder(c, symbol, side, OrderType.LIMIT, quantity=D(qty), price=D(px), **kw)


async def test_place_limit_ack_event_query_and_health_agree(sim):
    async with adapter(sim, sim.warp) as ad:
        assert set(ad._instruments) == {"BTC/USDT", "ETH/USDT", "SOL/USDT"}
        inst = ad.instrument("BTC/USDT")
        assert (inst.venue_symbol, inst.tick_size, inst.lot_step, inst.min_notional) == (
            "BTC-USDT", D("0.01"), D("0.00001"), D("5"))
        bid, _ = await book_top(ad, "BTC-USDT")
        c = cid("p")
        report = await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))
        assert report.status is OrderStatus.NEW and report.client_order_id == c and report.venue_order_id
        events = await collect(ad)
        assert [type(e) for e in events] == [VenueAccepted]
        assert (events[0].client_order_id, events[0].quantity, events[0].price) == (c, D("0.001"), bid - 1000)
        q = await ad.query("BTC/USDT", client_order_id=c)
        assert (q.status, q.venue_order_id, q.cum_qty) == (OrderStatus.NEW, report.venue_order_id, 0)
        health = ad.health()
        assert health.stream_state is StreamState.SUBSCRIBED and health.clock_offset_ms is not None
        await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))


async def test_partial_then_full_fill_from_feed_exact_quantities_and_fees(sim):
    other = Counterparty(sim, sim.warp)
    async with adapter(sim, sim.warp) as ad:
        bid, ask = await book_top(ad, "ETH-USDT")
        px = bid + D("0.01")
        assert px < ask
        c = cid("f")
        await ad.submit(_limit(c, OrderSide.BUY, "0.5", px, "ETH/USDT"))
        await other.order("ETH-USDT", "sell", D("0.3"), px)
        await other.order("ETH-USDT", "sell", D("0.2"), px)
        events = await collect(ad, until=lambda ev: len(fills_of(ev, c)) >= 2)
        fills = fills_of(events, c)
        assert [(f.last_qty, f.cum_qty, f.done) for f in fills] == [
            (D("0.3"), D("0.3"), False), (D("0.2"), D("0.5"), True)]
        assert all(f.last_px == px and f.is_maker and not f.from_reconciliation for f in fills)
        assert all(f.fee == f.last_qty * px * D("0.001") and f.fee_asset == "USDT" for f in fills)  # quote fees
        assert len({f.trade_id for f in fills}) == 2 and not any(f.trade_id.startswith("recon:") for f in fills)
        q = await ad.query("ETH/USDT", client_order_id=c)
        assert q.status is OrderStatus.FILLED and q.cum_qty == D("0.5") and q.avg_px == px
        assert await collect(ad, quiet_s=0.4) == []  # the done message and the query add nothing
    await other.aclose()


async def test_market_by_funds_filled_and_ended_from_feed(sim):
    async with adapter(sim, sim.warp) as ad:
        c = cid("m")
        await ad.submit(NewOrder(c, "BTC/USDT", OrderSide.BUY, OrderType.MARKET, quote_quantity=D("150.00")))
        events = await collect(ad, until=lambda ev: any(isinstance(e, VenueFilled) and e.done for e in ev))
        fills = fills_of(events, c)
        assert fills[-1].done and sum(f.last_qty * f.last_px for f in fills) <= D("150.00")
        assert (await ad.query("BTC/USDT", client_order_id=c)).status is OrderStatus.FILLED


async def test_cancel_once_then_unknown_order(sim):
    async with adapter(sim, sim.warp) as ad:
        bid, _ = await book_top(ad, "BTC-USDT")
        c = cid("c")
        await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 2000))
        report = await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))
        assert report.status is OrderStatus.CANCELED and report.client_order_id == c
        events = await collect(ad)
        assert [(type(e), e.client_order_id) for e in events] == [(VenueAccepted, c), (VenueCanceled, c)]
        with pytest.raises(VenueRejected) as info:
            await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))
        assert info.value.reason == "unknown_order"
        with pytest.raises(VenueRejected) as info:
            await ad.cancel(CancelOrder("BTC/USDT", client_order_id=cid("never")))
        assert info.value.reason == "unknown_order"
        assert await collect(ad, quiet_s=0.2) == []


async def test_replace_is_cancel_then_new_and_amend_refused(sim):
    async with adapter(sim, sim.warp) as ad:
        bid, _ = await book_top(ad, "BTC-USDT")
        c, c2 = cid("r"), cid("r2")
        old = await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))
        new = await ad.replace(ReplaceOrder(c, _limit(c2, OrderSide.BUY, "0.002", bid - 900)))
        assert new.venue_order_id != old.venue_order_id and new.client_order_id == c2
        events = await collect(ad)
        assert [(type(e), e.client_order_id) for e in events] == [
            (VenueAccepted, c), (VenueCanceled, c), (VenueAccepted, c2)]
        assert events[2].price == bid - 900 and events[2].quantity == D("0.002")
        with pytest.raises(VenueRejected) as info:  # the old order is gone: nothing new is placed
            await ad.replace(ReplaceOrder(cid("gone"), _limit(cid("r3"), OrderSide.BUY, "0.001", bid - 800)))
        assert info.value.reason == "unknown_order"
        with pytest.raises(VenueRejected) as info:
            await ad.amend(AmendOrder("BTC/USDT", D("0.001"), orig_client_order_id=c2))
        assert info.value.reason == "unsupported"
        open_ids = {r.client_order_id for r in await ad.open_orders("BTC/USDT")}
        assert open_ids == {c2}
        await ad.cancel_all("BTC/USDT")


async def test_cancel_all_and_open_orders(sim):
    async with adapter(sim, sim.warp) as ad:
        bid, _ = await book_top(ad, "BTC-USDT")
        assert await ad.cancel_all("BTC/USDT") == []
        ids = [cid("a") for _ in range(3)]
        for i, c in enumerate(ids):
            await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000 - i))
        assert {r.client_order_id for r in await ad.open_orders("BTC/USDT")} == set(ids)
        canceled = await ad.cancel_all("BTC/USDT")
        assert {r.client_order_id for r in canceled} == set(ids)
        assert all(r.status is OrderStatus.CANCELED for r in canceled)
        events = await collect(ad, until=lambda ev: sum(isinstance(e, VenueCanceled) for e in ev) >= 3)
        assert sorted(e.client_order_id for e in events if isinstance(e, VenueCanceled)) == sorted(ids)
        assert await ad.open_orders("BTC/USDT") == []


async def test_local_and_venue_refusals_carry_reason_keys(sim):
    async with adapter(sim, sim.warp) as ad:
        bid, ask = await book_top(ad, "BTC-USDT")
        with pytest.raises(VenueRejected) as info:
            await ad.submit(_limit(cid("x"), OrderSide.BUY, "0.001", "50000.005"))
        assert info.value.reason == "rule:tick"
        with pytest.raises(VenueRejected) as info:
            await ad.submit(_limit(cid("x"), OrderSide.BUY, "0.001", bid, symbol="DOGE/USDT"))
        assert info.value.reason == "unknown_symbol"
        with pytest.raises(VenueRejected) as info:  # post-only that would take: the venue answers "rejected"
            await ad.submit(_limit(cid("x"), OrderSide.BUY, "0.001", ask, post_only=True))
        assert info.value.reason == "would_take"
        with pytest.raises(VenueRejected) as info:
            await ad.submit(_limit(cid("x"), OrderSide.BUY, "100", bid - 1000))
        assert info.value.reason == "insufficient_balance" and info.value.message == "Insufficient funds"
        assert await collect(ad, quiet_s=0.2) == []


async def test_fill_missed_during_feed_outage_reconciled_once_with_real_trade_id(sim):
    gate = anyio.Event()

    async def stream_sleep(_s: float) -> None:
        await gate.wait()

    other = Counterparty(sim, sim.warp)
    async with adapter(sim, sim.warp, stream_sleep=stream_sleep) as ad:
        bid, _ = await book_top(ad, "ETH-USDT")
        px = bid + D("0.01")
        c = cid("o")
        await ad.submit(_limit(c, OrderSide.BUY, "0.4", px, "ETH/USDT"))
        assert [type(e) for e in await collect(ad)] == [VenueAccepted]
        sim.drop_websockets()
        with anyio.fail_after(5):
            while ad.stream.state is not StreamState.DISCONNECTED:
                await anyio.sleep(0.01)
        fill = await other.order("ETH-USDT", "sell", D("0.25"), px)  # while we are deaf
        assert fill["filled"]
        assert await collect(ad, quiet_s=0.3) == []
        gate.set()  # reconnect: resubscribe, then reconcile (open orders, their fills)
        events = await collect(ad, until=lambda ev: len(fills_of(ev, c)) >= 1, quiet_s=1.0)
        assert len(events) == 1
        f = fills_of(events, c)[0]
        assert (f.last_qty, f.cum_qty, f.last_px, f.done) == (D("0.25"), D("0.25"), px, False)
        assert f.from_reconciliation and not f.trade_id.startswith("recon:")  # the real id, from /fills
        assert ad.health().stream_reconnects == 1
        await ad.reconcile()
        assert await collect(ad, quiet_s=0.3) == []
        await other.order("ETH-USDT", "sell", D("0.15"), px)  # and the feed is live again
        events = await collect(ad, until=lambda ev: len(fills_of(ev, c)) >= 1)
        assert [(f.last_qty, f.cum_qty, f.done, f.from_reconciliation) for f in fills_of(events, c)] == [
            (D("0.15"), D("0.4"), True, False)]
    await other.aclose()


async def test_done_before_its_match_end_held_until_fill(sim):
    """The feed sends a ``done`` before its match: the end waits for the fill, reported once."""
    other = Counterparty(sim, sim.warp)
    async with adapter(sim, sim.warp) as ad:
        bid, _ = await book_top(ad, "SOL-USDT")
        px = bid + D("0.01")
        c = cid("g")
        await ad.submit(_limit(c, OrderSide.BUY, "2", px, "SOL/USDT"))
        await collect(ad)
        sim.set_faults(reorder_events=True)  # done before match: a gap the tracker holds
        await other.order("SOL-USDT", "sell", D("2"), px)
        events = await collect(ad, until=lambda ev: len(fills_of(ev, c)) >= 1)
        fills = fills_of(events, c)
        assert [(f.last_qty, f.done) for f in fills] == [(D("2"), True)]
        assert not any(isinstance(e, (VenueCanceled, VenueExpired)) for e in events)
    await other.aclose()


@pytest.mark.parametrize("mode", ["error", "drop", "hang"])
async def test_timed_out_submit_found_not_duplicated(sim, mode):
    async with adapter(sim, sim.warp, request_timeout_s=0.5) as ad:
        bid, _ = await book_top(ad, "BTC-USDT")
        sim.set_faults(order_timeouts=1, order_timeout_mode=mode, hang_seconds=1.0)
        c = cid(f"t{mode}")
        report = await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))
        assert report.status is OrderStatus.NEW and report.client_order_id == c
        events = await collect(ad)
        assert [(type(e), e.client_order_id) for e in events] == [(VenueAccepted, c)]
        assert len([r for r in await ad.open_orders("BTC/USDT") if r.client_order_id == c]) == 1
        assert ad.health().unresolved_orders == 0
        await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))


async def test_injected_429s_backed_off_and_retried_caller_sees_success(sim):
    async with adapter(sim, sim.warp) as ad:
        bid, _ = await book_top(ad, "BTC-USDT")
        sim.set_faults(rate_limit_burst=2, rate_limit_retry_after_s=3)
        slept = sim.warp.slept
        c = cid("l")
        report = await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))
        assert report.status is OrderStatus.NEW
        assert ad.limiter.rate_limited_count == 2 and sim.warp.slept - slept >= 5.5  # Retry-After (3 s) honoured twice
        assert [type(e) for e in await collect(ad)] == [VenueAccepted]  # placed once
        await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))


async def test_bad_secret_refused_at_start_with_auth_error(sim):
    with pytest.raises(VenueAuthError):
        async with adapter(sim, sim.warp, api_secret="d3Jvbmcgc2VjcmV0IG9mIGEgdGVzdA==", request_timeout_s=0.5):
            pass


async def test_skewed_venue_clock_corrected_by_offset(sim):
    sim.set_faults(clock_skew_ms=90_000)  # three times the venue's 30 s window
    async with adapter(sim, sim.warp) as ad:
        assert abs(ad.health().clock_offset_ms - 90_000) < 5_000
        bid, _ = await book_top(ad, "BTC-USDT")
        c = cid("k")
        assert (await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))).status is OrderStatus.NEW
        assert ad.health().stream_state is StreamState.SUBSCRIBED  # the feed's signature too
        await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))


async def test_duplicated_feed_messages_reported_once(sim):
    other = Counterparty(sim, sim.warp)
    async with adapter(sim, sim.warp) as ad:
        bid, _ = await book_top(ad, "ETH-USDT")
        px = bid + D("0.01")
        sim.set_faults(duplicate_events=True)
        c = cid("d")
        await ad.submit(_limit(c, OrderSide.BUY, "0.3", px, "ETH/USDT"))
        await other.order("ETH-USDT", "sell", D("0.1"), px)
        await other.order("ETH-USDT", "sell", D("0.2"), px)
        events = await collect(ad, until=lambda ev: len(fills_of(ev, c)) >= 2)
        assert [type(e) for e in events] == [VenueAccepted, VenueFilled, VenueFilled]
        assert [f.cum_qty for f in fills_of(events, c)] == [D("0.1"), D("0.3")]
    await other.aclose()


async def test_balances_all_assets_in_one_call(sim):
    async with adapter(sim, sim.warp) as ad:
        before = ad.http.requests
        balances = await ad.balances()
        assert ad.http.requests == before + 1
        assert {"BTC", "USDT", "ETH"} <= set(balances)
        assert all(avail >= 0 and hold >= 0 for avail, hold in balances.values())


def test_config_from_venue_config_needs_passphrase(monkeypatch):
    monkeypatch.delenv("COINBASE_API_PASSPHRASE", raising=False)
    venue = VenueConfig(name="cb", kind="coinbase", rest_url="http://x", ws_url="ws://x/", api_key="k",
                        api_secret="c2VjcmV0", api_passphrase="pp")
    cfg = CoinbaseConfig.from_venue_config(venue)
    assert (cfg.name, cfg.ws_url, cfg.passphrase) == ("cb", "ws://x/", "pp")
    assert "pp" not in repr(cfg) and "c2VjcmV0" not in repr(cfg)
    with pytest.raises(ConfigError):
        CoinbaseConfig.from_venue_config(VenueConfig(name="cb", kind="coinbase", rest_url="http://x", api_key="k",
                                                     api_secret="c2VjcmV0"))
    monkeypatch.setenv("COINBASE_API_PASSPHRASE", "from-env")
    assert CoinbaseConfig.from_venue_config(VenueConfig(name="cb", kind="coinbase", rest_url="http://x",
                                                        api_key="k", api_secret="c2VjcmV0")).passphrase == "from-env"


async def test_ioc_and_market_remainders_expire(sim):
    async with adapter(sim, sim.warp) as ad:
        _, ask = await book_top(ad, "BTC-USDT")
        c = cid("i")
        await ad.submit(_limit(c, OrderSide.BUY, "10", ask, time_in_force=TimeInForce.IOC))
        events = await collect(ad, until=lambda ev: any(isinstance(e, VenueExpired) for e in ev))
        assert [type(e) for e in events][0] is VenueAccepted and isinstance(events[-1], VenueExpired)
        assert not any(isinstance(e, VenueCanceled) for e in events)
        filled = sum((f.last_qty for f in fills_of(events, c)), D(0))
        assert 0 <= filled < D("10") and events[-1].cum_qty == filled


async def test_venue_clock_jump_mid_session_feed_resubscribes_after_resync(sim):
    async with adapter(sim, sim.warp) as ad:
        sim.set_faults(clock_skew_ms=120_000)
        sim.drop_websockets()  # the resubscription meets the jumped clock
        with anyio.fail_after(10):
            while ad.health().stream_reconnects < 1 or ad.health().stream_state is not StreamState.SUBSCRIBED:
                await anyio.sleep(0.05)
        assert abs(ad.health().clock_offset_ms - 120_000) < 5_000
