"""The bridge's hot path: ``OrderLane`` answers ``POST /v1/orders`` exactly as the route does, the shared
flush, the verifier's single parse of the headers, and the server's settings (no per-message deflate).

The lane's answers are compared with the route's over one running gateway (the simulator as the venue):
two bridges over the same gateway, one with the lane and one without, asked the same things.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
from typing import Any, AsyncIterator

import anyio
import httpx
import pytest
from bridge_helpers import KEYS, READ_SECRET, SECRETS, TRADE_SECRET, FakeView
from test_bridge_gateway import sim, stack  # noqa: F401  (sim: a fixture)

from fixgw.bridge import AsyncBridgeClient, KeyRing, Permission, create_app, serve
from fixgw.bridge.app import PermissionCheck
from fixgw.bridge.auth import Verifier, signed_headers
from fixgw.bridge.orders import GroupFlush
from fixgw.gateway import LiveView
from fixgw.sim import SimServer

pytestmark = [pytest.mark.anyio]


def order(cl: str, **extra: Any) -> dict[str, Any]:
    # GTC far below the market: it stays open (status new) while both bridges are asked about it.
    return {"client_order_id": cl, "symbol": "BTC/USDT", "side": "buy", "type": "limit", "quantity": "0.1",
            "price": "1000", **extra}


@contextlib.asynccontextmanager
async def two_bridges(sim: SimServer) -> AsyncIterator[tuple[str, str, dict[str, int]]]:
    """(URL of a bridge with the lane, URL of one without, the lane's counts), both over one gateway."""
    async with stack(sim) as (gw, _):
        lane = create_app(LiveView(gw), KeyRing(KEYS))
        plain = create_app(LiveView(gw), KeyRing(KEYS), fast_orders=False)
        async with anyio.create_task_group() as tg:
            lane_port = await tg.start(serve, lane)
            plain_port = await tg.start(serve, plain)
            yield f"http://127.0.0.1:{lane_port}", f"http://127.0.0.1:{plain_port}", lane.state.order_lane
            tg.cancel_scope.cancel()


async def post(url: str, body: bytes, key: str = "trader", content_type: str = "application/json") -> tuple[int, Any]:
    headers = signed_headers(key, SECRETS[key], _now_ms(), "POST", "/v1/orders", "", body)
    async with httpx.AsyncClient(base_url=url, timeout=10) as h:
        r = await h.post("/v1/orders", content=body, headers={**headers, "Content-Type": content_type})
    return r.status_code, (r.headers.get("content-type"), r.content)


def _now_ms() -> int:
    import time

    return time.time_ns() // 1_000_000


BAD_BODIES = [
    b"{not json",
    b"[]",
    b'{"client_order_id": "X"}',
    json.dumps(order("B1", price="-5")).encode(),
    json.dumps(order("B2", side="sideways")).encode(),
    json.dumps(order("B3", extra="x")).encode(),
    json.dumps(order("B4", quantity=1)).encode(),  # a JSON number, never a decimal string
    json.dumps(order("B5", symbol="NOPE/USDT")).encode(),  # validates; the desk refuses it
    json.dumps(order("B6", account="nobody")).encode(),
    json.dumps(order("B7", type="market", price=None, quantity=None)).encode(),
    b'{"client_order_id": "B8", "price": NaN}',
]


async def test_order_lane_answers_every_post_as_the_route_does(sim: SimServer) -> None:
    async with two_bridges(sim) as (lane, route, _):
        body = json.dumps(order("LANE-1")).encode()
        status, (kind, created) = await post(lane, body)
        assert (status, kind) == (201, "application/json")
        async with AsyncBridgeClient(lane, "trader", TRADE_SECRET, timeout=10) as c:
            with anyio.fail_after(10):
                while (await c.get("/v1/orders/LANE-1"))["status"] != "new":
                    await anyio.sleep(0.02)
        # The same order again (idempotent retry: 200), a conflict, bad bodies, a read-only key, another
        # content type: each answered alike, byte for byte, by the lane and by the route.
        asks = [(body, "trader", "application/json"),
                (json.dumps(order("LANE-1", price="1001")).encode(), "trader", "application/json"),
                *((b, "trader", "application/json") for b in BAD_BODIES),
                (json.dumps(order("LANE-R")).encode(), "reader", "application/json"),
                (json.dumps(order("LANE-T")).encode(), "trader", "text/plain")]
        for ask, key, content_type in asks:
            by_lane = await post(lane, ask, key, content_type)
            by_route = await post(route, ask, key, content_type)
            assert by_lane == by_route, ask
        assert (await post(lane, body))[0] == 200
        # A new order through the route: its 201 has the lane's shape (the same fields, in the same order).
        status, (_, by_route) = await post(route, json.dumps(order("ROUTE-1")).encode())
        assert status == 201 and list(json.loads(by_route)) == list(json.loads(created))


async def test_order_lane_takes_valid_trade_posts_and_passes_the_rest_to_the_route(sim: SimServer) -> None:
    async with two_bridges(sim) as (lane, _, counts):
        assert (await post(lane, json.dumps(order("P-1")).encode()))[0] == 201
        assert (await post(lane, json.dumps(order("P-2")).encode()))[0] == 201
        assert (await post(lane, b"{not json"))[0] == 400
        assert (await post(lane, json.dumps(order("P-3")).encode(), key="reader"))[0] == 403  # the route's check
        assert counts == {"answered": 2, "passed": 1}


async def test_group_flush_one_flush_for_every_waiter_of_a_loop_turn() -> None:
    flushed: list[int] = []
    group = GroupFlush(lambda: lambda: flushed.append(1))
    await asyncio.gather(*(group() for _ in range(20)))
    assert flushed == [1] and group.flushes == 1
    await group()
    assert flushed == [1, 1]


async def test_group_flush_failure_raised_in_every_waiter_and_a_cancelled_waiter_harmless() -> None:
    def fail() -> None:
        raise OSError("disk full")

    group = GroupFlush(lambda: fail)
    results = await asyncio.gather(*(group() for _ in range(3)), return_exceptions=True)
    assert [type(r) for r in results] == [OSError] * 3

    ok = GroupFlush(lambda: lambda: None)
    gone = asyncio.ensure_future(ok())
    stay = asyncio.ensure_future(ok())
    await asyncio.sleep(0)
    gone.cancel()
    await stay  # the flush still answers the waiter that stayed
    assert gone.cancelled()


def test_verifier_claim_from_precheck_still_refuses_a_request_past_the_window() -> None:
    v = Verifier(KEYS, window=5)
    h = signed_headers("trader", TRADE_SECRET, 1_000_000, "POST", "/v1/orders", "", b"{}")
    raw = [(k.lower().encode(), v_.encode()) for k, v_ in h.items()]
    claim = v.precheck(raw, 1_000_000)
    with pytest.raises(Exception) as refused:  # the body arrived after the window closed
        v.verify(raw, "POST", b"/v1/orders", b"", b"{}", "127.0.0.1", 1_005_001, claim)
    assert getattr(refused.value, "code", None) == "stale_timestamp"
    assert v.verify(raw, "POST", b"/v1/orders", b"", b"{}", "127.0.0.1", 1_004_000, claim).key_id == "trader"


def test_permission_check_runs_in_the_event_loop_not_a_worker_thread() -> None:
    # FastAPI runs a synchronous dependency in its thread pool: a thread hop on every signed request.
    assert inspect.iscoroutinefunction(PermissionCheck(Permission.READ).__call__)


async def test_stream_offers_no_per_message_deflate() -> None:
    app = create_app(FakeView(), KEYS)
    async with anyio.create_task_group() as tg:
        port = await tg.start(serve, app)
        async with AsyncBridgeClient(f"http://127.0.0.1:{port}", "reader", READ_SECRET, timeout=10) as c:
            async with c.stream("/v1/stream") as s:
                assert (await s.recv())["type"] == "hello"
                assert s.connection.response.headers.get("Sec-WebSocket-Extensions") is None
        tg.cancel_scope.cancel()

