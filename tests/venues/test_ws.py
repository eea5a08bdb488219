"""The reconnecting WebSocket client: resubscribes and reconciles on every reconnect, backs off with jitter."""

from __future__ import annotations

import json
import random

import anyio
import pytest
from websockets.asyncio.server import serve

from fixgw.backoff import EQUAL_JITTER, backoff_delay
from fixgw.venues._common.ws import ReconnectingWebSocket
from fixgw.venues.base import StreamState

pytestmark = pytest.mark.anyio


def test_backoff_delay_exponential_capped_with_jitter():
    rng = random.Random(7)
    delays = [backoff_delay(n, 0.5, 8.0, jitter=EQUAL_JITTER, rng=rng) for n in range(8)]
    for n, d in enumerate(delays):
        raw = min(8.0, 0.5 * 2**n)
        assert raw / 2 <= d <= raw
    assert len(set(delays)) == len(delays)


async def test_ws_dropped_connection_resubscribes_and_runs_reconcile_hook():
    subscriptions = []
    connections = []

    async def handler(conn):
        connections.append(conn)
        req = json.loads(await conn.recv())
        subscriptions.append(req["method"])
        await conn.send(json.dumps({"id": req["id"], "status": 200, "result": {"subscriptionId": len(subscriptions)}}))
        await conn.send(json.dumps({"subscriptionId": len(subscriptions), "event": {"e": "ping", "n": len(subscriptions)}}))
        await conn.wait_closed()

    received, reconciles = [], []

    async def on_connect(conn):
        await conn.send(json.dumps({"id": "s", "method": "userDataStream.subscribe.signature"}))
        reply = json.loads(await conn.recv())
        assert reply["status"] == 200

    async def on_message(text):
        received.append(json.loads(text)["event"]["n"])

    async def on_reconnect():
        reconciles.append(len(subscriptions))

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        ws = ReconnectingWebSocket(f"ws://127.0.0.1:{port}", on_connect=on_connect, on_message=on_message,
                                   on_reconnect=on_reconnect, backoff_base_s=0.01, backoff_cap_s=0.05)
        async with anyio.create_task_group() as tg:
            tg.start_soon(ws.run)
            with anyio.fail_after(5):
                while received != [1]:
                    await anyio.sleep(0.01)
                assert ws.state is StreamState.SUBSCRIBED and reconciles == []
                await ws.drop()
                while received != [1, 2] or not reconciles:
                    await anyio.sleep(0.01)
                # the server side closes too: the client comes back again
                await connections[-1].close()
                while received != [1, 2, 3] or len(reconciles) < 2:
                    await anyio.sleep(0.01)
            tg.cancel_scope.cancel()
    assert subscriptions == ["userDataStream.subscribe.signature"] * 3
    assert reconciles == [2, 3] and ws.reconnects == 2


async def test_ws_unreachable_server_keeps_retrying_with_backoff():
    sleeps = []

    async def sleep(s):
        sleeps.append(s)
        if len(sleeps) >= 4:
            raise anyio.get_cancelled_exc_class()()
        await anyio.sleep(0)

    async def noop(*a):
        return None

    # a port nobody listens on: bind and close
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ws = ReconnectingWebSocket(f"ws://127.0.0.1:{port}", on_connect=noop, on_message=noop, sleep=sleep,
                               backoff_base_s=1.0, backoff_cap_s=4.0, rng=random.Random(1))
    with pytest.raises(anyio.get_cancelled_exc_class()):
        await ws.run()
    assert len(sleeps) == 4
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0 and 2.0 <= sleeps[2] <= 4.0 and sleeps[3] <= 4.0
    assert ws.state is StreamState.DISCONNECTED
