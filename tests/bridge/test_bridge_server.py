"""The bridge over a real uvicorn server on loopback: every refusal, the error shape, health and readiness."""

from __future__ import annotations

import pytest
from bridge_helpers import FakeView, RawSigner, dumps, error_of

from fixgw.bridge import BridgeServer
from fixgw.clock import FakeClock


def test_healthz_unsigned_answers_ok(raw: RawSigner) -> None:
    r = raw.send("GET", "/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_readyz_gateway_ready_answers_200(raw: RawSigner) -> None:
    r = raw.send("GET", "/readyz")
    assert r.status_code == 200 and r.json()["ready"] is True


@pytest.mark.parametrize(
    ("listening", "venues", "needle"),
    [(False, (("binance", True),), "acceptor"), (True, (("binance", False), ("okx", True)), "1 of 2 venues")],
)
def test_readyz_not_ready_answers_503_error_shape(
    raw: RawSigner, view: FakeView, listening: bool, venues: tuple, needle: str
) -> None:
    view.listening, view.venues = listening, venues
    r = raw.send("GET", "/readyz")
    assert error_of(r) == (503, "not_ready")
    assert needle in r.json()["error"]["message"]


def test_sessions_signed_by_admin_key_listed_with_sequence_numbers(raw: RawSigner) -> None:
    r = raw.signed("admin", "GET", "/v1/sessions")
    assert r.status_code == 200, r.text
    first = r.json()["sessions"][0]
    assert first["session_id"] == "FIX.4.4:FIXGW->CLIENT44"
    assert (first["state"], first["logged_on"], first["next_sender_seq"], first["next_target_seq"]) == (
        "ACTIVE", True, 12, 34)


@pytest.mark.parametrize("drop", ["X-FIXGW-KEY", "X-FIXGW-TIMESTAMP", "X-FIXGW-SIGNATURE"])
def test_request_missing_header_refused_401(raw: RawSigner, drop: str) -> None:
    h = raw.headers("reader", "GET", "/v1/orders")
    del h[drop]
    r = raw.send("GET", "/v1/orders", headers=h)
    assert error_of(r) == (401, "missing_credentials")
    assert r.headers["WWW-Authenticate"] == "FIXGW-HMAC-SHA256"


def test_request_unsigned_refused_401(raw: RawSigner) -> None:
    assert error_of(raw.send("GET", "/v1/orders")) == (401, "missing_credentials")


def test_request_unknown_key_refused_401(raw: RawSigner) -> None:
    h = raw.headers("reader", "GET", "/v1/orders")
    h["X-FIXGW-KEY"] = "stranger"
    assert error_of(raw.send("GET", "/v1/orders", headers=h)) == (401, "unknown_key")


def test_request_bad_signature_refused_401(raw: RawSigner) -> None:
    h = raw.headers("reader", "GET", "/v1/orders", secret="not-the-secret-0123456789abcdef0123")
    assert error_of(raw.send("GET", "/v1/orders", headers=h)) == (401, "bad_signature")


@pytest.mark.parametrize(("skew_ms", "accepted"), [(-10_000, True), (-10_001, False), (10_000, True),
                                                   (10_001, False), (-600_000, False), (600_000, False)])
def test_request_timestamp_window_edges(raw: RawSigner, skew_ms: int, accepted: bool) -> None:
    r = raw.signed("reader", "GET", "/v1/orders", ts=raw.now_ms() + skew_ms)
    if accepted:
        assert r.status_code == 200, r.text
    else:
        assert error_of(r) == (401, "stale_timestamp")


def test_request_replayed_inside_window_refused_401(raw: RawSigner, clock: FakeClock) -> None:
    h = raw.headers("trader", "POST", "/v1/echo", "", b'{"qty":"1"}')
    assert raw.send("POST", "/v1/echo", body=b'{"qty":"1"}', headers=h).status_code == 200
    clock.advance(5)
    assert error_of(raw.send("POST", "/v1/echo", body=b'{"qty":"1"}', headers=h)) == (401, "replayed_request")
    clock.advance(6)  # now outside the window: refused as stale, never run twice
    assert error_of(raw.send("POST", "/v1/echo", body=b'{"qty":"1"}', headers=h)) == (401, "stale_timestamp")


def test_request_price_moved_between_query_and_body_refused(raw: RawSigner) -> None:
    # Signed for 31000.00 (query "price=31000", body ".00"); sent as 3100.00 by moving one "0".
    h = raw.headers("trader", "POST", "/v1/echo", "price=31000", b".00")
    r = raw.send("POST", "/v1/echo", "price=3100", b"0.00", headers=h)
    assert error_of(r) == (401, "bad_signature")
    ok = raw.send("POST", "/v1/echo", "price=31000", b".00", headers=h)
    assert ok.status_code == 200 and ok.json() == {"query": "price=31000", "body": ".00"}


def test_request_query_changed_after_signing_refused(raw: RawSigner) -> None:
    h = raw.headers("reader", "GET", "/v1/orders", "limit=10")
    assert error_of(raw.send("GET", "/v1/orders", "limit=1000", headers=h)) == (401, "bad_signature")


def test_request_path_percent_encoding_signed_as_sent(raw: RawSigner) -> None:
    # %6F is "o": the same route once decoded, but not the same request line.
    h = raw.headers("reader", "GET", "/v1/orders")
    assert error_of(raw.send("GET", "/v1/%6Frders", headers=h)) == (401, "bad_signature")
    assert raw.signed("reader", "GET", "/v1/%6Frders").status_code == 200


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
def test_read_only_key_cannot_place_or_cancel_order(raw: RawSigner, method: str) -> None:
    r = raw.signed("reader", method, "/v1/echo", body=dumps({"symbol": "ETHUSDT", "qty": "1"}))
    assert error_of(r) == (403, "missing_permission")


def test_trade_key_without_admin_refused_403(raw: RawSigner) -> None:
    assert error_of(raw.signed("trader", "POST", "/v1/admin-echo")) == (403, "missing_permission")
    assert raw.signed("admin", "POST", "/v1/admin-echo").status_code == 200


def test_admin_only_key_cannot_read(raw: RawSigner) -> None:
    assert error_of(raw.signed("ops", "GET", "/v1/orders")) == (403, "missing_permission")


def test_request_from_disallowed_address_refused_403(raw: RawSigner) -> None:
    assert error_of(raw.signed("far", "GET", "/v1/orders")) == (403, "forbidden_address")


def test_request_forwarded_for_header_not_trusted_peer_address_checked(raw: RawSigner) -> None:
    # "far" may call from 10.99.0.0/16 only: naming such an address in a header changes nothing.
    for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded"):
        value = "for=10.99.1.2" if header == "Forwarded" else "10.99.1.2"
        h = raw.headers("far", "GET", "/v1/orders")
        assert error_of(raw.send("GET", "/v1/orders", headers={**h, header: value})) == (403, "forbidden_address")
    # and a loopback key still works from loopback whatever the header says
    h = raw.headers("reader", "GET", "/v1/orders")
    assert raw.send("GET", "/v1/orders", headers={**h, "X-Forwarded-For": "192.0.2.7"}).status_code == 200


def test_unknown_path_signed_404_unsigned_401(raw: RawSigner) -> None:
    assert error_of(raw.signed("reader", "GET", "/v1/nowhere")) == (404, "not_found")
    assert error_of(raw.signed("reader", "GET", "/v2/orders")) == (404, "not_found")
    assert error_of(raw.send("GET", "/v1/nowhere")) == (401, "missing_credentials")


def test_wrong_method_signed_405_with_allow(raw: RawSigner) -> None:
    r = raw.signed("admin", "DELETE", "/v1/fills")
    assert error_of(r) == (405, "method_not_allowed")
    assert "GET" in r.headers["Allow"]


def test_public_path_other_method_needs_signature(raw: RawSigner) -> None:
    assert error_of(raw.send("POST", "/healthz")) == (401, "missing_credentials")
    assert error_of(raw.signed("reader", "POST", "/healthz")) == (405, "method_not_allowed")


def test_body_over_limit_refused_413(raw: RawSigner) -> None:
    body = b"x" * 5000
    assert error_of(raw.signed("trader", "POST", "/v1/echo", body=body)) == (413, "body_too_large")


def test_body_over_limit_from_stranger_refused_401_unread(raw: RawSigner) -> None:
    # Headers are judged before the body is read: an unknown caller gets 401, not 413.
    h = raw.headers("reader", "POST", "/v1/echo")
    h["X-FIXGW-KEY"] = "stranger"
    assert error_of(raw.send("POST", "/v1/echo", body=b"x" * 5000, headers=h)) == (401, "unknown_key")
    assert error_of(raw.send("POST", "/v1/echo", body=b"x" * 5000)) == (401, "missing_credentials")


def test_bad_parameter_400_without_echoing_value(raw: RawSigner) -> None:
    r = raw.signed("reader", "GET", "/v1/typed", "qty=evil-value")
    assert error_of(r) == (400, "invalid_request")
    assert "evil-value" not in r.text and "qty" in r.text


def test_route_failure_500_without_detail(server: BridgeServer, raw: RawSigner) -> None:
    r = raw.signed("reader", "GET", "/v1/boom")
    assert error_of(r) == (500, "internal_error")
    assert "route failed" not in r.text and "RuntimeError" not in r.text
