"""BinanceMarketData against the simulator over real WebSockets and REST: the local book equals the
venue's book at every quiet point, through dropped, duplicated and reordered events, stale snapshots
and a dropped connection."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, AsyncIterator, Iterator

import anyio
import httpx
import pytest

from fixgw.sim import DEMO_ACCOUNT, SimConfig, SimServer
from fixgw.sim.model import NewOrder
from fixgw.venues.binance.marketdata import BinanceMarketData, Trade, stream_url_for

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
D = Decimal
SYMBOL = "BTC/USDT"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    server = SimServer(SimConfig(seed=5, maker_interval_s=None))
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Recorder:
    def __init__(self) -> None:
        self.books = 0
        self.trades: list[Trade] = []

    def on_book(self, symbol: str) -> None:
        self.books += 1

    def on_trade(self, symbol: str, trade: Trade) -> None:
        self.trades.append(trade)


async def _feed(sim: SimServer) -> AsyncIterator[tuple[BinanceMarketData, Recorder]]:
    sim.reset_faults()
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=10) as http:
        async def fetch(venue_symbol: str, limit: int) -> Any:
            r = await http.get("/api/v3/depth", params={"symbol": venue_symbol, "limit": limit})
            return r.json()

        feed = BinanceMarketData(sim.ws_combined_url, {SYMBOL: "BTCUSDT", "ETH/USDT": "ETHUSDT"}, fetch,
                                 backoff_base_s=0.05, backoff_cap_s=0.2)
        rec = Recorder()
        feed.listeners.append(rec)
        async with anyio.create_task_group() as tg:
            tg.start_soon(feed.run)
            try:
                yield feed, rec
            finally:
                tg.cancel_scope.cancel()


@pytest.fixture
async def feed(sim: SimServer) -> AsyncIterator[tuple[BinanceMarketData, Recorder]]:
    async for f in _feed(sim):
        yield f


def venue_book(sim: SimServer) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    def run(st: Any) -> Any:
        b = st.engine.books["BTCUSDT"]
        return list(b.levels("BUY", 5000)), list(b.levels("SELL", 5000))

    bids, asks = sim.call(run)
    return [(D(p), D(q)) for p, q in bids], [(D(p), D(q)) for p, q in asks]


def place_bids(sim: SimServer, n: int, *, offset: int = 1) -> None:
    """Rest ``n`` bids below the best bid, each in its own loop turn (one depth event each, unbatched
    only by the 100 ms interval)."""
    def run(st: Any) -> None:
        book = st.engine.books["BTCUSDT"]
        tick = st.engine.instruments["BTCUSDT"].tick_size
        best = book.best("BUY")
        for i in range(n):
            st.engine.place(DEMO_ACCOUNT, NewOrder("BTCUSDT", "BUY", "LIMIT", D("0.01"), best - tick * (offset + i),
                                                   "GTC"), st.now_ms())
            st.publish()

    sim.call(run)


async def quiet_and_equal(feed: BinanceMarketData, sim: SimServer, timeout: float = 10.0) -> None:
    """Wait until the local book is live and equals the venue's (the venue is quiet meanwhile)."""
    expected = venue_book(sim)
    with anyio.fail_after(timeout):
        while True:
            book = feed.books.get(SYMBOL)
            if book is not None and book.is_live and book.top() == expected:
                return
            await anyio.sleep(0.02)


async def test_md_binance_book_syncs_and_follows_the_venue(feed: Any, sim: SimServer) -> None:
    md, rec = feed
    md.acquire(SYMBOL)
    await quiet_and_equal(md, sim)
    for k in range(3):
        place_bids(sim, 3, offset=10 * k + 1)
        await anyio.sleep(0.15)  # separate 100 ms intervals: several events
        await quiet_and_equal(md, sim)
    assert md.books[SYMBOL].resyncs == 0 and md.snapshots_fetched == 1 and rec.books >= 2


@pytest.mark.parametrize(("fault", "reason"), [("depth_drop_events", "gap"), ("depth_reorder_events", "gap"),
                                               ("depth_duplicate_events", None)])
async def test_md_binance_fault_is_recovered_and_book_equals_venue(feed: Any, sim: SimServer, fault: str,
                                                                   reason: str | None) -> None:
    md, _ = feed
    md.acquire(SYMBOL)
    await quiet_and_equal(md, sim)
    sim.set_faults(**{fault: 1})
    for k in range(3):
        place_bids(sim, 2, offset=20 * k + 2)
        await anyio.sleep(0.15)
    await quiet_and_equal(md, sim)
    book = md.books[SYMBOL]
    if reason is None:
        assert book.resyncs == 0 and book.ignored >= 1  # a duplicate is old news, not a gap
    else:
        assert book.resync_reasons[reason] >= 1 and md.snapshots_fetched >= 2


async def test_md_binance_stale_snapshot_is_refused_and_refetched(feed: Any, sim: SimServer) -> None:
    # The first snapshot is fetched once the SUBSCRIBE is acknowledged (a quiet market sends no event):
    # with no event buffered yet a stale one shows as a gap at the first event, else it is refused at once.
    md, _ = feed
    sim.set_faults(stale_depth_snapshots=1)
    place_bids(sim, 2, offset=3)  # the stale snapshot is older than these
    md.acquire(SYMBOL)
    for _ in range(3):
        await anyio.sleep(0.15)
        place_bids(sim, 1, offset=40)
    await quiet_and_equal(md, sim)
    book = md.books[SYMBOL]
    assert book.stale_snapshots + book.resync_reasons["gap"] >= 1 and md.snapshots_fetched >= 2


async def test_md_binance_dropped_connection_resubscribes_and_resyncs(feed: Any, sim: SimServer) -> None:
    md, _ = feed
    md.acquire(SYMBOL)
    await quiet_and_equal(md, sim)
    connects = md.ws.connects
    sim.drop_websockets()
    with anyio.fail_after(10):
        while md.ws.connects == connects:
            await anyio.sleep(0.02)
    place_bids(sim, 2, offset=60)
    await quiet_and_equal(md, sim)
    assert md.books[SYMBOL].resync_reasons["stream_lost"] == 1


async def test_md_binance_subscription_is_shared_and_released_by_the_last_consumer(feed: Any, sim: SimServer) -> None:
    md, _ = feed
    first = md.acquire(SYMBOL)
    assert md.acquire(SYMBOL) is first and md.subscribed() == [SYMBOL]
    await quiet_and_equal(md, sim)
    md.release(SYMBOL)
    assert md.subscribed() == [SYMBOL]
    md.release(SYMBOL)
    assert md.subscribed() == [] and SYMBOL not in md.books
    with pytest.raises(Exception, match="unknown symbol"):
        md.acquire("NOPE/USDT")


async def test_md_binance_trades_feed_candles(feed: Any, sim: SimServer) -> None:
    md, rec = feed
    md.acquire(SYMBOL)
    await quiet_and_equal(md, sim)

    def cross(st: Any) -> None:
        ask = st.engine.books["BTCUSDT"].best("SELL")
        st.engine.place(DEMO_ACCOUNT, NewOrder("BTCUSDT", "BUY", "LIMIT", D("0.001"), ask, "IOC"), st.now_ms())
        st.publish()

    sim.call(cross)
    with anyio.fail_after(10):
        while not rec.trades:
            await anyio.sleep(0.02)
    t = rec.trades[0]
    candle = md.candles[SYMBOL]["1m"].latest()
    assert candle is not None and candle.trades >= 1 and candle.close == rec.trades[-1].price
    assert md.last_trade[SYMBOL] == rec.trades[-1] and t.qty > 0


def test_md_binance_stream_url_beside_the_ws_api() -> None:
    assert stream_url_for("ws://127.0.0.1:8080/ws-api/v3") == "ws://127.0.0.1:8080/stream"
    assert stream_url_for("wss://ws-api.binance.com:443/ws-api/v3") == "wss://stream.binance.com:9443/stream"


async def test_md_binance_symbols_acquired_on_a_live_connection_are_subscribed_together(
        feed: Any, sim: SimServer) -> None:
    md, _ = feed
    md.acquire(SYMBOL)
    await quiet_and_equal(md, sim)
    connects = md.ws.connects
    md.acquire("ETH/USDT")
    md.release(SYMBOL)
    md.acquire(SYMBOL)  # back before the sender ran: coalesced, the book stays subscribed
    with anyio.fail_after(10):
        while not all(b.is_live for b in md.books.values()):
            await anyio.sleep(0.02)
    assert set(md.books) == {SYMBOL, "ETH/USDT"} and md.ws.connects == connects
    await quiet_and_equal(md, sim)
