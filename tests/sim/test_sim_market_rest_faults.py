"""The simulator's REST market data (klines, avgPrice, 24 h ticker, book ticker, unknown paths) and
its market-data faults, over real HTTP and WebSockets."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sim_md_helpers import D, LocalBook, http, module_sim, place, recv_until, top, until_id, update_id  # noqa: F401  (http: a fixture)
from websockets.sync.client import connect

from fixgw.sim import SimServer

FULL_KEYS = ["symbol", "priceChange", "priceChangePercent", "weightedAvgPrice", "prevClosePrice", "lastPrice",
             "lastQty", "bidPrice", "bidQty", "askPrice", "askQty", "openPrice", "highPrice", "lowPrice", "volume",
             "quoteVolume", "openTime", "closeTime", "firstId", "lastId", "count"]
MINI_KEYS = ["symbol", "openPrice", "highPrice", "lowPrice", "lastPrice", "volume", "quoteVolume", "openTime",
             "closeTime", "firstId", "lastId", "count"]

sim = module_sim(5)


def _trade(sim: SimServer, qty: str = "0.01", ticks: int = 1) -> None:
    """Rest a sell inside the spread and take it: one trade."""
    _bid, ask, tick = top(sim)
    price = str(ask - tick * ticks)
    place(sim, ("SELL", "LIMIT", qty, price))
    place(sim, ("BUY", "LIMIT", qty, price))


def _bid_order(sim: SimServer, k: int = 1) -> tuple[str, str, str, str | None]:
    bid, _ask, tick = top(sim)
    return ("BUY", "LIMIT", "0.01", str(bid - tick * k))


# == REST =========================================================================================
def test_klines_match_the_trades_bucketed_by_minute(sim: SimServer, http: httpx.Client) -> None:
    for i in range(4):
        _trade(sim, qty=f"0.0{i + 1}", ticks=i + 1)
    trades = http.get("/api/v3/trades", params={"symbol": "BTCUSDT", "limit": 1000}).json()
    bars = http.get("/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1m"}).json()
    assert bars and all(len(b) == 12 and b[6] == b[0] + 59_999 and b[11] == "0" for b in bars)
    assert all(b[0] == a[0] + 60_000 for a, b in zip(bars, bars[1:]))  # contiguous, oldest first
    for bar in bars:
        inside = [t for t in trades if bar[0] <= t["time"] <= bar[6]]
        assert bar[8] == len(inside)
        if inside:
            prices = [D(t["price"]) for t in inside]
            assert [D(x) for x in bar[1:5]] == [prices[0], max(prices), min(prices), prices[-1]]
            assert D(bar[5]) == sum(D(t["qty"]) for t in inside)
            assert D(bar[9]) == sum(D(t["qty"]) for t in inside if not t["isBuyerMaker"])
    first = http.get("/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1s", "limit": 1,
                                               "startTime": trades[0]["time"]}).json()
    assert len(first) == 1 and first[0][0] == trades[0]["time"] // 1000 * 1000
    bad = http.get("/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1D"})
    assert (bad.status_code, bad.json()["code"]) == (400, -1120)
    unknown = http.get("/api/v3/klines", params={"symbol": "NOPE", "interval": "1m"})
    assert (unknown.status_code, unknown.json()) == (400, {"code": -1121, "msg": "Invalid symbol."})


def test_avg_price_and_24hr_ticker_follow_the_trades(sim: SimServer, http: httpx.Client) -> None:
    _trade(sim, qty="0.03")
    trades = http.get("/api/v3/trades", params={"symbol": "BTCUSDT", "limit": 1000}).json()
    avg = http.get("/api/v3/avgPrice", params={"symbol": "BTCUSDT"}).json()
    now = int(time.time() * 1000)
    recent = [t for t in trades if t["time"] >= now - 300_000]
    vwap = sum(D(t["price"]) * D(t["qty"]) for t in recent) / sum(D(t["qty"]) for t in recent)
    assert avg["mins"] == 5 and D(avg["price"]) == vwap.quantize(Decimal("0.00000001"))
    assert avg["closeTime"] == trades[-1]["time"]
    full = http.get("/api/v3/ticker/24hr", params={"symbol": "BTCUSDT"}).json()
    assert list(full) == FULL_KEYS
    assert (full["count"], full["firstId"], full["lastId"]) == (len(trades), trades[0]["id"], trades[-1]["id"])
    assert full["lastPrice"] == trades[-1]["price"] and full["openPrice"] == trades[0]["price"]
    assert D(full["priceChange"]) == D(full["lastPrice"]) - D(full["openPrice"])
    mini = http.get("/api/v3/ticker/24hr", params={"symbols": '["ETHUSDT","BTCUSDT"]', "type": "MINI"}).json()
    assert [m["symbol"] for m in mini] == ["ETHUSDT", "BTCUSDT"] and list(mini[0]) == MINI_KEYS
    assert mini[0]["count"] == 0 and mini[0]["firstId"] == -1
    assert http.get("/api/v3/ticker/24hr", params={"symbol": "BTCUSDT", "type": "HUGE"}).status_code == 400


def test_book_ticker_is_the_top_of_the_rest_depth(sim: SimServer, http: httpx.Client) -> None:
    one = http.get("/api/v3/ticker/bookTicker", params={"symbol": "BTCUSDT"}).json()
    depth = http.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 1}).json()
    assert one == {"symbol": "BTCUSDT", "bidPrice": depth["bids"][0][0], "bidQty": depth["bids"][0][1],
                   "askPrice": depth["asks"][0][0], "askQty": depth["asks"][0][1]}
    every = http.get("/api/v3/ticker/bookTicker").json()
    assert one in every and len(every) >= 2


@pytest.mark.parametrize("path", ["/api/v3/nope", "/api/v1/depth", "/", "/api/v3/klines/extra"])
def test_unknown_path_answers_404_with_an_empty_body(sim: SimServer, http: httpx.Client, path: str) -> None:
    r = http.get(path)
    assert (r.status_code, r.content, r.headers.get("content-length")) == (404, b"", "0")


# == faults =======================================================================================
def _control(sim: SimServer, http: httpx.Client, **changes: Any) -> dict[str, Any]:
    r = http.post("/sim/faults", json=changes, headers=sim.control_headers)
    assert r.status_code == 200, r.text
    return r.json()


def _wait_fault_spent(sim: SimServer, name: str) -> None:
    deadline = time.monotonic() + 10
    while sim.call(lambda st: getattr(st.faults, name)) > 0:
        assert time.monotonic() < deadline, f"{name} never used"
        time.sleep(0.02)


def test_fault_dropped_depth_event_leaves_a_gap_the_book_sees(sim: SimServer, http: httpx.Client) -> None:
    with connect(sim.ws_stream_url + "/btcusdt@depth@100ms") as ws:
        snapshot = http.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 5000}).json()
        _control(sim, http, depth_drop_events=1)
        place(sim, _bid_order(sim, 1))
        _wait_fault_spent(sim, "depth_drop_events")
        after = place(sim, _bid_order(sim, 2))
        events = recv_until(ws, until_id(after))
    assert len(events) == 1 and events[0]["U"] == after  # the first change never arrived
    book = LocalBook(snapshot)
    with pytest.raises(AssertionError):  # no event straddles the snapshot: a client must resync
        book.apply(events[0])


def test_fault_duplicated_and_reordered_depth_events(sim: SimServer, http: httpx.Client) -> None:
    with connect(sim.ws_stream_url + "/btcusdt@depth@100ms") as ws:
        sim.set_faults(depth_duplicate_events=1)
        a = place(sim, _bid_order(sim, 1))
        twice = recv_until(ws, lambda m: len(m) == 2)
        assert twice[0] == twice[1] and twice[0]["u"] == a
        sim.set_faults(depth_reorder_events=1)
        b = place(sim, _bid_order(sim, 2))
        _wait_fault_spent(sim, "depth_reorder_events")
        c = place(sim, _bid_order(sim, 3))
        swapped = recv_until(ws, lambda m: len(m) == 2)
    assert [(e["U"], e["u"]) for e in swapped] == [(c, c), (b, b)]


def test_fault_stalled_depth_stream_then_one_event_covers_the_stall(sim: SimServer, http: httpx.Client) -> None:
    with connect(sim.ws_stream_url + "/btcusdt@depth@100ms") as ws:
        state = _control(sim, http, depth_stall_seconds=2.5)
        assert state["depth_stall_seconds"] == 0 and state["depth_stalled_until_ms"] > 0
        first = place(sim, _bid_order(sim, 1))
        last = place(sim, _bid_order(sim, 2))
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.8)  # the book changed, the stream says nothing
        [ev] = recv_until(ws, until_id(last))
    assert (ev["U"], ev["u"]) == (first, last) and len(ev["b"]) == 2


def test_fault_stale_snapshot_is_older_than_buffered_events(sim: SimServer, http: httpx.Client) -> None:
    with connect(sim.ws_stream_url + "/btcusdt@depth@100ms") as ws:
        before = http.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 5000}).json()
        _control(sim, http, stale_depth_snapshots=1)
        place(sim, _bid_order(sim, 1))
        recv_until(ws, until_id(update_id(sim)))
        buffered = recv_until(ws, until_id(place(sim, _bid_order(sim, 2))))  # a client buffers from here
        stale = http.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 5000}).json()
        fresh = http.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 5000}).json()
    assert stale == before and stale["lastUpdateId"] < buffered[0]["U"] - 1  # too old: refetch
    assert fresh["lastUpdateId"] == buffered[-1]["u"]
    book = LocalBook(fresh)
    for ev in buffered:
        book.apply(ev)
    assert book.same_as(fresh)


def test_fault_switches_refuse_bad_values(sim: SimServer, http: httpx.Client) -> None:
    for bad in ({"depth_drop_events": -1}, {"depth_stall_seconds": "long"}, {"stale_depth_snapshots": True}):
        r = http.post("/sim/faults", json=bad, headers=sim.control_headers)
        assert r.status_code == 400 and "error" in r.json()
    assert json.loads(http.get("/sim/faults", headers=sim.control_headers).text)["depth_drop_events"] == 0


def test_ws_api_serves_the_same_market_data_methods(sim: SimServer, http: httpx.Client) -> None:
    _trade(sim)
    with connect(sim.ws_api_url) as ws:
        answers = {}
        for i, (method, params) in enumerate([("ticker.book", {"symbol": "BTCUSDT"}),
                                              ("avgPrice", {"symbol": "BTCUSDT"}),
                                              ("klines", {"symbol": "BTCUSDT", "interval": "1h"}),
                                              ("ticker.24hr", {"symbol": "BTCUSDT", "type": "MINI"})]):
            ws.send(json.dumps({"id": i, "method": method, "params": params}))
            msg = json.loads(ws.recv(timeout=5))
            assert msg["status"] == 200, msg
            answers[method] = msg["result"]
    assert answers["ticker.book"] == http.get("/api/v3/ticker/bookTicker", params={"symbol": "BTCUSDT"}).json()
    assert answers["klines"] == http.get("/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1h"}).json()
    assert list(answers["ticker.24hr"]) == MINI_KEYS and answers["avgPrice"]["mins"] == 5
