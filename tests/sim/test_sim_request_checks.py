"""Signatures, timestamps and amounts on the simulator's hot path: fast, exact, and never a crash."""

from __future__ import annotations

import hmac
import time
import urllib.parse
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from sim_helpers import SignedClient, request, signed_params
from websockets.sync.client import connect

from fixgw.sim import DEMO_API_KEY, DEMO_API_SECRET, SimServer
from fixgw.sim.instruments import fmt
from fixgw.sim.signing import hmac_sha256_hex, ws_payload

_EIGHT = Decimal("0.00000001")


@settings(max_examples=200, deadline=None)
@given(key=st.binary(max_size=150), data=st.binary(max_size=300))
def test_signing_hmac_from_cached_key_states_equals_hmac(key: bytes, data: bytes) -> None:
    expected = hmac.new(key, data, "sha256").hexdigest()
    assert hmac_sha256_hex(key, data) == expected
    assert hmac_sha256_hex(key, data) == expected  # the cached states are not consumed


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.decimals(allow_nan=False, allow_infinity=False, places=None,
                                   min_value=Decimal("-1e12"), max_value=Decimal("1e12")), max_size=12))
def test_fmt_cached_amounts_print_as_quantized_each_time(values: list[Decimal]) -> None:
    for value in values + values[::-1] + [Decimal("-0"), Decimal("0E-12"), Decimal(0)]:
        assert fmt(value) == f"{value.quantize(_EIGHT):f}"
    assert fmt(None) == "0.00000000"


def test_fmt_negative_zero_keeps_its_sign_after_zero_was_formatted() -> None:
    assert fmt(Decimal(0)) == "0.00000000"
    assert fmt(Decimal("-0")) == "-0.00000000"
    assert fmt(Decimal("-0.000000001")) == "-0.00000000"
    assert fmt(Decimal("0.000000015")) == "0.00000002"


def _ws_place(ws, req_id: str, **override: object) -> dict:
    params = signed_params(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="IOC", quantity="0.001",
                           price="20000", newOrderRespType="ACK")
    params.update(override)
    return request(ws, req_id, "order.place", params)


def test_ws_signature_with_non_ascii_characters_is_1022_not_a_crash(sim: SimServer) -> None:
    with connect(sim.ws_api_url) as ws:
        reply = _ws_place(ws, "sig", signature="é" * 64)
        assert (reply["status"], reply["error"]["code"]) == (400, -1022)
        assert request(ws, "after", "ping")["status"] == 200  # the connection lives on


def test_rest_signature_with_non_ascii_characters_is_1022_not_a_crash(sim: SimServer, client: SignedClient) -> None:
    query = urllib.parse.urlencode({"symbol": "BTCUSDT", "timestamp": int(time.time() * 1000)})
    r = client.http.get(f"/api/v3/openOrders?{query}&signature=%C3%A9", headers={"X-MBX-APIKEY": DEMO_API_KEY})
    assert (r.status_code, r.json()["code"]) == (400, -1022)


def test_ws_recv_window_nan_is_1100_not_a_crash(sim: SimServer) -> None:
    with connect(sim.ws_api_url) as ws:
        params = signed_params(symbol="BTCUSDT", recvWindow="NaN")
        reply = request(ws, "nan", "openOrders.status", params)
        assert (reply["status"], reply["error"]["code"]) == (400, -1100)
        assert request(ws, "after", "ping")["status"] == 200


def test_ws_timestamp_in_other_digits_is_1102_not_a_crash(sim: SimServer) -> None:
    with connect(sim.ws_api_url) as ws:
        for ts in ("²" * 13, "١٧٠٠٠٠٠٠٠٠٠٠٠"):
            params = signed_params(symbol="BTCUSDT")
            params["timestamp"] = ts
            params["signature"] = _resign(params)
            reply = request(ws, ts, "openOrders.status", params)
            assert (reply["status"], reply["error"]["code"]) == (400, -1102), reply


def _resign(params: dict) -> str:
    return hmac.new(DEMO_API_SECRET.encode(), ws_payload(params).encode(), "sha256").hexdigest()


def test_ws_recv_window_and_timestamp_rules_unchanged(sim: SimServer) -> None:
    now = int(time.time() * 1000)
    cases = [
        ({"recvWindow": 60001}, -1131), ({"recvWindow": 0}, -1131), ({"recvWindow": "5000.0001"}, -1131),
        ({"recvWindow": "Infinity"}, -1131), ({"recvWindow": "abc"}, -1100),
        ({"timestamp": now + 5000}, -1021), ({"timestamp": now - 10_000, "recvWindow": 5000}, -1021),
        ({"timestamp": (now - 10_000) * 1000, "recvWindow": 20_000}, None),  # microseconds, inside the window
        ({"timestamp": "000" + str(now)}, None),  # leading zeros: still milliseconds
        ({"recvWindow": "59999.999"}, None),
    ]
    with connect(sim.ws_api_url) as ws:
        for n, (override, code) in enumerate(cases):
            params = {"apiKey": DEMO_API_KEY, "symbol": "BTCUSDT", "timestamp": now, **override}
            params["signature"] = _resign(params)
            reply = request(ws, n, "openOrders.status", params)
            assert reply.get("error", {}).get("code") == code, (override, reply)
