"""End-to-end gateway benchmark: orders/s and NewOrderSingle -> first ExecutionReport latency.

Three processes, as in production: this one is the FIX client (load generator), a second runs the
gateway (``python -m fixgw run --config <generated TOML>``), a third runs the simulated exchange (real
HTTP + WebSocket on loopback, rate limits raised so the venue does not throttle the run).

Each order is a limit IOC buy far below the market: the venue accepts it (ExecutionReport New) and
expires it (ExecutionReport Expired), so every order is one signed WebSocket API request (``order.place``,
``order_entry = "ws"``, the default) plus its answer and the user-data stream's events, and the books
stay empty. The client paces orders at ``--rate`` (open loop: a slow gateway cannot slow
the sender down, so queueing shows up in the latency) for ``--seconds``, then prints throughput and
latency percentiles, and the CPU each process spent per order. ``--profile`` runs the gateway under
cProfile and prints where its time goes, by layer. ``--venue null`` replaces the simulator and the venue
adapter by an in-process venue that answers at once: what remains is the gateway's own path (FIX session,
translate, risk, order book, journal, reports), so the two runs together split the cost.

    python bench/gateway.py --rate 1000 --seconds 10
    python bench/gateway.py --rate 1000 --seconds 10 --venue null
"""

from __future__ import annotations

import argparse
import asyncio
import gc
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
    """Child process: the simulated exchange with generous limits, served by uvicorn until killed.

    Served as ``fixgw sim`` serves it (uvicorn binds the port itself, so accepted sockets get TCP_NODELAY
    from asyncio; see the note on ``SimServer`` in the report).
    """
    import uvicorn

    from fixgw.sim import ApiKey, LimitConfig, SimConfig
    from fixgw.sim.app import build_app
    from fixgw.sim.state import SimState

    cfg = SimConfig(
        port=port,
        market_maker=None,
        api_keys=(ApiKey(api_key=API_KEY, account_id="bench", secret=API_SECRET),),
        limits=LimitConfig(weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**10),
    )
    app = build_app(SimState(cfg))
    # The exchange is the test rig, not what is measured: keep its start-up heap (imports) out of its
    # collector's full passes, which would otherwise stall it for tens of milliseconds mid-run.
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", http="h11",
                ws="websockets-sansio", access_log=False)


def serve_gateway_on_null_venue(config_path: str) -> None:
    """Child process: the gateway on an in-process venue that answers at once (no HTTP, no simulator).

    What is left is the gateway's own path: FIX session, translate, risk, order book, journal, reports.
    """
    import math

    import anyio

    from fixgw.config import load_config
    from fixgw.gateway import Gateway
    from fixgw.venues import base as V

    class NullVenue(V.VenueAdapter):
        def __init__(self) -> None:
            self.name = "sim"
            self.capabilities = V.VenueCapabilities()
            self.send, self.recv = anyio.create_memory_object_stream[V.VenueOrderEvent](math.inf)
            self.n = 0
            self.btc = V.Instrument(symbol="BTC/USDT", venue_symbol="BTCUSDT", base="BTC", quote="USDT",
                                    tick_size=Decimal("0.01"), lot_step=Decimal("0.00001"), min_notional=Decimal(5))

        async def start(self) -> None: ...
        async def close(self) -> None: ...
        async def load_instruments(self): return {"BTC/USDT": self.btc}  # noqa: E704
        def instrument(self, symbol): return self.btc  # noqa: E704

        async def submit(self, order):  # type: ignore[no-untyped-def]
            self.n += 1
            common = dict(venue="sim", symbol=order.symbol, client_order_id=order.client_order_id,
                          venue_order_id=str(self.n), cum_qty=Decimal(0), ts_ns=time.time_ns())
            self.send.send_nowait(V.OrderAccepted(status=V.OrderStatus.NEW, **common))
            self.send.send_nowait(V.OrderExpired(status=V.OrderStatus.EXPIRED, **common))
            return V.OrderReport(venue="sim", symbol=order.symbol, client_order_id=order.client_order_id,
                                 venue_order_id=str(self.n), status=V.OrderStatus.EXPIRED)

        async def cancel(self, request): raise NotImplementedError  # noqa: E704
        async def amend(self, request): raise NotImplementedError  # noqa: E704
        async def replace(self, request): raise NotImplementedError  # noqa: E704
        async def query(self, symbol, **kw): raise NotImplementedError  # noqa: E704
        async def open_orders(self, symbol=None): return []  # noqa: E704
        async def cancel_all(self, symbol): return []  # noqa: E704
        async def reconcile(self) -> None: ...
        def events(self): return self.recv  # noqa: E704
        def health(self): raise NotImplementedError  # noqa: E704

    async def run() -> None:
        gateway = Gateway(load_config(config_path), adapter_factory=lambda vc: NullVenue())
        async with anyio.create_task_group() as tg:
            await tg.start(gateway.run)
            print("listening on", flush=True)

    try:
        anyio.run(run)
    except KeyboardInterrupt:
        pass


def wait_for_port(port: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


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


_GROUPS = (
    ("HTTP client (httpx, httpcore, h11)", ("/httpx/", "/httpcore/", "/h11/")),
    ("venue adapter (fixgw.venues)", ("fixgw/venues",)),
    ("websockets (venue order stream)", ("/websockets/",)),
    ("FIX session + transport + codec", ("fixgw/session", "fixgw/transport", "fixgw/codec", "fixgw_ext")),
    ("orders + journal + stores", ("fixgw/orders", "fixgw/stores")),
    ("gateway + translate + risk", ("fixgw/gateway", "fixgw/translate", "fixgw/risk")),
    ("anyio", ("/anyio/",)),
    ("asyncio event loop", ("/asyncio/", "selectors")),
)


def print_profile(path: Path) -> None:
    """Print the gateway's own time grouped by layer, then the top functions."""
    st = pstats.Stats(str(path))
    groups: dict[str, float] = {}
    for (filename, _line, func), (_cc, _nc, tottime, _ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        name = next((g for g, keys in _GROUPS if any(k in filename for k in keys)), None)
        if name is None:
            name = "sqlite3" if "sqlite3" in func else "other (builtins: socket send/recv, dict, isinstance; json; imports)"
        groups[name] = groups.get(name, 0.0) + tottime
    total = sum(groups.values()) or 1.0
    print("\ngateway process: where the time goes (own time by layer, cProfile adds overhead):")
    for name, t in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"  {100 * t / total:5.1f}%  {t:6.2f} s  {name}")
    print("\ngateway process profile (own time, top 20):")
    st.sort_stats("tottime").print_stats(20)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=1000.0, help="orders per second to send (default 1000)")
    ap.add_argument("--seconds", type=float, default=10.0, help="measured duration (default 10)")
    ap.add_argument("--warmup", type=int, default=200, help="orders sent before measuring (default 200)")
    ap.add_argument("--store", choices=("memory", "sqlite"), default="sqlite",
                    help="gateway state: SQLite file (default, as in production) or memory")
    ap.add_argument("--profile", action="store_true", help="profile the gateway process (cProfile)")
    ap.add_argument("--venue", choices=("sim", "null"), default="sim",
                    help="sim: the simulated exchange in its own process (default); null: an in-process venue "
                         "that answers at once, to measure the gateway's own path")
    ap.add_argument("--serve-sim", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--serve-null-gateway", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_sim is not None:
        serve_sim(args.serve_sim)
        return 0
    if args.serve_null_gateway is not None:
        serve_gateway_on_null_venue(args.serve_null_gateway)
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="fixgw-bench-"))
    sim_port, gw_port = free_port(), free_port()
    store = f'store_path = "{tmp / "gw.db"}"' if args.store == "sqlite" else ""
    cfg = tmp / "bench.toml"
    cfg.write_text(CONFIG.format(port=gw_port, sim_port=sim_port, store=store))
    env = dict(os.environ, BENCH_API_KEY=API_KEY, BENCH_API_SECRET=API_SECRET, PYTHONPATH=str(ROOT))
    sim = None
    if args.venue == "sim":
        sim = subprocess.Popen([sys.executable, __file__, "--serve-sim", str(sim_port)], env=env)
        if not wait_for_port(sim_port):
            print("simulator did not start", file=sys.stderr)
            sim.kill()
            return 1
    gw_cmd = [sys.executable]
    prof = tmp / "gateway.prof"
    if args.profile:
        gw_cmd += ["-m", "cProfile", "-o", str(prof)]
    if args.venue == "null":
        gw_cmd += [__file__, "--serve-null-gateway", str(cfg)]
    else:
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
        procs = {"gateway": gw.pid, **({"simulator": sim.pid} if sim is not None else {})}
        cpu0 = {**{k: cpu_seconds(pid) for k, pid in procs.items()}, "client": time.process_time()}
        result = asyncio.run(run_client(gw_port, args.rate, args.seconds, args.warmup))
        cpu1 = {**{k: cpu_seconds(pid) for k, pid in procs.items()}, "client": time.process_time()}
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
        print(f"(gateway log: {tmp / 'gateway.log'})")
    where = "simulator in its own process" if args.venue == "sim" else "null in-process venue (no HTTP)"
    print(f"fixgw gateway benchmark: {args.rate:.0f} orders/s offered for {args.seconds:.0f} s, "
          f"store={args.store}, FIX.4.4, IOC limit orders, {where}")
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
        print_profile(prof)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
