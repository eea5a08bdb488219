"""Binance REST client against a mock transport: signing, retries, typed errors, no httpx leaks."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from fixgw.clock import FakeClock
from fixgw.errors import (
    TransportError,
    VenueAuthError,
    VenueBanned,
    VenueRejected,
    VenueUnknownOutcome,
)
from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.ratelimit import Bucket, RateLimiter
from fixgw.venues.binance.config import BinanceConfig
from fixgw.venues.binance.http import WEIGHT_BUCKET, BinanceHttp

pytestmark = pytest.mark.anyio

KEY, SECRET = "demo-key", "demo-secret"


def _client(handler, *, server_offset_s=0.0):
    clock = FakeClock(start_ns=1_700_000_000 * 10**9)
    sleeps: list[float] = []

    async def sleep(s):
        sleeps.append(s)
        clock.advance(s)

    cfg = BinanceConfig(rest_url="http://venue.test", ws_api_url="ws://venue.test/ws-api/v3", api_key=KEY,
                        api_secret=SECRET)
    limiter = RateLimiter([Bucket(WEIGHT_BUCKET, 6000, 60.0)], clock=clock, sleep=sleep)
    http = BinanceHttp(cfg, server_clock=ServerClock(clock), limiter=limiter,
                       transport=httpx.MockTransport(handler))
    return http, clock, sleeps


def _json(status, body, headers=None):
    return httpx.Response(status, content=json.dumps(body).encode(), headers=headers or {})


def _verify_signature(request: httpx.Request) -> dict:
    query = urlsplit(str(request.url)).query
    payload, _, sig = query.rpartition("&signature=")
    assert hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest() == sig
    assert request.headers["X-MBX-APIKEY"] == KEY
    return dict(parse_qsl(payload))


async def test_http_signed_request_signature_verifies_and_weight_header_read():
    seen = {}

    def handler(request):
        seen.update(_verify_signature(request))
        return _json(200, {"ok": True}, {"X-MBX-USED-WEIGHT-1M": "42"})

    http, clock, _ = _client(handler)
    assert await http.request("GET", "/api/v3/account", [("omitZeroBalances", True)], signed=True) == {"ok": True}
    assert seen["recvWindow"] == "5000" and seen["omitZeroBalances"] == "true"
    assert int(seen["timestamp"]) == clock.now_ns() // 10**6
    assert http.limiter.usage(WEIGHT_BUCKET)[0] == 42


async def test_http_429_retried_after_backoff_honouring_retry_after():
    calls = []

    def handler(request):
        calls.append(request)
        if len(calls) < 3:
            return _json(429, {"code": -1003, "msg": "Too much request weight used"}, {"Retry-After": "3"})
        return _json(200, {"orderId": 1})

    http, clock, sleeps = _client(handler)
    assert await http.request("POST", "/api/v3/order", [("symbol", "BTCUSDT")], signed=True) == {"orderId": 1}
    assert len(calls) == 3 and sleeps == [3.0, 3.0]


async def test_http_418_raises_banned_and_blocks_next_request_unsent():
    calls = []

    def handler(request):
        calls.append(request)
        return _json(418, {"code": -1003, "msg": "Way too much request weight used; IP banned until 1700000300000."})

    http, clock, _ = _client(handler)
    with pytest.raises(VenueBanned) as info:
        await http.request("GET", "/api/v3/time")
    assert info.value.until_ns == 1_700_000_300 * 10**9
    with pytest.raises(VenueBanned):
        await http.request("GET", "/api/v3/time")
    assert len(calls) == 1
    clock.advance(301)
    with pytest.raises(VenueBanned):  # the handler bans again, but the request was sent
        await http.request("GET", "/api/v3/time")
    assert len(calls) == 2


@pytest.mark.parametrize("status,body", [(500, {}), (503, {"code": -1001, "msg": "Internal error"}),
                                         (400, {"code": -1007, "msg": "Timeout waiting for response"})])
async def test_http_5xx_or_1007_unknown_outcome_not_reject(status, body):
    http, _, _ = _client(lambda r: _json(status, body))
    with pytest.raises(VenueUnknownOutcome):
        await http.request("POST", "/api/v3/order", [("symbol", "BTCUSDT")], signed=True)


async def test_http_read_timeout_on_post_unknown_outcome():
    def handler(request):
        raise httpx.ReadTimeout("slow", request=request)

    http, _, _ = _client(handler)
    with pytest.raises(VenueUnknownOutcome):
        await http.request("POST", "/api/v3/order", [], signed=True)


async def test_http_connect_error_transport_error():
    def handler(request):
        raise httpx.ConnectError("refused", request=request)

    http, _, _ = _client(handler)
    with pytest.raises(TransportError):
        await http.request("POST", "/api/v3/order", [], signed=True)


@pytest.mark.parametrize("msg,reason", [("Duplicate order sent.", "duplicate_order"),
                                        ("Order would immediately match and take.", "would_take"),
                                        ("Account has insufficient balance for requested action.", "insufficient_balance")])
async def test_http_2010_reject_reason_from_message(msg, reason):
    http, _, _ = _client(lambda r: _json(400, {"code": -2010, "msg": msg}))
    with pytest.raises(VenueRejected) as info:
        await http.request("POST", "/api/v3/order", [], signed=True)
    assert info.value.code == -2010 and info.value.reason == reason


async def test_http_filter_failure_and_bad_symbol_reasons():
    http, _, _ = _client(lambda r: _json(400, {"code": -1013, "msg": "Filter failure: LOT_SIZE"}))
    with pytest.raises(VenueRejected) as info:
        await http.request("POST", "/api/v3/order", [], signed=True)
    assert info.value.reason == "filter:LOT_SIZE"
    http, _, _ = _client(lambda r: _json(400, {"code": -1121, "msg": "Invalid symbol."}))
    with pytest.raises(VenueRejected) as info:
        await http.request("GET", "/api/v3/order", [], signed=True)
    assert info.value.reason == "unknown_symbol"


async def test_http_bad_signature_auth_error():
    http, _, _ = _client(lambda r: _json(400, {"code": -1022, "msg": "Signature for this request is not valid."}))
    with pytest.raises(VenueAuthError):
        await http.request("GET", "/api/v3/account", [], signed=True)


async def test_http_1021_resyncs_clock_and_retries_once():
    server_ms = 1_700_000_007_000  # the venue is 7 s ahead
    stamps = []

    def handler(request):
        if request.url.path == "/api/v3/time":
            return _json(200, {"serverTime": server_ms})
        stamps.append(int(dict(parse_qsl(request.url.query.decode()))["timestamp"]))
        if len(stamps) == 1:
            return _json(400, {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."})
        return _json(200, {"orderId": 9})

    http, clock, _ = _client(handler)
    assert await http.request("POST", "/api/v3/order", [], signed=True) == {"orderId": 9}
    assert stamps[0] == 1_700_000_000_000 and stamps[1] == server_ms


def test_config_repr_hides_secrets():
    cfg = BinanceConfig(rest_url="http://x", ws_api_url="ws://x", api_key="KEYVALUE", api_secret="SECRETVALUE")
    assert "KEYVALUE" not in repr(cfg) and "SECRETVALUE" not in repr(cfg)


def test_config_from_env_reads_named_variables(monkeypatch):
    monkeypatch.setenv("MY_KEY", "k1")
    monkeypatch.setenv("MY_SECRET", "s1")
    cfg = BinanceConfig.from_env("http://x", "ws://x", api_key_env="MY_KEY", api_secret_env="MY_SECRET")
    assert (cfg.api_key, cfg.api_secret) == ("k1", "s1")
