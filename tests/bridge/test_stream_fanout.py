"""The stream's fan-out (``fixgw.bridge.fanout``): frames made once, one write per client per loop turn,
and the stream's rules kept when the events bypass the ASGI ``send``.

Over uvicorn on loopback (real WebSockets) with a ``FakeView`` holding a real ``EventFeed``; the
fall-back (a server whose connection the fan-out does not know) through Starlette's test client.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any, AsyncIterator

import anyio
import pytest
from bridge_helpers import KEYS, READ_SECRET, FakeView
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode

from fixgw.bridge import AsyncBridgeClient, create_app, serve
from fixgw.bridge.auth import signed_headers
from fixgw.bridge.fanout import DirectLine, FanOut, text_frame
from fixgw.errors import TransportError
from fixgw.gateway._feed import EventFeed
from fixgw.orders import OrderSubmitted

pytestmark = [pytest.mark.anyio]


def publish(feed: EventFeed, n: int) -> None:
    for _ in range(n):
        feed.append("A_44", OrderSubmitted(order_id=f"A_44-{feed.last_id + 1}", ts_ns=1))


def fanout_of(app: Any, feed: EventFeed) -> FanOut | None:
    (route,) = [r for r in app.routes if getattr(r, "path", None) == "/v1/stream"]
    return route.endpoint.fanouts.get(feed)  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            port = await tg.start(serve, app)
            yield f"http://127.0.0.1:{port}"
            tg.cancel_scope.cancel()


async def direct(s: Any) -> None:
    """Return once the server's writer of stream ``s`` has handed its queue to the fan-out: the pong comes
    from the receiving task, which runs after the writer's first step."""
    await s.send({"type": "ping"})
    with anyio.fail_after(10):
        while (await s.recv())["type"] != "pong":
            pass


async def event_ids(s: Any, count: int) -> list[int]:
    got: list[int] = []
    with anyio.fail_after(20):
        while len(got) < count:
            m = await s.recv()
            if m["type"] == "event":
                got.append(m["id"])
    return got


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.integers(0, 300), st.sampled_from([125, 126, 127, 65535, 65536, 70000])))
def test_text_frame_any_length_same_bytes_as_websockets(n: int) -> None:
    payload = bytes(i % 251 for i in range(n))
    assert text_frame(payload) == Frame(Opcode.TEXT, payload).serialize(mask=False)


async def test_stream_fanout_burst_one_write_per_client_in_order() -> None:
    feed = EventFeed()
    app = create_app(FakeView(feed=feed), KEYS)
    async with served(app) as url, contextlib.AsyncExitStack() as stack:
        streams = []
        for _ in range(3):
            c = await stack.enter_async_context(AsyncBridgeClient(url, "reader", READ_SECRET, timeout=10))
            s = await stack.enter_async_context(c.stream("/v1/stream"))
            assert (await s.recv())["type"] == "hello"
            await direct(s)
            streams.append(s)
        fan = fanout_of(app, feed)
        assert fan is not None and (fan.drains, fan.writes) == (0, 0)
        publish(feed, 20)  # one loop turn: one drain, one write per client
        for s in streams:
            assert await event_ids(s, 20) == list(range(1, 21))
        assert (fan.drains, fan.writes) == (1, 3)
        publish(feed, 2)
        await anyio.sleep(0)
        publish(feed, 1)  # a later turn: a drain of its own
        for s in streams:
            assert await event_ids(s, 3) == [21, 22, 23]
        assert (fan.drains, fan.writes) == (3, 9)


async def test_stream_fanout_flush_fails_no_event_leaves() -> None:
    feed = EventFeed()
    app = create_app(FakeView(feed=feed), KEYS)
    async with served(app) as url, AsyncBridgeClient(url, "reader", READ_SECRET, timeout=10) as c:
        async with c.stream("/v1/stream") as s:
            assert (await s.recv())["type"] == "hello"
            await direct(s)

            def broken() -> None:
                raise OSError("disk full")

            feed.flush = broken
            publish(feed, 3)
            seen = []
            with anyio.fail_after(10), pytest.raises(TransportError):
                while True:
                    seen.append((await s.recv())["type"])
            assert "event" not in seen
            assert fanout_of(app, feed).writes == 0  # type: ignore[union-attr]


async def test_stream_fanout_reader_stops_reading_cut_off_slow_consumer() -> None:
    feed = EventFeed()
    app = create_app(FakeView(feed=feed), KEYS, stream_queue=50)
    async with served(app) as url, AsyncBridgeClient(url, "reader", READ_SECRET, timeout=10) as c:
        async with c.stream("/v1/stream") as s:
            assert (await s.recv())["type"] == "hello"
            await direct(s)
            # The client reads nothing more: the socket's buffers fill, the transport pauses, the fan-out
            # hands the queue back, the queue passes its limit. Bursts under the limit, a loop turn apart:
            # only a queue nobody drains overflows. The publisher never waits.
            with anyio.fail_after(30):
                while feed.subscribers and feed.last_id < 2_000_000:
                    publish(feed, 20)
                    await anyio.sleep(0)
            assert feed.subscribers == 0
            with anyio.fail_after(10), pytest.raises(TransportError):
                while True:
                    await s.recv()
            assert (s.connection.close_code, s.connection.close_reason) == (4409, "slow_consumer")


def test_direct_line_of_an_unknown_server_send_none() -> None:
    async def send(message: Any) -> None:
        pass

    assert DirectLine.of(send) is None
    assert DirectLine.of(None) is None


async def test_stream_fanout_unknown_server_same_events_through_asgi_send() -> None:
    feed = EventFeed()
    app = create_app(FakeView(feed=feed), KEYS)
    headers = signed_headers("reader", READ_SECRET, time.time_ns() // 1_000_000, "GET", "/v1/stream", "", b"")
    scope = {"type": "websocket", "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": "ws",
             "path": "/v1/stream", "raw_path": b"/v1/stream", "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 9880), "subprotocols": []}
    incoming = [{"type": "websocket.connect"}]
    closed = anyio.Event()
    sent: list[Any] = []

    async def receive() -> Any:
        if incoming:
            return incoming.pop()
        await closed.wait()
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Any) -> None:  # a server the fan-out does not know: everything comes here
        sent.append(message)

    def texts() -> list[dict[str, Any]]:
        return [json.loads(m["text"]) for m in sent if m["type"] == "websocket.send"]

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(app, scope, receive, send)
            while not texts():
                await anyio.sleep(0.01)
            publish(feed, 3)
            while len(texts()) < 4:
                await anyio.sleep(0.01)
            closed.set()
    assert sent[0]["type"] == "websocket.accept"
    assert [m["type"] for m in texts()] == ["hello", "event", "event", "event"]
    assert [m["id"] for m in texts()[1:]] == [1, 2, 3]
    assert fanout_of(app, feed) is None
