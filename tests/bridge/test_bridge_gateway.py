"""The bridge over a running gateway: FIX client -> gateway -> simulated exchange, and the bridge beside it.

Everything over real loopback sockets: the simulator (HTTP/WS), the gateway's FIX acceptor, the bridge
served by uvicorn in the gateway's event loop (``fixgw.bridge.launch.run_bridge``, as ``fixgw run`` does),
a FIX client written on the codec alone and the signing ``AsyncBridgeClient``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from decimal import Decimal
from typing import Any, AsyncIterator, Iterator

import anyio
import httpx
import pytest
from bridge_helpers import ADMIN_SECRET, ALL_SECRETS, KEYS, READ_SECRET, TRADE_SECRET, error_of
from gateway.fixclient import FixClient

from fixgw.bridge import AsyncBridgeClient, BridgeRequestError, KeyRing
from fixgw.bridge.launch import run_bridge
from fixgw.config import BridgeConfig, default_config
from fixgw.gateway import Gateway
from fixgw.sim import ApiKey, LimitConfig, NewOrder, SimConfig, SimServer

pytestmark = [pytest.mark.anyio]

API_KEY = "bridge-e2e-key-" + "0" * 20
API_SECRET = "bridge-e2e-secret-" + "7" * 40
S44 = "FIX.4.4:FIXGW->CLIENT44"


@pytest.fixture
def sim() -> Iterator[SimServer]:
    cfg = SimConfig(market_maker=None, api_keys=(ApiKey(api_key=API_KEY, account_id="gw", secret=API_SECRET),),
                    limits=LimitConfig(weight_per_minute=1_000_000, orders_per_10s=1_000_000,
                                       orders_per_day=10_000_000))
    server = SimServer(cfg)
    server.start()
    try:
        server.call(lambda st: st.engine.add_account("cp", {"BTC": Decimal(1000), "USDT": Decimal(10**9)}))
        yield server
    finally:
        server.stop()


def _sell(sim: SimServer, qty: str, price: str) -> None:
    """Rest a counterparty sell in the simulator's book, so a gateway buy at that price fills."""
    req = NewOrder(symbol="BTCUSDT", side="SELL", type="LIMIT", quantity=Decimal(qty), price=Decimal(price),
                   time_in_force="GTC")

    def run(st: Any) -> None:
        st.engine.place("cp", req, st.now_ms())
        st.publish()

    sim.call(run)


@contextlib.asynccontextmanager
async def stack(sim: SimServer, store_path: Any = None, sessions: tuple[Any, ...] = (), keys: Any = KEYS,
                **config: Any) -> AsyncIterator[tuple[Gateway, str]]:
    """A gateway on the simulator and the bridge beside it in the same event loop: (gateway, bridge URL);
    ``sessions``: more ``[[sessions]]``; ``keys``: the bridge's keys; ``config``: venue settings."""
    base = default_config(port=0, store_path=store_path)
    base = dataclasses.replace(base, sessions=base.sessions + tuple(sessions))
    cfg = base.with_venue("sim", rest_url=sim.base_url, ws_url=sim.ws_api_url, api_key=API_KEY,
                                             api_secret=API_SECRET, **config)
    async with gateway_and_bridge(cfg, keys) as running:
        yield running


@contextlib.asynccontextmanager
async def gateway_and_bridge(cfg: Any, keys: Any) -> AsyncIterator[tuple[Gateway, str]]:
    """A gateway on ``cfg`` and the bridge beside it (keys ``keys``) in the same event loop: (gateway, bridge
    URL); both stop on exit, all within 60 s."""
    gw = Gateway(cfg)
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            port = await tg.start(run_bridge, gw, BridgeConfig(port=0), KeyRing(keys))
            await tg.start(gw.run)
            try:
                yield gw, f"http://127.0.0.1:{port}"
            finally:
                gw.stop()
                tg.cancel_scope.cancel()


def admin(url: str) -> AsyncBridgeClient:
    return AsyncBridgeClient(url, "admin", ADMIN_SECRET, timeout=10)


def reader(url: str) -> AsyncBridgeClient:
    return AsyncBridgeClient(url, "reader", READ_SECRET, timeout=10)


async def session_row(c: AsyncBridgeClient, sid: str = S44) -> dict[str, Any]:
    rows = (await c.get("/v1/sessions"))["sessions"]
    return next(r for r in rows if r["session_id"] == sid)


async def test_bridge_live_sessions_and_readiness_follow_a_fix_logon(sim: SimServer) -> None:
    async with stack(sim) as (gw, url), admin(url) as c:
        async with httpx.AsyncClient() as h:
            assert (await h.get(url + "/healthz")).json() == {"status": "ok"}
            ready = await h.get(url + "/readyz")
        assert ready.status_code == 200 and ready.json()["venues_connected"] == 1
        before = await session_row(c)
        assert (before["state"], before["logged_on"], before["peer_address"], before["last_heartbeat_at"]) == (
            "DISCONNECTED", False, None, None)
        fix = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await fix.connect(gw.port)
        row = await session_row(c)
        assert (row["state"], row["logged_on"], row["enabled"]) == ("ACTIVE", True, True)
        assert (row["next_sender_seq"], row["next_target_seq"]) == (2, 2)  # one Logon each way
        assert row["peer_address"].startswith("127.0.0.1:") and row["last_heartbeat_at"].endswith("Z")
        # The short key names the same session in a URL.
        assert row["key"].startswith("CLIENT44_44")
        await fix.logout()


async def test_bridge_venues_show_stream_clock_and_rate_windows(sim: SimServer) -> None:
    from datetime import date, timedelta

    expires = date.today() + timedelta(days=30)
    async with stack(sim, api_key_expires=expires) as (gw, url), admin(url) as c:
        (venue,) = (await c.get("/v1/venues"))["venues"]
    assert (venue["name"], venue["kind"], venue["connected"], venue["stream_state"]) == (
        "sim", "binance", True, "SUBSCRIBED")
    assert venue["clock_offset_ms"] is not None and venue["banned_until"] is None
    windows = {w["window"]: w for w in venue["rate_limits"]}
    assert windows and all(w["headroom"] == w["limit"] - w["used"] for w in windows.values())
    assert venue["api_key_expires"] == expires.isoformat() and venue["api_key_days_left"] in (29, 30)


async def test_bridge_orders_from_fix_listed_filtered_paged_and_found_by_any_id(sim: SimServer) -> None:
    async with stack(sim) as (gw, url), reader(url) as c:
        fix = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await fix.connect(gw.port)
        for i in range(3):  # resting: nobody sells at 50000
            await fix.new_order(f"R{i}", "1", "0.1", price="50000")
            await fix.reports(f"R{i}", 1)
        _sell(sim, "0.2", "60000")
        await fix.new_order("F1", "1", "0.2", price="60000")
        await fix.reports("F1", 2)  # New, then the fill
        await fix.cancel("X1", "R0", "1")
        await fix.reports("X1", 2)  # PendingCancel, Canceled

        everything = await c.get("/v1/orders")
        # Creation order; R0 goes by the ClOrdID of the cancel that ended it.
        assert [o["client_order_id"] for o in everything["orders"]] == ["X1", "R1", "R2", "F1"]
        assert everything["orders"][0]["orig_client_order_id"] == "R0"
        opened = await c.get("/v1/orders", params={"status": "open"})
        assert {o["client_order_id"] for o in opened["orders"]} == {"R1", "R2"}
        closed = await c.get("/v1/orders", params={"status": "closed", "symbol": "BTC/USDT", "venue": "sim",
                                                   "account": "demo"})
        assert {(o["client_order_id"], o["status"]) for o in closed["orders"]} == {("X1", "canceled"),
                                                                                  ("F1", "filled")}
        assert (await c.get("/v1/orders", params={"venue": "elsewhere"}))["orders"] == []

        # Two pages of two, in creation order, no row twice, then no cursor.
        first = await c.get("/v1/orders", params={"limit": "2"})
        assert len(first["orders"]) == 2 and first["next_cursor"]
        second = await c.get("/v1/orders", params={"limit": "2", "cursor": first["next_cursor"]})
        ids = [o["order_id"] for o in first["orders"] + second["orders"]]
        assert sorted(ids) == sorted(o["order_id"] for o in everything["orders"]) and second["next_cursor"] is None

        filled = await c.get("/v1/orders/F1")  # by client order id
        assert (filled["status"], filled["cum_qty"], filled["avg_px"], filled["leaves_qty"]) == (
            "filled", "0.2", "60000", "0")
        assert (await c.get(f"/v1/orders/{filled['order_id']}"))["client_order_id"] == "F1"  # by our id
        assert (await c.get(f"/v1/orders/{filled['venue_order_id']}"))["order_id"] == filled["order_id"]

        fills = (await c.get("/v1/fills"))["fills"]
        assert [(f["client_order_id"], f["last_qty"], f["last_px"], f["side"]) for f in fills] == [
            ("F1", "0.2", "60000", "buy")]
        assert (await c.get("/v1/fills", params={"order_id": "R1"}))["fills"] == []
        await fix.logout()


async def test_bridge_order_queries_bad_input_answered_with_the_error_shape(sim: SimServer) -> None:
    async with stack(sim) as (gw, url), reader(url) as c:
        for path, params, want in (
            ("/v1/orders/nope", {}, (404, "not_found")),
            ("/v1/orders", {"cursor": "not-a-cursor"}, (400, "invalid_request")),
            ("/v1/orders", {"status": "sideways"}, (400, "invalid_request")),
            ("/v1/orders", {"limit": "0"}, (400, "invalid_request")),
            ("/v1/fills", {"since": "yesterday"}, (400, "invalid_request")),
        ):
            with pytest.raises(BridgeRequestError) as e:
                await c.get(path, params=params)
            assert (e.value.status, e.value.code) == want, path


async def test_bridge_read_key_lists_sessions_and_venues_but_every_action_needs_admin(sim: SimServer) -> None:
    async with stack(sim) as (gw, url), reader(url) as c:
        assert (await session_row(c))["state"] == "DISCONNECTED"  # read: what the web console shows
        assert [v["name"] for v in (await c.get("/v1/venues"))["venues"]] == ["sim"]
        key = (await session_row(c))["key"]
        for method, path, body in (
            ("POST", f"/v1/sessions/{key}/logout", None),
            ("PUT", f"/v1/sessions/{key}/sequence-numbers", {"next_sender_seq": 5}),
            ("POST", f"/v1/sessions/{key}/disable", None),
            ("POST", f"/v1/sessions/{key}/enable", None),
            ("POST", "/v1/kill-switch/global", None),
            ("DELETE", "/v1/kill-switch/global", None),
        ):
            assert error_of(await c.send(method, path, json=body)) == (403, "missing_permission"), path
        assert (await session_row(c))["enabled"] is True


async def test_bridge_admin_logout_sequence_numbers_disable_enable(sim: SimServer) -> None:
    async with stack(sim) as (gw, url), admin(url) as c:
        fix = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await fix.connect(gw.port)
        key = (await session_row(c))["key"]

        with pytest.raises(BridgeRequestError) as e:  # not while connected
            await c.put(f"/v1/sessions/{key}/sequence-numbers", {"next_sender_seq": 100})
        assert (e.value.status, e.value.code) == (409, "session_connected")

        done = await c.post(f"/v1/sessions/{key}/logout", {"text": "maintenance"})
        assert done["ok"] is True
        logout = await fix._read_until(lambda m: m.msg_type == b"5", 10)
        assert logout.get(58) == b"maintenance"
        await fix.send_raw("5", [])
        await fix.close()
        with anyio.fail_after(10):
            while (await session_row(c))["state"] != "DISCONNECTED":
                await anyio.sleep(0.02)
        with pytest.raises(BridgeRequestError) as e:
            await c.post(f"/v1/sessions/{key}/logout")
        assert (e.value.status, e.value.code) == (409, "not_logged_on")

        # Set while disconnected; the session id (percent-encoded) names the session as well as its key.
        done = await c.put("/v1/sessions/FIX.4.4%3AFIXGW-%3ECLIENT44/sequence-numbers", {"next_sender_seq": 100})
        assert done["session"]["next_sender_seq"] == 100
        logon = await fix.connect(gw.port)
        assert logon[34] == b"100"  # the gateway's Logon answer carries the number set

        assert (await c.post(f"/v1/sessions/{key}/disable"))["session"]["enabled"] is False
        bye = await fix._read_until(lambda m: m.msg_type == b"5", 10)
        assert b"disabled" in (bye.get(58) or b"")
        await fix.close()
        refused = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        refused.next_out = fix.next_out
        with pytest.raises(ConnectionError, match="disabled by the operator"):
            await refused.connect(gw.port)
        await refused.close()
        assert (await c.post(f"/v1/sessions/{key}/enable"))["session"]["enabled"] is True

        for bad, body, want in ((f"/v1/sessions/{key}/sequence-numbers", {"next_sender_seq": 0},
                                 (400, "invalid_request")),
                                (f"/v1/sessions/{key}/sequence-numbers", {}, (400, "invalid_request")),
                                (f"/v1/sessions/{key}/sequence-numbers", {"next_sender_seq": 5, "x": 1},
                                 (400, "invalid_request")),
                                ("/v1/sessions/NOPE/sequence-numbers", {"next_sender_seq": 5}, (404, "not_found"))):
            with pytest.raises(BridgeRequestError) as e:
                await c.put(bad, body)
            assert (e.value.status, e.value.code) == want, body
        async with AsyncBridgeClient(url, "trader", TRADE_SECRET, timeout=10) as t:
            with pytest.raises(BridgeRequestError) as e:
                await t.post(f"/v1/sessions/{key}/disable")
            assert (e.value.status, e.value.code) == (403, "missing_permission")


async def test_bridge_metrics_count_messages_orders_latency_and_venue_headroom(sim: SimServer) -> None:
    async with stack(sim) as (gw, url):
        fix = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await fix.connect(gw.port)
        await fix.new_order("M1", "1", "0.1", price="50000")
        await fix.reports("M1", 1)
        await fix.send_raw("D", [(11, "bad")])  # required fields missing: a session-level Reject
        await fix._read_until(lambda m: m.msg_type in (b"3", b"j"), 10)
        async with httpx.AsyncClient() as h:
            r = await h.get(url + "/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        text = r.text
        assert f'fixgw_orders{{session="{S44}",status="new"}} 1.0' in text
        assert f'fixgw_fix_messages_total{{direction="in",session="{S44}"}}' in text
        assert f'fixgw_session_state{{session="{S44}",state="ACTIVE"}} 1.0' in text
        assert f'fixgw_first_report_seconds_count{{session="{S44}"}} 1.0' in text
        assert 'fixgw_venue_rate_limit_headroom{venue="sim",window=' in text
        assert 'fixgw_venue_rate_limited_total{venue="sim"} 0.0' in text
        assert 'fixgw_session_rejects_total{' in text
        # A second scrape does not count the same order's latency twice.
        async with httpx.AsyncClient() as h:
            again = (await h.get(url + "/metrics")).text
        assert f'fixgw_first_report_seconds_count{{session="{S44}"}} 1.0' in again
        await fix.logout()


async def test_bridge_logs_and_answers_never_hold_a_secret(sim: SimServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bodies = []
    async with stack(sim) as (gw, url):
        fix = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await fix.connect(gw.port)
        await fix.new_order("S1", "1", "0.1", price="50000")
        await fix.reports("S1", 1)
        async with admin(url) as c:
            for path in ("/v1/sessions", "/v1/venues", "/v1/orders", "/v1/fills"):
                bodies.append(str(await c.get(path)))
        async with AsyncBridgeClient(url, "admin", READ_SECRET, timeout=10) as wrong:  # a wrong secret
            with pytest.raises(BridgeRequestError) as e:
                await wrong.get("/v1/sessions")
            bodies.append(str(e.value))
        async with httpx.AsyncClient() as h:
            bodies.append((await h.get(url + "/metrics")).text)
        await fix.logout()
    text = "\n".join(r.getMessage() for r in caplog.records) + "\n".join(bodies)
    for secret in (*ALL_SECRETS, API_SECRET):
        assert secret not in text
    assert "554=demo" not in text
    assert any(r.name == "fixgw.bridge" for r in caplog.records)  # the bridge did log


async def test_bridge_metrics_refused_outside_metrics_networks() -> None:
    from bridge_helpers import FakeView

    from fixgw.bridge import create_app, serve

    app = create_app(FakeView(), KEYS, metrics_networks=["10.0.0.0/8"])
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            port = await tg.start(serve, app)
            async with httpx.AsyncClient() as h:
                r = await h.get(f"http://127.0.0.1:{port}/metrics")
            assert error_of(r) == (403, "forbidden_address")
            tg.cancel_scope.cancel()
