"""The signing clients and WebSocket upgrades against a real server; logs; the route table; ``serve``."""

from __future__ import annotations

import json
import logging
import socket

import anyio
import httpx
import pytest
from bridge_helpers import ALL_SECRETS, KEYS, READ_SECRET, SECRETS, TRADE_SECRET, FakeView, RawSigner, error_of
from fastapi.routing import APIRoute, APIWebSocketRoute
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from fixgw.bridge import AsyncBridgeClient, BridgeClient, BridgeRequestError, BridgeServer, create_app, serve
from fixgw.bridge.app import API_PREFIX, PermissionCheck, add_route
from fixgw.bridge.auth import signed_headers
from fixgw.clock import FakeClock
from fixgw.errors import TransportError


def client(server: BridgeServer, clock: FakeClock, key_id: str = "trader", secret: str | None = None) -> BridgeClient:
    return BridgeClient(server.base_url, key_id, secret or SECRETS[key_id], clock=clock, timeout=5)


def ws_url(server: BridgeServer, path: str) -> str:
    return server.base_url.replace("http://", "ws://") + path


def test_client_get_signs_and_decodes(server: BridgeServer, clock: FakeClock) -> None:
    with client(server, clock, "admin") as c:
        sessions = c.get("/v1/sessions")["sessions"]
    assert [s["target_comp_id"] for s in sessions] == ["CLIENT44", "CLIENT42"]


@pytest.mark.parametrize("method", ["post", "patch"])
def test_client_body_and_params_signed_as_sent(server: BridgeServer, clock: FakeClock, method: str) -> None:
    params = {"price": "3100.00", "note": "a b&c=d/é"}
    with client(server, clock) as c:
        echoed = getattr(c, method)("/v1/echo", {"symbol": "ETHUSDT", "qty": "0.5"}, params=params)
    assert dict(httpx.QueryParams(echoed["query"])) == params
    assert '"qty": "0.5"' in echoed["body"] or '"qty":"0.5"' in echoed["body"]


def test_client_delete_signed(server: BridgeServer, clock: FakeClock) -> None:
    with client(server, clock) as c:
        assert c.delete("/v1/echo", params={"order_id": "X-1"})["query"] == "order_id=X-1"


def test_client_identical_requests_in_one_millisecond_both_accepted(server: BridgeServer, clock: FakeClock) -> None:
    # The fake clock stands still: the same request twice must still be two signatures.
    with client(server, clock, "reader") as c:
        first = c.get("/v1/orders")
        assert c.get("/v1/orders") == first


def test_client_error_answer_raises_bridge_request_error(server: BridgeServer, clock: FakeClock) -> None:
    with client(server, clock, "reader") as c:
        with pytest.raises(BridgeRequestError) as e:
            c.post("/v1/echo", {"qty": "1"})
    assert (e.value.status, e.value.code) == (403, "missing_permission")
    with client(server, clock, "reader", secret=TRADE_SECRET) as c:
        with pytest.raises(BridgeRequestError) as e:
            c.get("/v1/orders")
    assert (e.value.status, e.value.code) == (401, "bad_signature")


def test_client_unreachable_raises_transport_error(clock: FakeClock) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with BridgeClient(f"http://127.0.0.1:{port}", "reader", READ_SECRET, clock=clock, timeout=2) as c:
        with pytest.raises(TransportError):
            c.get("/v1/orders")
        with pytest.raises(TransportError):
            with c.stream("/v1/stream"):
                pass


def test_client_repr_hides_secret(server: BridgeServer, clock: FakeClock) -> None:
    with client(server, clock) as c:
        assert TRADE_SECRET not in repr(c) and "trader" in repr(c)


def test_websocket_signed_upgrade_greeted_with_key_and_permissions(server: BridgeServer, clock: FakeClock) -> None:
    with client(server, clock, "reader") as c, c.stream("/v1/stream", params={"channels": "orders,fills"}) as s:
        first = s.recv(timeout=5)
    assert first == {"type": "hello", "key": "reader", "permissions": ["read"], "channels": ["fills", "orders"],
                     "last_id": 0}


def test_websocket_client_messages_ignored_stream_stays_open(server: BridgeServer, clock: FakeClock) -> None:
    with client(server, clock, "reader") as c, c.stream("/v1/stream") as s:
        s.recv(timeout=5)
        s.send({"type": "ping"})
        s.connection.send(b"\x00binary")
        s.connection.ping().wait(5)  # still served after both


def test_websocket_unsigned_upgrade_refused_401_error_shape(server: BridgeServer) -> None:
    with pytest.raises(InvalidStatus) as e:
        with connect(ws_url(server, "/v1/stream"), open_timeout=5):
            pass
    response = e.value.response
    assert response.status_code == 401
    assert json.loads(response.body or b"{}") == {
        "error": {"code": "missing_credentials", "message": "header X-FIXGW-KEY is missing"}}


@pytest.mark.parametrize(("key_id", "status", "code"), [("ops", 403, "missing_permission"),
                                                        ("far", 403, "forbidden_address")])
def test_websocket_upgrade_refused_for_key(server: BridgeServer, clock: FakeClock, key_id: str, status: int,
                                           code: str) -> None:
    with client(server, clock, key_id) as c:
        with pytest.raises(BridgeRequestError) as e:
            with c.stream("/v1/stream"):
                pass
    assert (e.value.status, e.value.code) == (status, code)


def test_websocket_upgrade_signed_for_other_query_or_replayed_refused(server: BridgeServer, clock: FakeClock) -> None:
    now_ms = clock.now_ns() // 1_000_000
    h = signed_headers("reader", READ_SECRET, now_ms, "GET", "/v1/stream", "", b"")
    with pytest.raises(InvalidStatus) as e:
        with connect(ws_url(server, "/v1/stream?x=1"), additional_headers=h, open_timeout=5):
            pass
    assert e.value.response.status_code == 401
    with connect(ws_url(server, "/v1/stream"), additional_headers=h, open_timeout=5) as ws:
        assert '"hello"' in str(ws.recv(timeout=5))
    with pytest.raises(InvalidStatus) as e:
        with connect(ws_url(server, "/v1/stream"), additional_headers=h, open_timeout=5):
            pass
    assert b"replayed_request" in (e.value.response.body or b"")


def test_logs_at_debug_never_hold_a_secret(server: BridgeServer, clock: FakeClock, raw: RawSigner,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for key in KEYS:
        with client(server, clock, key.key_id) as c:
            for call in (lambda: c.get("/v1/orders"), lambda: c.post("/v1/echo", {"q": 1}),
                         lambda: c.post("/v1/admin-echo"), lambda: c.get("/v1/boom")):
                try:
                    call()
                except BridgeRequestError:
                    pass
            try:
                with c.stream("/v1/stream") as s:
                    s.recv(timeout=5)
            except BridgeRequestError:
                pass
        with client(server, clock, key.key_id, secret=key.secret[::-1]) as c:  # a wrong secret
            with pytest.raises(BridgeRequestError):
                c.get("/v1/orders")
    raw.send("GET", "/v1/orders", headers={"X-FIXGW-KEY": "reader"})
    records = caplog.records
    assert any(r.name == "fixgw.bridge" and "refused" in r.getMessage() for r in records)
    assert any(r.name == "fixgw.bridge" and r.levelno == logging.DEBUG for r in records)
    for r in records:
        text = r.getMessage() + (r.exc_text or "") + repr(r.args) + repr(r.__dict__)
        for secret in ALL_SECRETS:
            assert secret not in text and secret[::-1] not in text, r.name


def test_logs_peer_supplied_path_and_key_escaped(raw: RawSigner, caplog: pytest.LogCaptureFixture) -> None:
    # NEL (0x85) is a C1 control character that HTTP lets through as obs-text (both parsers, h11 and
    # httptools, pass it on); a C0 one (ESC) in a header is refused by httptools before the bridge sees it.
    caplog.set_level(logging.INFO, logger="fixgw.bridge")
    raw.send("GET", "/v1/a%0Aforged%20line", headers={"X-FIXGW-KEY": "bad\x85key".encode("latin-1"),
                                                       "X-FIXGW-TIMESTAMP": "1", "X-FIXGW-SIGNATURE": "0" * 64})
    lines = [r.getMessage() for r in caplog.records if r.name == "fixgw.bridge"]
    assert lines and all("\n" not in m and "\x85" not in m for m in lines)
    assert any("\\x0aforged" in m for m in lines)
    assert any("bad\\x85key" in m for m in lines)


def test_every_v1_route_requires_a_permission(view: FakeView) -> None:
    app = create_app(view, KEYS)

    async def extra() -> None:
        return None

    add_route(app, "/extra", extra, methods=["GET"], permission="read")  # type: ignore[arg-type]
    v1 = [r for r in app.routes if isinstance(r, (APIRoute, APIWebSocketRoute)) and r.path.startswith(API_PREFIX)]
    assert {r.path for r in v1} >= {"/v1/orders", "/v1/stream", "/v1/extra"}
    for route in v1:
        checks = [d.call for d in route.dependant.dependencies if isinstance(d.call, PermissionCheck)]
        assert len(checks) == 1, route.path
    public = {r.path for r in app.routes if getattr(r, "path", "").startswith("/") and not r.path.startswith("/v1")}
    assert public == {"/healthz", "/readyz", "/metrics", "/console", "/console/console.js", "/console/console.css"}


@pytest.mark.anyio
async def test_serve_in_task_group_async_client_round_trip(view: FakeView) -> None:
    clock = FakeClock(1_750_000_000_000 * 1_000_000)
    app = create_app(view, KEYS, clock=clock)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            port = await tg.start(serve, app)
            url = f"http://127.0.0.1:{port}"
            async with AsyncBridgeClient(url, "reader", READ_SECRET, clock=clock) as c:
                assert (await c.get("/v1/orders")) == {"orders": [], "next_cursor": None}
                async with c.stream("/v1/stream") as s:
                    assert (await s.recv())["type"] == "hello"
                with pytest.raises(BridgeRequestError) as e:
                    await c.post("/v1/fills")
                assert e.value.code == "method_not_allowed"
            async with httpx.AsyncClient() as h:
                assert error_of(await h.get(url + "/v1/orders")) == (401, "missing_credentials")
            tg.cancel_scope.cancel()
