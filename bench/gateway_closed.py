"""Closed-loop gateway CPU per order: bursts of ``--burst`` orders, each sent once the last is answered.

``bench/gateway.py`` paces orders open-loop, so on a busy machine the gateway falls behind, handles
more orders per event-loop turn and spends less CPU on each: its CPU per order then measures the
machine's load as much as the code. Here the client writes ``--burst`` NewOrderSingles at once and
waits for every one's terminal ExecutionReport before the next burst, so every run does the same work
in the same turns, whatever else runs: the gateway's CPU seconds (Linux ``/proc``) per order compare
two trees, or two settings, fairly. The venue is the in-process null venue (``--venue null`` of
``bench/gateway.py``) or, with ``--venue sim``, the simulator in its own process; ``--root`` runs the gateway of another checkout (a ``git worktree`` of an older
commit), and ``--rounds`` alternates this checkout and that one, printing each run and the medians.

    python bench/gateway_closed.py --orders 5000 --burst 20
    git worktree add /tmp/base HEAD~1
    python bench/gateway_closed.py --root /tmp/base --rounds 3   # base, this, base, this, ...
    python bench/gateway_closed.py --profile                     # where this checkout's time goes
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixgw.codec import Message, Parser, encode, format_utc_timestamp  # noqa: E402

_ORDER = [(21, "1"), (55, "BTC/USDT"), (54, "1"), (38, "0.001"), (40, "2"), (44, "30000"), (59, "3")]
_TERMINAL = (b"C", b"8", b"2", b"4")


def _gateway_module(root: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"closed_gw_{abs(hash(root))}", root / "bench" / "gateway.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _client(port: int, orders: int, burst: int, warmup: int, cpu, pid: int) -> tuple[float, float]:
    """Log on, run ``warmup`` then ``orders`` orders in bursts; return (gateway CPU s, wall s) of the latter."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    seq = 1

    def frame(msg_type: str, fields: list) -> bytes:
        nonlocal seq
        header = [(49, "BENCH"), (56, "FIXGW"), (34, seq), (52, format_utc_timestamp(time.time_ns()))]
        seq += 1
        return encode("FIX.4.4", msg_type, header + fields)

    parser = Parser()
    writer.write(frame("A", [(98, 0), (108, 30), (141, "Y")]))
    done = 0
    waiting = asyncio.Event()
    logged_on = asyncio.Event()

    async def read() -> None:
        nonlocal done
        while True:
            data = await reader.read(1 << 16)
            if not data:
                return
            parser.feed(data)
            for m in parser:
                if not isinstance(m, Message):
                    continue
                if m.msg_type == b"8" and m.get(39) in _TERMINAL:
                    done += 1
                    waiting.set()
                elif m.msg_type == b"A":
                    logged_on.set()
                elif m.msg_type == b"1":
                    writer.write(frame("0", [(112, m[112])]))

    task = asyncio.create_task(read())
    await asyncio.wait_for(logged_on.wait(), 10)
    n = 0

    async def run(count: int) -> None:
        nonlocal n
        target = done
        while count > 0:
            k = min(burst, count)
            batch = b"".join(frame("D", [(11, f"c{n + i}"), (60, format_utc_timestamp(time.time_ns())), *_ORDER])
                             for i in range(k))
            n += k
            count -= k
            target += k
            writer.write(batch)
            while done < target:
                waiting.clear()
                await asyncio.wait_for(waiting.wait(), 30)

    await run(warmup)
    c0, t0 = cpu(pid), time.perf_counter()
    await run(orders)
    c1, t1 = cpu(pid), time.perf_counter()
    task.cancel()
    writer.close()
    return c1 - c0, t1 - t0


def one_run(root: Path, orders: int, burst: int, warmup: int, profile: bool = False, store: str = "sqlite",
            venue: str = "null") -> float:
    """Start the null-venue gateway of ``root``, run the bursts, stop it; return its CPU ms per order.
    ``profile``: under cProfile, whose table (``bench/gateway.py``'s, by layer) is printed after."""
    gw = _gateway_module(root)
    tmp = Path(tempfile.mkdtemp(prefix="fixgw-bench-closed-"))
    port, sim_port = gw.free_port(), gw.free_port()
    cfg = tmp / "bench.toml"
    cfg.write_text(gw.CONFIG.format(port=port, sim_port=sim_port, store=f'store_path = "{tmp / "gw.db"}"' if store == "sqlite" else ""))
    env = dict(os.environ, BENCH_API_KEY=gw.API_KEY, BENCH_API_SECRET=gw.API_SECRET, PYTHONPATH=os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p))
    sim = None
    if venue == "sim":  # the simulated exchange in its own process, as ``bench/gateway.py`` runs it
        sim = subprocess.Popen([sys.executable, str(root / "bench" / "gateway.py"), "--serve-sim", str(sim_port)], env=env,
                               cwd=root)
        if not gw.wait_for_port(sim_port):
            sim.kill()
            raise RuntimeError("the simulator did not start")
    with open(tmp / "gateway.log", "w") as log:
        prof = tmp / "gateway.prof"
        serve = (["--serve-null-gateway", str(cfg)] if venue == "null"
                 else ["-m", "fixgw", "run", "--config", str(cfg), "--log-level", "WARNING"])
        cmd = [sys.executable, *(["-m", "cProfile", "-o", str(prof)] if profile else []),
               *([str(root / "bench" / "gateway.py")] if venue == "null" else []), *serve]
        if profile and venue == "sim":
            cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), *serve]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=root)  # root first on the path
        try:
            assert proc.stdout is not None
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line or re.search(r"listening on", line):
                    break
            sim_cpu0 = gw.cpu_seconds(sim.pid) if sim is not None else 0.0
            cpu_s, wall_s = asyncio.run(_client(port, orders, burst, warmup, gw.cpu_seconds, proc.pid))
            sim_cpu = gw.cpu_seconds(sim.pid) - sim_cpu0 if sim is not None else None
        finally:
            if sim is not None:
                sim.kill()
                sim.wait()
            proc.send_signal(2)  # a graceful stop: the profile is written
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    if profile and prof.exists():
        gw.print_profile(prof)
        if os.environ.get("BENCH_PROFILE_OUT"):  # keep the raw profile for pstats: <BENCH_PROFILE_OUT>.<tree name>
            shutil.copy(prof, f"{os.environ['BENCH_PROFILE_OUT']}.{root.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    per_order = cpu_s / orders * 1e3
    sim_text = f", simulator {sim_cpu / orders * 1e3:.3f} ms" if sim_cpu is not None else ""
    print(f"  {root}: gateway {per_order:.3f} ms CPU per order{sim_text} ({venue} venue, {orders} orders in "
          f"bursts of {burst}, {orders / wall_s:.0f} orders/s closed-loop)", flush=True)
    return per_order


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=5000)
    ap.add_argument("--burst", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--root", type=Path, default=None, help="another checkout to compare with (run first)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--store", choices=("sqlite", "memory"), default="sqlite",
                    help="the gateway's store: a SQLite file (default) or memory (what persistence costs)")
    ap.add_argument("--venue", choices=("null", "sim"), default="null",
                    help="null: the in-process null venue (default); sim: the simulator in its own process")
    ap.add_argument("--profile", action="store_true", help="run the gateway(s) under cProfile and print where the time goes")
    args = ap.parse_args()
    trees = [args.root.resolve(), ROOT] if args.root is not None else [ROOT]
    figures: dict[Path, list[float]] = {t: [] for t in trees}
    for _ in range(args.rounds):
        for tree in trees:
            figures[tree].append(one_run(tree, args.orders, args.burst, args.warmup, args.profile, args.store, args.venue))
    for tree, values in figures.items():
        print(f"median {statistics.median(values):.3f} ms CPU per order: {tree}")
    if len(trees) == 2:
        base, this = (statistics.median(figures[t]) for t in trees)
        print(f"ratio this / base: {this / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
