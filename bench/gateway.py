"""End-to-end gateway benchmark: orders/s and NewOrderSingle -> ExecutionReport latency.

Three processes, as in production: this one is the FIX client (load generator, ``gateway_client.py``), a
second runs the gateway (``python -m fixgw run --config <generated TOML>``), a third runs the simulated
exchange (real HTTP + WebSocket on loopback, rate limits raised so the venue does not throttle the run).

By default each order is a limit IOC buy far below the market: the venue accepts it (ExecutionReport New)
and expires it (ExecutionReport Expired), so every order is one signed WebSocket API request
(``order.place``, ``order_entry = "ws"``, the default) plus its answer and the user-data stream's events,
and the books stay empty. The client paces orders at ``--rate`` (open loop: a slow gateway cannot slow
the sender down, so queueing shows up in the latency) for ``--seconds``, then prints throughput and
latency percentiles, and the CPU each process spent per order. ``--profile`` runs the gateway under
cProfile and prints where its time goes, by layer; ``--profile-sim`` does the same for the simulator. ``--venue null`` replaces the simulator and the venue
adapter by an in-process venue that answers at once: what remains is the gateway's own path (FIX session,
translate, risk, order book, journal, reports), so the two runs together split the cost.

``--fill``: the simulator's market maker keeps a BTCUSDT book and the client alternates marketable IOC
limit buys and sells (``--fill-order market``: market orders) that trade against it, so the reports carry
fills (``gateway_fill.py`` checks the book and credits the funds through the simulator's control API
before each run). Latency is timed to the first ExecutionReport and to the first fill report. A baseline
run of the default expiring orders goes with it on the same processes (``--no-baseline`` skips it); the
two are printed side by side with their ratio, which survives a noisy machine better than either figure,
and ``--rounds N`` repeats the pair in alternating order and prints the median ratio.

``--find-max``: a closed search (``gateway_search.py``) for the highest offered rate whose p99 stays under
``--p99-ms`` (10 ms), every order answered and the throughput within 5% of the offered rate: short
open-loop steps of ``--step-seconds``, doubling from ``--start-rate``, then bisecting; it prints every
step and the answer. With ``--fill`` the bound applies to the fill report's p99.

    python bench/gateway.py --rate 1000 --seconds 10
    python bench/gateway.py --rate 1000 --seconds 10 --venue null
    python bench/gateway.py --rate 1000 --seconds 10 --store postgres   # + the cluster's CPU per order
    python bench/gateway.py --rate 1000 --seconds 8 --profile-sim
    python bench/gateway.py --fill --rate 500 --seconds 10 --rounds 3
    python bench/gateway.py --find-max --p99-ms 10 --step-seconds 5
    python bench/gateway.py --find-max --fill --venue sim

``--store postgres`` starts a throwaway cluster with the server's durable defaults (``fsync``,
``synchronous_commit`` on) and warms its WAL first (``PgCluster.warm_wal``: recycled segments ahead, as on
a server that has been running; ``--pg-cold`` skips it, and every 16 MB of WAL, ~4.5 s at 1,000 orders/s,
then stalls a commit while the server creates and zero-fills the next segment). It also prints the
server's write transactions (commits) per order, WAL bytes and records per order and per commit, and the
WAL flushes with their time (``pg_stat_wal``; ``track_wal_io_timing`` is turned on in the throwaway cluster).

Figures depend on the machine and on what else runs on it; they are indicative, the ratios more so.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import os
import pstats
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))



def _sibling(name: str) -> ModuleType:
    """Load ``bench/<name>.py`` by path (the bench folder is no package, and this file is also loaded by path)."""
    key = f"fixgw_bench_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, Path(__file__).with_name(f"{name}.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


_client = _sibling("gateway_client")
run_client = _client.run_client

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
    """Child process: the gateway on an in-process venue that answers at once (``gateway_null.py``)."""
    _sibling("gateway_null").serve(config_path)


def children_of(parent: int) -> list[int]:
    """The pids whose parent is ``parent`` (Linux /proc; none where unavailable)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                out.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


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


def print_profile(path: Path, groups: tuple = _GROUPS, top: int = 20) -> None:
    """Print the gateway's own time grouped by layer (``groups``: name, path fragments), then the top functions."""
    st = pstats.Stats(str(path))
    by_group: dict[str, float] = {}
    for (filename, _line, func), (_cc, _nc, tottime, _ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        name = next((g for g, keys in groups if any(k in filename for k in keys)), None)
        if name is None:
            name = "sqlite3" if "sqlite3" in func else "other (builtins: socket send/recv, dict, isinstance; json; imports)"
        by_group[name] = by_group.get(name, 0.0) + tottime
    total = sum(by_group.values()) or 1.0
    print("\ngateway process: where the time goes (own time by layer, cProfile adds overhead):")
    for name, t in sorted(by_group.items(), key=lambda kv: -kv[1]):
        print(f"  {100 * t / total:5.1f}%  {t:6.2f} s  {name}")
    print(f"\ngateway process profile (own time, top {top}):")
    st.sort_stats("tottime").print_stats(top)


_SIM_GROUPS = (
    ("matching engine (fixgw.sim engine, book, model, instruments)",
     ("sim/engine", "sim/book", "sim/model", "sim/instruments")),
    ("answers and events as JSON values (fixgw.sim.formats)", ("sim/formats",)),
    ("requests: parse, sign, limits, fan-out (fixgw.sim wsapi, ops, state, ...)", ("fixgw/sim/",)),
    ("WebSocket frames (websockets)", ("/websockets/",)),
    ("ASGI server and framework (uvicorn, starlette, fastapi)", ("/uvicorn/", "/starlette/", "/fastapi/")),
    ("JSON (json, orjson)", ("/json/", "orjson")),
    ("asyncio event loop", ("/asyncio/", "selectors")),
)
_IDLE = ("poll' of 'select.epoll", "runners.py", "run_forever", "run_until_complete")


def print_sim_profile(path: Path) -> None:
    """Print the simulator's own time grouped by layer (waiting for the network left out), then the top functions."""
    st = pstats.Stats(str(path))
    groups: dict[str, float] = {}
    for (filename, _line, func), (_cc, _nc, tottime, _ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        where = f"{filename}:{func}"
        if any(k in where for k in _IDLE):
            continue
        name = next((g for g, keys in _SIM_GROUPS if any(k in where for k in keys)), None)
        if name is None:
            name = "socket send/recv" if "socket" in func else "other (builtins, imports at start-up)"
        groups[name] = groups.get(name, 0.0) + tottime
    total = sum(groups.values()) or 1.0
    print("\nsimulator process: where the time goes (own time by layer, cProfile adds overhead; waits for the "
          "network left out, and with uvloop installed its C event loop too):")
    for name, t in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"  {100 * t / total:5.1f}%  {t:6.2f} s  {name}")
    print("\nsimulator process profile (own time, top 25):")
    st.sort_stats("tottime").print_stats(25)


def _profiled(out: str | None, serve: Any, *args: Any) -> None:
    """Run ``serve(*args)`` (a simulator child; it returns on SIGINT), under cProfile when ``out`` is set."""
    if not out:
        serve(*args)
        return
    import cProfile

    prof = cProfile.Profile()
    prof.enable()
    try:
        serve(*args)
    finally:
        prof.disable()
        prof.dump_stats(out)


def _f(v: Any, fmt: str = ".2f") -> str:
    if isinstance(v, float) and v != v:
        return "-"
    return format(v, fmt) if isinstance(v, (int, float)) else str(v)


def print_run(result: dict[str, Any], cpu: dict[str, float]) -> None:
    """Print one run: counts, throughput, latencies and CPU per order."""
    print(f"  sent {result['orders_sent']}, first report for {result['acked']}, "
          f"terminal report for {result['completed']} ({result['rejected']} rejected, {result['filled']} filled, "
          f"{result['traded']} with a trade)")
    if result["rejected"]:
        print(f"  WARNING: {result['rejected']} orders were rejected: these figures time the reject path")
    print(f"  throughput (first reports / span): {result['orders_per_s']:.0f} orders/s")
    for name, key in (("first ExecutionReport", ""), ("first fill report", "fill_")):
        if key and not result["traded"]:
            continue
        print(f"  NewOrderSingle -> {name} latency (ms): " + "  ".join(
            f"{label} {result[key + k]:.2f}" for label, k in (("p50", "p50_ms"), ("p90", "p90_ms"), ("p99", "p99_ms"),
                                                               ("p99.9", "p999_ms"), ("max", "max_ms"), ("mean", "mean_ms"))))
    n = max(int(result["acked"]), 1)
    wall = float(result["elapsed_s"])
    print("  CPU per order (ms) and load over the run, by process: " + ", ".join(
        f"{k} {1000 * v / n:.2f} ms ({100 * v / wall:.0f}% of a core)" for k, v in cpu.items()))
    wal = result.get("pg_wal")
    if wal:  # --store postgres: the server's commits, WAL and WAL flushes over the run (pg_stat_wal)
        commits, syncs = max(wal["commits"], 1), max(wal["wal_sync"], 1)
        timing = (f", {wal['wal_sync_time'] / syncs:.2f} ms each ({wal['wal_sync_time'] / n:.2f} ms/order)"
                  if wal["wal_sync_time"] else " (track_wal_io_timing off: no time)")
        print(f"  PostgreSQL: {wal['commits'] / n:.2f} commits/order ({n / commits:.1f} orders/commit), WAL "
              f"{wal['wal_bytes'] / n / 1024:.2f} KB and {wal['wal_records'] / n:.1f} records per order, "
              f"{wal['wal_bytes'] / commits / 1024:.1f} KB per commit; {wal['wal_sync']} WAL flushes{timing}")


def print_side_by_side(base: tuple[dict[str, Any], dict[str, float]], fill: tuple[dict[str, Any], dict[str, float]]) -> None:
    """Baseline (orders that expire) and fill runs in columns, with fill / baseline."""
    rows: list[tuple[str, Any, Any]] = [("throughput, orders/s", base[0]["orders_per_s"], fill[0]["orders_per_s"])]
    for k, label in (("p50_ms", "p50"), ("p99_ms", "p99"), ("p999_ms", "p99.9")):
        rows.append((f"-> first report {label}, ms", base[0][k], fill[0][k]))
    for k, label in (("fill_p50_ms", "p50"), ("fill_p99_ms", "p99")):
        rows.append((f"-> fill report {label}, ms", base[0][k], fill[0][k]))
    for proc in fill[1]:
        per = [1000 * r[1][proc] / max(int(r[0]["acked"]), 1) for r in (base, fill)]
        rows.append((f"CPU per order, {proc}, ms", per[0], per[1]))
    print(f"\n  {'side by side':<30} {'baseline':>10} {'fill':>10} {'fill/base':>10}")
    for label, b, f in rows:
        ratio = f / b if isinstance(b, float) and isinstance(f, float) and b == b and f == f and b > 0 else float("nan")
        print(f"  {label:<30} {_f(b):>10} {_f(f):>10} {_f(ratio):>10}")


def one_run(measure: Any, args: argparse.Namespace, orders: str, where: str) -> None:
    """One run at ``--rate``; with ``--fill``, ``--rounds`` pairs of baseline and fill runs, side by side.

    The pairs alternate their order (baseline first, then fill first, ...) so that warm-up and a slow
    stretch of the machine fall on both kinds alike; the median of the per-round ratios is the figure.
    """
    print(f"fixgw gateway benchmark: {args.rate:.0f} orders/s offered for {args.seconds:g} s, "
          f"store={args.store}, FIX.4.4, {orders}, {where}")
    if not args.fill or args.no_baseline:
        result = measure(args.rate, args.seconds, args.fill)
        print_run(*result)
        if args.fill and result[0]["traded"] < result[0]["orders_sent"]:
            print(f"  note: {result[0]['orders_sent'] - result[0]['traded']} orders did not trade", file=sys.stderr)
        return
    ratios: list[tuple[float, float, float]] = []
    for n in range(args.rounds):
        pair = {}
        for fills in ((False, True) if n % 2 == 0 else (True, False)):
            pair[fills] = measure(args.rate, args.seconds, fills)
        base, result = pair[False], pair[True]
        if n == 0:
            print("baseline: IOC limit orders far from the market, accepted then expired (no trade)")
            print_run(*base)
            print("fill: the same rate, orders that trade")
            print_run(*result)
            print_side_by_side(base, result)
        if result[0]["traded"] < result[0]["orders_sent"]:
            print(f"  note: {result[0]['orders_sent'] - result[0]['traded']} orders did not trade", file=sys.stderr)
        ratios.append(tuple(result[0][f] / base[0][b] if base[0][b] > 0 else float("nan")  # type: ignore[misc]
                            for f, b in (("fill_p50_ms", "p50_ms"), ("fill_p99_ms", "p99_ms"),
                                         ("orders_per_s", "orders_per_s"))))
    if args.rounds > 1:
        print("\n  fill / baseline by round (odd rounds run the baseline first, even rounds the fill run): "
              "fill-report p50 / first-report p50, p99 / p99, throughput / throughput")
        for n, r in enumerate(ratios, 1):
            print(f"  round {n}: {r[0]:.2f}  {r[1]:.2f}  {r[2]:.2f}")
        med = [statistics.median(r[i] for r in ratios) for i in range(3)]
        print(f"  median over {args.rounds} rounds: p50 {med[0]:.2f}, p99 {med[1]:.2f}, throughput {med[2]:.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=1000.0, help="orders per second to send (default 1000)")
    ap.add_argument("--seconds", type=float, default=10.0, help="measured duration (default 10)")
    ap.add_argument("--warmup", type=int, default=200, help="orders sent before measuring (default 200)")
    ap.add_argument("--store", choices=("memory", "sqlite", "postgres"), default="sqlite",
                    help="gateway state: SQLite file (default, as in production), memory, or PostgreSQL (a"
                         " throwaway cluster, or the server FIXGW_BENCH_PG_DSN names)")
    ap.add_argument("--pg-cold", action="store_true",
                    help="--store postgres: skip warming the throwaway cluster's WAL (every new 16 MB segment is"
                         " then created and zero-filled inside a commit, as only on a fresh cluster)")
    ap.add_argument("--profile", action="store_true", help="profile the gateway process (cProfile)")
    ap.add_argument("--profile-sim", action="store_true", help="profile the simulator process (cProfile)")
    ap.add_argument("--venue", choices=("sim", "null"), default="sim",
                    help="sim: the simulated exchange in its own process (default); null: an in-process venue "
                         "that answers at once, to measure the gateway's own path")
    fill = ap.add_argument_group("fills against resting liquidity")
    fill.add_argument("--fill", action="store_true", help="orders trade against the simulator's market maker")
    fill.add_argument("--fill-order", choices=("ioc", "market"), default="ioc",
                      help="marketable IOC limits (default) or market orders")
    fill.add_argument("--maker-levels", type=int, default=10, help="price levels per side of the maker (default 10)")
    fill.add_argument("--no-baseline", action="store_true", help="skip the expiring-order run before the fill run")
    fill.add_argument("--rounds", type=int, default=1,
                      help="pairs of baseline and fill runs, in alternating order; prints the median ratio (default 1)")
    search = ap.add_argument_group("closed search for the highest rate under a p99 bound")
    search.add_argument("--find-max", action="store_true", help="search the offered rate instead of one run")
    search.add_argument("--p99-ms", type=float, default=10.0, help="the p99 bound in ms (default 10)")
    search.add_argument("--start-rate", type=float, default=250.0, help="first offered rate (default 250)")
    search.add_argument("--step-seconds", type=float, default=5.0, help="length of each step (default 5)")
    search.add_argument("--max-steps", type=int, default=10, help="most steps to run (default 10)")
    search.add_argument("--precision", type=float, default=0.1,
                        help="stop when the lowest failure is within this fraction of the best pass (default 0.1)")
    search.add_argument("--min-ratio", type=float, default=0.95,
                        help="a step fails below this fraction of the offered rate (default 0.95)")
    ap.add_argument("--serve-sim", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--serve-sim-fill", type=int, nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--serve-null-gateway", help=argparse.SUPPRESS)
    ap.add_argument("--sim-profile-out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_sim is not None:
        _profiled(args.sim_profile_out, serve_sim, args.serve_sim)
        return 0
    if args.serve_sim_fill is not None:
        _profiled(args.sim_profile_out, _sibling("gateway_fill").serve_sim_with_maker,
                  args.serve_sim_fill[0], API_KEY, API_SECRET, args.serve_sim_fill[1])
        return 0
    if args.serve_null_gateway is not None:
        serve_gateway_on_null_venue(args.serve_null_gateway)
        return 0
    if args.profile_sim and args.venue == "null":
        ap.error("--profile-sim needs the simulator (--venue sim)")
    if args.fill and args.venue == "null":
        ap.error("--fill needs the simulator (--venue sim): the null venue keeps no book")
    if args.rate <= 0 or args.seconds <= 0 or args.step_seconds <= 0 or args.rounds < 1:
        ap.error("--rate, --seconds, --step-seconds and --rounds must be positive")

    filling = _sibling("gateway_fill") if args.fill else None
    tmp = Path(tempfile.mkdtemp(prefix="fixgw-bench-"))
    sim_port, gw_port = free_port(), free_port()
    store = f'store_path = "{tmp / "gw.db"}"' if args.store == "sqlite" else ""
    pg_cluster, pg_dsn = None, os.environ.get("FIXGW_BENCH_PG_DSN", "")
    if args.store == "postgres":
        # A throwaway cluster with the server's durable defaults (fsync on), unless FIXGW_BENCH_PG_DSN
        # names a server; the gateway reads the connection string from BENCH_PG_DSN ([store] dsn_env).
        if not pg_dsn:
            sys.path.insert(1, str(ROOT / "tests"))
            from pg_cluster import PgCluster, find_bin_dir

            bindir = find_bin_dir()
            if bindir is None:
                ap.error("--store postgres needs PostgreSQL's binaries (initdb, pg_ctl) or FIXGW_BENCH_PG_DSN")
            pg_cluster = PgCluster(bindir, fast=False)
            if not args.pg_cold:  # segments ready for reuse, as on a running server (PgCluster.warm_wal)
                pg_cluster.warm_wal()
            pg_dsn = pg_cluster.dsn()
        store = '\n[store]\nkind = "postgres"\ndsn_env = "BENCH_PG_DSN"\n'
    cfg = tmp / "bench.toml"
    cfg.write_text(CONFIG.format(port=gw_port, sim_port=sim_port, store=store))
    env = dict(os.environ, BENCH_API_KEY=API_KEY, BENCH_API_SECRET=API_SECRET, BENCH_PG_DSN=pg_dsn,
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    token = filling.new_token() if filling else None
    sim = None
    sim_prof = tmp / "simulator.prof"
    if args.venue == "sim":
        sim_cmd = [sys.executable, __file__] + (["--serve-sim-fill", str(sim_port), str(args.maker_levels)]
                                                if filling else ["--serve-sim", str(sim_port)])
        if args.profile_sim:
            sim_cmd += ["--sim-profile-out", str(sim_prof)]
        sim = subprocess.Popen(sim_cmd, env=dict(env, FIXGW_SIM_TOKEN=token) if token else env, cwd=ROOT)
        if not wait_for_port(sim_port):
            print("simulator did not start", file=sys.stderr)
            sim.kill()
            if pg_cluster is not None:
                pg_cluster.stop()
            return 1
    control = filling.SimControl(sim_port, token) if filling else None
    gw_cmd = [sys.executable]
    prof = tmp / "gateway.prof"
    if args.profile:
        gw_cmd += ["-m", "cProfile", "-o", str(prof)]
    if args.venue == "null":
        gw_cmd += [__file__, "--serve-null-gateway", str(cfg)]
    else:
        gw_cmd += ["-m", "fixgw", "run", "--config", str(cfg), "--log-level", os.environ.get("BENCH_LOG", "WARNING")]
    log = open(tmp / "gateway.log", "w")
    gw = subprocess.Popen(gw_cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env,
                          cwd=ROOT)  # ``-m`` imports from the working directory first: this tree's code
    runs = 0

    def pg_cpu() -> dict[str, float]:
        """The throwaway cluster's CPU seconds (its postmaster and every process it started), if any."""
        if pg_cluster is None:
            return {}
        try:
            postmaster = int((pg_cluster.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return {}
        return {"postgres": cpu_seconds(postmaster) + sum(cpu_seconds(pid) for pid in children_of(postmaster))}

    def pg_wal() -> dict[str, float]:
        """The server's WAL figures and commits so far (pg_stat_wal, pg_stat_database), if PostgreSQL."""
        if not pg_dsn:
            return {}
        import psycopg

        try:
            with psycopg.connect(pg_dsn, autocommit=True) as db:
                w = db.execute("SELECT wal_records, wal_bytes, wal_sync, wal_sync_time FROM pg_stat_wal").fetchone()
                # Write transactions (those that took a transaction id; reads take none): the commits.
                c = db.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint").fetchone()
        except psycopg.Error:
            return {}
        if w is None or c is None:
            return {}
        return {"wal_records": float(w[0]), "wal_bytes": float(w[1]), "wal_sync": float(w[2]),
                "wal_sync_time": float(w[3]), "commits": float(c[0] or 0)}

    if pg_cluster is not None:  # the time of each WAL flush too (monitoring only: durability unchanged)
        import psycopg

        with psycopg.connect(pg_dsn, autocommit=True) as db:
            db.execute("ALTER SYSTEM SET track_wal_io_timing = on")
            db.execute("SELECT pg_reload_conf()")

    def measure(rate: float, seconds: float, fills: bool) -> tuple[dict[str, Any], dict[str, float]]:
        """One paced run on the running processes; returns its figures and the CPU seconds of each process."""
        nonlocal runs
        runs += 1
        warmup = args.warmup if runs == 1 else min(args.warmup, 50)
        kw: dict[str, Any] = {}
        if fills:
            plan = filling.plan_fills(control, args.fill_order, warmup + int(rate * seconds))
            kw["order_fields"] = plan.order_fields()
            limits = f", limits {plan.buy_limit} / {plan.sell_limit}" if args.fill_order == "ioc" else ""
            print(f"  (book before run {runs}: bid {plan.bid} / ask {plan.ask}; {args.fill_order} orders of "
                  f"{filling.QTY} BTC{limits}; credited {plan.credited_usdt} USDT, {plan.credited_btc} BTC)")
        wal0 = pg_wal()
        cpu0 = {**{k: cpu_seconds(pid) for k, pid in procs.items()}, "client": time.process_time(), **pg_cpu()}
        result = asyncio.run(run_client(gw_port, rate, seconds, warmup, tag=f"r{runs}-",
                                        drain_s=max(10.0, 3 * seconds), **kw))
        cpu1 = {**{k: cpu_seconds(pid) for k, pid in procs.items()}, "client": time.process_time(), **pg_cpu()}
        if wal0:
            time.sleep(1.1)  # backends report their WAL figures at most once a second
            wal1 = pg_wal()
            if wal1:
                result["pg_wal"] = {k: wal1[k] - wal0[k] for k in wal0}
        return result, {k: cpu1[k] - cpu0[k] for k in cpu0}

    where = "simulator in its own process" if args.venue == "sim" else "null in-process venue (no HTTP)"
    orders = (f"alternating {args.fill_order} buys/sells filling against the market maker" if args.fill
              else "IOC limit orders that expire")
    try:
        assert gw.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = gw.stdout.readline()
            if not line or re.search(r"listening on", line):
                break
        procs = {"gateway": gw.pid, **({"simulator": sim.pid} if sim is not None else {})}
        if args.find_max:
            s = _sibling("gateway_search")
            print(f"fixgw gateway benchmark, closed search: store={args.store}, FIX.4.4, {orders}, {where}; "
                  f"steps of {args.step_seconds:g} s")

            def step(rate: float) -> Any:
                time.sleep(1.0)  # let the previous step's tail drain
                r, _cpu = measure(rate, args.step_seconds, args.fill)
                k = "fill_" if args.fill else ""
                # With fills, an order that did not trade counts as unanswered: its fill latency is missing.
                answered = min(r["completed"], r["traded"]) if args.fill else r["completed"]
                return s.StepResult(sent=r["orders_sent"], answered=answered, rejected=r["rejected"],
                                    throughput=r["orders_per_s"], p50_ms=r[k + "p50_ms"], p99_ms=r[k + "p99_ms"],
                                    p999_ms=r[k + "p999_ms"])

            found = s.find_max_rate(step, start=args.start_rate, p99_ms=args.p99_ms, min_ratio=args.min_ratio,
                                    precision=args.precision, max_steps=args.max_steps,
                                    on_step=lambda st: print(f"  step at {st.rate:.0f}/s: "
                                                             f"{'PASS' if st.passed else 'FAIL'} ({st.reason})", flush=True))
            print(s.format_search(found, args.p99_ms, "NewOrderSingle -> " + ("fill report" if args.fill else "first ExecutionReport")))
        else:
            one_run(measure, args, orders, where)
    finally:
        gw.send_signal(2)
        try:
            gw.wait(20)
        except subprocess.TimeoutExpired:
            gw.kill()
        if sim is not None:
            if args.profile_sim:  # a graceful stop, so that the profile is written
                sim.send_signal(2)
                try:
                    sim.wait(20)
                except subprocess.TimeoutExpired:
                    sim.kill()
            sim.kill()
            sim.wait()
        log.close()
        if pg_cluster is not None:
            pg_cluster.stop()
        print(f"(gateway log: {tmp / 'gateway.log'})")
    if args.profile and prof.exists():
        print_profile(prof)
    if args.profile_sim and sim_prof.exists():
        print_sim_profile(sim_prof)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
