"""Adapter conformance suite: every venue adapter against the simulator speaking its venue's dialect.

One suite, parameterised over dialects: each case runs against every harness module that exists —
``simharness`` (Binance, with orders over the WebSocket API and over REST), ``harness_coinbase`` and
``harness_kraken`` — each exposing ``DIALECT``, ``start_sim``, ``config``, ``adapter``, ``book_top``,
``Counterparty``, ``collect`` and ``fills_of``. Symbols are written as the port spells them
(``BTC/USDT``) and as the shared matching engine does (``BTCUSDT``); each harness maps the latter to
its venue's spelling. Cases that only one venue has (Binance's request weight, 418 bans, filter test
endpoint, WebSocket API order entry) are in ``test_conformance_binance.py``. A case a venue cannot
have (in-place amend) is skipped by the adapter's declared capabilities, never by the venue's name.

Cases are numbered (c01 ...). Each case uses its own client order ids; the simulator is shared per
dialect and its fault switches are reset after every case.
"""

from __future__ import annotations

import importlib
import itertools
from dataclasses import dataclass
from decimal import Decimal as D
from types import ModuleType
from typing import Any

import anyio
import pytest

from fixgw.errors import VenueRejected
from fixgw.orders.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from fixgw.sim import SimServer
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
from . import simharness

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

_ids = itertools.count(1)


def _harness(name: str) -> ModuleType | None:
    """The harness module of a dialect, or ``None`` while it does not exist (a broken one still fails)."""
    module = f"{__package__}.harness_{name}"
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise


#: (id, harness, adapter options): Binance twice, its orders over the WebSocket API and over REST
DIALECTS = [("binance-ws", simharness, {"order_entry": "ws"}), ("binance-rest", simharness, {"order_entry": "rest"})]
DIALECTS += [(name, h, {}) for name in ("coinbase", "kraken") if (h := _harness(name)) is not None]
#: the adapter class of each dialect, as its harness imports it
ADAPTER_CLASSES = {"binance": "BinanceAdapter", "coinbase": "CoinbaseExchangeAdapter", "kraken": "KrakenAdapter"}
#: the resolution of a venue's server time, ms (Kraken's Time answers whole seconds): the error of a
#: measured clock offset is up to half of it, beside the request's own latency
CLOCK_RESOLUTION_MS = {"binance": 1, "coinbase": 1, "kraken": 1000}


@dataclass
class Venue:
    """One dialect's simulator and the way its harness builds adapters and a counterparty."""

    id: str
    h: ModuleType
    sim: SimServer
    warp: Any
    options: dict[str, Any]

    def adapter(self, sim: SimServer | None = None, warp: Any = None, **kw: Any) -> Any:
        return self.h.adapter(sim or self.sim, warp or self.warp, **{**self.options, **kw})

    def config(self, **kw: Any) -> Any:
        return self.h.config(self.sim, **{**self.options, **kw})

    def counterparty(self) -> Any:
        return self.h.Counterparty(self.sim, self.warp)

    async def top(self, ad: Any, engine_symbol: str) -> tuple[D, D]:
        return await self.h.book_top(ad, engine_symbol)

    def engine_top(self, engine_symbol: str, side: str) -> tuple[D, D]:
        """The best level (price, quantity) of one side of the shared engine's book."""
        return self.sim.call(lambda st: st.engine.books[engine_symbol].levels(side, 1)[0])

    def sent_over(self, ad: Any) -> None:
        """Binance: the orders of a case went the configured way (WebSocket API or REST)."""
        if self.options.get("order_entry") == "ws":
            assert ad.wsapi is not None and ad.wsapi.requests > 0
        elif self.options.get("order_entry") == "rest":
            assert ad.wsapi is None


@pytest.fixture(scope="module", params=DIALECTS, ids=[d[0] for d in DIALECTS])
def venue(request: pytest.FixtureRequest) -> Any:
    name, h, options = request.param
    server, warp = h.start_sim()
    yield Venue(name, h, server, warp, options)
    server.stop()


@pytest.fixture(autouse=True)
def _reset_faults(venue: Venue) -> Any:
    yield
    venue.sim.reset_faults()


def cid(tag: str) -> str:
    return f"{tag}-{next(_ids)}"


def _limit(c: str, side: OrderSide, qty: str, px: D | str, symbol: str = "BTC/USDT", **kw: Any) -> NewOrder:
    return NewOrder(c, symbol, side, OrderType.LIMIT, quantity=D(qty), price=D(px), **kw)


async def test_c01_place_limit_ack_event_and_query_agree(venue: Venue) -> None:
    async with venue.adapter() as ad:
        bid, _ = await venue.top(ad, "BTCUSDT")
        c = cid("c01")
        report = await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))
        assert report.status is OrderStatus.NEW and report.venue_order_id
        events = await venue.h.collect(ad)
        assert [type(e) for e in events] == [VenueAccepted]
        ack = events[0]
        assert (ack.client_order_id, ack.venue_order_id, ack.quantity, ack.price) == (
            c, report.venue_order_id, D("0.001"), bid - 1000)
        q = await ad.query("BTC/USDT", client_order_id=c)
        assert q.status is OrderStatus.NEW and q.quantity == D("0.001") and q.cum_qty == 0
        assert ad.health().stream_state is StreamState.SUBSCRIBED
        await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))
        venue.sent_over(ad)


async def test_c02_partial_then_full_fill_exact_quantities(venue: Venue) -> None:
    other = venue.counterparty()
    async with venue.adapter() as ad:
        bid, ask = await venue.top(ad, "ETHUSDT")
        px = bid + D("0.01")
        assert px < ask
        c = cid("c02")
        await ad.submit(_limit(c, OrderSide.BUY, "0.5", px, "ETH/USDT"))
        await other.order("ETHUSDT", "SELL", D("0.3"), px)
        await other.order("ETHUSDT", "SELL", D("0.2"), px)
        events = await venue.h.collect(ad, until=lambda ev: len(venue.h.fills_of(ev, c)) >= 2)
        fills = venue.h.fills_of(events, c)
        assert [(f.last_qty, f.cum_qty, f.done) for f in fills] == [
            (D("0.3"), D("0.3"), False), (D("0.2"), D("0.5"), True)]
        assert all(f.last_px == px for f in fills)
        assert len({f.trade_id for f in fills}) == 2 and all(not f.trade_id.startswith("recon:") for f in fills)
        assert all(f.fee > 0 and f.fee_asset in ("ETH", "USDT") for f in fills)  # the venue says in which
        q = await ad.query("ETH/USDT", client_order_id=c)
        assert q.status is OrderStatus.FILLED and q.cum_qty == D("0.5") and q.avg_px == px
    await other.aclose()


async def test_c03_cancel_once_then_unknown(venue: Venue) -> None:
    async with venue.adapter() as ad:
        bid, _ = await venue.top(ad, "BTCUSDT")
        c = cid("c03")
        await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 2000))
        report = await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))
        assert report.status is OrderStatus.CANCELED and report.client_order_id == c
        events = await venue.h.collect(ad)
        assert [type(e) for e in events] == [VenueAccepted, VenueCanceled]
        assert events[1].client_order_id == c
        with pytest.raises(VenueRejected) as info:
            await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))
        assert info.value.reason == "unknown_order"
        assert await venue.h.collect(ad, quiet_s=0.2) == []


async def test_c04_amend_keep_priority_decrease_then_increase_refused(venue: Venue) -> None:
    async with venue.adapter() as ad:
        if not ad.capabilities.amend_keeps_priority:
            pytest.skip("the venue has no in-place amend (its capabilities say so)")
        bid, _ = await venue.top(ad, "BTCUSDT")
        c, c2 = cid("c04"), cid("c04b")
        placed = await ad.submit(_limit(c, OrderSide.BUY, "0.003", bid - 1500))
        report = await ad.amend(AmendOrder("BTC/USDT", D("0.002"), orig_client_order_id=c, new_client_order_id=c2))
        assert report.quantity == D("0.002") and report.venue_order_id == placed.venue_order_id
        events = await venue.h.collect(ad)
        amended = [e for e in events if isinstance(e, VenueAmended)]
        assert len(amended) == 1
        assert (amended[0].client_order_id, amended[0].orig_client_order_id, amended[0].quantity) == (c2, c, D("0.002"))
        q = await ad.query("BTC/USDT", client_order_id=c2)
        assert q.quantity == D("0.002") and q.venue_order_id == placed.venue_order_id
        with pytest.raises(VenueRejected):
            await ad.amend(AmendOrder("BTC/USDT", D("0.005"), orig_client_order_id=c2))
        await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c2))


async def test_c05_cancel_replace_new_venue_id_old_canceled(venue: Venue) -> None:
    async with venue.adapter() as ad:
        bid, _ = await venue.top(ad, "BTCUSDT")
        c, c2 = cid("c05"), cid("c05b")
        old = await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))
        new = await ad.replace(ReplaceOrder(c, _limit(c2, OrderSide.BUY, "0.002", bid - 900)))
        assert new.venue_order_id != old.venue_order_id and new.client_order_id == c2
        events = await venue.h.collect(ad)
        kinds = [(type(e), e.client_order_id) for e in events]
        assert kinds == [(VenueAccepted, c), (VenueCanceled, c), (VenueAccepted, c2)]
        assert events[2].price == bid - 900 and events[2].quantity == D("0.002")
        with pytest.raises(VenueRejected) as info:
            await ad.replace(ReplaceOrder(cid("nope"), _limit(cid("c05c"), OrderSide.BUY, "0.001", bid - 800)))
        assert info.value.reason == "unknown_order"
        open_ids = {r.client_order_id for r in await ad.open_orders("BTC/USDT")}
        assert c2 in open_ids and c not in open_ids
        await ad.cancel_all("BTC/USDT")


async def test_c07_unknown_symbol_rejected_before_sending(venue: Venue) -> None:
    async with venue.adapter() as ad:
        with pytest.raises(VenueRejected) as info:
            await ad.submit(_limit(cid("c07"), OrderSide.BUY, "1", "1", symbol="FOO/BAR"))
        assert info.value.reason == "unknown_symbol"
        assert await venue.h.collect(ad, quiet_s=0.1) == []


async def test_c08_duplicate_client_order_id_rejected_original_intact(venue: Venue) -> None:
    async with venue.adapter() as ad:
        bid, _ = await venue.top(ad, "BTCUSDT")
        c = cid("c08")
        first = await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))
        with pytest.raises(VenueRejected) as info:
            await ad.submit(_limit(c, OrderSide.BUY, "0.002", bid - 1100))
        assert info.value.reason == "duplicate_order"
        events = await venue.h.collect(ad)
        assert [type(e) for e in events] == [VenueAccepted]
        q = await ad.query("BTC/USDT", client_order_id=c)
        assert q.venue_order_id == first.venue_order_id and q.quantity == D("0.001") and q.status is OrderStatus.NEW
        await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))


async def test_c09_ioc_and_market_remainders_expire(venue: Venue) -> None:
    async with venue.adapter() as ad:
        best_ask, best_qty = venue.engine_top("SOLUSDT", "SELL")
        c = cid("c09")
        qty = best_qty + D("1")
        report = await ad.submit(_limit(c, OrderSide.BUY, str(qty), best_ask, "SOL/USDT", time_in_force=TimeInForce.IOC))
        events = await venue.h.collect(ad, until=lambda ev: any(isinstance(e, VenueExpired) for e in ev))
        mine = [e for e in events if e.client_order_id == c]
        assert [type(e) for e in mine] == [VenueAccepted, VenueFilled, VenueExpired]
        assert mine[1].last_qty == best_qty and mine[2].cum_qty == best_qty
        if report.status.is_terminal:  # the venue answered after matching (else the events said it)
            assert report.status is OrderStatus.EXPIRED and report.cum_qty == best_qty


async def test_c11_injected_429s_retried_caller_sees_success(venue: Venue) -> None:
    async with venue.adapter() as ad:
        bid, _ = await venue.top(ad, "BTCUSDT")
        venue.sim.set_faults(rate_limit_burst=2)
        c = cid("c11")
        report = await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))
        assert report.status is OrderStatus.NEW
        assert ad.limiter.rate_limited_count == 2
        assert [type(e) for e in await venue.h.collect(ad)] == [VenueAccepted]
        await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))


async def test_c13_fill_missed_during_stream_outage_reported_exactly_once(venue: Venue) -> None:
    gate = anyio.Event()

    async def stream_sleep(_s: float) -> None:
        await gate.wait()

    other = venue.counterparty()
    async with venue.adapter(stream_sleep=stream_sleep) as ad:
        bid, ask = await venue.top(ad, "ETHUSDT")
        px = bid + D("0.01")
        c = cid("c13")
        await ad.submit(_limit(c, OrderSide.BUY, "0.4", px, "ETH/USDT"))
        assert [type(e) for e in await venue.h.collect(ad)] == [VenueAccepted]
        venue.sim.drop_websockets()
        with anyio.fail_after(5):
            while ad.stream.state is not StreamState.DISCONNECTED:
                await anyio.sleep(0.01)
        await other.order("ETHUSDT", "SELL", D("0.25"), px)  # happens while we are deaf
        assert await venue.h.collect(ad, quiet_s=0.3) == []
        gate.set()  # reconnect: resubscribe, then reconcile
        events = await venue.h.collect(ad, until=lambda ev: len(venue.h.fills_of(ev, c)) >= 1, quiet_s=1.5)
        fills = venue.h.fills_of(events, c)
        assert len(fills) == 1 and len(events) == 1
        f = fills[0]
        assert (f.last_qty, f.cum_qty, f.last_px, f.done) == (D("0.25"), D("0.25"), px, False)
        assert f.from_reconciliation and not f.trade_id.startswith("recon:")  # the real trade id, from the trade list
        assert ad.health().stream_reconnects == 1
        await ad.reconcile()  # again: nothing new
        assert await venue.h.collect(ad, quiet_s=0.3) == []
        # and the stream is live again
        await other.order("ETHUSDT", "SELL", D("0.15"), px)
        events = await venue.h.collect(ad, until=lambda ev: len(venue.h.fills_of(ev, c)) >= 1)
        assert [(f.last_qty, f.cum_qty, f.done, f.from_reconciliation) for f in venue.h.fills_of(events, c)] == [
            (D("0.15"), D("0.4"), True, False)]
    await other.aclose()


@pytest.mark.parametrize("mode", ["error", "drop", "hang"])
async def test_c14_timed_out_submit_found_by_reconciliation_not_duplicated(venue: Venue, mode: str) -> None:
    async with venue.adapter(request_timeout_s=0.5) as ad:
        bid, _ = await venue.top(ad, "BTCUSDT")
        venue.sim.set_faults(order_timeouts=1, order_timeout_mode=mode, hang_seconds=1.0)
        c = cid(f"c14{mode}")
        report = await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))
        assert report.status is OrderStatus.NEW and report.client_order_id == c
        events = await venue.h.collect(ad)
        assert [(type(e), e.client_order_id) for e in events] == [(VenueAccepted, c)]
        mine = [r for r in await ad.open_orders("BTC/USDT") if r.client_order_id == c]
        assert len(mine) == 1
        assert ad.health().unresolved_orders == 0
        await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))
        venue.sent_over(ad)


async def test_c15_clock_skew_measured_at_start_orders_accepted_through_a_jump(venue: Venue) -> None:
    venue.sim.set_faults(clock_skew_ms=5000)
    async with venue.adapter() as ad:
        tolerance = 300 + CLOCK_RESOLUTION_MS[venue.h.DIALECT] / 2
        assert ad.health().clock_offset_ms == pytest.approx(5000, abs=tolerance)
        bid, _ = await venue.top(ad, "BTCUSDT")
        c = cid("c15")
        assert (await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))).status is OrderStatus.NEW
        venue.sim.set_faults(clock_skew_ms=-4000)  # the venue's clock jumps: our stamps are now 4 s ahead
        c2 = cid("c15b")
        assert (await ad.submit(_limit(c2, OrderSide.BUY, "0.001", bid - 1000))).status is OrderStatus.NEW
        await ad.cancel_all("BTC/USDT")


async def test_c17_cancel_all_and_open_orders(venue: Venue) -> None:
    async with venue.adapter() as ad:
        bid, _ = await venue.top(ad, "BTCUSDT")
        await ad.cancel_all("BTC/USDT")
        await venue.h.collect(ad, quiet_s=0.2)  # what earlier cases left
        ids = [cid("c17") for _ in range(3)]
        for i, c in enumerate(ids):
            await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000 - i))
        assert {r.client_order_id for r in await ad.open_orders("BTC/USDT")} == set(ids)
        canceled = await ad.cancel_all("BTC/USDT")
        assert {r.client_order_id for r in canceled} == set(ids)
        assert all(r.status is OrderStatus.CANCELED for r in canceled)
        events = await venue.h.collect(ad)
        assert sorted(e.client_order_id for e in events if isinstance(e, VenueCanceled)) == sorted(ids)
        assert await ad.open_orders("BTC/USDT") == []


async def test_c18_run_in_caller_task_group_started_and_cancelled(venue: Venue) -> None:
    adapter_class = getattr(venue.h, ADAPTER_CLASSES[venue.h.DIALECT])
    ad = adapter_class(venue.config(), clock=venue.warp, sleep=venue.warp.sleep)
    async with anyio.create_task_group() as tg:
        started = await tg.start(ad.run)
        assert started is ad and ad.health().stream_state is StreamState.SUBSCRIBED
        bid, _ = await venue.top(ad, "BTCUSDT")
        c = cid("c18")
        await ad.submit(_limit(c, OrderSide.BUY, "0.001", bid - 1000))
        await ad.cancel(CancelOrder("BTC/USDT", client_order_id=c))
        assert [type(e) for e in await venue.h.collect(ad)] == [VenueAccepted, VenueCanceled]
        tg.cancel_scope.cancel()
    assert ad.health().stream_state is StreamState.DISCONNECTED
