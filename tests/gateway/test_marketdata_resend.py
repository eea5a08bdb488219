"""Market data and resend, end to end: a ResendRequest over a range of X's and ExecutionReports is
answered with GapFills for the market data and real resends (PossDupFlag, OrigSendingTime) for the
reports. And the fan-out shares one encoded body among sessions of one kind, each with its own MDReqID.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import anyio
import pytest

from fixgw.codec import Message
from fixgw.sim import NewOrder, SimServer

from .conftest import COUNTERPARTY, gateway_config, place, running_gateway
from .fixclient import FixClient
from .test_marketdata import apply_x, book_of, md_request, sim_book

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def _frames_until(c: FixClient, done: Any, timeout: float = 10.0) -> list[Message]:
    """Raw frames as they come (no session rules applied) until ``done(frames)``."""
    out: list[Message] = []
    with anyio.fail_after(timeout):
        while not done(out):
            out.append(await c._next_frame())
    return out


@pytest.mark.parametrize(("begin", "comp"), [("FIX.4.2", "CLIENT42"), ("FIX.4.4", "CLIENT44")])
async def test_marketdata_resend_request_gap_fills_market_data_and_resends_reports(
        sim: SimServer, begin: str, comp: str) -> None:
    place(sim, "SELL", "0.4", "60010")
    async with running_gateway(gateway_config(sim)) as gw:
        c = FixClient(begin, comp, "FIXGW")
        await c.connect(gw.port)
        await c.send_raw("V", md_request("M", "1", update="1"))
        await c.wait_for(lambda m: m.msg_type == b"W")
        place(sim, "SELL", "0.1", "60020")
        await c.wait_for(lambda m: m.msg_type == b"X")
        await c.new_order("o1", "1", "0.01", price="50000")  # rests: a New report
        await c.wait_for(lambda m: m.msg_type == b"8" and m.get(11) == b"o1")
        place(sim, "SELL", "0.2", "60030")
        await c.wait_for(lambda m: m.msg_type == b"X" and any(b"60030" in v for _, v in m.fields))
        sent = {int(m[34]): m for m in c.inbox}
        last = c.next_in - 1
        assert {m.msg_type for m in sent.values()} >= {b"W", b"X", b"8"}
        await c.send_raw("2", [(7, 2), (16, last)])

        def covered(frames: list[Message]) -> bool:
            top = 1
            for m in frames:
                if m.msg_type == b"4" and m.get(123) == b"Y":
                    top = max(top, int(m[36]) - 1)
                elif m.get(43) == b"Y":
                    top = max(top, int(m[34]))
            return top >= last

        answer = [m for m in await _frames_until(c, covered) if m.get(43) == b"Y"]
        filled: set[int] = set()
        for m in answer:
            seq = int(m[34])
            if m.msg_type == b"4":
                assert m[123] == b"Y"
                filled.update(range(seq, int(m[36])))
                continue
            assert m.msg_type == b"8", m  # only the reports come again
            original = sent[seq]
            assert m[122] == original[52] and m[11] == original[11] and m[37] == original[37]
            assert m[52] >= original[52]
        resent = {int(m[34]) for m in answer if m.msg_type == b"8"}
        for seq, m in sent.items():
            if 2 <= seq <= last:
                if m.msg_type in (b"W", b"X"):
                    assert seq in filled and seq not in resent
                elif m.msg_type == b"8":
                    assert seq in resent
        await c.logout()


async def test_marketdata_sessions_of_one_kind_share_one_encoded_body(
        sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three FIX 4.4 sessions, each with its own MDReqID: each X's entries are built and encoded once a
    flush, and every session still tracks the venue's book exactly."""
    from fixgw.gateway import _mdsubs

    calls: list[int] = []
    real = _mdsubs.incremental_refresh

    def counting(version: Any, entries: Any, **kw: Any) -> Any:
        calls.append(1)
        return real(version, entries, **kw)

    monkeypatch.setattr(_mdsubs, "incremental_refresh", counting)
    place(sim, "SELL", "0.4", "60010")
    cfg = gateway_config(sim)
    base = next(s for s in cfg.sessions if s.begin_string == "FIX.4.4")
    cfg = replace(cfg, sessions=tuple(replace(base, target_comp_id=f"SHARE{i}") for i in range(3)))
    async with running_gateway(cfg) as gw:
        clients = [FixClient("FIX.4.4", f"SHARE{i}", "FIXGW") for i in range(3)]
        books = []
        for i, c in enumerate(clients):
            await c.connect(gw.port)
            await c.send_raw("V", md_request(f"req-{i}", "1", update="1"))
            w = await c.wait_for(lambda m: m.msg_type == b"W")
            bids, asks = book_of(w)
            books.append({b"0": dict(bids), b"1": dict(asks)})
        flushes = []
        real_flush = gw.marketdata._flush

        def counted_flush() -> None:
            before = len(calls)
            real_flush()
            flushes.append(len(calls) - before)

        monkeypatch.setattr(gw.marketdata, "_flush", counted_flush)
        for qty, px in (("0.1", "60020"), ("0.3", "60010"), ("0.2", "59980")):
            place(sim, "SELL" if px != "59980" else "BUY", qty, px)
        expected = sim_book(sim)
        for i, (c, book) in enumerate(zip(clients, books)):
            with anyio.fail_after(10):
                while (sorted(book[b"0"].items(), reverse=True), sorted(book[b"1"].items())) != expected:
                    x = await c._read_until(lambda m: m.msg_type == b"X", 10)
                    assert x[262] == f"req-{i}".encode()
                    apply_x(book, x)
        assert flushes and max(flushes) == 1  # one build per flush, whatever the number of sessions
        for c in clients:
            await c.logout()


async def test_marketdata_reader_that_stops_reading_is_conflated_and_never_delays_the_other(
        sim: SimServer) -> None:
    """A real slow reader, no faked backlog: its socket buffers are made small and it stops reading.
    The fast session keeps getting every book; the slow one is held (not cut off), and once it reads
    again it gets one fresh snapshot of the book as it is then."""
    import socket

    from anyio.abc import SocketAttribute

    def deep_book(st: Any) -> None:  # every W a few KB
        for i in range(100):
            st.engine.place(COUNTERPARTY, NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal("0.01"),
                                                   price=Decimal(59000 - i), time_in_force="GTC"), st.now_ms())
        st.publish()

    sim.call(deep_book)
    async with running_gateway(gateway_config(sim)) as gw:
        gw.marketdata.max_backlog = 0  # any byte waiting above the socket counts as behind
        fast = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        slow = FixClient("FIX.4.2", "CLIENT42", "FIXGW")
        await fast.connect(gw.port)
        await slow.connect(gw.port)
        # Small buffers, so the slow reader's socket fills after a few W.
        slow_sock = slow.stream.extra(SocketAttribute.raw_socket)
        slow_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        slow_handle = next(h for sid, h in gw.acceptor.handles.items() if sid.begin_string == "FIX.4.2")
        conn = slow_handle._conn
        conn.stream.extra(SocketAttribute.raw_socket).setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        await fast.send_raw("V", md_request("F", "1", update="0"))
        await slow.send_raw("V", md_request("S", "1", update="0"))
        await fast.wait_for(lambda m: m.msg_type == b"W")
        await slow.wait_for(lambda m: m.msg_type == b"W")
        # The slow client reads nothing from here on.
        for step in range(40):  # (the sim's open-order limit allows 200)
            place(sim, "SELL", "0.01", str(61000 + step))
            expected = sim_book(sim)
            await fast.wait_for(lambda m, e=expected: m.msg_type == b"W" and book_of(m) == e)
            if gw.marketdata.conflated:
                break
        assert gw.marketdata.conflated, "the slow session was never held back"
        for px in ("61500", "61501", "61502"):  # the fast one is still served at once while the slow one waits
            place(sim, "SELL", "0.02", px)
            expected = sim_book(sim)
            await fast.wait_for(lambda m, e=expected: m.msg_type == b"W" and book_of(m) == e, timeout=5)
        assert slow_handle.is_connected and slow_handle.backlog > 0
        snapshots = gw.marketdata.catch_up_snapshots
        # The slow client reads again: everything queued, then one fresh snapshot of the book as it is now.
        # (Its buffer grows first: a tiny closed window is reopened only by the kernel's zero-window probe,
        # seconds later.)
        slow_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        w = await slow.wait_for(lambda m, e=expected: m.msg_type == b"W" and m[262] == b"S" and book_of(m) == e,
                                timeout=20)
        assert w is not None and gw.marketdata.catch_up_snapshots == snapshots + 1
        await fast.logout()
        await slow.logout()
