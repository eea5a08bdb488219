"""The venue order path's cheap parts: frames of one turn written at once, messages read without a future
each, one timeout timer for every WebSocket API request, and weight counted without waiting."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.server import serve

from fixgw.clock import SystemClock
from fixgw.errors import VenueUnknownOutcome
from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.ratelimit import Bucket, RateLimiter
from fixgw.venues._common.signing import binance_ws_payload, format_param
from fixgw.venues._common.ws import ReconnectingWebSocket
from fixgw.venues.base import StreamState
from fixgw.venues.binance.config import BinanceConfig
from fixgw.venues.binance.wsapi import BinanceWsApi

pytestmark = pytest.mark.anyio


async def _connected(ws: ReconnectingWebSocket) -> None:
    with anyio.fail_after(5):
        await ws.subscribed.wait()


async def _noop(*_: object) -> None:
    return None


async def test_ws_send_soon_frames_of_one_turn_leave_in_one_write_in_order():
    got: list[str] = []
    done = anyio.Event()

    async def handler(conn):
        async for message in conn:
            got.append(message)
            if len(got) == 5:
                done.set()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        ws = ReconnectingWebSocket(f"ws://127.0.0.1:{port}", on_connect=_noop, on_message=_noop)
        with pytest.raises(ConnectionError):
            ws.send_soon("nothing to send it on")
        async with anyio.create_task_group() as tg:
            tg.start_soon(ws.run)
            await _connected(ws)
            transport = ws._conn.transport  # type: ignore[union-attr]
            writes: list[bytes] = []
            write = transport.write

            def counting_write(data: bytes) -> None:  # a spy: the real write still happens
                writes.append(bytes(data))
                write(data)

            transport.write = counting_write  # type: ignore[method-assign]
            for n in range(5):
                ws.send_soon(f"m{n}")
            assert writes == []  # nothing written before the end of the turn
            with anyio.fail_after(5):
                await done.wait()
            written = list(writes)
            tg.cancel_scope.cancel()
    assert got == [f"m{n}" for n in range(5)]
    assert len(written) == 1


async def test_ws_inbox_reads_text_fragments_and_binary_whole_in_order_and_recv_in_on_connect():
    async def handler(conn):
        await conn.recv()
        await conn.send("hello")  # read by on_connect through recv
        await conn.send("one")
        await conn.send(["fr", "ag", "ments"])  # one message in three frames
        await conn.send("bin\u00e4ry".encode())  # a binary message of UTF-8 text
        await conn.send("two")
        await conn.close()

    replies: list[str] = []
    received: list[str] = []

    async def on_connect(conn):
        await conn.send("hi")
        replies.append(await conn.recv())

    async def on_message(text):
        received.append(text)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        ws = ReconnectingWebSocket(f"ws://127.0.0.1:{port}", on_connect=on_connect, on_message=on_message,
                                   inbox=True, backoff_base_s=0.01, backoff_cap_s=0.02)
        async with anyio.create_task_group() as tg:
            tg.start_soon(ws.run)
            with anyio.fail_after(5):
                # the server closed normally: the client connects again and its on_connect reads once more
                while ws.connects < 2 or len(replies) < 2:
                    await anyio.sleep(0.01)
            tg.cancel_scope.cancel()
    assert replies[:2] == ["hello", "hello"]
    assert received[:4] == ["one", "fragments", "binäry", "two"]


async def test_ws_inbox_invalid_utf8_text_fails_connection_with_1007_then_reconnects():
    codes: list[int | None] = []

    async def handler(conn):
        conn.protocol.send_text(b"\xff\xfe not UTF-8")  # what a str could never carry
        conn.send_data()
        await conn.wait_closed()
        codes.append(conn.close_code)

    received: list[str] = []

    async def on_message(text):
        received.append(text)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        ws = ReconnectingWebSocket(f"ws://127.0.0.1:{port}", on_connect=_noop, on_message=on_message,
                                   inbox=True, backoff_base_s=0.01, backoff_cap_s=0.02)
        async with anyio.create_task_group() as tg:
            tg.start_soon(ws.run)
            with anyio.fail_after(5):
                while ws.connects < 2 or not codes:
                    await anyio.sleep(0.01)
            tg.cancel_scope.cancel()
    assert codes[0] == 1007
    assert received == []


async def test_wsapi_unanswered_requests_each_end_unknown_after_the_timeout_answered_ones_return():
    async def handler(conn):
        async for message in conn:
            req = json.loads(message)
            if req["params"]["symbol"] == "ANSWERED":
                await conn.send(json.dumps({"id": req["id"], "status": 200, "result": {"ok": req["id"]}}))

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        config = BinanceConfig(rest_url="http://127.0.0.1:1", ws_api_url=f"ws://127.0.0.1:{port}",
                               api_key="key", api_secret="secret", request_timeout_s=0.3)
        clock = ServerClock(SystemClock())
        api = BinanceWsApi(config, server_clock=clock, limiter=RateLimiter([], clock=clock), resync=_noop)
        outcomes: dict[str, object] = {}
        took: dict[str, float] = {}

        async def place(tag: str, symbol: str) -> None:
            started = time.monotonic()
            try:
                outcomes[tag] = await api.request("POST", "/api/v3/order", [("symbol", symbol)])
            except VenueUnknownOutcome as exc:
                outcomes[tag] = exc
            took[tag] = time.monotonic() - started

        async with anyio.create_task_group() as tg:
            tg.start_soon(api.run)
            await _connected(api.ws)
            async with anyio.create_task_group() as calls:
                calls.start_soon(place, "first", "SILENT")
                calls.start_soon(place, "second", "ANSWERED")
                await anyio.sleep(0.1)
                calls.start_soon(place, "third", "SILENT")
            await place("after", "ANSWERED")  # the timer still runs for later requests
            tg.cancel_scope.cancel()
    assert outcomes["second"] == {"ok": "o2"} and outcomes["after"] == {"ok": "o4"}
    for tag in ("first", "third"):
        assert isinstance(outcomes[tag], VenueUnknownOutcome) and "no answer within" in str(outcomes[tag])
        assert 0.25 <= took[tag] < 3.0  # the timeout, give or take a loaded machine
    assert not api._waiting


async def test_wsapi_connection_lost_ends_waiting_requests_unknown():
    async def handler(conn):
        await conn.recv()
        conn.transport.abort()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        config = BinanceConfig(rest_url="http://127.0.0.1:1", ws_api_url=f"ws://127.0.0.1:{port}",
                               api_key="key", api_secret="secret", request_timeout_s=30)
        clock = ServerClock(SystemClock())
        api = BinanceWsApi(config, server_clock=clock, limiter=RateLimiter([], clock=clock), resync=_noop)
        async with anyio.create_task_group() as tg:
            tg.start_soon(api.run)
            await _connected(api.ws)
            with anyio.fail_after(5), pytest.raises(VenueUnknownOutcome, match="connection lost"):
                await api.request("POST", "/api/v3/order", [("symbol", "BTCUSDT")])
            assert api.ws.state is not StreamState.SUBSCRIBED or api.ws.connects >= 2
            tg.cancel_scope.cancel()


class _Clock:
    def __init__(self) -> None:
        self.t = 1_000 * 10**9

    def now_ns(self) -> int:
        return self.t


async def test_limiter_request_with_headroom_counted_without_yielding():
    clock = _Clock()
    lim = RateLimiter([Bucket("W", 100, 60.0)], clock=clock)
    turns = 0

    async def other_task() -> None:
        nonlocal turns
        while True:
            turns += 1
            await anyio.sleep(0)

    async with anyio.create_task_group() as tg:
        tg.start_soon(other_task)
        await anyio.sleep(0)
        before = turns
        for _ in range(10):
            await lim.acquire({"W": 1})
        assert turns == before  # counted at once: no event-loop turn given away
        tg.cancel_scope.cancel()
    assert lim.usage("W") == (10, 100)


async def test_limiter_request_behind_a_waiting_one_does_not_overtake_it():
    clock = _Clock()
    slept: list[float] = []
    release = anyio.Event()

    async def sleep(s: float) -> None:
        slept.append(s)
        await release.wait()
        clock.t += int(s * 1e9) + 1

    lim = RateLimiter([Bucket("W", 10, 60.0)], clock=clock, sleep=sleep, boundary_margin_s=0)
    await lim.acquire({"W": 5})  # half the window used
    order: list[str] = []

    async def take(tag: str, cost: int) -> None:
        await lim.acquire({"W": cost})
        order.append(tag)

    async with anyio.create_task_group() as tg:
        tg.start_soon(take, "big", 10)
        await anyio.sleep(0.01)
        assert slept  # it waits for the next window, holding the queue
        tg.start_soon(take, "small", 1)  # would fit now, but the queue is first come, first served
        await anyio.sleep(0.01)
        assert order == []
        release.set()
    assert order == ["big", "small"]
    assert len(slept) >= 2  # the small one then waited for a later window


def _reference_ws_payload(params: dict[str, object]) -> str:
    items = sorted((k, v) for k, v in params.items() if k != "signature" and v is not None)
    return "&".join(f"{k}={format_param(v)}" for k, v in items)


_values = st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none(),
                    st.decimals(allow_nan=False, allow_infinity=False, places=4))


@given(st.dictionaries(st.text(min_size=1, max_size=6), _values, max_size=8))
def test_binance_ws_payload_same_as_the_plain_rule_for_any_params(params):
    assert binance_ws_payload(params) == _reference_ws_payload(params)
    assert binance_ws_payload(list(params.items())) == _reference_ws_payload(params)


def test_binance_ws_payload_decimal_and_bool_rendered_on_the_wire_form():
    assert binance_ws_payload({"b": True, "a": Decimal("1E-8"), "c": 5}) == "a=0.00000001&b=true&c=5"
