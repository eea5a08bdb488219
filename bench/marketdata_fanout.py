"""Market data fan-out: latency from a venue depth event to N subscribed FIX sessions.

Run: ``python bench/marketdata_fanout.py [--sessions 100] [--rate 1000] [--seconds 10] [--sim-in-process]
[--store sqlite|memory] [--store-dir DIR] [--settle-ms 20]``.

Three processes, as in production where the venue is elsewhere: the simulator with a driver (a child
process), the gateway with ``--sessions`` FIX 4.4 sessions (this process, the one measured; its message
store a SQLite file as deployed, or ``--store memory``), and as many raw FIX clients in one child
process, each subscribed (263=1, 265=1, 264=20) to BTC/USDT. The driver changes ``--rate`` book levels a
second in the simulator (orders placed and cancelled in 100 ms slices), which publishes them in its
100 ms diff-depth events. ``--sim-in-process`` runs the simulator in the gateway's process instead (the
first layout of this bench): its work then competes with the gateway's for the interpreter.

Latency of one X at one client = the time the X reached the client's socket (the kernel's receive
timestamp, SO_TIMESTAMPNS) minus the time the gateway received the depth event that caused it (the
latest event received before; both on the system's real-time clock): the gateway's work (book, diff,
encode, the sends) and the loopback hop, not the venue's batching interval nor the client's own lag.
The clients are one thread on a ``selectors`` loop; after a wake-up they sleep ``--settle-ms`` before
reading, so on a 2-core machine their CPU does not compete with the gateway's during a fan-out (the
kernel stamps keep the arrival times). ``--settle-ms 0`` reads at once: the client then competes for the
CPU, as the first version of this bench did (one asyncio loop for every client), and the figures include
that. The time each X was read by the client is printed too. Printed: p50 / p99 / max over every
(event, session) pair; on the gateway side, the time from the event until every session's X was handed to
the kernel, the CPU time of that flush, and the wait from the event to the flush; the gateway process's
CPU time per depth event over the whole drive (the CPU figures are the least sensitive to a loaded
machine); the events and X counted, and the messages conflated. Target on this machine: p99 < 5 ms at
100 sessions and 1,000 updates/s.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import multiprocessing
import random
import selectors
import socket
import struct
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


#: Linux: software receive timestamps (struct timespec, CLOCK_REALTIME) as a control message of recvmsg.
SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@qq")


class Client:
    """A raw FIX client on a blocking socket: logs on and subscribes, then waits for its first W."""

    def __init__(self, comp: str, port: int) -> None:
        self.comp = comp
        self.seq = 1
        self.parser = Parser()
        #: (kernel arrival ns, read ns, bytes) of each read once ready; both CLOCK_REALTIME (``time_ns``).
        self.chunks: list[tuple[int, int, bytes]] = []
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            self.kernel_stamps = True
        except OSError:
            self.kernel_stamps = False
        self.sock.sendall(self.frame("A", [(98, 0), (108, 30), (141, "Y"), (553, "demo"), (554, "demo")])
                          + self.frame("V", [(262, "md"), (263, 1), (264, 20), (265, 1), (267, 2), (269, 0),
                                             (269, 1), (146, 1), (55, "BTC/USDT")]))

    def frame(self, msg_type: str, fields: list[tuple[int, Any]]) -> bytes:
        head = [(49, self.comp), (56, "FIXGW"), (34, self.seq), (52, format_utc_timestamp(time.time_ns()))]
        self.seq += 1
        return encode("FIX.4.4", msg_type, head + fields)

    def wait_snapshot(self, deadline: float) -> None:
        self.sock.settimeout(max(0.1, deadline - time.monotonic()))
        while True:
            data = self.sock.recv(1 << 16)
            if not data:
                raise SystemExit(f"{self.comp}: the gateway closed the connection before the first W")
            self.parser.feed(data)
            while True:
                m = self.parser.next_event()
                if not hasattr(m, "msg_type"):
                    break
                if m.msg_type == b"W":
                    self.sock.setblocking(False)
                    return

    def read(self) -> None:
        """Read what is there; stamp it with the kernel's arrival time and the time read."""
        while True:
            try:
                data, ancdata, _flags, _addr = self.sock.recvmsg(1 << 16, 64)
            except (BlockingIOError, InterruptedError):
                return
            now = time.time_ns()
            if not data:
                return
            arrived = now
            for level, kind, raw in ancdata:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(raw) >= _TIMESPEC.size:
                    sec, nsec = _TIMESPEC.unpack_from(raw)
                    arrived = sec * 1_000_000_000 + nsec
            self.chunks.append((arrived, now, data))

    def x_times(self) -> tuple[list[tuple[int, int]], int]:
        """The (arrival, read) times of each X received once ready, and the number of X left out: those
        of reads that held more than one X (the client fell a whole event behind), as a read carries
        only its last segment's arrival time."""
        out = []
        left_out = 0
        for arrived, read, data in self.chunks:
            self.parser.feed(data)
            n = 0
            while True:
                m = self.parser.next_event()
                if not hasattr(m, "msg_type"):
                    break
                n += m.msg_type == b"X"
            if n == 1:
                out.append((arrived, read))
            else:
                left_out += n
        return out, left_out


def clients_main(port: int, n: int, conn: Any, settle_ms: float) -> None:
    """The child process: ``n`` clients; report ready, then the receipt times at "stop".

    One thread and one ``selectors`` loop, no asyncio: on a 2-core machine the clients' own CPU competes
    with the gateway's. After a wake-up it sleeps ``settle_ms`` before reading every socket, so a
    fan-out lands whole while the client stays off the CPU; the kernel's receive timestamps
    (SO_TIMESTAMPNS) keep each X's arrival time however late it is read.
    """
    deadline = time.monotonic() + 60
    clients = [Client(f"MD{i:03d}", port) for i in range(n)]
    for c in clients:
        c.wait_snapshot(deadline)
    sel = selectors.DefaultSelector()
    for c in clients:
        sel.register(c.sock, selectors.EVENT_READ, c)
    sel.register(conn, selectors.EVENT_READ, None)
    conn.send("ready")
    settle = settle_ms / 1e3
    running = True
    while running:
        ready = sel.select(1.0)
        if settle and ready:
            time.sleep(settle)
        for key, _ in sel.select(0) if settle and ready else ready:
            if key.data is None:
                running = False
            else:
                key.data.read()
    conn.recv()
    for c in clients:
        c.sock.close()
    conn.send(([c.x_times() for c in clients], all(c.kernel_stamps for c in clients)))


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


async def _reap(proc: Any, finished: anyio.Event) -> None:
    try:
        await finished.wait()
    finally:
        if proc.is_alive():
            proc.kill()


async def run(n: int, rate: int, seconds: float, sim_in_process: bool = False, store: str = "sqlite",
              settle_ms: float = 20.0, store_dir: str | None = None) -> None:
    venue = _Venue(rate, seconds, sim_in_process)
    tmp = tempfile.TemporaryDirectory(prefix="fixgw-fanout-", dir=store_dir)
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
            proc = multiprocessing.get_context("spawn").Process(target=clients_main,
                                                                args=(port, n, child, settle_ms))
            proc.start()
            finished = anyio.Event()
            tg.start_soon(_reap, proc, finished)  # never leave the clients behind if this run fails
            if await anyio.to_thread.run_sync(parent.poll, 60) is False:
                raise SystemExit("the clients did not log on and subscribe in 60 s")
            parent.recv()
            md = gw.marketdata
            feed = md.feeds["sim"]
            events: list[int] = []  # perf_counter_ns of each depth event's arrival
            events_rt: list[int] = []  # the same instants on the clients' clock (time_ns)
            flushed: list[tuple[int, int]] = []  # (event index, perf_counter_ns when the flush returned)
            on_message = feed._on_message
            flush = md._flush

            async def stamped(text: str) -> None:
                if '"depthUpdate"' in text:
                    events.append(time.perf_counter_ns())
                    events_rt.append(time.time_ns())
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
            commit_times: list[tuple[float, float]] = []  # (wall ms, CPU ms) of each commit that wrote
            real_commit = getattr(store, "commit", None)

            def timed_commit() -> None:
                before = getattr(store, "commits", 0)
                t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
                real_commit()
                if getattr(store, "commits", 0) != before:
                    commit_times.append(((time.perf_counter_ns() - t0) / 1e6, (time.thread_time_ns() - c0) / 1e6))

            if real_commit is not None:
                store.commit = timed_commit  # the sessions' stores commit through their owner's method
            cpu0 = time.process_time()
            await anyio.to_thread.run_sync(venue.drive)
            cpu_total = time.process_time() - cpu0
            commits = getattr(store, "commits", 0) - commits0
            await anyio.sleep(0.5)
            parent.send("stop")
            received, kernel_stamps = await anyio.to_thread.run_sync(parent.recv)
            proc.join(10)
            lat: list[float] = []  # venue event -> X in the client's socket (kernel receive stamp)
            read_lat: list[float] = []  # venue event -> X read by the client process
            multi = 0
            for times, m in received:
                multi += m
                for arrived, read in times:
                    i = bisect.bisect_right(events_rt, arrived) - 1
                    if i >= 0:
                        lat.append((arrived - events_rt[i]) / 1e6)
                        read_lat.append((read - events_rt[i]) / 1e6)
            done: dict[int, float] = {}
            for i, t in flushed:  # the first flush after each event: every session's X written
                done.setdefault(i, (t - events[i]) / 1e6)
            gw.stop()
            finished.set()
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
        read_lat.sort()
        what = "in the client's socket (kernel receive time)" if kernel_stamps else "read by the client"
        print(f"  venue event -> X {what}: p50 {pct(lat, 0.5):.2f} ms, p99 {pct(lat, 0.99):.2f} ms, "
              f"max {lat[-1]:.2f} ms")
        print(f"  venue event -> X read by the client process (its own lag included; it waits {settle_ms:g} ms "
              f"after a wake-up before reading): p50 {pct(read_lat, 0.5):.2f} ms, p99 {pct(read_lat, 0.99):.2f} ms"
              + (f"; {multi} X left out: read together with the next one" if multi else ""))
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
        if commit_times:
            walls = sorted(w for w, _ in commit_times)
            cpus = sorted(c for _, c in commit_times)
            print(f"  message store commit (every session's sequence number, before the first write): wall p50 "
                  f"{pct(walls, 0.5):.2f} ms, p99 {pct(walls, 0.99):.2f} ms; CPU p50 {pct(cpus, 0.5):.2f} ms "
                  f"(wall beyond CPU: waits for the disk or for the CPU)")
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
    ap.add_argument("--settle-ms", type=float, default=20.0,
                    help="the clients wait this long after a wake-up before reading (0: read at once); the "
                         "kernel's receive stamps keep the arrival times either way")
    ap.add_argument("--store-dir", default=None,
                    help="where the SQLite file goes (default: the system's temporary directory); e.g. /dev/shm "
                         "to tell the store's waits for a busy disk from its own work")
    a = ap.parse_args(argv)
    asyncio.run(run(a.sessions, a.rate, a.seconds, a.sim_in_process, a.store, a.settle_ms, a.store_dir))


if __name__ == "__main__":
    main()
