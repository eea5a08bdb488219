"""Load, bounded: 100 FIX sessions log on at once, all send orders, none starves, the gateway stays responsive.

The full-size run (a steady rate for many seconds, p99 and memory figures) is ``bench/load.py``; this test
keeps the shape of it small enough for the suite: real loopback sockets, one gateway with a SQLite store
file, the simulated exchange on loopback HTTP/WS.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import anyio
import pytest

from fixgw.config import Config
from fixgw.session import SessionID
from fixgw.sim import SimServer

from .conftest import gateway_config, running_gateway
from .fixclient import FixClient

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SESSIONS = 100
ORDERS_PER_SESSION = 5
#: How long a TestRequest may wait for its Heartbeat while the load runs.
RESPONSIVE_S = 1.0
#: How long a session may wait for the answers to its orders before it counts as starved.
ANSWER_S = 10.0


def load_config(sim: SimServer, store: Path, sessions: int) -> Config:
    """The demo gateway with ``sessions`` FIX 4.4 sessions LOAD001.. instead of the demo ones."""
    cfg = gateway_config(sim, store=store)
    template = next(s for s in cfg.sessions if s.begin_string == "FIX.4.4")
    # All sessions connect from one host at once, as an OMS does. The default cap on connections from one
    # address still short of a Logon refuses part of such a burst (the client is to retry); this test is
    # about the load after the Logons, so the cap here admits them all.
    gw = replace(cfg.gateway, max_pending_per_address=sessions)
    return replace(cfg, gateway=gw, sessions=tuple(replace(template, target_comp_id=comp(i)) for i in range(sessions)))


def comp(i: int) -> str:
    return f"LOAD{i + 1:03d}"


async def probe_round_trip(c: FixClient, test_req_id: str, timeout: float) -> float:
    """Send a TestRequest on an otherwise idle session; return the seconds until its Heartbeat came back."""
    t0 = time.perf_counter()
    await c.send_raw("1", [(112, test_req_id)])
    with anyio.fail_after(timeout):
        while True:
            m = await c._next_frame()
            assert int(m[34]) == c.next_in, "the idle probe session got a message out of sequence"
            c.next_in += 1
            if m.msg_type == b"0" and m.get(112) == test_req_id.encode():
                return time.perf_counter() - t0


async def test_load_100_sessions_at_once_all_answered_and_test_requests_prompt(sim: SimServer, tmp_path: Path) -> None:
    # One IOC limit buy far below an empty book per order: the venue accepts it, then expires it.
    cfg = load_config(sim, tmp_path / "gw.db", SESSIONS)
    async with running_gateway(cfg) as gw:
        clients = [FixClient("FIX.4.4", comp(i), "FIXGW") for i in range(SESSIONS)]
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                for c in clients:
                    tg.start_soon(c.connect, gw.port)
        assert all(c.logged_on for c in clients)
        assert all(gw.handle(SessionID("FIX.4.4", "FIXGW", comp(i))).session.is_logged_on for i in range(SESSIONS))

        probe, traders = clients[0], clients[1:]
        load_done = anyio.Event()
        during_load: list[float] = []  # round trips that ended while some trader still waited
        round_trips: list[float] = []
        answered: dict[str, int] = {}

        async def trade(c: FixClient) -> None:
            ids = [f"{c.sender}-{k}" for k in range(ORDERS_PER_SESSION)]
            for cl in ids:
                await c.new_order(cl, "1", "0.001", price="30000", tif="3")
            try:
                for cl in ids:
                    await c.reports(cl, 2, timeout=ANSWER_S)
            except TimeoutError:
                pass
            answered[c.sender] = sum(len(c.exec_reports(cl)) >= 2 for cl in ids)

        async def keep_probing() -> None:
            n = 0
            while not load_done.is_set():
                rt = await probe_round_trip(probe, f"probe-{n}", timeout=10)
                round_trips.append(rt)
                if len(answered) < len(traders):
                    during_load.append(rt)
                n += 1
                # The next one goes out at once: the client shares the gateway's event loop, so a stall
                # is seen only by a TestRequest in flight across it.

        started = time.perf_counter()
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(keep_probing)
                async with anyio.create_task_group() as load:
                    for c in traders:
                        load.start_soon(trade, c)
                load_done.set()
            await trade(probe)
        elapsed = time.perf_counter() - started

        starved = {s: n for s, n in answered.items() if n < ORDERS_PER_SESSION}
        assert not starved, f"sessions without all their answers (answered orders of {ORDERS_PER_SESSION}): {starved}"
        assert sorted(answered) == sorted(c.sender for c in clients)
        for c in clients:
            for k in range(ORDERS_PER_SESSION):
                new, last = c.exec_reports(f"{c.sender}-{k}")[:2]
                assert (new[150], new[39]) == (b"0", b"0")
                assert (last[150], last[39]) == (b"C", b"C")  # IOC with nothing to match: expired
        worst = sorted(round_trips)[-5:]
        print(f"{SESSIONS} sessions: load answered in {elapsed:.2f} s; {len(round_trips)} TestRequests, "
              f"slowest round trips (ms) {[round(1000 * rt, 1) for rt in worst]}")
        # at least one probe crossed the load (a faster gateway answers the load in fewer round trips)
        assert during_load, "no TestRequest answered during the load"
        assert max(round_trips) < RESPONSIVE_S, (
            f"a TestRequest under load waited {max(round_trips):.3f} s for its Heartbeat")
