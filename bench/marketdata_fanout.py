"""Market data fan-out: latency from a venue depth event to N subscribed FIX sessions.

Run: ``python bench/marketdata_fanout.py [--sessions 100] [--rate 1000] [--seconds 10]``.

The simulator (its own thread and loop) and the gateway with ``--sessions`` FIX 4.4 sessions run in
this process; as many raw FIX clients run on one asyncio loop in a child process, each subscribed (263=1, 265=1, 264=20) to
BTC/USDT. A driver thread changes ``--rate`` book levels a second in the simulator (orders placed and
cancelled in 100 ms slices), which publishes them in its 100 ms diff-depth events.

Latency of one X at one client = the client's receipt time minus the time the gateway received the
depth event that caused it (the latest event received before, on the same monotonic clock: ``perf_counter``, system-wide on Linux):
the gateway's work (book, diff, encode, 100 sends) and the loopback hop, not the venue's batching
interval. Printed: p50 / p99 / max over every (event, session) pair, the events and X counted, and
the messages conflated. Target on this machine: p99 < 5 ms at 100 sessions and 1,000 updates/s.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import multiprocessing
import random
import sys
import threading
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anyio  # noqa: E402

from fixgw.codec import Parser, encode, format_utc_timestamp  # noqa: E402
from fixgw.config import default_config  # noqa: E402
from fixgw.gateway import Gateway  # noqa: E402
from fixgw.sim import SimConfig, SimServer  # noqa: E402
from fixgw.sim.config import DEMO_API_KEY, DEMO_API_SECRET  # noqa: E402
from fixgw.sim.model import NewOrder  # noqa: E402

D = Decimal
MAKER = "fanout-maker"  # not the gateway's account: the gateway would treat its orders as its own


class Client:
    def __init__(self, comp: str) -> None:
        self.comp = comp
        self.seq = 1
        self.parser = Parser()
        self.received: list[int] = []  # perf_counter_ns of each X
        self.w = 0

    def frame(self, msg_type: str, fields: list[tuple[int, Any]]) -> bytes:
        head = [(49, self.comp), (56, "FIXGW"), (34, self.seq), (52, format_utc_timestamp(time.time_ns()))]
        self.seq += 1
        return encode("FIX.4.4", msg_type, head + fields)

    async def run(self, port: int, ready: asyncio.Event, done: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(self.frame("A", [(98, 0), (108, 30), (141, "Y"), (553, "demo"), (554, "demo")]))
        writer.write(self.frame("V", [(262, "md"), (263, 1), (264, 20), (265, 1), (267, 2), (269, 0), (269, 1),
                                      (146, 1), (55, "BTC/USDT")]))
        await writer.drain()
        while not done.is_set():
            data = await reader.read(1 << 16)
            if not data:
                break
            now = time.perf_counter_ns()
            self.parser.feed(data)
            while True:
                m = self.parser.next_event()
                if not hasattr(m, "msg_type"):
                    break
                if m.msg_type == b"X":
                    self.received.append(now)
                elif m.msg_type == b"W":
                    self.w += 1
                    ready.set()
        writer.close()


def clients_main(port: int, n: int, conn: Any) -> None:
    """The child process: ``n`` clients on one loop; report ready, then the receipt times at "stop"."""

    async def main() -> None:
        clients = [Client(f"MD{i:03d}") for i in range(n)]
        done = asyncio.Event()
        readies = [asyncio.Event() for _ in clients]
        tasks = [asyncio.create_task(c.run(port, r, done)) for c, r in zip(clients, readies)]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
        conn.send("ready")
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        done.set()
        for t in tasks:
            t.cancel()
        conn.send([c.received for c in clients])

    asyncio.run(main())


def drive(sim: SimServer, rate: int, seconds: float, stop: threading.Event) -> None:
    """Change ``rate`` levels a second: bids placed and cancelled below the best bid, in 100 ms slices."""
    rng = random.Random(7)
    per_slice = max(1, rate // 10)
    resting: list[int] = []
    end = time.monotonic() + seconds

    def slice_(st: Any) -> None:
        book = st.engine.books["BTCUSDT"]
        tick = st.engine.instruments["BTCUSDT"].tick_size
        best = book.best("BUY")
        now = st.now_ms()
        for _ in range(per_slice - per_slice // 2):
            if len(resting) > per_slice:
                try:
                    st.engine.cancel(MAKER, "BTCUSDT", now, order_id=resting.pop(0))
                except Exception:
                    pass
        for _ in range(per_slice // 2):
            r = st.engine.place(MAKER, NewOrder("BTCUSDT", "BUY", "LIMIT", D("0.001"),
                                                       best - tick * rng.randint(1, 30), "GTC"), now)
            oid = getattr(r.order, "order_id", None)
            if oid is not None:
                resting.append(oid)
        st.publish()

    while time.monotonic() < end and not stop.is_set():
        t0 = time.monotonic()
        sim.call(slice_)
        time.sleep(max(0.0, 0.1 - (time.monotonic() - t0)))


async def run(n: int, rate: int, seconds: float) -> None:
    sim = SimServer(SimConfig(seed=3, maker_interval_s=None))
    sim.start()
    try:
        sim.call(lambda st: st.engine.add_account(MAKER, {"BTC": D(1000), "USDT": D(10**9)}))
        cfg = default_config(port=0)
        base = cfg.sessions[0]
        cfg = replace(cfg, sessions=tuple(replace(base, target_comp_id=f"MD{i:03d}") for i in range(n)))
        cfg = cfg.with_venue("sim", rest_url=sim.base_url, ws_url=sim.ws_api_url, api_key=DEMO_API_KEY,
                             api_secret=DEMO_API_SECRET, orders_per_10s=10**6, weight_per_minute=10**6)
        gw = Gateway(cfg)
        async with anyio.create_task_group() as tg:
            port = await tg.start(gw.run)
            parent, child = multiprocessing.Pipe()
            proc = multiprocessing.get_context("spawn").Process(target=clients_main, args=(port, n, child))
            proc.start()
            if await anyio.to_thread.run_sync(parent.poll, 60) is False:
                raise SystemExit("the clients did not log on and subscribe in 60 s")
            parent.recv()
            feed = gw.marketdata.feeds["sim"]
            events: list[int] = []
            on_message = feed._on_message

            async def stamped(text: str) -> None:
                if '"depthUpdate"' in text:
                    events.append(time.perf_counter_ns())
                await on_message(text)

            feed.ws._on_message = stamped
            stop = threading.Event()
            await anyio.to_thread.run_sync(drive, sim, rate, seconds, stop)
            await anyio.sleep(0.5)
            parent.send("stop")
            received = await anyio.to_thread.run_sync(parent.recv)
            proc.join(10)
            lat = []
            for times in received:
                for r in times:
                    i = bisect.bisect_right(events, r) - 1
                    if i >= 0:
                        lat.append((r - events[i]) / 1e6)
            gw.stop()
        lat.sort()
        if not lat:
            print("no X received")
            return
        def pct(p: float) -> float:
            return lat[min(len(lat) - 1, int(p * len(lat)))]
        print(f"fan-out to {n} sessions at {rate} level changes/s for {seconds:g}s: {len(events)} depth events, "
              f"{len(lat)} X received; latency p50 {pct(0.5):.2f} ms, p99 {pct(0.99):.2f} ms, max {lat[-1]:.2f} ms; "
              f"conflated {gw.marketdata.conflated}, resyncs {feed.resyncs}")
    finally:
        sim.stop()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=100)
    ap.add_argument("--rate", type=int, default=1000, help="book level changes per second at the venue")
    ap.add_argument("--seconds", type=float, default=10.0)
    a = ap.parse_args(argv)
    asyncio.run(run(a.sessions, a.rate, a.seconds))


if __name__ == "__main__":
    main()
