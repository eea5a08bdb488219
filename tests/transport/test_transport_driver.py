"""The driver loop: timers over real time, actions from outside a callback, body helpers."""

from __future__ import annotations

import anyio
import pytest

from anyio.abc import ByteStream

from fixgw.codec import Parser, encode
from fixgw.session import SessionConfig, SessionID
from fixgw.stores.memory import MemoryMessageStore
from fixgw.transport import Acceptor, Application, body_bytes, body_fields, wire_logger_name

from transport_fix_client import CLOSED, RawFixClient

GW = SessionID("FIX.4.4", "GATEWAY", "CLIENT")


class Quiet(Application):
    def __init__(self) -> None:
        self.events: list = []

    def on_event(self, session, event):
        self.events.append(event)


@pytest.mark.anyio
@pytest.mark.slow
async def test_driver_silent_peer_gets_heartbeat_then_test_request():
    acceptor = Acceptor([SessionConfig(GW, test_request_margin=0.2)], Quiet(), MemoryMessageStore())
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        client = await RawFixClient.connect(port)
        await client.logon(heartbeat=1)
        # Say nothing: the acceptor's timers fire from its sleep on next_deadline_ns().
        heartbeat = await client.receive(timeout=10)
        assert heartbeat.get(35) == b"0"
        test_request = await client.expect("1", timeout=10)
        assert test_request.get(112)
        await client.aclose()
        tg.cancel_scope.cancel()


@pytest.mark.anyio
@pytest.mark.slow
async def test_driver_logout_from_outside_callback_rearms_timer_and_times_out():
    config = SessionConfig(GW, logout_timeout=0.2)
    acceptor = Acceptor([config], Quiet(), MemoryMessageStore())
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        client = await RawFixClient.connect(port)
        await client.logon(heartbeat=30)
        handle = acceptor.handles[GW]
        # The reader sleeps on a 30 s heartbeat deadline; logout() must wake the writer at once and
        # bring the deadline forward to the logout timeout.
        handle.logout("closing time")
        logout = await client.expect("5")
        assert logout.get(58) == b"closing time"
        # We never answer: the gateway gives up after logout_timeout and closes.
        assert await client.receive(timeout=10) is CLOSED
        await handle.wait_disconnected()
        assert handle.last_disconnect_reason == "logout timeout"
        await client.aclose()
        tg.cancel_scope.cancel()


@pytest.mark.anyio
@pytest.mark.slow
async def test_driver_send_from_other_task_while_idle_reaches_peer():
    acceptor = Acceptor([SessionConfig(GW)], Quiet(), MemoryMessageStore())
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        client = await RawFixClient.connect(port)
        await client.logon()
        handle = acceptor.handles[GW]
        seqs = [handle.send("C", [(148, f"n{i}"), (33, 1), (58, "x")]) for i in range(3)]
        assert seqs == [2, 3, 4]
        for i in range(3):
            assert (await client.expect("C")).get(148) == f"n{i}".encode()
        await client.aclose()
        tg.cancel_scope.cancel()


@pytest.mark.anyio
@pytest.mark.slow
async def test_driver_send_while_disconnected_is_stored_for_resend():
    store = MemoryMessageStore()
    acceptor = Acceptor([SessionConfig(GW)], Quiet(), store)
    handle = acceptor.handles[GW]
    assert handle.send("C", [(148, "offline"), (33, 1), (58, "x")]) == 1
    assert not handle.is_connected
    assert [seq for seq, _ in store.session_store(GW).fetch(1, 0)] == [1]


def _parse(raw: bytes):
    p = Parser()
    p.feed(raw)
    return p.next_event()


@pytest.mark.parametrize(
    "fields",
    [
        [(11, "A"), (55, "BTC/USDT"), (54, 1)],
        [(97, "Y"), (43, "Y"), (122, "20260101-00:00:00"), (11, "B"), (95, 5), (96, b"a\x01b=c"), (58, "t")],
        [(115, "ON_BEHALF"), (11, "C"), (453, 1), (448, "P1"), (447, "D"), (452, 3)],
    ],
)
def test_body_bytes_matches_encoded_body_fields(fields):
    header = [(49, "CLIENT"), (56, "GATEWAY"), (34, 7), (52, "20260101-00:00:00.000")]
    msg = _parse(encode("FIX.4.4", "D", header + fields))
    expected = b"".join(b"%d=%s\x01" % (t, v) for t, v in body_fields(msg))
    assert body_bytes(msg) == expected
    assert all(t not in (8, 9, 10, 34, 35, 43, 49, 52, 56, 97, 115, 122) for t, _ in body_fields(msg))


def test_wire_logger_name_keeps_one_level_below_wire():
    assert wire_logger_name(GW) == "fixgw.wire.FIX_4_4:GATEWAY->CLIENT"


class SlowPeerStream(ByteStream):
    """An in-memory byte stream whose peer reads slowly: ``send`` blocks while ``window`` is full."""

    def __init__(self, window: int) -> None:
        self.inbound_send, self.inbound = anyio.create_memory_object_stream[bytes](100)
        self.window = window
        self.outbox = bytearray()
        self.room = anyio.Event()
        self.closed = False

    async def receive(self, max_bytes: int = 65536) -> bytes:
        try:
            return await self.inbound.receive()
        except anyio.EndOfStream:
            raise
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


@pytest.mark.anyio
async def test_driver_resend_larger_than_backlog_bound_is_paced_not_cut():
    store = MemoryMessageStore()
    config = SessionConfig(GW, resend_chunk_size=20)
    acceptor = Acceptor([config], Quiet(), store, max_backlog=32 << 10)
    handle = acceptor.handles[GW]
    text = "y" * 1000
    for i in range(300):  # about 300 KB stored while nobody is connected: ten times the bound
        handle.send("C", [(148, f"m{i}"), (33, 1), (58, text)])
    peer = RawFixClient(None, "FIX.4.4", "CLIENT", "GATEWAY")
    stream = SlowPeerStream(window=8 << 10)
    seen: list[int] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(handle._run_connection, stream, ("127.0.0.1", 1))
        await stream.inbound_send.send(peer.build("A", [(98, 0), (108, 30)]) + peer.build("2", [(7, 1), (16, 0)]))
        parser = Parser()
        with anyio.fail_after(20):
            while len(seen) < 300:
                assert handle.is_connected, handle.last_disconnect_reason
                parser.feed(stream.read(2048))  # a slow reader: 2 KB per loop turn
                for msg in parser:
                    if msg.get(35) == b"C":
                        seen.append(int(msg.get(34)))
                await anyio.sleep(0)
        assert seen == list(range(1, 301))
        handle.disconnect()
        tg.cancel_scope.cancel()
