"""A big resend over real loopback TCP with the SQLite store: streamed in chunks as the socket takes
them, other sessions served meanwhile, and a peer that stops reading still cut off."""

from __future__ import annotations

import shutil
import time

import anyio
import pytest

from fixgw.codec import Parser
from fixgw.session import SessionConfig, SessionID
from fixgw.session.messages import FrameWriter
from fixgw.stores.sqlite import SqliteMessageStore
from fixgw.transport import Acceptor, Application

from transport_fix_client import RawFixClient

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

RESENDER = SessionID("FIX.4.4", "GATEWAY", "CLIENT")
PINGER = SessionID("FIX.4.4", "GATEWAY", "PINGER")
COUNT = 50_000


def _report(seq: int) -> bytes:
    return (
        b"37=O%d\x0111=C%d\x0117=E%d\x01150=F\x0139=1\x0155=BTC/USDT\x0154=1\x0138=0.5\x0132=0.01\x01"
        b"31=65000.5\x01151=0.49\x0114=0.01\x016=65000.5\x01" % (seq, seq, seq)
    )


@pytest.fixture(scope="module")
def filled_db(tmp_path_factory) -> tuple[str, int]:
    """A store file holding COUNT ExecutionReports sent to RESENDER; returns (path, largest frame)."""
    path = str(tmp_path_factory.mktemp("resend") / "filled.db")
    store = SqliteMessageStore(path)
    session = store.session_store(RESENDER)
    writer = FrameWriter("FIX.4.4", "GATEWAY", "CLIENT")
    stamp = writer.timestamp(time.time_ns())
    largest = 0
    for seq in range(1, COUNT + 1):
        frame = writer.frame(b"8", seq, stamp, _report(seq))
        largest = max(largest, len(frame))
        session.save_outbound(seq, frame)
    store.commit()
    store.close()
    return path, largest


@pytest.fixture
def store(filled_db, tmp_path):
    path = str(tmp_path / "fix.db")
    shutil.copy(filled_db[0], path)
    s = SqliteMessageStore(path)
    yield s
    s.close()


def _chunk_bytes(config: SessionConfig, largest: int) -> int:
    # A resent frame grows by PossDupFlag and OrigSendingTime (43=Y, 122=<timestamp>).
    return max(config.resend_chunk_size, 1) * (largest + 40)


async def _read_resend(client: RawFixClient) -> tuple[list[int], int, float]:
    """Ask for everything and read as fast as possible until the resend's last number arrived.

    Returns the PossDup ExecutionReports' numbers in arrival order, how many of them lacked 43=Y, and
    the seconds it took.
    """
    last_gap_fill_to = b"%d" % (COUNT + 2)  # our Logon (COUNT + 1) comes back as a GapFill to COUNT + 2
    seqs: list[int] = []
    no_poss_dup = 0
    parser = Parser()
    started = time.perf_counter()
    await client.send("2", [(7, 1), (16, 0)])
    while True:
        data = await client.stream.receive(1 << 20)
        parser.feed(data)
        for msg in parser:
            mt = msg.get(35)
            if mt == b"8":
                seqs.append(int(msg.get(34)))
                no_poss_dup += msg.get(43) != b"Y"
            elif mt == b"4" and msg.get(36) == last_gap_fill_to:
                return seqs, no_poss_dup, time.perf_counter() - started


async def test_resend_50k_to_fast_reader_arrives_in_order_with_bounded_backlog(store, filled_db):
    config = SessionConfig(RESENDER)  # the default chunking
    acceptor = Acceptor([config], Application(), store)
    handle = acceptor.handles[RESENDER]
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        client = await RawFixClient.connect(port)
        await client.logon()
        with anyio.fail_after(30):
            seqs, no_poss_dup, _ = await _read_resend(client)
        assert seqs == list(range(1, COUNT + 1))
        assert no_poss_dup == 0
        assert handle.is_connected, handle.last_disconnect_reason
        # Never more than about one chunk above the socket (the whole range is some 10 MB).
        assert 0 < config.resend_chunk_size
        assert handle.peak_backlog <= 2 * _chunk_bytes(config, filled_db[1])
        # The session goes on afterwards: a TestRequest is answered in order.
        await client.send("1", [(112, "after")])
        hb = await client.expect("0", timeout=5)
        assert hb.get(112) == b"after" and hb.get(34) == b"%d" % (COUNT + 2)
        await client.aclose()
        tg.cancel_scope.cancel()


async def test_resend_50k_other_session_answers_test_requests_quickly(store):
    acceptor = Acceptor([SessionConfig(RESENDER), SessionConfig(PINGER)], Application(), store)
    latencies: list[float] = []
    done = anyio.Event()

    async def ping(client: RawFixClient) -> None:
        k = 0
        while not done.is_set():
            k += 1
            started = time.perf_counter()
            await client.send("1", [(112, f"P{k}")])
            while True:
                hb = await client.expect("0", timeout=5)
                if hb.get(112) == b"P%d" % k:
                    break
            latencies.append(time.perf_counter() - started)
            await anyio.sleep(0.005)

    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        pinger = await RawFixClient.connect(port, sender="PINGER")
        await pinger.logon()
        client = await RawFixClient.connect(port)
        await client.logon()
        tg.start_soon(ping, pinger)
        with anyio.fail_after(30):
            seqs, _, took = await _read_resend(client)
        done.set()
        assert seqs == list(range(1, COUNT + 1))
        # Answered all along the resend, never held up for anything like the whole range's time.
        assert len(latencies) >= 3, (latencies, took)
        # (0.5 s, or a third of the resend when a loaded machine stretches everything alike.)
        assert max(latencies) < max(0.5, took / 3), (max(latencies), took)
        tg.cancel_scope.cancel()
    await client.aclose()
    await pinger.aclose()


async def test_resend_to_peer_that_stops_reading_cut_off_with_bounded_backlog(store, filled_db):
    config = SessionConfig(RESENDER)
    acceptor = Acceptor([config], Application(), store)  # the default backlog bound: far above one chunk
    handle = acceptor.handles[RESENDER]
    handle.stall_timeout = 0.5
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        client = await RawFixClient.connect(port)
        await client.logon()
        started = time.perf_counter()
        await client.send("2", [(7, 1), (16, 0)])
        # Never read again: the kernel's buffers fill (a few MB of the ~10 MB) and the socket stalls.
        with anyio.fail_after(15):
            await handle.wait_disconnected()
        assert "not reading" in handle.last_disconnect_reason
        assert time.perf_counter() - started < 10
        # What waited above the socket never passed about one chunk (the kernel holds the rest).
        assert handle.peak_backlog <= 2 * _chunk_bytes(config, filled_db[1])
        await client.aclose()
        tg.cancel_scope.cancel()
