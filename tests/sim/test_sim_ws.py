"""WebSocket API (user-data subscription, orders) and public market streams over loopback."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from sim_helpers import SignedClient, events_until, request, signed_params
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.sync.client import connect

from fixgw.sim import ApiKey, SimConfig, SimServer
from fixgw.sim.signing import ws_payload


def test_ws_user_data_subscription_delivers_execution_reports_for_a_fill(sim: SimServer, client: SignedClient) -> None:
    with connect(sim.ws_api_url) as ws:
        reply = request(ws, "sub", "userDataStream.subscribe.signature", signed_params())
        assert reply["status"] == 200 and reply["result"] == {"subscriptionId": 0}
        r = client.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01",
                          newClientOrderId="ws-fill-1")
        assert r.status_code == 200
        seen = events_until(ws, lambda e: e["e"] == "outboundAccountPosition")
    assert all(m["subscriptionId"] == 0 for m in seen)
    reports = [m["event"] for m in seen if m["event"]["e"] == "executionReport"]
    assert [(e["x"], e["c"]) for e in reports][0] == ("NEW", "ws-fill-1")
    last = reports[-1]
    assert (last["x"], last["X"], last["z"], last["S"], last["o"]) == ("TRADE", "FILLED", "0.01000000", "BUY", "MARKET")
    assert last["t"] > 0 and last["N"] == "BTC" and last["m"] is False
    assert {"e", "E", "s", "c", "S", "o", "f", "q", "p", "P", "F", "g", "C", "x", "X", "r", "i", "l", "z", "L",
            "n", "N", "T", "t", "I", "w", "m", "M", "O", "Z", "Y", "Q", "W", "V"} <= set(last)
    balances = {b["a"] for b in seen[-1]["event"]["B"]}
    assert balances == {"BTC", "USDT"}


def test_ws_subscription_with_bad_signature_is_1022(sim: SimServer) -> None:
    with connect(sim.ws_api_url) as ws:
        reply = request(ws, 1, "userDataStream.subscribe.signature", signed_params(secret="wrong"))
    assert reply["status"] == 400 and reply["error"]["code"] == -1022


def test_ws_api_ping_time_and_order_place(sim: SimServer) -> None:
    with connect(sim.ws_api_url) as ws:
        assert request(ws, 1, "ping")["result"] == {}
        assert abs(request(ws, 2, "time")["result"]["serverTime"] - time.time() * 1000) < 5000
        params = signed_params(symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="GTC",
                               quantity="0.00100000", price="99000.00", newOrderRespType="RESULT")
        reply = request(ws, "place", "order.place", params)
        assert reply["status"] == 200 and reply["result"]["status"] == "NEW"
        assert {r["rateLimitType"] for r in reply["rateLimits"]} == {"ORDERS", "REQUEST_WEIGHT"}
        cancel = request(ws, "cancel", "order.cancel",
                         signed_params(symbol="BTCUSDT", orderId=reply["result"]["orderId"]))
        assert cancel["result"]["status"] == "CANCELED"


def test_ws_session_logon_with_ed25519_key_then_subscribe() -> None:
    private = Ed25519PrivateKey.generate()
    pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    key = ApiKey("ed-key", "demo", ed25519_public_key_pem=pem)
    with SimServer(SimConfig(api_keys=(key,), maker_interval_s=None)) as server, connect(server.ws_api_url) as ws:
        params: dict[str, Any] = {"apiKey": "ed-key", "timestamp": int(time.time() * 1000)}
        params["signature"] = base64.b64encode(private.sign(ws_payload(params).encode())).decode()
        reply = request(ws, 1, "session.logon", params)
        assert reply["status"] == 200 and reply["result"]["apiKey"] == "ed-key"
        assert request(ws, 2, "userDataStream.subscribe")["result"] == {"subscriptionId": 0}
        ws.send(json.dumps({"id": 3, "method": "order.place", "params": {
            "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001",
            "timestamp": int(time.time() * 1000)}}))
        messages = [json.loads(ws.recv(timeout=5))]
        while messages[-1].get("id") != 3:  # events come before the answer
            messages.append(json.loads(ws.recv(timeout=5)))
        replies = [m for m in messages if m.get("id") == 3]
        assert replies and replies[0]["status"] == 200 and replies[0]["result"]["status"] == "FILLED"
        assert any(m.get("event", {}).get("X") == "FILLED" for m in messages)


def test_ws_market_streams_deliver_trades_and_depth(sim: SimServer, client: SignedClient) -> None:
    with connect(sim.ws_stream_url + "/btcusdt@trade") as trades, \
            connect(sim.ws_combined_url + "?streams=btcusdt@depth/ethusdt@depth") as depth:
        client.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.002")
        trade = json.loads(trades.recv(timeout=5))
        assert trade["e"] == "trade" and trade["s"] == "BTCUSDT" and trade["m"] is True
        update = json.loads(depth.recv(timeout=5))
        assert update["stream"] == "btcusdt@depth" and update["data"]["e"] == "depthUpdate"
        snapshot = client.get("/api/v3/depth", symbol="BTCUSDT").json()
        assert snapshot["lastUpdateId"] >= update["data"]["u"]


def test_running_sim_serves_an_async_caller() -> None:
    import anyio
    import httpx

    from fixgw.sim import running_sim

    async def main() -> tuple[int, str]:
        async with running_sim(SimConfig(maker_interval_s=None)) as server:
            async with httpx.AsyncClient(base_url=server.base_url) as http:
                r = await http.get("/api/v3/ticker/price", params={"symbol": "SOLUSDT"})
                return r.status_code, server.ws_api_url

    status, url = anyio.run(main)
    assert status == 200 and url.endswith("/ws-api/v3")
