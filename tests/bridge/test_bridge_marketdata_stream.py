"""The stream's market-data channels (``book``, ``trades``, ``candles``): over the real stack (simulator,
gateway, uvicorn, signing client), and the conflation rules over a real ``MarketWatch`` fed by real
``LocalBook`` and ``Candles`` objects."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import pytest
from bridge_helpers import READ_SECRET
from gateway.fixclient import FixClient
from hypothesis import given
from hypothesis import strategies as st
from test_bridge_gateway import sim  # noqa: F401  (sim: a fixture)
from test_bridge_marketdata import levels, md_stack, place, reader, sim_book

from fixgw.bridge.errors import ApiError
from fixgw.bridge.marketdata import MarketWatch
from fixgw.bridge.md_stream import MAX_TRADES, MarketStream, parse_channel
from fixgw.clock import FakeClock
from fixgw.jsonio import dumps, loads
from fixgw.sim import SimServer
from fixgw.venues._common.book import DepthSnapshot, DepthUpdate, LocalBook
from fixgw.venues._common.candles import Candles
from fixgw.venues.binance.marketdata import Trade

D = Decimal


async def recv_until(s: Any, pred: Any, timeout: float = 10.0) -> dict[str, Any]:
    with anyio.fail_after(timeout):
        while True:
            msg = await s.recv()
            if pred(msg):
                return msg


# -- over the real stack ---------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.slow
async def test_bridge_stream_market_channels_deliver_book_trades_and_candles(sim: SimServer) -> None:
    place(sim, "BUY", "0.5", "59990")
    place(sim, "SELL", "0.4", "60010")
    async with md_stack(sim) as (gw, url, watch), reader(url) as c:
        params = {"channels": "book:BTC/USDT:3,trades:BTCUSDT,candles:BTC/USDT:1m"}
        async with c.stream("/v1/stream", params=params) as s:
            hello = await s.recv()
            assert hello["type"] == "hello" and hello["channels"] == []
            assert hello["market_data"] == {"channels": ["book:BTC/USDT:3@sim", "candles:BTC/USDT:1m@sim",
                                                         "trades:BTC/USDT@sim"], "replay": False}
            book = await recv_until(s, lambda m: m["type"] == "book" and m["state"] == "synced")
            assert book["channel"] == "book:BTC/USDT:3@sim"
            place(sim, "BUY", "0.3", "59995")
            place(sim, "BUY", "0.1", "60010")  # a trade: 0.1 at 60010
            uid, bids, asks = sim_book(sim, 3)
            got: dict[str, dict[str, Any]] = {}
            with anyio.fail_after(10):
                while not ("trades" in got and "candles" in got and got.get("book", {}).get("last_update_id") == uid):
                    msg = await s.recv()
                    got[msg["type"]] = msg
            book, trades, candles = got["book"], got["trades"], got["candles"]
            assert (levels(book["bids"]), levels(book["asks"])) == (bids, asks)
            [t] = trades["trades"]
            assert (t["price"], t["quantity"], trades["dropped"]) == ("60010", "0.1", 0) and t["time"].endswith("Z")
            [k] = candles["candles"]
            assert (k["open"], k["close"], k["volume"], k["trades"], candles["interval"]) == (
                "60010", "60010", "0.1", 1, "1m")
            # A late trade (exchange time 1.5 s before the first) amends the bucket it belongs to.
            trade_ms = _ms(t["time"])
            late = {"stream": "btcusdt@trade", "data": {"e": "trade", "s": "BTCUSDT", "p": "59000.00", "q": "0.01",
                                                        "T": trade_ms - 1500, "t": 10**9}}
            await gw.marketdata.feeds["sim"]._on_message(dumps(late))
            amended = await recv_until(s, lambda m: m["type"] == "candles")
            [k] = amended["candles"]
            assert _ms(k["open_time"]) <= trade_ms - 1500 < _ms(k["close_time"]) and k["low"] == "59000"
        rest = await c.get("/v1/candles/BTC/USDT", params={"interval": "1m"})
        assert sum(x["trades"] for x in rest["candles"]) == 2
        assert any(x["low"] == "59000" for x in rest["candles"])


def _ms(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.mark.anyio
@pytest.mark.slow
async def test_bridge_stream_subscribe_messages_add_and_remove_channels(sim: SimServer) -> None:
    async with md_stack(sim) as (gw, url, watch), reader(url) as c:
        async with c.stream("/v1/stream", params={"channels": "orders"}) as s:
            assert "market_data" not in await s.recv()
            await s.send({"type": "subscribe", "channels": ["book:BTC/USDT"]})
            answer = await recv_until(s, lambda m: m["type"] == "subscribed")
            assert answer == {"type": "subscribed", "channels": ["book:BTC/USDT:10@sim"], "replay": False}
            await recv_until(s, lambda m: m["type"] == "book")
            assert watch.held() == [("sim", "BTC/USDT")]
            for bad, code in ((["book:NOPE/USDT"], "not_found"), (["book:BTC/USDT:0"], "invalid_request"),
                              (["candles:BTC/USDT:2m"], "invalid_request"), ([], "invalid_request"),
                              ("book:BTC/USDT", "invalid_request")):
                await s.send({"type": "subscribe", "channels": bad})
                error = await recv_until(s, lambda m: m["type"] == "error")
                assert error["code"] == code, bad
            await s.send({"type": "unsubscribe", "channels": ["book:BTCUSDT:10@sim"]})
            answer = await recv_until(s, lambda m: m["type"] == "subscribed")
            assert answer["channels"] == []
            hold = watch._holds[("sim", "BTC/USDT")]
            assert hold.refs == 0  # released to the idle timer (idle_s)


@pytest.mark.anyio
@pytest.mark.slow
async def test_bridge_stream_unknown_market_channel_closed_4400(sim: SimServer) -> None:
    from fixgw.errors import TransportError

    async with md_stack(sim) as (gw, url, watch), reader(url) as c:
        for channels in ("book:NOPE/USDT", "orders,candles:BTC/USDT:7m", "book:"):
            async with c.stream("/v1/stream", params={"channels": channels}) as s:
                with anyio.fail_after(10), pytest.raises(TransportError):
                    while True:
                        await s.recv()
                closed = (s.connection.close_code, s.connection.close_reason)
                assert closed in ((4400, "not_found"), (4400, "invalid_request")), channels
        assert watch.held() == []


@pytest.mark.anyio
@pytest.mark.slow
async def test_bridge_stream_order_events_flow_beside_a_busy_book_channel(sim: SimServer) -> None:
    async with md_stack(sim) as (gw, url, watch), reader(url) as c:
        async with c.stream("/v1/stream", params={"channels": "orders,book:BTC/USDT:1000"}) as s:
            await recv_until(s, lambda m: m["type"] == "book" and m["state"] == "synced")
            fix = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
            await fix.connect(gw.port)
            for i in range(20):  # book changes on every one, order events for the last
                place(sim, "BUY", "0.01", str(50000 + i))
            await fix.new_order("MD1", "1", "0.1", price="40000")
            event = await recv_until(s, lambda m: m["type"] == "event")
            assert event["kind"] and event["id"] >= 1
            await fix.logout()


# -- conflation, over a real MarketWatch and real books and candles ----------------------------------


class _Feed:
    """What the watch reads from the gateway's ``MarketData``: real books and candles, no venue."""

    def __init__(self) -> None:
        self.book = LocalBook("BTC/USDT")
        self.candles = Candles(("1s", "1m"))
        self.listeners: list[Any] = []
        self.watched = 0

    def serving(self) -> list[str]:
        return ["v"]

    def lists(self, venue: str, symbol: str) -> bool:
        return symbol == "BTC/USDT"

    def listen(self, venue: str, listener: Any) -> bool:
        self.listeners.append(listener)
        return True

    def watch(self, venue: str, symbol: str) -> bool:
        self.watched += 1
        return True

    def unwatch(self, venue: str, symbol: str) -> None:
        self.watched -= 1

    def local_book(self, venue: str, symbol: str) -> LocalBook:
        return self.book

    def candle_series(self, venue: str, symbol: str, interval: str) -> Any:
        return self.candles[interval]

    def clock_offset_ms(self, venue: str) -> float:
        return 1.5

    # the venue side
    def depth(self, first: int, bid: str) -> None:
        self.book.on_event(DepthUpdate(first, first, [(D(bid), D("1"))], []))
        for listener in self.listeners:
            listener.on_book("BTC/USDT")

    def trade(self, ts_ms: int, price: str, trade_id: int) -> None:
        t = Trade(D(price), D("0.5"), ts_ms * 1_000_000, trade_id)
        self.candles.add(t.ts_ns, t.price, t.qty, t.trade_id)
        for listener in self.listeners:
            listener.on_trade("BTC/USDT", t)


class _View:
    def __init__(self, feed: _Feed) -> None:
        self.feed = feed

    def market_data(self) -> _Feed:
        return self.feed

    def instrument_names(self) -> dict[str, list[tuple[str, str, str]]]:
        return {"v": [("BTC/USDT", "BTC-USDT", "BTCUSDT")]}


def _client() -> tuple[_Feed, MarketWatch, MarketStream]:
    feed = _Feed()
    feed.book.take_snapshot_request()
    feed.book.on_snapshot(DepthSnapshot(10, [(D("100"), D("1"))], [(D("1000"), D("1"))]))
    watch = MarketWatch(_View(feed), FakeClock(1_750_000_000_000 * 1_000_000))  # type: ignore[arg-type]
    return feed, watch, MarketStream(watch)


@pytest.mark.anyio
async def test_market_stream_slow_client_book_conflated_to_the_latest_view() -> None:
    feed, watch, slow = _client()
    fast = MarketStream(watch)
    wakes: list[int] = []
    slow.wake = lambda: wakes.append(1)
    for client in (slow, fast):
        client.subscribe(["book:BTC/USDT:2"])
    assert [loads(m)["bids"] for m in slow.messages()] == [[["100", "1"]]]
    fast.messages()
    for i in range(100):  # a burst the slow client does not read
        feed.depth(11 + i, str(101 + i))
        if i % 10 == 0:
            assert len(fast.messages()) == 1  # a fast client sees the views as they come
    [latest] = slow.messages()  # one message: the view as it is now
    assert loads(latest)["bids"] == [["200", "1"], ["199", "1"]]
    assert loads(latest)["last_update_id"] == 110 and len(wakes) >= 100
    assert slow.messages() == []  # nothing changed since
    feed.depth(111, "50")  # below the top 2: the view is unchanged, nothing is sent
    assert slow.messages() == []


@pytest.mark.anyio
async def test_market_stream_trades_bounded_for_a_slow_client_with_a_drop_count() -> None:
    feed, watch, client = _client()
    client.subscribe(["trades:BTCUSDT"])
    for i in range(MAX_TRADES + 7):
        feed.trade(1_750_000_000_000 + i, "100", i + 1)
    [message] = client.messages()
    body = loads(message)
    assert len(body["trades"]) == MAX_TRADES and body["dropped"] == 7
    assert body["trades"][0]["id"] == 8 and body["trades"][-1]["id"] == MAX_TRADES + 7  # the newest kept


@pytest.mark.anyio
async def test_market_stream_candles_late_trade_resends_its_older_bucket() -> None:
    feed, watch, client = _client()
    client.subscribe(["candles:BTC/USDT:1s"])
    t0 = 1_750_000_010_000
    feed.trade(t0 + 200, "100", 1)
    feed.trade(t0 + 1200, "101", 2)
    first = loads(client.messages()[0])
    assert [c["close"] for c in first["candles"]] == ["100", "101"] and first["clock_offset_ms"] == 1.5
    feed.trade(t0 + 100, "99", 3)  # late: exchange time in the first bucket
    [amended] = loads(client.messages()[0])["candles"]
    assert (amended["open"], amended["low"], amended["close"], amended["trades"]) == ("99", "99", "100", 2)


@pytest.mark.anyio
async def test_market_stream_unsubscribe_releases_the_hold_after_idle() -> None:
    feed, watch, client = _client()
    watch.idle_s = 0.05
    client.subscribe(["book:BTC/USDT", "trades:BTC-USDT"])
    assert feed.watched == 1 and watch._holds[("v", "BTC/USDT")].refs == 1
    client.close()
    await anyio.sleep(0.3)
    assert feed.watched == 0 and watch.held() == []


@given(kind=st.sampled_from(["book", "trades", "candles"]), spelling=st.sampled_from(["BTC/USDT", "BTC-USDT",
                                                                                      "btcusdt"]),
       depth=st.integers(1, 1000), interval=st.sampled_from(["1s", "1m", "5m", "1h"]), venue=st.booleans())
def test_market_channel_canonical_name_parses_to_the_same_channel(kind: str, spelling: str, depth: int,
                                                                  interval: str, venue: bool) -> None:
    feed = _Feed()
    watch = MarketWatch(_View(feed), FakeClock(0))  # type: ignore[arg-type]
    param = {"book": f":{depth}", "candles": f":{interval}", "trades": ""}[kind]
    channel = parse_channel(f"{kind}:{spelling}{param}{'@v' if venue else ''}", watch)
    assert parse_channel(channel.name, watch) == channel
    assert channel.target.symbol == "BTC/USDT" and channel.name.endswith("@v")


@pytest.mark.parametrize("spec", ["book:BTC/USDT:1001", "book:BTC/USDT@w", "quotes:BTC/USDT", "candles:BTC/USDT:3m",
                                  "trades:", "book:ETH/USDT", "x" * 201])
def test_market_channel_bad_names_refused_with_a_4xx(spec: str) -> None:
    watch = MarketWatch(_View(_Feed()), FakeClock(0))  # type: ignore[arg-type]
    with pytest.raises(ApiError) as info:
        parse_channel(spec, watch)
    assert info.value.status in (400, 404)


@pytest.mark.anyio
async def test_bridge_marketdata_view_without_market_data_answers_503_and_closes_1013(server: Any,
                                                                                     clock: Any) -> None:
    # The module's bridge runs over a FakeView: a gateway port with no market data (still starting).
    from fixgw.bridge import AsyncBridgeClient, BridgeRequestError
    from fixgw.errors import TransportError

    async with AsyncBridgeClient(server.base_url, "reader", READ_SECRET, clock=clock) as c:
        for path in ("/v1/book/BTC/USDT", "/v1/candles/BTC/USDT"):
            with pytest.raises(BridgeRequestError) as info:
                await c.get(path)
            assert (info.value.status, info.value.code) == (503, "not_ready")
        async with c.stream("/v1/stream", params={"channels": "orders,book:BTC/USDT"}) as s:
            with anyio.fail_after(10), pytest.raises(TransportError):
                while True:
                    await s.recv()
            assert (s.connection.close_code, s.connection.close_reason) == (1013, "not_ready")
        async with c.stream("/v1/stream") as s:
            assert (await s.recv())["type"] == "hello"
            await s.send({"type": "subscribe", "channels": ["trades:BTC/USDT"]})
            error = await recv_until(s, lambda m: m["type"] == "error")
            assert error["code"] == "not_ready"
