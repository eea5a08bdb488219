"""The Coinbase dialect's WebSocket feed over real loopback sockets: subscribe, auth, full/user messages, faults."""

from __future__ import annotations

import json
import time
from decimal import Decimal as D
from typing import Any

import pytest
from cb_helpers import OTHER_KEY, OTHER_SECRET, CbClient, cb_sign, cb_sim
from cb_helpers import cb  # noqa: F401  (a fixture)
from websockets.sync.client import ClientConnection, connect

from fixgw.sim import DEMO_API_KEY, DEMO_API_SECRET
from fixgw.sim.coinbase import DEMO_PASSPHRASE, feed_url
from fixgw.sim.coinbase.limits import CoinbaseLimits

_ROOMY = CoinbaseLimits(public_per_s=1000, public_burst=1000, private_per_s=1000, private_burst=1000)
sim = cb_sim(_ROOMY)


def _subscribe(ws: ClientConnection, channels: list[Any], *, key: str = DEMO_API_KEY, secret: str = DEMO_API_SECRET,
               signed: bool = True, products: tuple[str, ...] = ("BTC-USDT",)) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "subscribe", "product_ids": list(products), "channels": channels}
    if signed:
        ts = f"{time.time():.3f}"
        msg.update(key=key, passphrase=DEMO_PASSPHRASE, timestamp=ts,
                   signature=cb_sign(secret, ts, "GET", "/users/self/verify"))
    ws.send(json.dumps(msg))
    return json.loads(ws.recv(timeout=5))


def _until(ws: ClientConnection, pred: Any, limit: int = 40) -> list[dict[str, Any]]:
    out = []
    for _ in range(limit):
        msg = json.loads(ws.recv(timeout=5))
        if msg["type"] == "heartbeat":
            continue
        out.append(msg)
        if pred(out):
            return out
    raise AssertionError(f"condition not met: {out}")


def _best(cb: CbClient, side: str) -> D:
    book = cb.http.get("/products/BTC-USDT/book").json()
    return D(book["bids" if side == "buy" else "asks"][0][0])


def test_subscribe_user_answers_subscriptions(sim):
    with connect(feed_url(sim.base_url)) as ws:
        reply = _subscribe(ws, ["user", {"name": "heartbeat", "product_ids": ["ETH-USDT"]}])
    assert reply == {"type": "subscriptions", "channels": [{"name": "user", "product_ids": ["BTC-USDT"]},
                                                           {"name": "heartbeat", "product_ids": ["ETH-USDT"]}]}


@pytest.mark.parametrize("channels, signed, reason", [
    (["user"], False, "CB-ACCESS-KEY header is required"),
    (["level9"], False, "level9 is not a valid channel"),
    ([{"name": "user", "product_ids": ["DOGE-USDT"]}], True, "DOGE-USDT is not a valid product"),
])
def test_subscribe_refused_with_error_message(sim, channels, signed, reason):
    with connect(feed_url(sim.base_url)) as ws:
        reply = _subscribe(ws, channels, signed=signed)
    assert reply["type"] == "error" and reply["message"] == "Failed to subscribe" and reason in reply["reason"]


def test_subscribe_bad_signature_refused(sim):
    with connect(feed_url(sim.base_url)) as ws:
        reply = _subscribe(ws, ["user"], secret=OTHER_SECRET)
    assert reply == {"type": "error", "message": "Failed to subscribe", "reason": "invalid signature"}


def test_no_subscribe_in_time_closes_connection(sim, monkeypatch):
    monkeypatch.setattr("fixgw.sim.coinbase.feed.SUBSCRIBE_TIMEOUT_S", 0.3)
    with connect(feed_url(sim.base_url)) as ws:
        msg = json.loads(ws.recv(timeout=5))
        assert msg["type"] == "error" and "5 seconds" in msg["reason"]
        with pytest.raises(Exception):
            ws.recv(timeout=5)


def test_user_channel_lifecycle_received_open_match_done_in_sequence(sim, cb):
    other = CbClient(sim.base_url, key=OTHER_KEY, secret=OTHER_SECRET)
    with connect(feed_url(sim.base_url)) as ws:
        _subscribe(ws, ["user"])
        px = _best(cb, "buy") + D("0.01")
        mine = cb.place(side="buy", price=f"{px}", size="0.5", client_oid="6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f").json()
        got = _until(ws, lambda m: m[-1]["type"] == "open")
        assert [m["type"] for m in got] == ["received", "open"]
        received, opened = got
        assert (received["order_id"], received["client_oid"], received["order_type"], received["side"]) == (
            mine["id"], "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f", "limit", "buy")
        assert D(opened["remaining_size"]) == D("0.5") and received["user_id"] and received["profile_id"]
        other.place(side="sell", price=f"{px}", size="0.3")
        other.place(side="sell", price=f"{px}", size="0.2")
        got = _until(ws, lambda m: m[-1]["type"] == "done")
        assert [m["type"] for m in got] == ["match", "match", "done"]
        assert all(m["maker_order_id"] == mine["id"] and m["side"] == "buy" for m in got[:2])  # the maker's side
        assert [D(m["size"]) for m in got[:2]] == [D("0.3"), D("0.2")]
        assert got[0]["maker_user_id"] == received["user_id"] and "taker_user_id" not in got[0]
        assert D(got[0]["maker_fee_rate"]) > 0
        assert (got[2]["reason"], D(got[2]["remaining_size"])) == ("filled", 0)
        seqs = [received["sequence"], opened["sequence"], *(m["sequence"] for m in got)]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    other.close()


def test_ioc_remainder_done_canceled_with_time_in_force_reason(sim, cb):
    with connect(feed_url(sim.base_url)) as ws:
        _subscribe(ws, ["user"])
        ask = _best(cb, "sell")
        cb.place(side="buy", price=f"{ask}", size="5", time_in_force="IOC")
        got = _until(ws, lambda m: m[-1]["type"] == "done")
        assert got[0]["type"] == "received" and "open" not in [m["type"] for m in got]
        assert got[-1]["reason"] == "canceled" and got[-1]["cancel_reason"] == 101
        assert D(got[-1]["remaining_size"]) < D("5")


def test_full_channel_sees_others_orders_without_private_fields(sim, cb):
    with connect(feed_url(sim.base_url)) as ws:
        assert _subscribe(ws, ["full"], signed=False)["type"] == "error"  # full needs auth too
        _subscribe(ws, ["full"], key=OTHER_KEY, secret=OTHER_SECRET)
        order = cb.place(side="buy", price=f"{_best(cb, 'buy') - 500}", size="0.01").json()
        cb.call("DELETE", f"/orders/{order['id']}")
        got = _until(ws, lambda m: m[-1]["type"] == "done")
    assert [m["type"] for m in got] == ["received", "open", "done"]
    assert all("user_id" not in m and "cancel_reason" not in m for m in got)


def test_duplicate_events_fault_sends_each_user_message_twice(sim, cb):
    with connect(feed_url(sim.base_url)) as ws:
        _subscribe(ws, ["user"])
        sim.set_faults(duplicate_events=True)
        cb.place(side="buy", price=f"{_best(cb, 'buy') - 500}", size="0.01")
        got = _until(ws, lambda m: len(m) == 4)
    assert [m["type"] for m in got] == ["received", "received", "open", "open"]


def test_drop_websockets_cuts_feed(sim, cb):
    with connect(feed_url(sim.base_url)) as ws:
        _subscribe(ws, ["user"])
        assert sim.drop_websockets() >= 1
        with pytest.raises(Exception):
            ws.recv(timeout=5)


def test_heartbeat_each_second_with_last_trade_id(sim, cb):
    with connect(feed_url(sim.base_url)) as ws:
        _subscribe(ws, ["heartbeat"], signed=False)
        msg = json.loads(ws.recv(timeout=5))
    assert msg["type"] == "heartbeat" and msg["product_id"] == "BTC-USDT" and isinstance(msg["last_trade_id"], int)


def test_drop_user_streams_after_fault_cuts_authenticated_feed_after_n_messages(sim, cb):
    with connect(feed_url(sim.base_url)) as ws:
        _subscribe(ws, ["user"])
        sim.set_faults(drop_user_streams_after=2)
        cb.place(side="buy", price=f"{_best(cb, 'buy') - 500}", size="0.01")
        got = [json.loads(ws.recv(timeout=5)) for _ in range(2)]
        assert [m["type"] for m in got] == ["received", "open"]
        with pytest.raises(Exception):
            while True:
                if json.loads(ws.recv(timeout=5))["type"] != "heartbeat":
                    break
    assert sim.call(lambda st: st.faults.drop_user_streams_after) == 0
