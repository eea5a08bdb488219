"""Market data on the bridge over real sockets: the simulator as the venue, the gateway's shared books and
candles, the bridge served by uvicorn beside it in one event loop; ``GET /v1/book``, ``GET /v1/candles``
and the stream's ``book``, ``trades`` and ``candles`` channels, through the signing client."""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any, AsyncIterator, Callable

import anyio
import httpx
import pytest
from bridge_helpers import KEYS, OPS_SECRET, READ_SECRET, error_of
from test_bridge_gateway import API_KEY, API_SECRET, sim  # noqa: F401  (sim: a fixture)

from fixgw.bridge import AsyncBridgeClient, BridgeRequestError, KeyRing, create_app
from fixgw.bridge.server import serve
from fixgw.config import default_config
from fixgw.gateway import Gateway, LiveView
from fixgw.sim import NewOrder, SimServer

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

D = Decimal
Levels = list[tuple[Decimal, Decimal]]


@contextlib.asynccontextmanager
async def md_stack(sim: SimServer, **watch: Any) -> AsyncIterator[tuple[Gateway, str, Any]]:
    """The gateway on the simulator and the bridge beside it: (gateway, bridge URL, the bridge's
    ``MarketWatch``, with ``watch`` settings applied: ``idle_s``, ``sync_wait_s``)."""
    cfg = default_config(port=0).with_venue("sim", rest_url=sim.base_url, ws_url=sim.ws_api_url, api_key=API_KEY,
                                            api_secret=API_SECRET)
    gw = Gateway(cfg)
    view = LiveView(gw)
    app = create_app(view, KeyRing(KEYS))
    for name, value in watch.items():
        setattr(app.state.market, name, value)
    try:
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                port = await tg.start(serve, app, "127.0.0.1", 0)
                await tg.start(gw.run)
                try:
                    yield gw, f"http://127.0.0.1:{port}", app.state.market
                finally:
                    gw.stop()
                    tg.cancel_scope.cancel()
    finally:
        view.close()


def reader(url: str) -> AsyncBridgeClient:
    return AsyncBridgeClient(url, "reader", READ_SECRET, timeout=10)


def place(sim: SimServer, side: str, qty: str, price: str) -> None:
    """A counterparty limit order straight into the simulator's engine (it trades when it crosses)."""
    req = NewOrder(symbol="BTCUSDT", side=side, type="LIMIT", quantity=D(qty), price=D(price), time_in_force="GTC")

    def run(st: Any) -> None:
        st.engine.place("cp", req, st.now_ms())
        st.publish()

    sim.call(run)


def sim_book(sim: SimServer, depth: int) -> tuple[int, Levels, Levels]:
    def run(st: Any) -> Any:
        b = st.engine.books["BTCUSDT"]
        return int(b.update_id), list(b.levels("BUY", depth)), list(b.levels("SELL", depth))

    uid, bids, asks = sim.call(run)
    return uid, [(D(p), D(q)) for p, q in bids], [(D(p), D(q)) for p, q in asks]


def levels(rows: list[list[str]]) -> Levels:
    return [(D(p), D(q)) for p, q in rows]


async def until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    with anyio.fail_after(timeout):
        while True:
            value = await check()
            if value:
                return value
            await anyio.sleep(0.02)


async def test_bridge_book_at_a_quiet_point_equals_the_simulators_book(sim: SimServer) -> None:
    for side, qty, price in (("BUY", "0.5", "59990"), ("BUY", "0.25", "59980"), ("BUY", "1", "59900"),
                             ("SELL", "0.4", "60010"), ("SELL", "0.7", "60050")):
        place(sim, side, qty, price)
    async with md_stack(sim) as (gw, url, watch), reader(url) as c:
        first = await c.get("/v1/book/BTC/USDT")  # the first use subscribes and waits for the sync
        assert first["state"] == "synced" and first["venue"] == "sim" and first["symbol"] == "BTC/USDT"
        place(sim, "BUY", "0.3", "59995")
        place(sim, "SELL", "0.1", "60010")
        uid, bids, asks = sim_book(sim, 2)

        async def quiet() -> Any:
            book = await c.get("/v1/book/BTC%2FUSDT", params={"depth": 2})
            return book if book["last_update_id"] == uid else None

        book = await until(quiet)
        assert (levels(book["bids"]), levels(book["asks"])) == (bids, asks)
        assert bids == [(D("59995"), D("0.3")), (D("59990"), D("0.5"))]
        assert book["updated_at"].endswith("Z") and book["resyncs"] == 0
        # The venue's own spelling, any case, and venue= name the same book; a whole book by default.
        for path, params in (("/v1/book/BTCUSDT", {}), ("/v1/book/btcusdt", {"venue": "sim"})):
            whole = await c.get(path, params=params)
            assert whole["last_update_id"] == uid and len(whole["bids"]) == 4 and len(whole["asks"]) == 2
        # One shared venue subscription, however many requests.
        feed = gw.marketdata.feeds["sim"]
        assert feed.subscribed() == ["BTC/USDT"] and feed.snapshots_fetched == 1
        assert watch.held() == [("sim", "BTC/USDT")]


async def test_bridge_candles_match_the_trades_made_on_the_simulator(sim: SimServer) -> None:
    async with md_stack(sim) as (gw, url, watch), reader(url) as c:
        empty = await c.get("/v1/candles/BTC/USDT", params={"interval": "1s"})
        assert empty["candles"] == [] and empty["interval"] == "1s"
        await c.get("/v1/book/BTC/USDT")  # synced: the trade stream is subscribed too
        place(sim, "SELL", "0.4", "60010")
        place(sim, "SELL", "0.3", "60020")
        place(sim, "BUY", "0.1", "60010")  # one trade
        place(sim, "BUY", "0.5", "60020")  # two trades: 0.3 at 60010, 0.2 at 60020
        async with httpx.AsyncClient(base_url=sim.base_url) as venue:
            for interval in ("1s", "1m", "1h"):
                klines = (await venue.get("/api/v3/klines", params={"symbol": "BTCUSDT", "interval": interval})).json()
                expected = [(k[0], D(k[1]), D(k[2]), D(k[3]), D(k[4]), D(k[5]), D(k[7]), k[8]) for k in klines if k[8]]
                assert sum(k[-1] for k in expected) == 3

                async def all_three(interval: str = interval) -> Any:
                    got = await c.get("/v1/candles/BTCUSDT", params={"interval": interval})
                    return got if sum(x["trades"] for x in got["candles"]) == 3 else None

                got = await until(all_three)
                rows = [(_ms(x["open_time"]), D(x["open"]), D(x["high"]), D(x["low"]), D(x["close"]),
                         D(x["volume"]), D(x["quote_volume"]), x["trades"]) for x in got["candles"]]
                assert rows == expected, interval
                assert isinstance(got["clock_offset_ms"], float)
        assert rows[0][1:5] == (D("60010"), D("60020"), D("60010"), D("60020")) or len(rows) > 1
        limited = await c.get("/v1/candles/BTC/USDT", params={"interval": "1s", "limit": 1})
        assert len(limited["candles"]) == 1 and limited["candles"][0]["close"] == "60020"


def _ms(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


async def test_bridge_marketdata_bad_requests_answer_4xx_json(sim: SimServer) -> None:
    async with md_stack(sim) as (gw, url, watch), reader(url) as c:
        cases = [
            ("/v1/book/NOPE/USDT", {}, 404, "not_found"),
            ("/v1/candles/NOPEUSDT", {}, 404, "not_found"),
            ("/v1/book/BTC/USDT", {"venue": "elsewhere"}, 404, "not_found"),
            ("/v1/candles/BTC/USDT", {"interval": "2m"}, 400, "invalid_request"),
            ("/v1/candles/BTC/USDT", {"limit": 0}, 400, "invalid_request"),
            ("/v1/book/BTC/USDT", {"depth": 0}, 400, "invalid_request"),
            ("/v1/book/BTC/USDT", {"depth": "ten"}, 400, "invalid_request"),
        ]
        for path, params, status, code in cases:
            with pytest.raises(BridgeRequestError) as info:
                await c.get(path, params=params)
            assert (info.value.status, info.value.code) == (status, code), path
        assert watch.held() == []  # nothing was subscribed by a refused request


async def test_bridge_marketdata_needs_read_and_a_signature(sim: SimServer) -> None:
    async with md_stack(sim) as (gw, url, watch):
        async with httpx.AsyncClient(base_url=url) as plain:
            for path in ("/v1/book/BTC/USDT", "/v1/candles/BTC/USDT"):
                answer = await plain.get(path)
                assert answer.status_code == 401 and error_of(answer) == (401, "missing_credentials")
        async with AsyncBridgeClient(url, "ops", OPS_SECRET, timeout=10) as admin_only:
            with pytest.raises(BridgeRequestError) as info:
                await admin_only.get("/v1/book/BTC/USDT")
            assert (info.value.status, info.value.code) == (403, "missing_permission")
        async with reader(url) as c:
            assert (await c.get("/v1/candles/BTC/USDT"))["symbol"] == "BTC/USDT"


async def test_bridge_book_not_yet_synced_answers_503_then_the_book(sim: SimServer) -> None:
    place(sim, "BUY", "0.5", "59990")
    async with md_stack(sim, sync_wait_s=0.05) as (gw, url, watch), reader(url) as c:
        sim.set_faults(latency_ms=1500)  # the depth snapshot is late
        try:
            answer = await c.send("GET", "/v1/book/BTC/USDT")
            assert error_of(answer) == (503, "not_ready")
            assert answer.headers["Retry-After"] == "1" and "syncing" in answer.json()["error"]["message"]
        finally:
            sim.reset_faults()

        async def synced() -> Any:
            answer = await c.send("GET", "/v1/book/BTC/USDT")
            return answer.json() if answer.status_code == 200 else None

        book = await until(synced)
        assert levels(book["bids"]) == [(D("59990"), D("0.5"))]


async def test_bridge_marketdata_hold_released_after_idle_and_kept_while_streamed(sim: SimServer) -> None:
    async with md_stack(sim, idle_s=0.3) as (gw, url, watch), reader(url) as c:
        feed = gw.marketdata.feeds["sim"]
        await c.get("/v1/book/BTC/USDT")
        assert feed.subscribed() == ["BTC/USDT"]

        async def released() -> bool:
            return not feed.subscribed() and not watch.held()

        await until(released, 5)
        async with c.stream("/v1/stream", params={"channels": "book:BTC/USDT:1"}) as s:
            assert (await s.recv())["type"] == "hello"
            await anyio.sleep(0.8)  # well past idle_s: a channel holds it
            assert feed.subscribed() == ["BTC/USDT"]
        await until(released, 5)
