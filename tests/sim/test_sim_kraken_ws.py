"""The simulator's Kraken dialect over a real loopback WebSocket v2: token, executions snapshot and
lifecycle events, order methods, errors and fault injection."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from kr_helpers import OTHER_KEY, OTHER_SECRET, Feed, KrakenClient, kraken_sim
from kr_helpers import kr, sim  # noqa: F401  (fixtures)

from fixgw.sim import SimServer


def _subscribe(sim: SimServer, kr: KrakenClient, **params) -> tuple[Feed, list[dict]]:
    feed = Feed(sim)
    token = kr.ok("GetWebSocketsToken")["token"]
    ack = feed.request("subscribe", {"channel": "executions", "token": token, **params})
    assert ack["success"] is True and ack["result"]["channel"] == "executions"
    snapshot = feed.recv()
    assert (snapshot["channel"], snapshot["type"]) == ("executions", "snapshot")
    return feed, snapshot["data"]


def _add(kr: KrakenClient, side: str, px: D, vol: str, pair: str = "XBTUSDT", **extra: str) -> str:
    fields = [("ordertype", "limit"), ("pair", pair), ("price", str(px)), ("type", side), ("volume", vol)]
    return kr.ok("AddOrder", fields + list(extra.items()))["txid"][0]


def test_sim_kraken_ws_status_frame_and_ping(sim):
    feed = Feed(sim)
    assert feed.status["channel"] == "status" and feed.status["data"][0]["system"] == "online"
    pong = feed.request("ping")
    assert pong["method"] == "pong" and pong["req_id"] == 1 and "time_in" in pong and "time_out" in pong
    feed.close()


def test_sim_kraken_ws_bad_token_refused_in_venue_words(sim):
    feed = Feed(sim)
    ack = feed.request("subscribe", {"channel": "executions", "token": "not-a-token"})
    assert (ack["success"], ack["error"], ack["method"]) == (False, "EAPI:Invalid token", "subscribe")
    ack = feed.request("subscribe", {"channel": "nosuch", "token": "x"})
    assert ack["success"] is False and ack["error"].startswith("EGeneral:Invalid arguments")
    feed.close()


def test_sim_kraken_ws_snapshot_then_lifecycle_new_amend_cancel(sim, kr):
    bid, _ = kr.top()
    resting = _add(kr, "buy", bid - 1200, "0.002", cl_ord_id="snap-1")
    feed, snapshot = _subscribe(sim, kr)
    assert [(e["order_id"], e["cl_ord_id"], e["order_qty"]) for e in snapshot] == [(resting, "snap-1", D("0.002"))]
    txid = _add(kr, "buy", bid - 1000, "0.003", cl_ord_id="life-1")
    entries = feed.data(2)
    assert [(e["exec_type"], e["order_status"]) for e in entries] == [("pending_new", "pending_new"), ("new", "new")]
    new = entries[1]
    assert (new["order_id"], new["symbol"], new["side"], new["order_type"], new["cl_ord_id"]) == (
        txid, "BTC/USDT", "buy", "limit", "life-1")
    assert new["order_qty"] == D("0.003") and new["limit_price"] == bid - 1000  # exact JSON numbers
    kr.ok("AmendOrder", [("txid", txid), ("order_qty", "0.002")])
    (amended,) = feed.data(1)
    assert (amended["exec_type"], amended["order_qty"], amended["order_id"]) == ("amended", D("0.002"), txid)
    kr.ok("CancelOrder", [("txid", txid)])
    (canceled,) = feed.data(1)
    assert (canceled["exec_type"], canceled["order_status"], canceled["cum_qty"]) == ("canceled", "canceled", 0)
    feed.close()


def test_sim_kraken_ws_trades_then_filled_entry_match_rest_trade_ids(sim, kr):
    other = KrakenClient(sim.base_url, OTHER_KEY, OTHER_SECRET)
    feed, _ = _subscribe(sim, kr)
    bid, _ = kr.top("ETHUSDT")
    px = bid + D("0.01")
    txid = _add(kr, "buy", px, "0.5", pair="ETHUSDT")
    feed.data(2)
    _add(other, "sell", px, "0.3", pair="ETHUSDT")
    _add(other, "sell", px, "0.2", pair="ETHUSDT")
    entries = feed.data(3)
    assert [e["exec_type"] for e in entries] == ["trade", "trade", "filled"]
    t1, t2, filled = entries
    assert (t1["last_qty"], t1["last_price"], t1["liquidity_ind"], t1["cum_qty"]) == (D("0.3"), px, "m", D("0.3"))
    assert t2["cum_qty"] == D("0.5") and t2["order_status"] == "partially_filled"  # the completing trade too
    assert (filled["order_status"], filled["cum_qty"], filled["avg_price"]) == ("filled", D("0.5"), px)
    rest = kr.ok("QueryOrders", [("txid", txid), ("trades", "true")])[txid]
    assert rest["trades"] == [t1["exec_id"], t2["exec_id"]]
    feed.close()
    other.close()


def test_sim_kraken_ws_order_methods_place_amend_cancel(sim, kr):
    feed, _ = _subscribe(sim, kr)
    token = kr.ok("GetWebSocketsToken")["token"]
    bid, _ = kr.top()
    add = feed.request("add_order", {"order_type": "limit", "side": "buy", "order_qty": "0.003",
                                     "symbol": "BTC/USDT", "limit_price": str(bid - 900), "cl_ord_id": "ws-1",
                                     "token": token})
    assert add["success"] is True and add["result"]["cl_ord_id"] == "ws-1"
    txid = add["result"]["order_id"]
    amend = feed.request("amend_order", {"order_id": txid, "order_qty": "0.001", "token": token})
    assert amend["success"] is True and "amend_id" in amend["result"]
    cancel = feed.request("cancel_order", {"order_id": [txid], "token": token})
    assert cancel["success"] is True
    assert [e["exec_type"] for e in feed.data(4)] == ["pending_new", "new", "amended", "canceled"]
    again = feed.request("cancel_order", {"order_id": [txid], "token": token})
    assert (again["success"], again["error"]) == (False, "EOrder:Invalid order")
    bad = feed.request("add_order", {"order_type": "limit", "side": "buy", "order_qty": "0.001",
                                     "symbol": "XBT/USDT", "limit_price": "1", "token": token})
    assert (bad["success"], bad["error"]) == (False, "EQuery:Unknown asset pair")  # v2 symbols are BTC/USDT
    feed.close()


def test_sim_kraken_ws_faults_duplicate_and_drop_after(sim, kr):
    feed, _ = _subscribe(sim, kr)
    bid, _ = kr.top()
    sim.set_faults(duplicate_events=True)
    txid = _add(kr, "buy", bid - 1000, "0.001")
    entries = feed.data(4)
    assert [e["exec_type"] for e in entries] == ["pending_new", "new", "pending_new", "new"]
    assert {e["order_id"] for e in entries} == {txid}
    sim.set_faults(duplicate_events=False, drop_user_streams_after=1)
    kr.ok("CancelOrder", [("txid", txid)])
    with pytest.raises(Exception):  # the canceled entry went out, then the connection was cut
        feed.data(10, timeout=2)
    feed.close()


def test_sim_kraken_ws_drop_all_websockets_admin(sim, kr):
    feed, _ = _subscribe(sim, kr)
    assert sim.drop_websockets() >= 1
    with pytest.raises(Exception):
        feed.recv(timeout=2)


def test_sim_kraken_ws_token_unused_for_15_minutes_expires_one_in_use_stays_valid():
    import time

    from fixgw.clock import FakeClock

    clock = FakeClock(start_ns=time.time_ns())
    server = kraken_sim(clock=clock)
    kr = KrakenClient(server.base_url)
    try:
        unused = kr.ok("GetWebSocketsToken")["token"]
        in_use = kr.ok("GetWebSocketsToken")["token"]
        feed = Feed(server)
        assert feed.request("subscribe", {"channel": "executions", "token": in_use})["success"] is True
        clock.advance(901)
        late = Feed(server)
        ack = late.request("subscribe", {"channel": "executions", "token": unused})
        assert (ack["success"], ack["error"]) == (False, "EAPI:Invalid token")
        cancel_all = feed.request("cancel_all", {"token": in_use})  # the connection that uses it: still valid
        assert cancel_all["success"] is True
        for f in (feed, late):
            f.close()
    finally:
        kr.close()
        server.stop()
