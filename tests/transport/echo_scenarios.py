"""A scenario shared by the driver's write-path tests on either event loop: echoes that outgrow small
kernel buffers, so the reader's direct writes hand over to the writer and back, every byte in order."""

from __future__ import annotations

import socket

import anyio
from anyio.abc import SocketAttribute

from fixgw.session import SessionConfig, SessionID
from fixgw.stores.memory import MemoryMessageStore
from fixgw.transport import Acceptor, Application, body_bytes

from transport_fix_client import RawFixClient

GW = SessionID("FIX.4.4", "GATEWAY", "CLIENT")


class Echo(Application):
    def __init__(self) -> None:
        self.count = 0

    def on_message(self, session, message):
        self.count += 1
        session.send(message.get(35), body_bytes(message))


def raw_socket(stream) -> socket.socket:
    return stream.extra(SocketAttribute.raw_socket)


async def echoes_across_writer_takeover(count: int, answered_within: float) -> None:
    """Send ``count`` echo requests without reading, check the writer took over, then that every echo
    arrives in order and the next one goes straight from the reader again."""
    app = Echo()
    acceptor = Acceptor([SessionConfig(GW)], app, MemoryMessageStore(), max_backlog=16 << 20)
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        client = await RawFixClient.connect(port)
        raw_socket(client.stream).setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await client.logon()
        conn = acceptor.handles[GW]._conn
        assert conn is not None and conn.sock is not None  # plain TCP: direct writes are on
        # Small kernel buffers on both sides, so the echoes soon outgrow them and the writer takes over.
        raw_socket(conn.stream).setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        text = "z" * 2000
        saw_writer = False
        for i in range(count):
            await client.send("C", [(148, f"n{i}"), (33, 1), (58, text)])
            saw_writer = saw_writer or conn.writing or bool(conn.pending)
        # We have not read a byte, yet the gateway read and answered everything: a peer that does
        # not read never blocks the reader.
        with anyio.fail_after(answered_within):
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
