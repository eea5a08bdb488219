"""The driver's write path on plain TCP: the reader writes straight to an idle socket, the writer takes
only what the socket refused, and the bytes stay in order across the switch; timers without a cancel
scope per read."""

from __future__ import annotations

import socket

import anyio
import pytest

from fixgw.session import SessionConfig, SessionID
from fixgw.stores.memory import MemoryMessageStore
from fixgw.transport import Acceptor, Application

from echo_scenarios import Echo, echoes_across_writer_takeover, raw_socket
from transport_fix_client import RawFixClient

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

GW = SessionID("FIX.4.4", "GATEWAY", "CLIENT")


class Quiet(Application):
    pass


async def test_driver_accepted_tcp_socket_has_nodelay():
    acceptor = Acceptor([SessionConfig(GW)], Echo(), MemoryMessageStore())
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        client = await RawFixClient.connect(port)
        await client.logon()
        conn = acceptor.handles[GW]._conn
        assert conn is not None
        assert raw_socket(conn.stream).getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        await client.aclose()
        tg.cancel_scope.cancel()


async def test_driver_peer_pausing_then_reading_gets_every_echo_in_order():
    await echoes_across_writer_takeover(300, answered_within=10)


async def test_driver_peer_sending_steadily_still_gets_our_heartbeats():
    acceptor = Acceptor([SessionConfig(GW)], Quiet(), MemoryMessageStore())
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        client = await RawFixClient.connect(port)
        await client.logon(heartbeat=1)
        got: list[bytes] = []

        async def read() -> None:
            while True:
                msg = await client.receive(timeout=10)
                got.append(msg.get(35))

        async with anyio.create_task_group() as reading:
            reading.start_soon(read)
            # A read every 50 ms keeps the reader busy; our own heartbeat (we send nothing else) must
            # still leave about once a second.
            for _ in range(50):
                await client.send("0")
                await anyio.sleep(0.05)
            reading.cancel_scope.cancel()
        assert got.count(b"0") >= 1
        assert b"1" not in got  # the peer talks: no TestRequest
        await client.aclose()
        tg.cancel_scope.cancel()


async def test_driver_send_without_flush_waits_then_flush_writes_everything_at_once():
    acceptor = Acceptor([SessionConfig(GW)], Quiet(), MemoryMessageStore())
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        client = await RawFixClient.connect(port)
        await client.logon()
        handle = acceptor.handles[GW]
        for i in range(3):
            handle.send("8", [(37, f"q{i}")], flush=False)
        await anyio.sleep(0.05)  # nobody pulls it meanwhile: no writer is woken for a send without flush
        assert handle.session.has_data_to_send
        handle.flush()
        # Pulled and handed to the kernel before flush() returned: nothing left in the session or above the socket.
        assert not handle.session.has_data_to_send and handle.backlog == 0
        got = [await client.expect("8") for _ in range(3)]
        assert [m.get(37) for m in got] == [b"q0", b"q1", b"q2"]
        await client.aclose()
        tg.cancel_scope.cancel()
