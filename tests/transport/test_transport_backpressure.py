"""The backlog rules on an in-memory stream whose peer reads at a chosen pace: what the peer is due
(a resend chunk pulled into an empty backlog) never trips the bound; what piles up behind it does;
a socket that takes nothing for ``stall_timeout`` while data waits is cut off."""

from __future__ import annotations

import anyio
import pytest
from anyio.abc import ByteStream

from fixgw.codec import Parser
from fixgw.session import SessionConfig, SessionID
from fixgw.stores.memory import MemoryMessageStore
from fixgw.transport import Acceptor, Application, SessionHandle

from transport_fix_client import RawFixClient

pytestmark = pytest.mark.anyio

GW = SessionID("FIX.4.4", "GATEWAY", "CLIENT")
TEXT = "y" * 1000  # about 1.1 KB per stored message


class PacedPeerStream(ByteStream):
    """An in-memory byte stream: ``send`` blocks while more than ``window`` bytes wait to be read."""

    def __init__(self, window: int) -> None:
        self.inbound_send, self.inbound = anyio.create_memory_object_stream[bytes](100)
        self.window = window
        self.outbox = bytearray()
        self.room = anyio.Event()
        self.closed = False

    async def receive(self, max_bytes: int = 65536) -> bytes:
        try:
            return await self.inbound.receive()
        except anyio.ClosedResourceError:
            raise anyio.EndOfStream from None

    async def send(self, item: bytes) -> None:
        self.outbox += item
        while len(self.outbox) > self.window and not self.closed:
            self.room = anyio.Event()
            await self.room.wait()

    def read(self, n: int) -> bytes:
        data = bytes(self.outbox[:n])
        del self.outbox[:n]
        self.room.set()
        return data

    async def send_eof(self) -> None:
        pass

    async def aclose(self) -> None:
        self.closed = True
        self.room.set()
        self.inbound_send.close()


def _stored_handle(count: int, chunk: int, max_backlog: int) -> SessionHandle:
    acceptor = Acceptor([SessionConfig(GW, resend_chunk_size=chunk)], Application(), MemoryMessageStore(),
                        max_backlog=max_backlog)
    handle = acceptor.handles[GW]
    for i in range(count):  # stored while nobody is connected
        handle.send("C", [(148, f"m{i}"), (33, 1), (58, TEXT)])
    return handle


async def _logon_and_ask_all(stream: PacedPeerStream) -> None:
    peer = RawFixClient(None, "FIX.4.4", "CLIENT", "GATEWAY")
    await stream.inbound_send.send(peer.build("A", [(98, 0), (108, 30)]) + peer.build("2", [(7, 1), (16, 0)]))


@pytest.mark.parametrize("chunk", [50, 0], ids=["chunks-of-50", "all-at-once"])
async def test_backpressure_resend_chunk_larger_than_bound_to_slow_reader_is_not_cut(chunk):
    # One chunk (50 x 1.1 KB; or the whole 330 KB range at once) is several times the bound: it is what
    # the peer is due, not what it failed to read, so only what would pile up behind it counts.
    count = 300
    handle = _stored_handle(count, chunk, max_backlog=16 << 10)
    stream = PacedPeerStream(window=8 << 10)
    seen: list[int] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(handle._run_connection, stream, ("127.0.0.1", 1))
        await _logon_and_ask_all(stream)
        parser = Parser()
        with anyio.fail_after(20):
            while len(seen) < count:
                assert handle.is_connected, handle.last_disconnect_reason
                parser.feed(stream.read(4096))  # a slow reader: 4 KB per loop turn
                seen.extend(int(m.get(34)) for m in parser if m.get(35) == b"C")
                await anyio.sleep(0)
        assert seen == list(range(1, count + 1))
        # A chunk is pulled only once the socket took the previous one: never two above the socket.
        chunk_bytes = (chunk or count + 1) * 1200
        assert handle.peak_backlog <= chunk_bytes
        handle.disconnect()
        tg.cancel_scope.cancel()


async def test_backpressure_resend_next_chunk_waits_for_socket_to_take_previous():
    handle = _stored_handle(200, 20, max_backlog=4 << 20)
    stream = PacedPeerStream(window=0)  # takes nothing until read
    async with anyio.create_task_group() as tg:
        tg.start_soon(handle._run_connection, stream, ("127.0.0.1", 1))
        await _logon_and_ask_all(stream)
        await anyio.sleep(0.2)
        # Logon answer, then one chunk of 20 waits; the other 180 are not produced yet.
        parser = Parser()
        parser.feed(stream.read(1 << 20))
        first = [int(m.get(34)) for m in parser if m.get(35) == b"C"]
        assert first == list(range(1, 21))
        assert handle.peak_backlog <= 21 * 1200
        handle.disconnect()
        tg.cancel_scope.cancel()


async def test_backpressure_socket_taking_nothing_past_stall_timeout_is_cut_off():
    # Only a little waits (far below the bound), but the socket takes nothing at all.
    acceptor = Acceptor([SessionConfig(GW)], Application(), MemoryMessageStore())
    handle = acceptor.handles[GW]
    handle.stall_timeout = 0.3
    stream = PacedPeerStream(window=0)
    peer = RawFixClient(None, "FIX.4.4", "CLIENT", "GATEWAY")
    async with anyio.create_task_group() as tg:
        tg.start_soon(handle._run_connection, stream, ("127.0.0.1", 1))
        await stream.inbound_send.send(peer.build("A", [(98, 0), (108, 30)]))
        with anyio.fail_after(5):
            await handle.wait_logged_on()
        started = anyio.current_time()
        handle.send("C", [(148, "one"), (33, 1), (58, "small")])
        with anyio.fail_after(5):
            await handle.wait_disconnected()
        assert "not reading" in handle.last_disconnect_reason
        assert 0.25 <= anyio.current_time() - started < 2
        tg.cancel_scope.cancel()


async def test_backpressure_slow_but_steady_reader_is_not_cut_by_stall_timeout():
    # The whole resend (330 KB) takes about 0.8 s at this pace, one chunk (22 KB) about 0.06 s: the
    # rule is about the socket taking nothing, not about how long the data takes to leave.
    handle = _stored_handle(300, 20, max_backlog=4 << 20)
    handle.stall_timeout = 0.5
    stream = PacedPeerStream(window=4 << 10)
    seen = 0
    async with anyio.create_task_group() as tg:
        tg.start_soon(handle._run_connection, stream, ("127.0.0.1", 1))
        await _logon_and_ask_all(stream)
        parser = Parser()
        with anyio.fail_after(20):
            while seen < 300:
                assert handle.is_connected, handle.last_disconnect_reason
                parser.feed(stream.read(8 << 10))
                seen += sum(1 for m in parser if m.get(35) == b"C")
                await anyio.sleep(0.02)  # some 400 KB/s: slow, but the socket keeps taking
        handle.disconnect()
        tg.cancel_scope.cancel()


async def test_backpressure_output_piling_behind_a_blocked_write_past_bound_is_cut_off():
    acceptor = Acceptor([SessionConfig(GW)], Application(), MemoryMessageStore(), max_backlog=32 << 10)
    handle = acceptor.handles[GW]
    stream = PacedPeerStream(window=0)
    peer = RawFixClient(None, "FIX.4.4", "CLIENT", "GATEWAY")
    async with anyio.create_task_group() as tg:
        tg.start_soon(handle._run_connection, stream, ("127.0.0.1", 1))
        await stream.inbound_send.send(peer.build("A", [(98, 0), (108, 30)]))
        with anyio.fail_after(5):
            await handle.wait_logged_on()
        sent = 0
        with anyio.fail_after(5):
            while handle.is_connected:
                handle.send("C", [(148, "flood"), (33, 1), (58, TEXT)])
                sent += 1
                await anyio.sleep(0)
            await handle.wait_disconnected()
        assert "not reading" in handle.last_disconnect_reason
        assert sent * 1100 < 64 << 10  # cut soon after the bound, not at the stall timeout
        assert handle.peak_backlog <= (32 << 10) + 2 * 1200
        tg.cancel_scope.cancel()
