"""Stream fan-out: 50 clients on ``/v1/stream`` each receive every order event, in order, none missing.

Over a ``FakeView`` holding a real ``EventFeed`` (uvicorn on loopback, real WebSockets), events published
in bursts while every client reads; one more key with a narrower account list sees only its account's.
The timing of the fan-out is measured by ``bench/bridge.py --stream-clients 50``, not here.
"""

from __future__ import annotations

import contextlib
from typing import Any

import anyio
import pytest
from bridge_helpers import KEYS, READ_SECRET, FakeView
from test_bridge_stream import events

from fixgw.bridge import AsyncBridgeClient, BridgeKey, Permission, create_app, serve
from fixgw.gateway._feed import EventFeed
from fixgw.orders import OrderSubmitted

pytestmark = [pytest.mark.anyio]

CLIENTS = 50
EVENTS = 120
NARROW_SECRET = "narrow-secret-0b7e2c9d4a61f3e85c0d9b2a7f4e1c63"


def publish(feed: EventFeed, account: str, n: int) -> None:
    for _ in range(n):
        feed.append(account, OrderSubmitted(order_id=f"{account}-{feed.last_id + 1}", ts_ns=1))


async def test_bridge_stream_fan_out_50_clients_every_event_in_order() -> None:
    feed = EventFeed()
    view = FakeView(feed=feed, names={"A_44": "alpha", "B_R": "beta"})
    keys = (*KEYS, BridgeKey("narrow", NARROW_SECRET, {Permission.READ}, accounts={"beta"}))
    app = create_app(view, keys)
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            port = await tg.start(serve, app)
            url = f"http://127.0.0.1:{port}"
            async with contextlib.AsyncExitStack() as stack:
                streams = []
                for i in range(CLIENTS):
                    c = await stack.enter_async_context(AsyncBridgeClient(url, "reader", READ_SECRET, timeout=20))
                    s = await stack.enter_async_context(c.stream("/v1/stream"))
                    assert (await s.recv())["type"] == "hello"
                    streams.append(s)
                narrow_client = await stack.enter_async_context(AsyncBridgeClient(url, "narrow", NARROW_SECRET))
                narrow = await stack.enter_async_context(narrow_client.stream("/v1/stream"))
                assert (await narrow.recv())["type"] == "hello"
                assert feed.subscribers == CLIENTS + 1

                results: list[Any] = [None] * CLIENTS

                async def read(i: int) -> None:
                    results[i] = await events(streams[i], EVENTS, timeout=45)

                async with anyio.create_task_group() as readers:
                    for i in range(CLIENTS):
                        readers.start_soon(read, i)
                    for burst in range(EVENTS // 20):  # bursts, the readers running between them
                        publish(feed, "A_44" if burst % 2 else "B_R", 20)
                        await anyio.sleep(0.01)
                narrow_got = await events(narrow, EVENTS // 2, timeout=20)
            tg.cancel_scope.cancel()
    expected = list(range(1, EVENTS + 1))
    for got in results:
        assert [m["id"] for m in got] == expected
        assert [m["order_id"] for m in got] == [f"{m['account']}-{m['id']}" for m in got]
    assert {m["account"] for m in narrow_got} == {"B_R"}
    assert [m["id"] for m in narrow_got] == [i for i in expected if (i - 1) // 20 % 2 == 0]
