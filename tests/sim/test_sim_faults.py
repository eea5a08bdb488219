"""Fault switches, set through the Python API and the /sim admin endpoints, seen by a client."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from sim_helpers import SignedClient, request, signed_params
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from fixgw.sim import SimServer


def _limit(client: SignedClient, cid: str, **extra: str) -> httpx.Response:
    return client.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                         quantity="0.001", price="20000", newClientOrderId=cid, **extra)


def _status(client: SignedClient, cid: str) -> str:
    return client.signed("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId=cid).json()["status"]


def test_fault_latency_delays_answers(sim: SimServer, client: SignedClient) -> None:
    sim.set_faults(latency_ms=300)
    start = time.monotonic()
    assert client.get("/api/v3/ping").status_code == 200
    assert time.monotonic() - start >= 0.3


def test_fault_rate_limit_burst_gives_429s_then_recovers(sim: SimServer, client: SignedClient) -> None:
    sim.set_faults(rate_limit_burst=2)
    codes = [client.get("/api/v3/ping").status_code for _ in range(3)]
    assert codes == [429, 429, 200]


def test_fault_ban_gives_418_with_retry_after_until_reset(sim: SimServer, client: SignedClient) -> None:
    sim.set_faults(ban_seconds=30)
    r = client.get("/api/v3/ping")
    assert r.status_code == 418 and 29 <= int(r.headers["Retry-After"]) <= 30 and r.json()["code"] == -1003
    sim.reset_faults()
    assert client.get("/api/v3/ping").status_code == 200


def test_fault_order_timeout_error_mode_is_503_but_order_exists(sim: SimServer, client: SignedClient) -> None:
    sim.set_faults(order_timeouts=1, order_timeout_mode="error")
    r = _limit(client, "to-error")
    assert r.status_code == 503 and r.json()["code"] == -1007
    assert _status(client, "to-error") == "NEW"
    assert _limit(client, "to-after").status_code == 200  # only one answer was lost


def test_fault_order_timeout_drop_mode_closes_connection_after_accepting(sim: SimServer, client: SignedClient) -> None:
    sim.set_faults(order_timeouts=1, order_timeout_mode="drop")
    with pytest.raises(httpx.TransportError):
        _limit(client, "to-drop")
    assert _status(client, "to-drop") == "NEW"


def test_fault_order_timeout_hang_mode_times_the_client_out(sim: SimServer, client: SignedClient) -> None:
    sim.set_faults(order_timeouts=1, order_timeout_mode="hang", hang_seconds=1.5)
    client.http.timeout = httpx.Timeout(0.5)
    with pytest.raises(httpx.ReadTimeout):
        _limit(client, "to-hang")
    client.http.timeout = httpx.Timeout(10)
    assert _status(client, "to-hang") == "NEW"


def _ws_place(cid: str) -> dict:
    return signed_params(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001",
                         price="20000", newClientOrderId=cid)


def test_fault_order_timeout_error_mode_on_ws_api_is_503_but_order_exists(sim: SimServer, client: SignedClient) -> None:
    sim.set_faults(order_timeouts=1, order_timeout_mode="error")
    with connect(sim.ws_api_url) as ws:
        reply = request(ws, "p1", "order.place", _ws_place("wsto-error"))
        assert reply["status"] == 503 and reply["error"]["code"] == -1007
        assert request(ws, "p2", "order.place", _ws_place("wsto-after"))["status"] == 200
    assert _status(client, "wsto-error") == "NEW"


def test_fault_order_timeout_drop_mode_closes_ws_api_connection_after_accepting(
    sim: SimServer, client: SignedClient
) -> None:
    sim.set_faults(order_timeouts=1, order_timeout_mode="drop")
    with connect(sim.ws_api_url) as ws:
        ws.send(json.dumps({"id": "p", "method": "order.place", "params": _ws_place("wsto-drop")}))
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    assert _status(client, "wsto-drop") == "NEW"


def test_fault_order_timeout_hang_mode_on_ws_api_holds_only_that_answer(sim: SimServer, client: SignedClient) -> None:
    sim.set_faults(order_timeouts=1, order_timeout_mode="hang", hang_seconds=1.0)
    with connect(sim.ws_api_url) as ws:
        ws.send(json.dumps({"id": "hung", "method": "order.place", "params": _ws_place("wsto-hang")}))
        start = time.monotonic()
        assert request(ws, "ping", "ping")["status"] == 200  # the connection keeps serving
        assert time.monotonic() - start < 0.5
        assert _status(client, "wsto-hang") == "NEW"
        late = json.loads(ws.recv(timeout=5))
        assert (late["id"], late["status"], late["error"]["code"]) == ("hung", 503, -1007)
        assert time.monotonic() - start >= 0.9


def test_fault_clock_skew_moves_server_time(sim: SimServer, client: SignedClient) -> None:
    # 6 s: clearly outside the default recvWindow of 5 s (at exactly 5 s the answer hangs on a millisecond)
    sim.set_faults(clock_skew_ms=6000)
    server = client.get("/api/v3/time").json()["serverTime"]
    assert 5000 < server - time.time() * 1000 < 7000
    r = client.signed("GET", "/api/v3/account")  # our clock is now 6 s behind the server's
    assert r.json()["code"] == -1021


def test_fault_admin_endpoint_sets_and_validates_switches(sim: SimServer, client: SignedClient) -> None:
    auth = sim.control_headers
    r = client.http.post("/sim/faults", json={"latency_ms": 0, "duplicate_events": True}, headers=auth)
    assert r.status_code == 200 and r.json()["duplicate_events"] is True
    assert client.http.get("/sim/faults", headers=auth).json()["duplicate_events"] is True
    assert client.http.post("/sim/faults", json={"nonsense": 1}, headers=auth).status_code == 400
    assert client.http.post("/sim/faults/reset", headers=auth).json()["duplicate_events"] is False


def test_fault_duplicate_and_reordered_user_events(sim: SimServer, client: SignedClient) -> None:
    with connect(sim.ws_api_url) as ws:
        assert request(ws, 1, "userDataStream.subscribe.signature", signed_params())["status"] == 200
        sim.set_faults(duplicate_events=True, reorder_events=True)
        _limit(client, "dup-ev")
        got = [json.loads(ws.recv(timeout=5))["event"]["e"] for _ in range(4)]
    # one NEW report and one position, reversed, each sent twice
    assert got == ["outboundAccountPosition", "outboundAccountPosition", "executionReport", "executionReport"]


def test_fault_drop_websockets_cuts_user_and_market_streams(sim: SimServer, client: SignedClient) -> None:
    with connect(sim.ws_api_url) as ws, connect(sim.ws_stream_url + "/btcusdt@depth") as md:
        assert request(ws, 1, "ping")["status"] == 200
        assert sim.drop_websockets() >= 2
        for conn in (ws, md):
            with pytest.raises((ConnectionClosed, EOFError)):
                conn.recv(timeout=5)


def test_fault_drop_user_streams_after_n_events(sim: SimServer, client: SignedClient) -> None:
    with connect(sim.ws_api_url) as ws:
        assert request(ws, 1, "userDataStream.subscribe.signature", signed_params())["status"] == 200
        sim.set_faults(drop_user_streams_after=1)
        _limit(client, "drop-after")
        with pytest.raises((ConnectionClosed, EOFError)):
            for _ in range(5):
                ws.recv(timeout=5)


def test_fault_rate_limit_retry_after_sets_the_wait_of_forced_429s(sim: SimServer, client: SignedClient) -> None:
    sim.set_faults(rate_limit_burst=2, rate_limit_retry_after_s=2)
    r = client.get("/api/v3/ping")
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    with connect(sim.ws_api_url) as ws:
        before = int(time.time() * 1000)
        reply = request(ws, "p", "ping")
    assert reply["status"] == 429
    assert before + 1500 <= reply["error"]["data"]["retryAfter"] <= int(time.time() * 1000) + 2500


def test_fault_order_timeout_drop_all_over_rest_cuts_every_stream_before_events(
    sim: SimServer, client: SignedClient
) -> None:
    with connect(sim.ws_api_url) as ws:
        assert request(ws, 1, "userDataStream.subscribe.signature", signed_params())["status"] == 200
        sim.set_faults(order_timeouts=1, order_timeout_mode="drop_all")
        with pytest.raises(httpx.TransportError):
            _limit(client, "to-drop-all")
        with pytest.raises((ConnectionClosed, EOFError)):  # cut before the order's events were written
            ws.recv(timeout=5)
    assert _status(client, "to-drop-all") == "NEW"


def test_fault_order_timeout_drop_all_on_ws_api_cuts_both_connections(sim: SimServer, client: SignedClient) -> None:
    with connect(sim.ws_api_url) as stream, connect(sim.ws_api_url) as orders:
        assert request(stream, 1, "userDataStream.subscribe.signature", signed_params())["status"] == 200
        sim.set_faults(order_timeouts=1, order_timeout_mode="drop_all")
        orders.send(json.dumps({"id": "p", "method": "order.place", "params": _ws_place("wsto-drop-all")}))
        for conn in (orders, stream):
            with pytest.raises((ConnectionClosed, EOFError)):
                conn.recv(timeout=5)
    assert _status(client, "wsto-drop-all") == "NEW"


@pytest.mark.parametrize("changes", [{"rate_limit_burst": -1}, {"latency_ms": -5}, {"hang_seconds": -1.0},
                                     {"hang_seconds": float("inf")}, {"order_timeout_mode": "later"},
                                     {"duplicate_events": 1}])
def test_fault_bad_switch_values_refused_state_unchanged(sim: SimServer, client: SignedClient, changes) -> None:
    before = sim.call(lambda st: st.faults_json())
    with pytest.raises(ValueError):
        sim.set_faults(**changes)
    assert sim.call(lambda st: st.faults_json()) == before


def test_fault_clock_skew_may_be_negative(sim: SimServer, client: SignedClient) -> None:
    assert sim.set_faults(clock_skew_ms=-5000)["clock_skew_ms"] == -5000
