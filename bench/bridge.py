"""Bridge benchmark: REST order entry beside the FIX path, on one gateway, in the same run.

Three processes: the simulated exchange (``bench/gateway.py --serve-sim``), the gateway with its bridge
(``python -m fixgw run --config <generated TOML>``: a FIX session ``BENCH`` and a bridge account
``bench``), and this one, the client. The client first runs the FIX load (``gateway_client.run_client``:
paced NewOrderSingles, latency to the first ExecutionReport), then the REST load at the same rate:
paced, signed ``POST /v1/orders`` (open loop, over ``--connections`` keep-alive HTTP/1.1 connections of a
minimal client, so the load generator is not what is measured) while a
WebSocket ``/v1/stream`` is open, and reports the latency from each POST to its 201 and to the order's
first event on the stream. Every order is the FIX bench's: a limit IOC buy far below the market,
accepted then expired by the venue.

    python bench/bridge.py --rate 1000 --seconds 10
    python bench/bridge.py --rate 500 --seconds 5 --store memory

Figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import secrets
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
    key = f"fixgw_bench_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, Path(__file__).with_name(f"{name}.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


_gw = _sibling("gateway")
_client = _sibling("gateway_client")

BRIDGE = """
[bridge]
host = "127.0.0.1"
port = {bridge_port}

[[bridge.keys]]
id = "bench"
secret_env = "BENCH_BRIDGE_SECRET"
permissions = ["read", "trade"]

[[bridge.accounts]]
name = "bench"
venue = "sim"
"""

ORDER = {"symbol": "BTC/USDT", "side": "buy", "type": "limit", "quantity": "0.001", "price": "30000",
         "time_in_force": "ioc"}


class _Connection:
    """One keep-alive HTTP/1.1 connection sending signed POSTs, one at a time (lighter than a full client:
    the load generator must not be what is measured)."""

    def __init__(self, host: str, port: int, secret: str) -> None:
        self.host, self.port, self.secret = host, port, secret
        self.lock = asyncio.Lock()
        self.reader: Any = None
        self.writer: Any = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        from fixgw.bridge.auth import signed_headers

        async with self.lock:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            h = signed_headers("bench", self.secret, time.time_ns() // 1_000_000, "POST", path, "", body)
            head = "".join(f"{k}: {v}\r\n" for k, v in h.items())
            self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                              f"Content-Length: {len(body)}\r\n{head}\r\n".encode() + body)
            status_line = await self.reader.readline()
            length = 0
            while True:
                line = await self.reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            return int(status_line.split()[1]), await self.reader.readexactly(length)


async def rest_run(url: str, secret: str, rate: float, seconds: float, warmup: int,
                   connections: int) -> dict[str, Any]:
    """Paced POSTs at ``rate`` for ``seconds`` with the stream open; return counts and latencies (ms)."""
    from fixgw.bridge import AsyncBridgeClient
    from fixgw.errors import TransportError

    client = AsyncBridgeClient(url, "bench", secret, timeout=30)
    host, port = url.rsplit("/", 1)[-1].split(":")
    pool = [_Connection(host, int(port), secret) for _ in range(connections)]
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    for c in pool:
        idle.put_nowait(c)
    sent: dict[str, int] = {}
    answered: dict[str, int] = {}
    order_ids: dict[str, str] = {}
    first_event: dict[str, int] = {}
    statuses: dict[int, int] = {}
    stop = asyncio.Event()

    async def listen(ready: asyncio.Event) -> None:
        try:
            async with client.stream("/v1/stream") as s:
                await s.recv()
                ready.set()
                while not stop.is_set():
                    try:
                        m = await asyncio.wait_for(s.recv(), 1.0)
                    except asyncio.TimeoutError:
                        await s.send({"type": "ping"})
                        continue
                    if m.get("type") == "event":
                        first_event.setdefault(m["order_id"], time.perf_counter_ns())
                    elif m.get("type") == "heartbeat":
                        await s.send({"type": "ping"})
        except TransportError as exc:  # an overloaded run: say so, keep the POST figures
            print(f"stream lost: {exc}", file=sys.stderr)
            ready.set()

    async def post(cl: str) -> None:
        sent[cl] = time.perf_counter_ns()
        conn = await idle.get()
        try:
            status, body = await conn.post("/v1/orders", json.dumps({"client_order_id": cl, **ORDER}).encode())
        finally:
            idle.put_nowait(conn)
        answered[cl] = time.perf_counter_ns()
        statuses[status] = statuses.get(status, 0) + 1
        if status in (200, 201):
            order_ids[cl] = json.loads(body)["order_id"]

    ready = asyncio.Event()
    listener = asyncio.create_task(listen(ready))
    await asyncio.wait_for(ready.wait(), 10)
    tag = secrets.token_hex(3)
    await asyncio.gather(*(post(f"W{tag}-{i}") for i in range(warmup)))
    measured = [f"R{tag}-{i}" for i in range(int(rate * seconds))]
    start = time.perf_counter()
    tasks = []
    for i, cl in enumerate(measured):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(post(cl)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(order_ids.get(cl) not in first_event for cl in measured):
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(listener, 5)
    await client.aclose()
    for c in pool:
        if c.writer is not None:
            c.writer.close()
    post_lat = sorted((answered[cl] - sent[cl]) / 1e6 for cl in measured if cl in answered)
    ev_lat = sorted((first_event[order_ids[cl]] - sent[cl]) / 1e6 for cl in measured
                    if order_ids.get(cl) in first_event)
    pct = _client.pct
    return {"orders": len(measured), "answered": len(post_lat), "with_event": len(ev_lat),
            "rate": len(post_lat) / elapsed, "statuses": statuses,
            **{f"post_p{p}_ms": pct(post_lat, p) for p in (50, 99)},
            **{f"event_p{p}_ms": pct(ev_lat, p) for p in (50, 99)},
            "post_max_ms": post_lat[-1] if post_lat else float("nan")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=1000.0, help="orders per second, each path (default 1000)")
    ap.add_argument("--seconds", type=float, default=10.0, help="measured duration of each path (default 10)")
    ap.add_argument("--warmup", type=int, default=200, help="orders sent before measuring (default 200)")
    ap.add_argument("--connections", type=int, default=16, help="HTTP connections of the REST client (default 16)")
    ap.add_argument("--store", choices=("memory", "sqlite"), default="sqlite", help="gateway state (default sqlite)")
    ap.add_argument("--profile", action="store_true", help="profile the gateway process (cProfile); prints the top")
    args = ap.parse_args()
    if args.rate <= 0 or args.seconds <= 0 or args.connections < 1:
        ap.error("--rate, --seconds and --connections must be positive")

    tmp = Path(tempfile.mkdtemp(prefix="fixgw-bench-bridge-"))
    sim_port, gw_port, bridge_port = _gw.free_port(), _gw.free_port(), _gw.free_port()
    store = f'store_path = "{tmp / "gw.db"}"' if args.store == "sqlite" else ""
    cfg = tmp / "bench.toml"
    cfg.write_text(_gw.CONFIG.format(port=gw_port, sim_port=sim_port, store=store)
                   + BRIDGE.format(bridge_port=bridge_port))
    secret = secrets.token_urlsafe(32)
    env = dict(os.environ, BENCH_API_KEY=_gw.API_KEY, BENCH_API_SECRET=_gw.API_SECRET, BENCH_BRIDGE_SECRET=secret,
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    sim = subprocess.Popen([sys.executable, str(ROOT / "bench" / "gateway.py"), "--serve-sim", str(sim_port)], env=env)
    gw = None
    try:
        if not _gw.wait_for_port(sim_port):
            print("simulator did not start", file=sys.stderr)
            return 1
        log = open(tmp / "gateway.log", "w")
        prof = ["-m", "cProfile", "-o", str(tmp / "gateway.prof")] if args.profile else []
        gw = subprocess.Popen([sys.executable, *prof, "-m", "fixgw", "run", "--config", str(cfg), "--log-level", "WARNING"],
                              stdout=subprocess.DEVNULL, stderr=log, env=env)
        if not (_gw.wait_for_port(gw_port) and _gw.wait_for_port(bridge_port)):
            print(f"gateway did not start; see {tmp / 'gateway.log'}", file=sys.stderr)
            return 1
        fix = asyncio.run(_client.run_client(gw_port, args.rate, args.seconds, args.warmup))
        rest = asyncio.run(rest_run(f"http://127.0.0.1:{bridge_port}", secret, args.rate, args.seconds,
                                    args.warmup, args.connections))
    finally:
        for p in (gw, sim):
            if p is not None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
    if args.profile and (tmp / "gateway.prof").exists():
        _gw.print_profile(tmp / "gateway.prof")
    print(f"offered {args.rate:g} orders/s for {args.seconds:g} s each path, store {args.store}")
    print(f"FIX : {fix.get('orders_per_s', float('nan')):8.1f} orders/s  NewOrderSingle -> first ExecutionReport "
          f"p50 {fix.get('p50_ms', float('nan')):.2f} ms  p99 {fix.get('p99_ms', float('nan')):.2f} ms")
    print(f"REST: {rest['rate']:8.1f} orders/s  POST -> answer p50 {rest['post_p50_ms']:.2f} ms  "
          f"p99 {rest['post_p99_ms']:.2f} ms (max {rest['post_max_ms']:.1f})")
    print(f"      POST -> first stream event p50 {rest['event_p50_ms']:.2f} ms  p99 {rest['event_p99_ms']:.2f} ms  "
          f"({rest['with_event']}/{rest['orders']} seen; statuses {rest['statuses']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
