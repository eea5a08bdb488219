"""The driver's write path on plain TCP: the reader writes straight to an idle socket, the writer takes
only what the socket refused, and the bytes stay in order across the switch; timers without a cancel
scope per read."""

from __future__ import annotations

import socket

import anyio
import pytest
from anyio.abc import SocketAttribute

from fixgw.session import SessionConfig, SessionID
from fixgw.stores.memory import MemoryMessageStore
from fixgw.transport import Acceptor, Application, body_bytes

from transport_fix_client import RawFixClient

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

GW = SessionID("FIX.4.4", "GATEWAY", "CLIENT")


class Echo(Application):
    def __init__(self) -> None:
        self.count = 0

    def on_message(self, session, message):
        self.count += 1
        session.send(message.get(35), body_bytes(message))


class Quiet(Application):
    pass


def _raw(stream) -> socket.socket:
    return stream.extra(SocketAttribute.raw_socket)


async def test_driver_accepted_tcp_socket_has_nodelay():
    acceptor = Acceptor([SessionConfig(GW)], Echo(), MemoryMessageStore())
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        client = await RawFixClient.connect(port)
        await client.logon()
        conn = acceptor.handles[GW]._conn
        assert conn is not None
        assert _raw(conn.stream).getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        await client.aclose()
        tg.cancel_scope.cancel()


async def test_driver_peer_pausing_then_reading_gets_every_echo_in_order():
    app = Echo()
    acceptor = Acceptor([SessionConfig(GW)], app, MemoryMessageStore(), max_backlog=16 << 20)
    count = 300
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        client = await RawFixClient.connect(port)
        _raw(client.stream).setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await client.logon()
        handle = acceptor.handles[GW]
        conn = handle._conn
        assert conn is not None and conn.sock is not None  # plain TCP: direct writes are on
        # Small kernel buffers on both sides, so the echoes soon outgrow them and the writer takes over.
        _raw(conn.stream).setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        text = "z" * 2000
        saw_writer = False
        for i in range(count):
            await client.send("C", [(148, f"n{i}"), (33, 1), (58, text)])
            saw_writer = saw_writer or conn.writing or bool(conn.pending)
        # We have not read a byte, yet the gateway read and answered everything: a peer that does
        # not read never blocks the reader.
        with anyio.fail_after(10):
            while app.count < count:
                await anyio.sleep(0.01)
                saw_writer = saw_writer or conn.writing or bool(conn.pending)
        assert saw_writer, "the socket took everything at once: the test did not reach the writer"
        seqs, headlines = [], []
        while len(seqs) < count:
            msg = await client.expect("C", timeout=10)
            seqs.append(int(msg.get(34)))
            headlines.append(msg.get(148))
        assert seqs == list(range(2, count + 2))
        assert headlines == [f"n{i}".encode() for i in range(count)]
        # Drained: the next echo goes straight from the reader again, still in order.
        with anyio.fail_after(10):
            while conn.writing or conn.pending:
                await anyio.sleep(0.01)
        await client.send("C", [(148, "after"), (33, 1), (58, "x")])
        last = await client.expect("C")
        assert (int(last.get(34)), last.get(148)) == (count + 2, b"after")
        await client.aclose()
        tg.cancel_scope.cancel()


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
