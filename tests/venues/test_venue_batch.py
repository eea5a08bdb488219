"""Batch order entry through the venue port (``submit_batch``) against the simulator over real sockets.

Kraken has ``AddOrderBatch`` (2-15 orders of one pair, n/2 on the trading counter): a batch of N
orders costs fewer requests and less counter than N single orders, counted at the simulator. Binance
and Coinbase have no batch entry: the port's default sends one ``submit`` per order, concurrently.
"""

from __future__ import annotations

import itertools
from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixgw.errors import VenueRejected
from fixgw.orders.enums import OrderSide, OrderStatus, OrderType
from fixgw.sim import DEMO_ACCOUNT
from fixgw.sim.kraken.limits import KrakenLimits
from fixgw.sim.kraken.venue import venue_of
from fixgw.venues.base import CancelOrder, NewOrder, OrderReport, VenueAccepted
from fixgw.venues.kraken.batch import BATCH_MAX, plan_batches

from . import harness_coinbase, harness_kraken, simharness

pytestmark = pytest.mark.anyio

_ids = itertools.count(1)


def cid(tag: str) -> str:
    return f"{tag}-{next(_ids)}"


def _limit(c: str, qty: str, px: D, symbol: str = "BTC/USDT", side: OrderSide = OrderSide.BUY) -> NewOrder:
    return NewOrder(c, symbol, side, OrderType.LIMIT, quantity=D(qty), price=px)


@pytest.fixture(scope="module")
def kraken() -> Any:
    # the trading counter does not decay here, so what each request added can be read exactly
    server, warp = harness_kraken.start_sim(limits=KrakenLimits(rest_max=10_000, trade_max=10_000, trade_decay=0.0))
    server.warp = warp
    yield server
    server.stop()


def _kraken_counts(sim: Any, engine_symbol: str = "BTCUSDT") -> tuple[int, int, float]:
    """(AddOrder calls, AddOrderBatch calls, the pair's trading counter) at the simulator."""
    def read(st: Any) -> tuple[int, int, float]:
        v = venue_of(st)
        pair = v.pairs.engine(engine_symbol)
        return (v.calls["AddOrder"], v.calls["AddOrderBatch"],
                v.counters.value(("trade", DEMO_ACCOUNT, pair.pair_id), 0.0, st.now_ms()))
    return sim.call(read)


def _delta(after: tuple[Any, ...], before: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(a - b for a, b in zip(after, before))


async def test_kraken_batch_of_n_orders_costs_fewer_requests_and_less_counter_than_n_singles(kraken):
    n = 6
    async with harness_kraken.adapter(kraken, kraken.warp) as ad:
        bid, _ = await harness_kraken.book_top(ad, "BTCUSDT")
        before = _kraken_counts(kraken)
        for i in range(n):
            await ad.submit(_limit(cid("one"), "0.001", bid - 1000 - i))
        singles = _delta(_kraken_counts(kraken), before)
        before = _kraken_counts(kraken)
        orders = [_limit(cid("bat"), "0.001", bid - 1000 - i) for i in range(n)]
        outcomes = await ad.submit_batch(orders)
        batch = _delta(_kraken_counts(kraken), before)
        assert singles == (n, 0, n)  # one request and +1 on the counter per order
        assert batch == (0, 1, n / 2)  # one request, +n/2
        assert [(type(o), o.client_order_id, o.status) for o in outcomes] == [
            (OrderReport, o.client_order_id, OrderStatus.NEW) for o in orders]
        assert len({o.venue_order_id for o in outcomes}) == n
        events = await harness_kraken.collect(ad)
        accepted = [e.client_order_id for e in events if isinstance(e, VenueAccepted)
                    and e.client_order_id.startswith("bat")]
        assert sorted(accepted) == sorted(o.client_order_id for o in orders)  # each once
        await ad.cancel_all("BTC/USDT")


async def test_kraken_batch_one_order_refused_by_engine_others_placed_in_request_order(kraken):
    async with harness_kraken.adapter(kraken, kraken.warp) as ad:
        bid, _ = await harness_kraken.book_top(ad, "BTCUSDT")
        good1, broke, bad_tick, good2 = cid("ok"), cid("funds"), cid("tick"), cid("ok")
        orders = [_limit(good1, "0.001", bid - 1000), _limit(broke, "100", bid - 1000),
                  _limit(bad_tick, "0.001", bid - 1000 + D("0.001")), _limit(good2, "0.001", bid - 1001)]
        before = _kraken_counts(kraken)
        outcomes = await ad.submit_batch(orders)
        assert _delta(_kraken_counts(kraken), before)[:2] == (0, 1)  # the refused-here one left out
        ok1, funds, tick, ok2 = outcomes
        assert (ok1.client_order_id, ok1.status, ok2.client_order_id, ok2.status) == (
            good1, OrderStatus.NEW, good2, OrderStatus.NEW)
        assert isinstance(funds, VenueRejected) and funds.reason == "insufficient_balance"
        assert funds.message == "EOrder:Insufficient funds"  # the venue's words, for that order alone
        assert isinstance(tick, VenueRejected) and tick.code == "LOCAL"
        open_ids = {r.client_order_id for r in await ad.open_orders("BTC/USDT")}
        assert {good1, good2} <= open_ids and not {broke, bad_tick} & open_ids
        await ad.cancel_all("BTC/USDT")


async def test_kraken_batch_refused_whole_by_venue_each_order_carries_its_text(kraken):
    async with harness_kraken.adapter(kraken, kraken.warp) as ad:
        bid, _ = await harness_kraken.book_top(ad, "BTCUSDT")
        orders = [_limit(cid("w"), "0.001", bid - 1000), _limit(cid("w"), "0.001", bid - 1000 + D("0.001"))]
        outcomes = await ad._add_batch("BTC/USDT", orders)  # past our own rules: the venue's check
        assert [(type(o), o.message) for o in outcomes] == [(VenueRejected, "EOrder:Tick size check failed")] * 2
        open_ids = {r.client_order_id for r in await ad.open_orders("BTC/USDT")}
        assert not {o.client_order_id for o in orders} & open_ids  # validation refused the whole batch


async def test_kraken_batch_split_by_pair_and_by_max_size(kraken):
    async with harness_kraken.adapter(kraken, kraken.warp) as ad:
        bid, _ = await harness_kraken.book_top(ad, "BTCUSDT")
        eth_bid, _ = await harness_kraken.book_top(ad, "ETHUSDT")
        btc = [_limit(cid("b"), "0.001", bid - 1000 - i) for i in range(BATCH_MAX + 2)]
        eth = _limit(cid("e"), "0.01", eth_bid - 100, "ETH/USDT")
        orders = btc[:8] + [eth] + btc[8:]
        before = _kraken_counts(kraken)
        outcomes = await ad.submit_batch(orders)
        added, batches, counter = _delta(_kraken_counts(kraken), before)
        assert (added, batches) == (1, 2)  # 17 BTC orders in two batches (9 + 8); the lone ETH order alone
        assert counter == len(btc) / 2
        assert [(o.client_order_id, o.symbol, o.status) for o in outcomes] == [
            (o.client_order_id, o.symbol, OrderStatus.NEW) for o in orders]
        await ad.cancel_all("BTC/USDT")
        await ad.cancel_all("ETH/USDT")


async def test_kraken_batch_lost_answer_orders_found_by_client_id_not_duplicated(kraken):
    async with harness_kraken.adapter(kraken, kraken.warp, request_timeout_s=0.5) as ad:
        bid, _ = await harness_kraken.book_top(ad, "BTCUSDT")
        kraken.set_faults(order_timeouts=1, order_timeout_mode="error")
        orders = [_limit(cid("lost"), "0.001", bid - 1000 - i) for i in range(3)]
        outcomes = await ad.submit_batch(orders)
        assert [(type(o), o.client_order_id, o.status) for o in outcomes] == [
            (OrderReport, o.client_order_id, OrderStatus.NEW) for o in orders]
        mine = [r for r in await ad.open_orders("BTC/USDT") if r.client_order_id in {o.client_order_id for o in orders}]
        assert len(mine) == 3
        await ad.cancel_all("BTC/USDT")
    kraken.reset_faults()


async def test_kraken_cancel_batch_one_request_ended_order_reported_unknown_refused(kraken):
    async with harness_kraken.adapter(kraken, kraken.warp) as ad:
        bid, _ = await harness_kraken.book_top(ad, "BTCUSDT")
        orders = [_limit(cid("cb"), "0.001", bid - 1000 - i) for i in range(3)]
        await ad.submit_batch(orders)
        await ad.cancel(CancelOrder("BTC/USDT", client_order_id=orders[2].client_order_id))  # ended already
        before = kraken.call(lambda st: venue_of(st).calls["CancelOrderBatch"])
        requests = [CancelOrder("BTC/USDT", client_order_id=o.client_order_id) for o in orders]
        requests.append(CancelOrder("BTC/USDT", client_order_id=cid("never")))
        outcomes = await ad.cancel_batch(requests)
        assert kraken.call(lambda st: venue_of(st).calls["CancelOrderBatch"]) - before == 1
        assert [o.status for o in outcomes[:3]] == [OrderStatus.CANCELED] * 3
        assert isinstance(outcomes[3], VenueRejected) and outcomes[3].reason == "unknown_order"


@pytest.mark.parametrize("h", [simharness, harness_coinbase], ids=["binance", "coinbase"])
async def test_venue_without_batch_entry_submit_batch_sends_single_orders(h):
    server, warp = h.start_sim()
    try:
        async with h.adapter(server, warp) as ad:
            assert ad.capabilities.batch_orders == 1
            sent: list[str] = []
            single = ad.submit

            async def counted(order: NewOrder) -> Any:
                sent.append(order.client_order_id)
                return await single(order)

            ad.submit = counted  # the real submit, counted
            bid, _ = await h.book_top(ad, "BTCUSDT")
            orders = [_limit(cid("s"), "0.001", bid - 1000 - i) for i in range(3)]
            orders.insert(1, _limit(cid("bad"), "0.001", bid - 1000 + D("0.001")))
            outcomes = await ad.submit_batch(orders)
            assert sorted(sent) == sorted(o.client_order_id for o in orders)  # one single call per order
            assert [type(o) for o in outcomes] == [OrderReport, VenueRejected, OrderReport, OrderReport]
            assert [o.client_order_id for o in outcomes if isinstance(o, OrderReport)] == [
                orders[0].client_order_id, orders[2].client_order_id, orders[3].client_order_id]
            canceled = await ad.cancel_batch([CancelOrder("BTC/USDT", client_order_id=o.client_order_id)
                                              for o in orders])  # the port's default: one cancel each
            assert [type(o) for o in canceled] == [OrderReport, VenueRejected, OrderReport, OrderReport]
            assert [o.status for o in canceled if isinstance(o, OrderReport)] == [OrderStatus.CANCELED] * 3
    finally:
        server.stop()


@given(st.lists(st.sampled_from(["BTC/USDT", "ETH/USDT", "SOL/USDT"]), max_size=80), st.integers(2, 15))
def test_kraken_plan_batches_one_symbol_at_most_size_fewest_even_every_index_once(symbols, size):
    items = list(enumerate(symbols))
    plan = plan_batches(items, size)
    assert sorted(i for _, chunk in plan for i in chunk) == list(range(len(symbols)))  # each once
    for symbol, chunk in plan:
        assert chunk and len(chunk) <= size and all(symbols[i] == symbol for i in chunk)
        assert chunk == sorted(chunk)
    for symbol in set(symbols):
        sizes = [len(c) for s, c in plan if s == symbol]
        assert len(sizes) == -(-symbols.count(symbol) // size)  # as few requests as the rules allow
        assert max(sizes) - min(sizes) <= 1  # and as even as can be
