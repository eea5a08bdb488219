"""The order lane's answer (``OrderLane``) under uvicorn: its head and body in one write to the socket.

ASGI answers in two messages and uvicorn writes each at once; the lane gathers them (``orders._Gathered``).
Over uvicorn on loopback with a raw client; the connection's real transport is watched from inside the
place step (the only code that runs between the request and the answer). With the step in two halves
(``admit``, then the answer once ``durable`` flushed), the answer is written from the flush's own callback,
before the loop's next turn, unless the socket is full (then the request's task sends it when it drains).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anyio
import pytest
from bridge_helpers import TRADE_SECRET

from fixgw.bridge import BridgeKey, Permission, serve
from fixgw.bridge.middleware import SCOPE_KEY, SCOPE_SEND
from fixgw.bridge.orders import _ORDER_FIELDS, GroupFlush, OrderLane

pytestmark = [pytest.mark.anyio]


class _CountingTransport:
    """The connection's real transport, counting the writes it is asked for."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


BODY = json.dumps({"client_order_id": "C-1", "symbol": "BTC/USDT", "side": "buy", "type": "limit",
                   "quantity": "0.1", "price": "1000"}).encode()
ROW = {f: None for f in _ORDER_FIELDS} | {"order_id": "O-1", "client_order_id": "C-1"}


async def _ask(lane: OrderLane) -> bytes:
    """POST one order to ``lane`` under uvicorn over a raw connection; return the answer's bytes."""
    key = BridgeKey("trader", TRADE_SECRET, {Permission.READ, Permission.TRADE})

    async def signed(scope: Any, receive: Any, send: Any) -> None:  # as SignatureGuard leaves it
        await lane({**scope, SCOPE_KEY: key}, receive, send)

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            port = await tg.start(serve, signed)
            async with await anyio.connect_tcp("127.0.0.1", port) as stream:
                await stream.send(b"POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                  b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY)
                got = b""
                with anyio.fail_after(10):
                    while not got.endswith(b"}"):
                        got += await stream.receive()
            tg.cancel_scope.cancel()
    return got


async def test_order_lane_answer_under_uvicorn_one_write_with_head_and_body() -> None:
    spies: list[_CountingTransport] = []

    async def place(scope: Any, body: Any) -> tuple[int, dict[str, Any]]:
        cycle = scope[SCOPE_SEND].__self__  # uvicorn's request cycle: watch what it writes from here on
        spies.append(_CountingTransport(cycle.transport))
        cycle.transport = spies[-1]
        return 201, ROW

    got = await _ask(OrderLane(_no_route, place=place))
    (spy,) = spies
    assert len(spy.writes) == 1 and spy.writes[0] == got
    assert got.startswith(b"HTTP/1.1 201 ") and json.loads(got.split(b"\r\n\r\n", 1)[1])["order_id"] == "O-1"


async def _no_place(scope: Any, body: Any) -> tuple[int, dict[str, Any]]:
    raise AssertionError("admit and durable answer it")


async def _no_route(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("the lane answers it")


async def test_order_lane_admit_answer_written_in_the_flush_callback_before_next_turn() -> None:
    spies: list[_CountingTransport] = []
    writes_at_next_turn: list[int] = []

    def flush() -> None:  # what has been written when the loop's next turn starts
        asyncio.get_running_loop().call_soon(lambda: writes_at_next_turn.append(len(spies[0].writes)))

    def admit(scope: Any, body: Any) -> tuple[int, dict[str, Any], None]:
        cycle = scope[SCOPE_SEND].__self__
        spies.append(_CountingTransport(cycle.transport))
        cycle.transport = spies[-1]
        assert not spies[0].writes
        return 201, ROW, None

    counts: dict[str, int] = {}
    lane = OrderLane(_no_route, place=_no_place, admit=admit, durable=GroupFlush(lambda: flush), counts=counts)
    got = await _ask(lane)
    (spy,) = spies
    assert writes_at_next_turn == [1]  # a task woken by the flush would write a turn later: [0]
    assert len(spy.writes) == 1 and spy.writes[0] == got
    assert got.startswith(b"HTTP/1.1 201 ") and json.loads(got.split(b"\r\n\r\n", 1)[1])["order_id"] == "O-1"
    assert counts == {"answered": 1, "passed": 0}


async def test_order_lane_admit_socket_full_at_flush_task_sends_once_it_drains() -> None:
    spies: list[_CountingTransport] = []

    def admit(scope: Any, body: Any) -> tuple[int, dict[str, Any], None]:
        cycle = scope[SCOPE_SEND].__self__
        spies.append(_CountingTransport(cycle.transport))
        cycle.transport = spies[-1]
        cycle.flow.pause_writing()  # as if the client had stopped reading; it drains 50 ms later
        asyncio.get_running_loop().call_later(0.05, cycle.flow.resume_writing)
        return 200, ROW, None

    lane = OrderLane(_no_route, place=_no_place, admit=admit, durable=GroupFlush(lambda: lambda: None))
    got = await _ask(lane)
    (spy,) = spies
    assert len(spy.writes) == 1 and spy.writes[0] == got and got.startswith(b"HTTP/1.1 200 ")


async def test_order_lane_admit_flush_fails_no_order_answer_sent() -> None:
    def fail() -> None:
        raise OSError("disk full")

    def admit(scope: Any, body: Any) -> tuple[int, dict[str, Any], None]:
        return 201, ROW, None

    lane = OrderLane(_no_route, place=_no_place, admit=admit, durable=GroupFlush(lambda: fail))
    got = await _ask_until_closed(lane)
    assert not got.startswith(b"HTTP/1.1 201 ")  # the server's own 500, never the order


async def _ask_until_closed(lane: OrderLane) -> bytes:
    key = BridgeKey("trader", TRADE_SECRET, {Permission.READ, Permission.TRADE})

    async def signed(scope: Any, receive: Any, send: Any) -> None:
        await lane({**scope, SCOPE_KEY: key}, receive, send)

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            port = await tg.start(serve, signed)
            async with await anyio.connect_tcp("127.0.0.1", port) as stream:
                await stream.send(b"POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                  b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY)
                got = b""
                with anyio.fail_after(10):
                    while b"\r\n\r\n" not in got:
                        got += await stream.receive()
            tg.cancel_scope.cancel()
    return got
