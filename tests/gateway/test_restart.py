"""A gateway killed with orders open, a fill while it is down, a restart: nothing lost, nothing twice."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from fixgw.orders import OrderStatus
from fixgw.session import SessionID
from fixgw.sim import SimServer

from .conftest import gateway_config, place, running_gateway
from .fixclient import FixClient, dec

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
D = Decimal


@pytest.mark.parametrize(("begin", "comp"), [("FIX.4.2", "CLIENT42"), ("FIX.4.4", "CLIENT44")])
async def test_restart_fill_while_down_reported_once_after_resume(sim: SimServer, tmp_path: Path, begin: str,
                                                                  comp: str) -> None:
    config = gateway_config(sim, store=tmp_path / "gw.db")
    c = FixClient(begin, comp, "FIXGW")
    async with running_gateway(config) as gw:
        await c.connect(gw.port)
        place(sim, "SELL", "0.1", "60000")
        await c.new_order("P1", "1", "0.5", price="60000")
        await c.new_order("P2", "1", "0.2", price="50000")
        await c.reports("P1", 2)
        await c.reports("P2", 1)
        # No logout: the gateway goes away with the client connected and two orders open.
    await c.close()

    place(sim, "SELL", "0.4", "60000")  # fills the rest of P1 while the gateway is down

    async with running_gateway(config) as gw:
        # Let reconciliation find the fill before the client is back: its report must come by resend.
        book = gw.book(SessionID(begin, "FIXGW", comp))
        with anyio.fail_after(10):
            while book.find(cl_ord_id="P1").status is not OrderStatus.FILLED:  # type: ignore[union-attr]
                await anyio.sleep(0.05)
        await c.connect(gw.port)  # same sequence numbers: the session resumes
        final = await c.wait_for(lambda m: m.get(11) == b"P1" and m.get(39) == b"2", timeout=15)
        assert final.get(43) == b"Y"  # it came through the session's resend
        assert (dec(final, 32), dec(final, 14), dec(final, 151), dec(final, 6)) == (
            D("0.4"), D("0.5"), D(0), D("60000"))
        await c.send_raw("H", [(11, "P2"), (55, "BTC/USDT"), (54, "1")])
        status = (await c.reports("P2", 2))[1]
        assert (status[39], dec(status, 151)) == (b"0", D("0.2"))
        await c.pump(1.5)  # anything late or repeated would show up here
        await c.logout()

    reports = [m for m in c.inbox if m.msg_type == b"8" and m.get(150) not in (b"I",) and m.get(20) != b"3"]
    exec_ids = Counter(m[17] for m in reports)
    assert all(n == 1 for n in exec_ids.values()), exec_ids
    p1 = [m for m in reports if m[11] == b"P1"]
    assert [m[39] for m in p1] == [b"0", b"1", b"2"]
    assert [dec(m, 32) for m in p1 if 32 in m] == [D("0.1"), D("0.4")]
    seqs = Counter(int(m[34]) for m in c.inbox)
    assert all(n == 1 for n in seqs.values()), seqs


async def test_restart_open_order_canceled_after_restart_keeps_ids(sim: SimServer, tmp_path: Path) -> None:
    config = gateway_config(sim, store=tmp_path / "gw.db")
    c = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
    async with running_gateway(config) as gw:
        await c.connect(gw.port)
        await c.new_order("K1", "2", "0.3", price="70000")
        first = (await c.reports("K1", 1))[0]
        await c.logout()
    async with running_gateway(config) as gw:
        await c.connect(gw.port)
        await c.cancel("K2", "K1", "2")
        canceled = await c.wait_for(lambda m: m.get(11) == b"K2" and m.get(39) == b"4")
        assert canceled[37] == first[37]  # the same OrderID across the restart
        await c.new_order("K3", "2", "0.3", price="70000")
        new = (await c.reports("K3", 1))[0]
        assert new[37] != first[37]  # order ids keep counting after replay
        await c.logout()
    await anyio.sleep(0)


async def test_restart_order_filled_while_down_fill_reported_before_cancel_answered_filled(
        sim: SimServer, tmp_path: Path) -> None:
    config = gateway_config(sim, store=tmp_path / "gw.db")
    c = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
    async with running_gateway(config) as gw:
        await c.connect(gw.port)
        await c.new_order("F1", "1", "0.5", price="60000")
        await c.reports("F1", 1)
        # No logout: the gateway goes away with the client connected and the order open.
    await c.close()
    before = len(c.inbox)

    place(sim, "SELL", "0.5", "60000")  # fills F1 at the venue while the gateway is down

    async with running_gateway(config) as gw:
        # The client is back as soon as the gateway listens, and cancels at once.
        await c.connect(gw.port)
        await c.cancel("F2", "F1", "1")
        answer = await c.wait_for(lambda m: m.msg_type == b"9" and m.get(11) == b"F2", timeout=10)
        await c.pump(0.5)
        await c.logout()

    assert (answer[39], answer[41], answer[58]) == (b"2", b"F1", b"order is filled")
    after = c.inbox[before:]
    about_f1 = [m for m in after if m.get(11) in (b"F1", b"F2")]
    # The first word about F1 after the restart is its fill; the cancel is answered after it, never pending.
    assert about_f1[0].msg_type == b"8" and (about_f1[0][150], about_f1[0][39]) == (b"F", b"2")
    assert dec(about_f1[0], 32) == D("0.5")
    assert about_f1.index(answer) > 0
    assert not [m for m in after if m.msg_type == b"8" and m.get(150) == b"6"]  # no PendingCancel


async def test_restart_status_report_exec_ids_never_repeat_across_restarts(sim: SimServer, tmp_path: Path) -> None:
    config = gateway_config(sim, store=tmp_path / "gw.db")
    c = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
    for run in range(3):
        async with running_gateway(config) as gw:
            await c.connect(gw.port)
            if run == 0:
                await c.new_order("S1", "1", "0.1", price="50000")
                await c.reports("S1", 1)
            # Two status requests and a mass status request per run, the order unchanged in between.
            for _ in range(2):
                await c.send_raw("H", [(11, "S1"), (55, "BTC/USDT"), (54, "1")])
            await c.send_raw("AF", [(584, f"M{run}"), (585, "7")])
            await c.wait_for(lambda m: m.get(584) == f"M{run}".encode())  # answered in order: the last
            await c.logout()
    exec_ids = [m[17] for m in c.inbox if m.get(150) == b"I"]
    assert len(exec_ids) == 9
    assert len(set(exec_ids)) == 9, exec_ids
