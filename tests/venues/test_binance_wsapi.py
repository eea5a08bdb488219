"""WebSocket API order entry, pure parts: the signed request, answers mapped to typed errors, rate-limit counts."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from fixgw.errors import VenueBanned, VenueRateLimited, VenueRejected, VenueUnknownOutcome
from fixgw.venues.binance.auth import ws_api_request
from fixgw.venues.binance.parsing import error_from_ws_api, rate_limit_counts
from .conftest import vectors

_NOW_NS = 1_700_000_000_000 * 1_000_000


def test_ws_api_request_signs_documented_order_payload_sorted_with_api_key():
    v = next(x for x in vectors("hmac_sha256_ws_sorted") if "recvWindow=100&" in x.get("payload", ""))
    params = [("symbol", "BTCUSDT"), ("side", "SELL"), ("type", "LIMIT"), ("timeInForce", "GTC"),
              ("quantity", D("0.01000000")), ("price", D("52000.00"))]
    req = ws_api_request("1", "order.place", params, api_key=v["api_key"], api_secret=v["secret"],
                         timestamp_ms=1645423376532, recv_window_ms=100)
    assert req["method"] == "order.place" and req["id"] == "1"
    assert req["params"]["signature"] == v["expected"]
    assert req["params"]["price"] == "52000.00" and req["params"]["timestamp"] == 1645423376532  # exact decimals


def test_ws_api_error_429_retry_after_is_a_timestamp_not_seconds():
    err = error_from_ws_api(429, {"code": -1003, "msg": "Too many requests.",
                                  "data": {"retryAfter": _NOW_NS // 1_000_000 + 3000}}, _NOW_NS)
    assert isinstance(err, VenueRateLimited) and err.retry_after == pytest.approx(3.0)


def test_ws_api_error_418_ban_ends_at_retry_after():
    until_ms = _NOW_NS // 1_000_000 + 120_000
    err = error_from_ws_api(418, {"code": -1003, "msg": "IP banned.", "data": {"retryAfter": until_ms}}, _NOW_NS)
    assert isinstance(err, VenueBanned) and err.until_ns == until_ms * 1_000_000


@pytest.mark.parametrize("status,error,kind,reason", [
    (503, {"code": -1007, "msg": "Timeout waiting for response from backend server."}, VenueUnknownOutcome, None),
    (400, {"code": -2010, "msg": "Duplicate order sent."}, VenueRejected, "duplicate_order"),
    (400, {"code": -2011, "msg": "Unknown order sent."}, VenueRejected, "unknown_order"),
    (200, None, type(None), None),
])
def test_ws_api_answer_maps_to_the_rest_error_of_the_same_status_and_code(status, error, kind, reason):
    err = error_from_ws_api(status, error, _NOW_NS)
    assert isinstance(err, kind)
    if reason is not None:
        assert err.reason == reason


def test_ws_api_rate_limits_read_as_bucket_counts():
    rate_limits = [
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 50, "count": 3},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 160000, "count": 7},
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000, "count": 12},
        {"rateLimitType": "RAW_REQUESTS", "interval": "BOGUS", "intervalNum": 1, "count": 1},
    ]
    assert rate_limit_counts(rate_limits) == [("ORDERS:10S", 3), ("ORDERS:1D", 7), ("REQUEST_WEIGHT:1M", 12)]
    assert rate_limit_counts(None) == []


def test_rate_limit_counts_odd_entries_skipped_known_ones_read_every_time():
    limits = [{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "count": 3},
              {"rateLimitType": ["ORDERS"], "interval": "SECOND", "intervalNum": 10, "count": 1},  # unhashable
              {"rateLimitType": "ORDERS", "interval": ["SECOND"], "intervalNum": 10, "count": 1},
              {"rateLimitType": "ORDERS", "interval": "WEEK", "intervalNum": 1, "count": 1},
              "not a limit"]
    for _ in range(2):  # the second pass reads the names it remembered
        assert rate_limit_counts(limits) == [("ORDERS:10S", 3)]
