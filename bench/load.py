"""Load benchmark: many FIX sessions logged on at once, each sending orders at a steady rate.

Three processes, as ``bench/gateway.py`` runs them (its pieces are reused): this one is the client, holding
``--sessions`` FIX sessions on as many sockets in one event loop; a second runs the gateway
(``python -m fixgw run`` on a generated TOML with one ``[[sessions]]`` entry per client and a SQLite
store); a third runs the simulated exchange. Orders are limit IOC buys far below the market: each gets
an ExecutionReport New, then one Expired. Every client sends its Logon as soon as it is connected, all
at once; a connection the gateway refuses (its cap on connections from one host still short of a Logon,
``--max-pending-per-address``) is retried after a short back-off, and the retries are counted.

Order k goes to session ``k % sessions`` at ``t0 + k / rate`` (open loop, so every session sends
``rate / sessions`` orders/s, staggered, and a slow gateway shows up as latency, not as fewer orders).
Every ``--probe-interval`` seconds one session (in turn) sends a TestRequest: the time to its Heartbeat
says whether the gateway stays responsive under the load. The run reports:

- per-session counts of orders and answers (min / median / max): no session starved means every session
  got all its answers, and the least served one at least ``--fair`` of the median;
- NewOrderSingle -> first ExecutionReport latency p50 / p99 / p99.9 / max over all sessions, and the
  p99 of each session (min / median / worst);
- the gateway's resident memory (VmRSS from /proc) after logon, after warm-up, in the middle and at the
  end of the run, its peak (VmHWM), and the growth per order;
- CPU per order of each process.

A baseline runs first: the same total rate over one session, on a fresh gateway and simulator, so a
noisy machine still gives a true ratio. The exit status is 1 when a session starved or an order went
unanswered.

    python bench/load.py --sessions 100 --rate 300 --seconds 30
    python bench/load.py --sessions 100 --rate 1000 --seconds 20 --venue null
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixgw.codec import Message, Parser, encode, format_utc_timestamp  # noqa: E402


def _load_gateway_bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_gateway", Path(__file__).with_name("gateway.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gwbench = _load_gateway_bench()
GATEWAY_BENCH = str(Path(__file__).with_name("gateway.py"))
TERMINAL = (b"C", b"8", b"2", b"4")


def make_config(n_sessions: int, port: int, sim_port: int, store: str, pending_per_address: int | None,
                retention: int | None = None) -> str:
    """Return a gateway TOML with ``n_sessions`` FIX 4.4 sessions (LOAD001.. -> FIXGW) on one venue."""
    if pending_per_address is not None:
        store += f"\nmax_pending_per_address = {pending_per_address}"
    if retention is not None:
        store += f"\nterminal_order_retention = {retention}"
    head = gwbench.CONFIG.split("[[sessions]]")[0].format(port=port, sim_port=sim_port, store=store)
    sessions = "".join(
        f'\n[[sessions]]\nbegin_string = "FIX.4.4"\nsender_comp_id = "FIXGW"\ntarget_comp_id = "{comp_id(i)}"\n'
        f'heartbeat_interval = 30\nvenue = "sim"\naccount = "load"\n'
        for i in range(n_sessions)
    )
    return head + sessions


def comp_id(i: int) -> str:
    return f"LOAD{i + 1:03d}"


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB, from /proc; (0, 0) where unavailable."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0, 0
    found = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", text, re.M))
    return int(found.get("VmRSS", 0)), int(found.get("VmHWM", 0))


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of sorted ``values``; NaN when empty."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, int(p / 100 * len(values) + 0.5) - 1))]


@dataclass
class Client:
    """One FIX session of the load client: its socket, sequence numbers and measurements."""

    index: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    seq: int = 1
    parser: Parser = field(default_factory=Parser)
    sent: dict[bytes, int] = field(default_factory=dict)
    first: dict[bytes, int] = field(default_factory=dict)
    terminal: int = 0
    probes: dict[bytes, int] = field(default_factory=dict)
    probe_ms: list[float] = field(default_factory=list)
    logged_on: asyncio.Event = field(default_factory=asyncio.Event)
    retries: int = 0  # connections refused before this one logged on
    closed: bool = False

    def frame(self, msg_type: str, fields: list[tuple[int, Any]]) -> bytes:
        header = [(49, comp_id(self.index)), (56, "FIXGW"), (34, self.seq), (52, format_utc_timestamp(time.time_ns()))]
        self.seq += 1
        return encode("FIX.4.4", msg_type, header + fields)

    def order(self, k: int) -> bytes:
        cl = b"%d" % k
        self.sent[cl] = time.perf_counter_ns()
        return self.frame("D", [(11, cl), (21, "1"), (55, "BTC/USDT"), (54, "1"),
                                (60, format_utc_timestamp(time.time_ns())), (38, "0.001"), (40, "2"),
                                (44, "30000"), (59, "3")])

    async def read(self) -> None:
        while True:
            data = await self.reader.read(1 << 16)
            if not data:
                self.closed = True
                return
            now = time.perf_counter_ns()
            self.parser.feed(data)
            for m in self.parser:
                if isinstance(m, Message):
                    self.on_message(m, now)

    def on_message(self, m: Message, now: int) -> None:
        mt = m.msg_type
        if mt == b"8":
            cl = m.get(11)
            if cl is not None and cl not in self.first:
                self.first[cl] = now
            if m.get(39) in TERMINAL:
                self.terminal += 1
        elif mt == b"0":
            sent = self.probes.pop(m.get(112) or b"", None)
            if sent is not None:
                self.probe_ms.append((now - sent) / 1e6)
        elif mt == b"1":
            self.writer.write(self.frame("0", [(112, m[112])]))
        elif mt == b"A":
            self.logged_on.set()


async def log_on(port: int, index: int, attempts: int = 20) -> tuple[Client, asyncio.Task[None]]:
    """Connect and send the Logon at once, as a client does; after a refusal try again, backing off."""
    for attempt in range(attempts):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        c = Client(index, reader, writer, retries=attempt)
        task = asyncio.create_task(c.read())
        writer.write(c.frame("A", [(98, 0), (108, 30), (141, "Y")]))
        logged_on = asyncio.create_task(c.logged_on.wait())
        await asyncio.wait((logged_on, task), timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if c.logged_on.is_set():
            return c, task
        logged_on.cancel()
        task.cancel()
        writer.close()
        await asyncio.sleep(0.05 * (attempt + 1))
    raise SystemExit(f"session {comp_id(index)} could not log on in {attempts} attempts")


async def wait_until(pred: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def run_load(port: int, gw_pid: int, n: int, rate: float, seconds: float, warmup: int,
                   probe_interval: float) -> dict[str, Any]:
    """Log ``n`` sessions on at once, warm up, send orders for ``seconds``, and measure."""
    rss: dict[str, tuple[int, int]] = {}
    samples: list[tuple[float, int]] = []
    t_logon = time.perf_counter()
    logged = await asyncio.wait_for(asyncio.gather(*(log_on(port, i) for i in range(n))), 120)
    logon_s = time.perf_counter() - t_logon
    clients = [c for c, _ in logged]
    readers = [t for _, t in logged]
    rss["after logon"] = rss_kib(gw_pid)

    for c in clients:  # warm-up: venue connections, caches, first allocations of every session
        c.writer.write(b"".join(c.order(-1 - j) for j in range(warmup)))
    await wait_until(lambda: all(c.terminal >= warmup for c in clients), 60)
    for c in clients:
        c.terminal, c.sent, c.first = 0, {}, {}
    rss["after warm-up"] = rss_kib(gw_pid)

    total = int(rate * seconds)
    interval = 1.0 / rate
    stop_sampling = asyncio.Event()

    async def sample() -> None:
        while not stop_sampling.is_set():
            samples.append((time.perf_counter() - t0, rss_kib(gw_pid)[0]))
            await asyncio.sleep(0.25)

    async def probe() -> None:
        j = 0
        while not stop_sampling.is_set():
            c = clients[j % n]
            tid = b"p%d" % j
            c.probes[tid] = time.perf_counter_ns()
            c.writer.write(c.frame("1", [(112, tid)]))
            j += 1
            await asyncio.sleep(probe_interval)

    t0 = time.perf_counter()
    tasks = [asyncio.create_task(sample()), asyncio.create_task(probe())]
    k = 0
    while k < total:
        due = t0 + k * interval
        now = time.perf_counter()
        if due > now:
            await asyncio.sleep(due - now)
        # Everything due goes out now (the loop's sleep granularity is ~1 ms), one write per session.
        batch: dict[int, list[bytes]] = {}
        now = time.perf_counter()
        while k < total and t0 + k * interval <= now:
            batch.setdefault(k % n, []).append(clients[k % n].order(k))
            k += 1
        for i, frames in batch.items():
            clients[i].writer.write(b"".join(frames))
        for i in batch:
            if clients[i].writer.transport.get_write_buffer_size() > 1 << 16:
                await clients[i].writer.drain()
    send_s = time.perf_counter() - t0
    rss["middle"] = min(samples, key=lambda s: abs(s[0] - seconds / 2), default=(0.0, 0))[1], 0
    all_answered = await wait_until(lambda: sum(c.terminal for c in clients) >= total, 30)
    await wait_until(lambda: not any(c.probes for c in clients), 2)
    stop_sampling.set()
    await asyncio.gather(*tasks)
    rss["end"] = rss_kib(gw_pid)
    elapsed = time.perf_counter() - t0
    for c in clients:
        c.writer.close()
    for t in readers:
        t.cancel()

    lat = sorted((c.first[cl] - t) / 1e6 for c in clients for cl, t in c.sent.items() if cl in c.first)
    per_p99 = sorted(pct(sorted((c.first[cl] - t) / 1e6 for cl, t in c.sent.items() if cl in c.first), 99)
                     for c in clients)
    probes = sorted(x for c in clients for x in c.probe_ms)
    return {
        "sessions": n, "logon_s": logon_s, "logon_retries": sum(c.retries for c in clients), "sent": total, "send_s": send_s, "elapsed_s": elapsed,
        "all_answered": all_answered,
        "first": len(lat), "terminal": sum(c.terminal for c in clients),
        "per_sent": sorted(len(c.sent) for c in clients),
        "per_answered": sorted(len(c.first) for c in clients),
        "per_terminal": sorted(c.terminal for c in clients),
        "lat": lat, "per_p99": per_p99, "probes": probes,
        "probes_unanswered": sum(len(c.probes) for c in clients),
        "rss": rss, "samples": samples,
    }


def run_phase(args: argparse.Namespace, n: int) -> dict[str, Any]:
    """Start a simulator and a gateway with ``n`` sessions, run the load, stop both."""
    tmp = Path(tempfile.mkdtemp(prefix="fixgw-load-"))
    sim_port, gw_port = gwbench.free_port(), gwbench.free_port()
    store = f'store_path = "{tmp / "gw.db"}"' if args.store == "sqlite" else ""
    cfg = tmp / "load.toml"
    cfg.write_text(make_config(n, gw_port, sim_port, store, args.max_pending_per_address, args.retention))
    env = dict(os.environ, BENCH_API_KEY=gwbench.API_KEY, BENCH_API_SECRET=gwbench.API_SECRET, PYTHONPATH=str(ROOT))
    sim = None
    if args.venue == "sim":
        sim = subprocess.Popen([sys.executable, GATEWAY_BENCH, "--serve-sim", str(sim_port)], env=env)
        if not gwbench.wait_for_port(sim_port):
            sim.kill()
            raise SystemExit("simulator did not start")
        cmd = [sys.executable, "-m", "fixgw", "run", "--config", str(cfg), "--log-level",
               os.environ.get("BENCH_LOG", "WARNING")]
    else:
        cmd = [sys.executable, GATEWAY_BENCH, "--serve-null-gateway", str(cfg)]
    log = open(tmp / "gateway.log", "w")
    gw = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    try:
        assert gw.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = gw.stdout.readline()
            if not line or "listening on" in line:
                break
        if not line or gw.poll() is not None:
            raise SystemExit(f"the gateway did not start; see {tmp / 'gateway.log'}")
        procs = {"gateway": gw.pid, **({"simulator": sim.pid} if sim is not None else {})}
        cpu0 = {**{k: gwbench.cpu_seconds(p) for k, p in procs.items()}, "client": time.process_time()}
        result = asyncio.run(run_load(gw_port, gw.pid, n, args.rate, args.seconds, args.warmup,
                                      args.probe_interval))
        cpu1 = {**{k: gwbench.cpu_seconds(p) for k, p in procs.items()}, "client": time.process_time()}
        orders = max(result["first"], 1)
        result["cpu_ms"] = {k: 1000 * (cpu1[k] - cpu0[k]) / orders for k in cpu0}
    finally:
        gw.send_signal(2)
        try:
            gw.wait(20)
        except subprocess.TimeoutExpired:
            gw.kill()
        if sim is not None:
            sim.kill()
            sim.wait()
        log.close()
    result["log"] = str(tmp / "gateway.log")
    return result


def mmm(values: list[Any]) -> str:
    """min / median / max of sorted values."""
    if not values:
        return "-"
    f = (lambda v: f"{v:.2f}") if isinstance(values[0], float) else str
    return f"{f(values[0])} / {f(statistics.median_low(values))} / {f(values[-1])}"


def report(args: argparse.Namespace, phases: list[dict[str, Any]]) -> bool:
    """Print the phases side by side; return whether no session starved and every order was answered."""
    rows: list[tuple[str, list[str]]] = []

    def row(name: str, fn: Any) -> None:
        rows.append((name, [fn(r) for r in phases]))

    def rss_mib(r: dict[str, Any], key: str, i: int = 0) -> str:
        return f"{r['rss'][key][i] / 1024:.1f}"

    def per_order(r: dict[str, Any], since: str) -> float:
        """Bytes of RSS the gateway grew per order from ``since`` to the end (half the orders for "middle")."""
        orders = max(int(r["first"]), 1) / (2 if since == "middle" else 1)
        return 1024 * (r["rss"]["end"][0] - r["rss"][since][0]) / orders

    row("sessions logged on at once (retries)",
        lambda r: f"{r['sessions']} in {r['logon_s']:.2f} s ({r['logon_retries']})")
    row("orders sent / first reports / terminal", lambda r: f"{r['sent']} / {r['first']} / {r['terminal']}")
    row("offered for / all answered after (s)", lambda r: f"{r['send_s']:.1f} / {r['elapsed_s']:.1f}")
    row("NOS->first ER ms p50", lambda r: f"{pct(r['lat'], 50):.2f}")
    row("  p99", lambda r: f"{pct(r['lat'], 99):.2f}")
    row("  p99.9", lambda r: f"{pct(r['lat'], 99.9):.2f}")
    row("  max", lambda r: f"{pct(r['lat'], 100):.2f}")
    row("per-session p99 ms min/median/worst", lambda r: mmm(r["per_p99"]))
    row("per-session orders min/median/max", lambda r: mmm(r["per_sent"]))
    row("per-session first reports min/med/max", lambda r: mmm(r["per_answered"]))
    row("per-session terminal min/med/max", lambda r: mmm(r["per_terminal"]))
    row("TestRequest->Heartbeat ms p50/p99/max",
        lambda r: f"{pct(r['probes'], 50):.1f} / {pct(r['probes'], 99):.1f} / {pct(r['probes'], 100):.1f} "
                  f"(n={len(r['probes'])}, {r['probes_unanswered']} lost)")
    row("gateway RSS MiB after logon", lambda r: rss_mib(r, "after logon"))
    row("  after warm-up / middle / end",
        lambda r: " / ".join(rss_mib(r, k) for k in ("after warm-up", "middle", "end")))
    row("  peak (VmHWM)", lambda r: rss_mib(r, "end", 1))
    row("  growth B/order: run / 2nd half",
        lambda r: f"{per_order(r, 'after warm-up'):.0f} / {per_order(r, 'middle'):.0f}")
    row("  = MiB per million orders", lambda r: f"{per_order(r, 'after warm-up') * 1e6 / 2**20:.0f}")
    for proc in ("gateway", "simulator", "client"):
        row(f"CPU ms/order {proc}", lambda r, p=proc: f"{r['cpu_ms'].get(p, float('nan')):.2f}")

    where = "simulator in its own process" if args.venue == "sim" else "null in-process venue"
    print(f"\nfixgw load benchmark: {args.rate:.0f} orders/s offered for {args.seconds:.0f} s, store={args.store}, "
          f"FIX.4.4 IOC limit orders, {where}")
    width = max(len(n) for n, _ in rows) + 2
    heads = [f"{r['sessions']} session{'s' if r['sessions'] != 1 else ''}" for r in phases]
    cols = [max(len(h), *(len(v[i]) for _, v in rows)) + 2 for i, h in enumerate(heads)]
    print(" " * width + "".join(h.rjust(c) for h, c in zip(heads, cols)))
    for name, values in rows:
        print(name.ljust(width) + "".join(v.rjust(c) for v, c in zip(values, cols)))
    load = phases[-1]
    answered = load["per_terminal"]
    median = statistics.median_low(answered) if answered else 0
    fair = bool(answered) and answered[0] >= args.fair * median and load["all_answered"]
    if len(phases) > 1 and phases[0]["lat"]:
        base, now = phases[0], phases[-1]
        ratio = {p: pct(now["lat"], p) / pct(base["lat"], p) for p in (50, 99)}
        print(f"ratio {now['sessions']} sessions / 1 session: p50 x{ratio[50]:.2f}, p99 x{ratio[99]:.2f}")
    least = answered[0] if answered else 0
    print(f"no session starved: {'yes' if fair else 'NO'} (least served session {least} terminal reports, "
          f"median {median}, bound {args.fair:.0%} of the median; every order answered: "
          f"{'yes' if load['all_answered'] else 'NO'})")
    print(f"(gateway logs: {', '.join(str(r['log']) for r in phases)})")
    return fair


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=100, help="FIX sessions logged on at once (default 100)")
    ap.add_argument("--rate", type=float, default=1000.0, help="orders per second over all sessions (default 1000)")
    ap.add_argument("--seconds", type=float, default=20.0, help="measured duration (default 20)")
    ap.add_argument("--warmup", type=int, default=2, help="orders per session before measuring (default 2)")
    ap.add_argument("--probe-interval", type=float, default=0.1, help="seconds between TestRequests (default 0.1)")
    ap.add_argument("--fair", type=float, default=0.8, help="least served session vs median (default 0.8)")
    ap.add_argument("--store", choices=("memory", "sqlite"), default="sqlite", help="gateway state (default sqlite)")
    ap.add_argument("--venue", choices=("sim", "null"), default="sim",
                    help="sim: the simulator in its own process (default); null: bench/gateway.py's in-process venue")
    ap.add_argument("--max-pending-per-address", type=int,
                    help="the gateway's cap on connections from one host still short of a Logon (default: the "
                         "gateway's default; refused connections are retried and counted)")
    ap.add_argument("--retention", type=int,
                    help="finished orders kept in memory per session's book (default: the gateway's, 1000); a small "
                         "value shows that memory is bounded by open orders within a short run")
    ap.add_argument("--no-baseline", action="store_true", help="skip the 1-session run at the same total rate")
    args = ap.parse_args()
    if args.sessions < 1 or args.rate <= 0 or args.seconds <= 0 or args.warmup < 0:
        ap.error("--sessions, --rate and --seconds must be positive, --warmup not negative")
    counts = ([1] if not args.no_baseline and args.sessions > 1 else []) + [args.sessions]
    phases = [run_phase(args, n) for n in counts]
    return 0 if report(args, phases) else 1


if __name__ == "__main__":
    raise SystemExit(main())
