"""End-to-end gateway benchmark: orders/s and NewOrderSingle -> first ExecutionReport latency.

Three processes, as in production: this one is the FIX client (load generator), a second runs the
gateway (``python -m fixgw run --config <generated TOML>``), a third runs the simulated exchange (real
HTTP + WebSocket on loopback, rate limits raised so the venue does not throttle the run).

Each order is a limit IOC buy far below the market: the venue accepts it (ExecutionReport New) and
expires it (ExecutionReport Expired), so every order is one signed REST call plus two stream events,
and the books stay empty. The client paces orders at ``--rate`` (open loop: a slow gateway cannot slow
the sender down, so queueing shows up in the latency) for ``--seconds``, then prints throughput and
latency percentiles. ``--profile`` runs the gateway under cProfile and prints where its time goes.

    python bench/gateway.py --rate 1000 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pstats
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixgw.codec import Message, Parser, encode, format_utc_timestamp  # noqa: E402

API_KEY = "bench-key-" + "0" * 30
API_SECRET = "bench-secret-" + "1" * 40


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), 0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_sim(port: int) -> None:
    """Child process: the simulated exchange with generous limits, until killed."""
    from fixgw.sim import ApiKey, LimitConfig, SimConfig, SimServer

    cfg = SimConfig(
        port=port,
        market_maker=None,
        api_keys=(ApiKey(api_key=API_KEY, account_id="bench", secret=API_SECRET),),
        limits=LimitConfig(weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**10),
    )
    server = SimServer(cfg).start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop()


CONFIG = """
[gateway]
host = "127.0.0.1"
port = {port}
{store}

[[venues]]
name = "sim"
kind = "binance"
rest_url = "http://127.0.0.1:{sim_port}"
ws_url = "ws://127.0.0.1:{sim_port}/ws-api/v3"
api_key_env = "BENCH_API_KEY"
api_secret_env = "BENCH_API_SECRET"
orders_per_10s = 1000000000
weight_per_minute = 1000000000

[[sessions]]
begin_string = "FIX.4.4"
sender_comp_id = "FIXGW"
target_comp_id = "BENCH"
heartbeat_interval = 30
venue = "sim"
account = "bench"
"""


async def run_client(port: int, rate: float, seconds: float, warmup: int) -> dict[str, object]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    seq = 1

    def frame(msg_type: str, fields: list) -> bytes:
        nonlocal seq
        header = [(49, "BENCH"), (56, "FIXGW"), (34, seq), (52, format_utc_timestamp(time.time_ns()))]
        seq += 1
        return encode("FIX.4.4", msg_type, header + fields)

    writer.write(frame("A", [(98, 0), (108, 30), (141, "Y")]))
    parser = Parser()
    sent: dict[bytes, int] = {}
    first: dict[bytes, int] = {}
    done = 0
    logged_on = asyncio.Event()
    finished = asyncio.Event()
    expected = warmup + int(rate * seconds)

    async def read() -> None:
        nonlocal done
        while True:
            data = await reader.read(1 << 16)
            if not data:
                return
            now = time.perf_counter_ns()
            parser.feed(data)
            for m in parser:
                if not isinstance(m, Message):
                    continue
                mt = m.msg_type
                if mt == b"A":
                    logged_on.set()
                elif mt == b"1":
                    writer.write(frame("0", [(112, m[112])]))
                elif mt == b"8":
                    cl = m.get(11)
                    if cl is not None and cl not in first:
                        first[cl] = now
                    if m[39] in (b"C", b"8", b"2", b"4"):
                        done += 1
                        if done >= expected:
                            finished.set()

    reader_task = asyncio.create_task(read())
    await asyncio.wait_for(logged_on.wait(), 10)

    def order(i: int) -> bytes:
        cl = b"b%d" % i
        sent[cl] = time.perf_counter_ns()
        return frame("D", [(11, cl), (21, "1"), (55, "BTC/USDT"), (54, "1"), (60, format_utc_timestamp(time.time_ns())),
                           (38, "0.001"), (40, "2"), (44, "30000"), (59, "3")])

    for i in range(warmup):  # connections, caches, JIT-free Python warm-up
        writer.write(order(i))
        await asyncio.sleep(0.002)
    while len(first) < warmup:
        await asyncio.sleep(0.01)
    measured_from = warmup
    interval = 1.0 / rate
    t0 = time.perf_counter()
    i = warmup
    total = int(rate * seconds)
    while i < warmup + total:
        due = t0 + (i - warmup) * interval
        now = time.perf_counter()
        if due > now:
            await asyncio.sleep(due - now)
        batch = bytearray()
        # Send everything that is due (the event loop's sleep granularity is ~1 ms).
        while i < warmup + total and t0 + (i - warmup) * interval <= time.perf_counter():
            batch += order(i)
            i += 1
        writer.write(bytes(batch))
        await writer.drain()
    send_elapsed = time.perf_counter() - t0
    try:
        await asyncio.wait_for(finished.wait(), 30)
    except asyncio.TimeoutError:
        pass
    elapsed = time.perf_counter() - t0
    reader_task.cancel()
    writer.close()
    lat = sorted((first[cl] - sent[cl]) / 1e6 for cl in list(sent)[measured_from:] if cl in first)
    acked = len(lat)
    last_ack = max(first[cl] for cl in list(sent)[measured_from:] if cl in first) if acked else 0
    span = (last_ack - sent[b"b%d" % measured_from]) / 1e9 if acked else float("nan")

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] if lat else float("nan")

    return {
        "orders_sent": total,
        "acked": acked,
        "completed": done - warmup,
        "send_s": send_elapsed,
        "ack_span_s": span,
        "orders_per_s": acked / span if acked else 0.0,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "p999_ms": pct(99.9),
        "max_ms": lat[-1] if lat else float("nan"),
        "mean_ms": statistics.fmean(lat) if lat else float("nan"),
        "elapsed_s": elapsed,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=1000.0, help="orders per second to send (default 1000)")
    ap.add_argument("--seconds", type=float, default=10.0, help="measured duration (default 10)")
    ap.add_argument("--warmup", type=int, default=200, help="orders sent before measuring (default 200)")
    ap.add_argument("--store", choices=("memory", "sqlite"), default="sqlite",
                    help="gateway state: SQLite file (default, as in production) or memory")
    ap.add_argument("--profile", action="store_true", help="profile the gateway process (cProfile)")
    ap.add_argument("--serve-sim", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_sim is not None:
        serve_sim(args.serve_sim)
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="fixgw-bench-"))
    sim_port, gw_port = free_port(), free_port()
    store = f'store_path = "{tmp / "gw.db"}"' if args.store == "sqlite" else ""
    cfg = tmp / "bench.toml"
    cfg.write_text(CONFIG.format(port=gw_port, sim_port=sim_port, store=store))
    env = dict(os.environ, BENCH_API_KEY=API_KEY, BENCH_API_SECRET=API_SECRET, PYTHONPATH=str(ROOT))
    sim = subprocess.Popen([sys.executable, __file__, "--serve-sim", str(sim_port)], stdout=subprocess.PIPE, text=True,
                           env=env)
    assert sim.stdout is not None
    if sim.stdout.readline().strip() != "ready":
        print("simulator did not start", file=sys.stderr)
        return 1
    gw_cmd = [sys.executable]
    prof = tmp / "gateway.prof"
    if args.profile:
        gw_cmd += ["-m", "cProfile", "-o", str(prof)]
    gw_cmd += ["-m", "fixgw", "run", "--config", str(cfg), "--log-level", os.environ.get("BENCH_LOG", "WARNING")]
    log = open(tmp / "gateway.log", "w")
    gw = subprocess.Popen(gw_cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    try:
        assert gw.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = gw.stdout.readline()
            if not line or re.search(r"listening on", line):
                break
        cpu0 = {"gateway": cpu_seconds(gw.pid), "simulator": cpu_seconds(sim.pid), "client": time.process_time()}
        result = asyncio.run(run_client(gw_port, args.rate, args.seconds, args.warmup))
        cpu1 = {"gateway": cpu_seconds(gw.pid), "simulator": cpu_seconds(sim.pid), "client": time.process_time()}
    finally:
        gw.send_signal(2)
        try:
            gw.wait(20)
        except subprocess.TimeoutExpired:
            gw.kill()
        sim.kill()
        sim.wait()
        log.close()
        print(f"(gateway log: {tmp / 'gateway.log'})")
    print(f"fixgw gateway benchmark: {args.rate:.0f} orders/s offered for {args.seconds:.0f} s, "
          f"store={args.store}, FIX.4.4, IOC limit orders, simulator in its own process")
    print(f"  sent {result['orders_sent']}, first report for {result['acked']}, "
          f"terminal report for {result['completed']}")
    print(f"  throughput (first reports / span): {result['orders_per_s']:.0f} orders/s")
    print("  NewOrderSingle -> first ExecutionReport latency (ms): "
          f"p50 {result['p50_ms']:.2f}  p90 {result['p90_ms']:.2f}  p99 {result['p99_ms']:.2f}  "
          f"p99.9 {result['p999_ms']:.2f}  max {result['max_ms']:.2f}  mean {result['mean_ms']:.2f}")
    n = max(int(result["acked"]), 1)  # type: ignore[call-overload]
    wall = float(result["elapsed_s"])  # type: ignore[arg-type]
    print("  CPU per order (ms) and load over the run, by process: " + ", ".join(
        f"{k} {1000 * (cpu1[k] - cpu0[k]) / n:.2f} ms ({100 * (cpu1[k] - cpu0[k]) / wall:.0f}% of a core)"
        for k in cpu0))
    if args.profile and prof.exists():
        print("\ngateway process profile (cumulative, top 25):")
        pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(25)
        print("gateway process profile (own time, top 25):")
        pstats.Stats(str(prof)).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
