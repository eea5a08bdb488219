"""Market data fan-out: latency from a venue depth event to N subscribed FIX sessions.

Run: ``python bench/marketdata_fanout.py [--sessions 100] [--rate 1000] [--seconds 10] [--sim-in-process]
[--store sqlite|memory]``.

Three processes, as in production where the venue is elsewhere: the simulator with a driver (a child
process), the gateway with ``--sessions`` FIX 4.4 sessions (this process, the one measured; its message
store a SQLite file as deployed, or ``--store memory``), and as
many raw FIX clients on one asyncio loop (a child process), each subscribed (263=1, 265=1, 264=20) to
BTC/USDT. The driver changes ``--rate`` book levels a second in the simulator (orders placed and
cancelled in 100 ms slices), which publishes them in its 100 ms diff-depth events.
``--sim-in-process`` runs the simulator in the gateway's process instead (the first layout of this
bench): its work then competes with the gateway's for the interpreter and inflates the figures.

Latency of one X at one client = the client's receipt time minus the time the gateway received the
depth event that caused it (the latest event received before, on one monotonic clock: ``perf_counter``,
system-wide on Linux): the gateway's work (book, diff, encode, the sends) and the loopback hop, not the
venue's batching interval. A client stamps each chunk as it arrives and parses it only at the end, so
one client's parsing never delays another's stamp. Printed: p50 / p99 / max over every (event, session)
pair; on the gateway side, the time from the event until every session's X was handed to the kernel,
the CPU time of that flush, and the wait from the event to the flush; the gateway process's CPU time
per depth event over the whole drive (the CPU figures are the least sensitive to a loaded machine); the events and X counted, and the messages conflated. Target on this machine: p99 < 5 ms
at 100 sessions and 1,000 updates/s.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import multiprocessing
import random
import sys
import tempfile
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


class Client(asyncio.Protocol):
    """A raw FIX client: logs on, subscribes, then stamps every chunk as it arrives (parsed at the end,
    so one client's parsing never delays the next one's stamp)."""

    def __init__(self, comp: str, ready: asyncio.Event) -> None:
        self.comp = comp
        self.seq = 1
        self.parser = Parser()
        self.ready = ready
        self.chunks: list[tuple[int, bytes]] = []  # (perf_counter_ns at arrival, bytes) once ready
        self.transport: Any = None

    def frame(self, msg_type: str, fields: list[tuple[int, Any]]) -> bytes:
        head = [(49, self.comp), (56, "FIXGW"), (34, self.seq), (52, format_utc_timestamp(time.time_ns()))]
        self.seq += 1
        return encode("FIX.4.4", msg_type, head + fields)

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.frame("A", [(98, 0), (108, 30), (141, "Y"), (553, "demo"), (554, "demo")]))
        transport.write(self.frame("V", [(262, "md"), (263, 1), (264, 20), (265, 1), (267, 2), (269, 0),
                                         (269, 1), (146, 1), (55, "BTC/USDT")]))

    def data_received(self, data: bytes) -> None:
        if self.ready.is_set():
            self.chunks.append((time.perf_counter_ns(), data))
            return
        self.parser.feed(data)
        while True:
            m = self.parser.next_event()
            if not hasattr(m, "msg_type"):
                break
            if m.msg_type == b"W":
                self.ready.set()

    def x_times(self) -> list[int]:
        """The arrival time of each X received once ready."""
        out = []
        for stamp, data in self.chunks:
            self.parser.feed(data)
            while True:
                m = self.parser.next_event()
                if not hasattr(m, "msg_type"):
                    break
                if m.msg_type == b"X":
                    out.append(stamp)
        return out


def clients_main(port: int, n: int, conn: Any) -> None:
    """The child process: ``n`` clients on one loop; report ready, then the receipt times at "stop"."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        readies = [asyncio.Event() for _ in range(n)]
        clients = []
        for i, r in enumerate(readies):
            _, c = await loop.create_connection(lambda i=i, r=r: Client(f"MD{i:03d}", r), "127.0.0.1", port)
            clients.append(c)
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
        conn.send("ready")
        await loop.run_in_executor(None, conn.recv)
        for c in clients:
            c.transport.close()
        conn.send([c.x_times() for c in clients])

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


def venue_main(rate: int, seconds: float, conn: Any) -> None:
    """The venue's child process: the simulator and the driver; URLs out, then "go" -> drive -> "done"."""
    sim = SimServer(SimConfig(seed=3, maker_interval_s=None))
    sim.start()
    try:
        sim.call(lambda st: st.engine.add_account(MAKER, {"BTC": D(1000), "USDT": D(10**9)}))
        conn.send((sim.base_url, sim.ws_api_url))
        conn.recv()  # go
        drive(sim, rate, seconds, threading.Event())
        conn.send("done")
        conn.recv()  # stop
    finally:
        sim.stop()


class _Venue:
    """The simulator and its driver, in this process (``--sim-in-process``, the first layout of this
    bench: the venue's work then competes with the gateway for the interpreter) or in a child."""

    def __init__(self, rate: int, seconds: float, in_process: bool) -> None:
        self.rate, self.seconds, self.in_process = rate, seconds, in_process
        self.sim: SimServer | None = None
        self.proc: Any = None
        self.conn: Any = None

    def start(self) -> tuple[str, str]:
        if self.in_process:
            sim = self.sim = SimServer(SimConfig(seed=3, maker_interval_s=None))
            sim.start()
            sim.call(lambda st: st.engine.add_account(MAKER, {"BTC": D(1000), "USDT": D(10**9)}))
            return sim.base_url, sim.ws_api_url
        self.conn, child = multiprocessing.Pipe()
        self.proc = multiprocessing.get_context("spawn").Process(target=venue_main,
                                                                 args=(self.rate, self.seconds, child))
        self.proc.start()
        if not self.conn.poll(60):
            raise SystemExit("the simulator did not start in 60 s")
        return self.conn.recv()  # type: ignore[no-any-return]

    def drive(self) -> None:
        if self.sim is not None:
            drive(self.sim, self.rate, self.seconds, threading.Event())
        else:
            self.conn.send("go")
            self.conn.recv()

    def stop(self) -> None:
        if self.sim is not None:
            self.sim.stop()
        elif self.proc is not None and self.proc.pid is not None:
            try:
                self.conn.send("stop")
            except OSError:
                pass
            self.proc.join(15)


async def run(n: int, rate: int, seconds: float, sim_in_process: bool = False, store: str = "sqlite") -> None:
    venue = _Venue(rate, seconds, sim_in_process)
    tmp = tempfile.TemporaryDirectory(prefix="fixgw-fanout-")
    try:
        rest_url, ws_url = venue.start()
        cfg = default_config(port=0, store_path=Path(tmp.name) / "fixgw.db" if store == "sqlite" else None)
        base = cfg.sessions[0]
        cfg = replace(cfg, sessions=tuple(replace(base, target_comp_id=f"MD{i:03d}") for i in range(n)))
        cfg = cfg.with_venue("sim", rest_url=rest_url, ws_url=ws_url, api_key=DEMO_API_KEY,
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
            md = gw.marketdata
            feed = md.feeds["sim"]
            events: list[int] = []
            flushed: list[tuple[int, int]] = []  # (event index, perf_counter_ns when the flush returned)
            on_message = feed._on_message
            flush = md._flush

            async def stamped(text: str) -> None:
                if '"depthUpdate"' in text:
                    events.append(time.perf_counter_ns())
                await on_message(text)

            starts: list[tuple[int, int]] = []
            cpu: list[float] = []

            def timed_flush() -> None:
                t0 = time.perf_counter_ns()
                c0 = time.thread_time_ns()
                flush()
                cpu.append((time.thread_time_ns() - c0) / 1e6)
                if events:
                    flushed.append((len(events) - 1, time.perf_counter_ns()))
                    starts.append((len(events) - 1, t0))

            feed.ws._on_message = stamped
            md._flush = timed_flush
            store = gw._store
            commits0 = getattr(store, "commits", 0)
            cpu0 = time.process_time()
            await anyio.to_thread.run_sync(venue.drive)
            cpu_total = time.process_time() - cpu0
            commits = getattr(store, "commits", 0) - commits0
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
            done: dict[int, float] = {}
            for i, t in flushed:  # the first flush after each event: every session's X written
                done.setdefault(i, (t - events[i]) / 1e6)
            gw.stop()
        lat.sort()
        if not lat:
            print("no X received")
            return

        def pct(values: list[float], p: float) -> float:
            return values[min(len(values) - 1, int(p * len(values)))]

        gw_lat = sorted(done.values())
        where = "in this process" if sim_in_process else "in its own process"
        print(f"fan-out to {n} sessions at {rate} level changes/s for {seconds:g}s (simulator {where}): "
              f"{len(events)} depth events, {len(lat)} X received")
        print(f"  venue event -> X at the client: p50 {pct(lat, 0.5):.2f} ms, p99 {pct(lat, 0.99):.2f} ms, "
              f"max {lat[-1]:.2f} ms")
        if gw_lat:
            print(f"  venue event -> every session's X written (gateway side, {len(gw_lat)} flushes): "
                  f"p50 {pct(gw_lat, 0.5):.2f} ms, p99 {pct(gw_lat, 0.99):.2f} ms, max {gw_lat[-1]:.2f} ms")
        wait: dict[int, float] = {}
        for i, t in starts:
            wait.setdefault(i, (t - events[i]) / 1e6)
        waits = sorted(wait.values())
        cpu.sort()
        if cpu:
            print(f"  gateway CPU per flush (every session's X built and written): p50 {pct(cpu, 0.5):.2f} ms, "
                  f"p99 {pct(cpu, 0.99):.2f} ms; event -> flush start p50 {pct(waits, 0.5):.2f} ms, "
                  f"p99 {pct(waits, 0.99):.2f} ms")
        if events:
            print(f"  gateway process CPU during the drive: {cpu_total * 1e3 / len(events):.2f} ms per depth event "
                  f"(everything: stream, book, fan-out, timers{', and the simulator' if sim_in_process else ''}); "
                  f"message store: {commits} commits for {len(events)} events ({type(store).__name__})")
        print(f"  conflated {gw.marketdata.conflated}, resyncs {feed.resyncs}")
    finally:
        venue.stop()
        tmp.cleanup()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=100)
    ap.add_argument("--rate", type=int, default=1000, help="book level changes per second at the venue")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--sim-in-process", action="store_true",
                    help="run the simulator in this process (the first layout; it competes for the interpreter)")
    ap.add_argument("--store", choices=("sqlite", "memory"), default="sqlite",
                    help="the gateway's message store: a SQLite file in a temporary directory (as deployed), or memory")
    a = ap.parse_args(argv)
    asyncio.run(run(a.sessions, a.rate, a.seconds, a.sim_in_process, a.store))


if __name__ == "__main__":
    main()
