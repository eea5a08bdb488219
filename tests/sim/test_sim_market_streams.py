"""The simulator's market streams over real WebSockets: diff depth batched per interval, partial depth,
trades, aggregate trades, book ticker, and the stream control frames."""

from __future__ import annotations

import json
import time

import httpx
from sim_md_helpers import D, LocalBook, http, module_sim, place, recv_until, top, until_id, update_id  # noqa: F401  (http: a fixture)
from websockets.sync.client import connect

from fixgw.sim import SimServer

sim = module_sim(11)


def _bids(sim: SimServer, n: int, qty: str = "0.01") -> list[tuple[str, str, str, str | None]]:
    bid, _ask, tick = top(sim)
    return [("BUY", "LIMIT", qty, str(bid - tick * (i + 1))) for i in range(n)]


def test_depth_100ms_batches_one_turn_into_one_event_with_first_and_last_ids(sim: SimServer, http: httpx.Client) -> None:
    with connect(sim.ws_stream_url + "/btcusdt@depth@100ms") as ws:
        before = update_id(sim)
        after = place(sim, *_bids(sim, 5))
        [ev] = recv_until(ws, until_id(after))
    assert (ev["e"], ev["s"], ev["U"], ev["u"]) == ("depthUpdate", "BTCUSDT", before + 1, before + 5)
    assert len(ev["b"]) == 5 and ev["a"] == []
    prices = [D(p) for p, _ in ev["b"]]
    assert prices == sorted(prices, reverse=True)  # bids high to low, absolute quantities
    assert http.get("/api/v3/depth", params={"symbol": "BTCUSDT"}).json()["lastUpdateId"] == after


def test_depth_streams_rebuild_the_rest_book_exactly_at_a_quiet_point(sim: SimServer, http: httpx.Client) -> None:
    with connect(sim.ws_combined_url + "?streams=btcusdt@depth@100ms/btcusdt@depth") as ws:
        fast: list[dict] = []
        slow: list[dict] = []
        place(sim, *_bids(sim, 1))
        snapshot = http.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 5000}).json()
        for i in range(8):  # changes spread over about a second
            place(sim, *_bids(sim, 1, qty=f"0.0{i + 1}"))
            time.sleep(0.1)
        target = update_id(sim)
        while not (fast and fast[-1]["u"] >= target and slow and slow[-1]["u"] >= target):
            msg = json.loads(ws.recv(timeout=10))
            (fast if msg["stream"].endswith("@100ms") else slow).append(msg["data"])
    final = http.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 5000}).json()
    for events in (fast, slow):
        book = LocalBook(snapshot)
        for ev in events:
            book.apply(ev)
        assert not book.gap and book.last == target and book.same_as(final)
        assert all(b["U"] == a["u"] + 1 for a, b in zip(events, events[1:]))
    assert len(slow) <= len(fast)  # 1000 ms batches gather what 100 ms ones spread


def test_partial_depth_streams_send_top_levels_with_the_book_id(sim: SimServer, http: httpx.Client) -> None:
    place(sim, *_bids(sim, 6))
    with connect(sim.ws_combined_url + "?streams=btcusdt@depth5@100ms/ethusdt@depth10") as ws:
        got: dict[str, dict] = {}
        for _ in range(40):
            msg = json.loads(ws.recv(timeout=5))
            got[msg["stream"]] = msg["data"]
            if len(got) == 2:
                break
    five = got["btcusdt@depth5@100ms"]
    assert set(five) == {"lastUpdateId", "bids", "asks"}  # no e/E/s
    rest = http.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 5}).json()
    assert five == rest
    assert len(got["ethusdt@depth10"]["bids"]) <= 10


def test_trade_agg_trade_and_book_ticker_follow_a_sweep(sim: SimServer, http: httpx.Client) -> None:
    _bid, ask, tick = top(sim)
    p1, p2 = ask - tick * 3, ask - tick * 2  # inside the spread: the sweep meets these first
    place(sim, ("SELL", "LIMIT", "0.01", str(p1)), ("SELL", "LIMIT", "0.02", str(p1)),
          ("SELL", "LIMIT", "0.01", str(p2)))
    streams = "btcusdt@trade/btcusdt@aggTrade/btcusdt@bookTicker"
    with connect(f"{sim.ws_combined_url}?streams={streams}") as ws:
        place(sim, ("BUY", "LIMIT", "0.04", str(p2)))
        msgs = []
        while len([m for m in msgs if m["stream"] == "btcusdt@trade"]) < 3 or \
                len([m for m in msgs if m["stream"] == "btcusdt@aggTrade"]) < 2 or \
                not any(m["stream"] == "btcusdt@bookTicker" for m in msgs):
            msgs.append(json.loads(ws.recv(timeout=5)))
    trades = [m["data"] for m in msgs if m["stream"] == "btcusdt@trade"]
    aggs = [m["data"] for m in msgs if m["stream"] == "btcusdt@aggTrade"]
    ticker = [m["data"] for m in msgs if m["stream"] == "btcusdt@bookTicker"][-1]
    assert [D(t["q"]) for t in trades] == [D("0.01"), D("0.02"), D("0.01")] and trades[0]["m"] is False
    assert [(D(a["p"]), D(a["q"]), a["l"] - a["f"]) for a in aggs] == [(p1, D("0.03"), 1), (p2, D("0.01"), 0)]
    assert aggs[1]["a"] == aggs[0]["a"] + 1 and aggs[0]["f"] == trades[0]["t"] and aggs[1]["l"] == trades[2]["t"]
    assert set(ticker) == {"u", "s", "b", "B", "a", "A"}  # no e/E
    rest = http.get("/api/v3/ticker/bookTicker", params={"symbol": "BTCUSDT"}).json()
    assert (ticker["b"], ticker["B"], ticker["a"], ticker["A"]) == (
        rest["bidPrice"], rest["bidQty"], rest["askPrice"], rest["askQty"])
    assert ticker["u"] == update_id(sim)


def test_stream_control_frames_subscribe_list_property_and_errors(sim: SimServer) -> None:
    with connect(sim.ws_stream_url) as ws:
        def ask(obj: object) -> dict:
            ws.send(json.dumps(obj))
            return json.loads(ws.recv(timeout=5))

        assert ask({"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms", "btcusdt@trade"], "id": 1}) == \
            {"result": None, "id": 1}
        assert ask({"method": "LIST_SUBSCRIPTIONS", "id": "x"})["result"] == ["btcusdt@depth@100ms", "btcusdt@trade"]
        assert ask({"method": "UNSUBSCRIBE", "params": ["btcusdt@trade"], "id": 2}) == {"result": None, "id": 2}
        assert ask({"method": "GET_PROPERTY", "params": ["combined"], "id": 3}) == {"result": False, "id": 3}
        assert ask({"method": "SET_PROPERTY", "params": ["combined", True], "id": 4}) == {"result": None, "id": 4}
        assert ask({"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 5})["error"]["code"] == 1
        assert ask({"method": "GET_PROPERTY", "params": ["colour"], "id": 6})["error"]["code"] == 0
        assert ask({"method": "SUBSCRIBE", "params": ["nope@depth"], "id": 7})["error"]["code"] == 2
        assert ask({"method": "FLY", "id": 8})["error"]["code"] == 2
        ws.send("{not json")
        assert json.loads(ws.recv(timeout=5))["error"]["code"] == 3
        after = place(sim, *_bids(sim, 1))
        msg = json.loads(ws.recv(timeout=5))
    # combined is on now: the event arrives wrapped
    assert msg["stream"] == "btcusdt@depth@100ms" and msg["data"]["e"] == "depthUpdate"
    assert msg["data"]["u"] == after


def test_no_listener_no_market_work_on_order_entry(sim: SimServer) -> None:
    with connect(sim.ws_stream_url + "/btcusdt@depth@100ms") as ws:
        place(sim, *_bids(sim, 1))
        recv_until(ws, lambda m: True)
    deadline = time.monotonic() + 5
    while sim.call(lambda st: st.market.active) and time.monotonic() < deadline:
        time.sleep(0.02)  # the server notices the close
    place(sim, *_bids(sim, 1))
    assert sim.call(lambda st: (st.market.active, dict(st.market._batches))) == (False, {})
