"""REST API over real loopback HTTP: signatures, timing, weights, limits, orders."""

from __future__ import annotations

import time
from decimal import Decimal as D
from typing import Iterator

import httpx
import pytest
from sim_helpers import SignedClient

from fixgw.clock import FakeClock
from fixgw.sim import ApiKey, InstrumentSpec, LimitConfig, SimConfig, SimServer
from fixgw.sim.signing import rest_payload, verify, ws_payload

# Documented example key and vectors (binance-spot-api-docs rest-api.md / web-socket-api.md, see
# ../shared/venues/vectors.json); demo values published by the venue, not credentials.
DOC_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_TS = 1499827319559
DOC_QUERY = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
DOC_SIG = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
DOC_MIXED_SIG = "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"

LTCBTC = InstrumentSpec(
    symbol="LTCBTC", base_asset="LTC", quote_asset="BTC", tick_size=D("0.000001"), step_size=D("0.01"),
    min_price=D("0.000001"), min_qty=D("0.01"), min_notional=D("0.0001"), initial_price=D("0.1"),
)


@pytest.fixture(scope="module")
def doc_sim() -> Iterator[SimServer]:
    """A server whose clock stands at the documented example's timestamp, with the example key."""
    config = SimConfig(
        instruments=(LTCBTC,),
        api_keys=(ApiKey(DOC_KEY, "doc", secret=DOC_SECRET),),
        clock=FakeClock(DOC_TS * 1_000_000 + 100_000_000),
        market_maker=None,
        limits=LimitConfig(weight_per_minute=10, ban_after=3, ban_seconds=60),
    )
    with SimServer(config) as server:
        yield server


def test_signing_documented_vectors_verify() -> None:
    key = ApiKey(DOC_KEY, "doc", secret=DOC_SECRET)
    assert rest_payload(DOC_QUERY + "&signature=" + DOC_SIG, "") == (DOC_QUERY, DOC_SIG)
    assert verify(key, DOC_QUERY, DOC_SIG) and verify(key, DOC_QUERY, DOC_SIG.upper())
    assert not verify(key, DOC_QUERY.replace("price=0.1", "price=0.2"), DOC_SIG)
    ws_params = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01000000",
                 "price": "52000.00", "recvWindow": 100, "timestamp": 1645423376532, "apiKey": DOC_KEY}
    assert verify(key, ws_payload(ws_params), "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24")


def test_rest_documented_signature_is_accepted_and_order_placed(doc_sim: SimServer) -> None:
    with httpx.Client(base_url=doc_sim.base_url) as http:
        r = http.post(f"/api/v3/order?{DOC_QUERY}&signature={DOC_SIG}", headers={"X-MBX-APIKEY": DOC_KEY})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["symbol"] == "LTCBTC" and body["status"] == "NEW" and body["price"] == "0.10000000"
        assert r.headers["X-MBX-ORDER-COUNT-10S"] == "1"


def test_rest_signature_over_query_plus_body_is_accepted(doc_sim: SimServer) -> None:
    query, body = DOC_QUERY.split("&quantity=")
    body = "quantity=" + body + "&signature=" + DOC_MIXED_SIG
    with httpx.Client(base_url=doc_sim.base_url) as http:
        r = http.post(f"/api/v3/order?{query}", content=body, headers={
            "X-MBX-APIKEY": DOC_KEY, "Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 200, r.text


def test_rest_weight_over_limit_gets_429_then_418_ban(doc_sim: SimServer) -> None:
    clock = doc_sim.config.clock
    assert isinstance(clock, FakeClock)
    clock.advance(60)  # a fresh weight window
    with httpx.Client(base_url=doc_sim.base_url) as http:
        used = [int(http.get("/api/v3/ping").headers["X-MBX-USED-WEIGHT-1M"]) for _ in range(10)]
        assert used == list(range(1, 11))
        r = http.get("/api/v3/ping")
        assert r.status_code == 429 and r.json()["code"] == -1003 and int(r.headers["Retry-After"]) >= 1
        assert http.get("/api/v3/ping").status_code == 429
        r = http.get("/api/v3/ping")  # third violation in the window: banned
        assert r.status_code == 418 and int(r.headers["Retry-After"]) == 60
        clock.advance(61)
        assert http.get("/api/v3/ping").status_code == 200


def test_rest_bad_signature_is_1022(client: SignedClient) -> None:
    client.secret = "not-the-secret"
    r = client.signed("GET", "/api/v3/account")
    assert r.status_code == 400 and r.json() == {"code": -1022, "msg": "Signature for this request is not valid."}


def test_rest_missing_or_unknown_api_key_is_rejected(client: SignedClient) -> None:
    r = client.http.get("/api/v3/account", params={"timestamp": 1, "signature": "00"})
    assert r.status_code == 401 and r.json()["code"] == -2014
    client.key = "nobody"
    assert client.signed("GET", "/api/v3/account").json()["code"] == -2015


def test_rest_stale_or_future_timestamp_is_1021(client: SignedClient) -> None:
    now = int(time.time() * 1000)
    r = client.signed("GET", "/api/v3/account", timestamp=now - 10_000)
    assert r.json() == {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
    r = client.signed("GET", "/api/v3/account", timestamp=now - 10_000, recvWindow=20_000)
    assert r.status_code == 200
    r = client.signed("GET", "/api/v3/account", timestamp=now + 5_000)
    assert r.json()["code"] == -1021 and "ahead" in r.json()["msg"]


def test_rest_weights_are_counted_in_header(client: SignedClient) -> None:
    a = int(client.get("/api/v3/depth", symbol="BTCUSDT").headers["X-MBX-USED-WEIGHT-1M"])
    b = int(client.get("/api/v3/depth", symbol="BTCUSDT", limit=1000).headers["X-MBX-USED-WEIGHT-1M"])
    c = int(client.get("/api/v3/exchangeInfo").headers["X-MBX-USED-WEIGHT-1M"])
    if a < b < c:  # not across a minute boundary
        assert (b - a, c - b) == (50, 20)


def test_rest_unknown_symbol_is_1121(client: SignedClient) -> None:
    r = client.get("/api/v3/depth", symbol="NOPE")
    assert r.status_code == 400 and r.json() == {"code": -1121, "msg": "Invalid symbol."}


def test_rest_exchange_info_lists_default_instruments_with_filters(client: SignedClient) -> None:
    info = client.get("/api/v3/exchangeInfo").json()
    symbols = {s["symbol"]: s for s in info["symbols"]}
    assert set(symbols) == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
    filters = {f["filterType"]: f for f in symbols["BTCUSDT"]["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000" and filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert {"MARKET_LOT_SIZE", "NOTIONAL"} <= set(filters) and symbols["BTCUSDT"]["amendAllowed"] is True


def test_rest_filter_failure_is_1013(client: SignedClient) -> None:
    r = client.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                      quantity="0.001", price="50000.005")
    assert r.status_code == 400 and r.json() == {"code": -1013, "msg": "Filter failure: PRICE_FILTER"}
    r = client.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                      quantity="0.0000011", price="50000")
    assert r.json()["code"] == -1111 or r.json() == {"code": -1013, "msg": "Filter failure: LOT_SIZE"}


def test_rest_missing_mandatory_parameter_is_1102(client: SignedClient) -> None:
    r = client.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.001",
                      price="50000")
    assert r.json() == {"code": -1102,
                        "msg": "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."}


def test_rest_duplicate_client_order_id_is_rejected(client: SignedClient) -> None:
    args = dict(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001", price="30000",
                newClientOrderId="dup-1")
    assert client.signed("POST", "/api/v3/order", **args).status_code == 200
    r = client.signed("POST", "/api/v3/order", **args)
    assert r.status_code == 400 and r.json() == {"code": -2010, "msg": "Duplicate order sent."}
    client.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="dup-1")


def test_rest_place_query_cancel_round_trip(client: SignedClient) -> None:
    r = client.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="GTC",
                      quantity="0.01", price="90000", newClientOrderId="rt-1", newOrderRespType="RESULT")
    placed = r.json()
    assert placed["status"] == "NEW" and "fills" not in placed and placed["origQty"] == "0.01000000"
    q = client.signed("GET", "/api/v3/order", symbol="BTCUSDT", orderId=placed["orderId"]).json()
    assert q["clientOrderId"] == "rt-1" and q["isWorking"] is True
    opened = client.signed("GET", "/api/v3/openOrders", symbol="BTCUSDT").json()
    assert placed["orderId"] in [o["orderId"] for o in opened]
    c = client.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="rt-1",
                      newClientOrderId="rt-1-cxl").json()
    assert (c["status"], c["origClientOrderId"], c["clientOrderId"]) == ("CANCELED", "rt-1", "rt-1-cxl")
    again = client.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=placed["orderId"])
    assert again.json() == {"code": -2011, "msg": "Unknown order sent."}
    missing = client.signed("GET", "/api/v3/order", symbol="BTCUSDT", orderId=10**9)
    assert missing.json() == {"code": -2013, "msg": "Order does not exist."}


def test_rest_market_order_fills_against_seeded_liquidity(client: SignedClient) -> None:
    r = client.signed("POST", "/api/v3/order", symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.5")
    body = r.json()
    assert body["status"] == "FILLED" and body["fills"] and r.headers["X-MBX-ORDER-COUNT-1D"]
    trades = client.signed("GET", "/api/v3/myTrades", symbol="ETHUSDT", orderId=body["orderId"]).json()
    assert sum(D(t["qty"]) for t in trades) == D("0.5") and all(t["isBuyer"] for t in trades)
    account = client.signed("GET", "/api/v3/account", omitZeroBalances="true").json()
    assert any(b["asset"] == "ETH" for b in account["balances"])


def test_rest_cancel_replace_and_amend_keep_priority(client: SignedClient) -> None:
    client.signed("POST", "/api/v3/order", symbol="SOLUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                  quantity="1", price="10", newClientOrderId="cr-1")
    r = client.signed("POST", "/api/v3/order/cancelReplace", symbol="SOLUSDT", side="BUY", type="LIMIT",
                      timeInForce="GTC", quantity="2", price="11", cancelReplaceMode="STOP_ON_FAILURE",
                      cancelOrigClientOrderId="cr-1", newClientOrderId="cr-2")
    body = r.json()
    assert (body["cancelResult"], body["newOrderResult"]) == ("SUCCESS", "SUCCESS")
    assert body["newOrderResponse"]["clientOrderId"] == "cr-2"
    r = client.signed("PUT", "/api/v3/order/amend/keepPriority", symbol="SOLUSDT", origClientOrderId="cr-2",
                      newQty="1.5", newClientOrderId="cr-3")
    amended = r.json()["amendedOrder"]
    assert (amended["qty"], amended["clientOrderId"], amended["origClientOrderId"]) == ("1.50000000", "cr-3", "cr-2")
    failed = client.signed("POST", "/api/v3/order/cancelReplace", symbol="SOLUSDT", side="BUY", type="LIMIT",
                           timeInForce="GTC", quantity="2", price="11", cancelReplaceMode="STOP_ON_FAILURE",
                           cancelOrigClientOrderId="nope")
    assert failed.status_code == 400 and failed.json()["code"] == -2022
    assert failed.json()["data"]["newOrderResult"] == "NOT_ATTEMPTED"
    client.signed("DELETE", "/api/v3/openOrders", symbol="SOLUSDT")


def test_rest_ban_counts_429s_in_a_sliding_minute_not_the_calendar_minute() -> None:
    from fixgw.sim.errors import ApiError
    from fixgw.sim.limits import LimitConfig, RateLimiter

    limiter = RateLimiter(LimitConfig(ban_after=3, ban_seconds=2))
    statuses = []
    for now_ms in (59_000, 60_500, 61_000):  # three refusals straddling a minute boundary
        limiter.forced_429 = 1
        try:
            limiter.charge("1.2.3.4", 1, now_ms)
        except ApiError as exc:
            statuses.append(exc.status)
    assert statuses == [429, 429, 418]
    limiter.forced_429 = 1
    try:
        limiter.charge("1.2.3.4", 1, 200_000)  # the ban is over and the old refusals have aged out
    except ApiError as exc:
        assert exc.status == 429
