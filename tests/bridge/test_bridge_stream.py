"""``/v1/stream``: the drop copy of every order event, resumable by event id, with heartbeats and a bounded queue.

End to end over a running gateway (simulator, FIX client, REST) for the drop copy, resume and restart;
over a ``FakeView`` holding a real ``EventFeed`` for the stream's own rules (slow consumer, heartbeats,
parameters), where the events can be produced faster than any reader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator

import anyio
import contextlib
import pytest
from bridge_helpers import ADMIN_SECRET, KEYS, READ_SECRET, FakeView
from gateway.fixclient import FixClient
from test_bridge_gateway import sim, stack  # noqa: F401  (sim: a fixture)
from test_bridge_orders import buy, trader, until

from fixgw.bridge import AsyncBridgeClient, create_app, serve
from fixgw.errors import TransportError
from fixgw.gateway._feed import EventFeed
from fixgw.orders import OrderSubmitted
from fixgw.sim import SimServer

pytestmark = [pytest.mark.anyio]


def reader(url: str) -> AsyncBridgeClient:
    return AsyncBridgeClient(url, "reader", READ_SECRET, timeout=10)


async def events(s: Any, count: int, timeout: float = 10) -> list[dict[str, Any]]:
    """The next ``count`` event messages of stream ``s`` (other messages skipped)."""
    got = []
    with anyio.fail_after(timeout):
        while len(got) < count:
            m = await s.recv()
            if m["type"] == "event":
                got.append(m)
    return got


async def test_bridge_stream_drop_copy_of_rest_and_fix_orders_gap_free(sim: SimServer) -> None:
    async with stack(sim) as (gw, url), reader(url) as r, trader(url) as t:
        async with r.stream("/v1/stream") as s:
            hello = await s.recv()
            assert hello["type"] == "hello" and hello["last_id"] == 0
            await t.post("/v1/orders", buy("W1"))
            fix = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
            await fix.connect(gw.port)
            await fix.new_order("FW1", "1", "0.1", price="50000")
            await fix.reports("FW1", 1)
            await until(t, "W1", lambda o: o["status"] == "new")
            got = await events(s, 4)  # submitted and accepted, for each
        assert [m["id"] for m in got] == [1, 2, 3, 4]
        by_account = {(m["account"].split("_")[0], m["kind"]) for m in got}
        assert {("oms", "OrderSubmitted"), ("CLIENT44", "OrderSubmitted")} <= by_account
        assert all(m["order_id"] and m["event"]["order_id"] == m["order_id"] for m in got)
        await fix.logout()


async def test_bridge_stream_resume_since_after_a_dropped_connection_no_gap_no_duplicate(sim: SimServer) -> None:
    async with stack(sim) as (gw, url), reader(url) as r, trader(url) as t:
        async with r.stream("/v1/stream") as s:
            await s.recv()
            await t.post("/v1/orders", buy("D1"))
            seen = await events(s, 2)
        # Dropped. Meanwhile: more events.
        await t.post("/v1/orders", buy("D2"))
        await t.post("/v1/orders", buy("D3"))
        await until(t, "D3", lambda o: o["status"] == "new")
        await until(t, "D2", lambda o: o["status"] == "new")
        async with r.stream("/v1/stream", params={"since": str(seen[-1]["id"])}) as s:
            hello = await s.recv()
            assert hello["last_id"] == 6
            missed = await events(s, 4)
            await t.post("/v1/orders", buy("D4"))
            live = await events(s, 1)
        ids = [m["id"] for m in seen + missed + live]
        assert ids == list(range(1, 8))
        assert {m["order_id"] for m in missed} == {(await t.get(f"/v1/orders/{c}"))["order_id"] for c in ("D2", "D3")}
        assert live[0]["kind"] == "OrderSubmitted"


async def test_bridge_stream_event_ids_survive_a_gateway_restart(sim: SimServer, tmp_path: Path) -> None:
    store = tmp_path / "gw.sqlite"
    async with stack(sim, store_path=store) as (gw, url), reader(url) as r, trader(url) as t:
        await t.post("/v1/orders", buy("E1"))
        await until(t, "E1", lambda o: o["status"] == "new")
        async with r.stream("/v1/stream", params={"since": "0"}) as s:
            await s.recv()
            before = await events(s, 2)
    async with stack(sim, store_path=store) as (gw, url), reader(url) as r, trader(url) as t:
        async with r.stream("/v1/stream", params={"since": "0"}) as s:
            assert (await s.recv())["last_id"] == 2
            again = await events(s, 2)
            await t.delete("/v1/orders/E1")
            after = await events(s, 1)
    assert [(m["id"], m["kind"], m["order_id"]) for m in again] == [
        (m["id"], m["kind"], m["order_id"]) for m in before]
    assert (after[0]["id"], after[0]["kind"]) == (3, "OrderPendingCancel")


# -- the stream's own rules, over a fake gateway -------------------------------------------------


@contextlib.asynccontextmanager
async def fake(feed: EventFeed, **options: Any) -> AsyncIterator[str]:
    app = create_app(FakeView(feed=feed), KEYS, **options)
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            port = await tg.start(serve, app)
            yield f"http://127.0.0.1:{port}"
            tg.cancel_scope.cancel()


def publish(feed: EventFeed, n: int) -> None:
    for _ in range(n):
        feed.append("A_44", OrderSubmitted(order_id=f"A_44-{feed.last_id + 1}", ts_ns=1))


async def closed(s: Any, timeout: float = 10) -> tuple[int | None, str | None]:
    with anyio.fail_after(timeout):
        with pytest.raises(TransportError):
            while True:
                await s.recv()
    return s.connection.close_code, s.connection.close_reason


async def test_bridge_stream_slow_consumer_cut_off_with_reason_gateway_not_stalled() -> None:
    feed = EventFeed()
    async with fake(feed, stream_queue=5) as url, reader(url) as r:
        async with r.stream("/v1/stream") as s:
            await s.recv()
            publish(feed, 50)  # faster than any reader: without yielding to the sender
            assert feed.last_id == 50  # the publisher never waited
            assert await closed(s) == (4409, "slow_consumer")
        async with r.stream("/v1/stream") as s:  # a new client is served
            await s.recv()
            publish(feed, 3)
            assert [m["id"] for m in await events(s, 3)] == [51, 52, 53]
        with anyio.fail_after(5):
            while feed.subscribers:
                await anyio.sleep(0.01)


async def test_bridge_stream_heartbeats_both_ways_silent_client_closed() -> None:
    feed = EventFeed()
    async with fake(feed, stream_heartbeat=0.5) as url, reader(url) as r:
        async with r.stream("/v1/stream") as s:
            await s.recv()
            kinds = []
            with anyio.move_on_after(1.3):  # over two heartbeats, pinging well inside the 1.5 s limit
                while True:
                    await s.send({"type": "ping"})
                    kinds.append((await s.recv())["type"])
                    await anyio.sleep(0.05)
            assert "pong" in kinds and "heartbeat" in kinds  # alive while it pings
            assert await closed(s) == (4408, "heartbeat_timeout")  # then silent


@pytest.mark.parametrize("key,secret,params,want", [
    ("reader", READ_SECRET, {"channels": "bogus"}, 4400),
    ("reader", READ_SECRET, {"since": "-1"}, 4400),
    ("reader", READ_SECRET, {"nope": "1"}, 4400),
    ("reader", READ_SECRET, {"since": "1"}, 4410),
])
async def test_bridge_stream_bad_parameters_closed_with_a_code(key: str, secret: str, params: dict[str, str],
                                                               want: int) -> None:
    feed = EventFeed(history=2)
    publish(feed, 5)
    async with fake(feed) as url, AsyncBridgeClient(url, key, secret) as c:
        async with c.stream("/v1/stream", params=params) as s:
            assert (await closed(s))[0] == want


async def test_bridge_stream_sessions_and_venues_channels_for_a_read_key() -> None:
    async with fake(EventFeed()) as url, AsyncBridgeClient(url, "reader", READ_SECRET) as c:
        async with c.stream("/v1/stream", params={"channels": "orders,sessions"}) as s:
            hello = await s.recv()
            sessions = await s.recv()
    assert hello["channels"] == ["orders", "sessions"] and hello["permissions"] == ["read"]
    assert (sessions["type"], len(sessions["sessions"])) == ("sessions", 2)  # venues: over a gateway


async def test_bridge_stream_sessions_channel_for_admin() -> None:
    async with fake(EventFeed()) as url, AsyncBridgeClient(url, "admin", ADMIN_SECRET) as c:
        async with c.stream("/v1/stream", params={"channels": "sessions"}) as s:
            assert (await s.recv())["type"] == "hello"
            sessions = await s.recv()
    assert sessions["type"] == "sessions" and len(sessions["sessions"]) == 2
