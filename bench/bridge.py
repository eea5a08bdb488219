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
    python bench/bridge.py --rate 100 --seconds 5 --stream-clients 50   # stream fan-out

``--stream-clients N`` opens N more ``/v1/stream`` clients during the REST run and reports, per order,
POST -> its ``OrderSubmitted`` event at each of them, and per event the spread from the first client to
get it to the last (the fan-out's own cost). The readers run in processes of their own, 10 each, beside
the simulator and the gateway, and they are as light as a reader can be (``_RawReader``: no WebSocket
library; each read is stamped on arrival and its frames kept, JSON is parsed after the run), so that the
figure is the gateway's: readers built on the full client (a task, a message assembler and a JSON parse
per message) fell 0.5 s behind at 300 events/s to 50 clients on a 2-core machine (``--fanout``), and
added about 0.5 ms at p50 at 100 events/s. They still share its cores
with the gateway, so keep N x events/s modest (each order makes about three events); the one stream of
the "POST -> first stream event" figure is a full client in the load generator's process.

``--asgi N`` measures the bridge's own cost alone, in this process: N signed ``POST /v1/orders`` driven
straight through the app (no sockets, no gateway: a desk that answers at once), CPU time per request
with the order lane (``lane.OrderLane``) on and off, in alternate rounds (ratios hold on a loaded machine):

    python bench/bridge.py --asgi 5000

``--fanout N`` measures the stream's fan-out alone: the bridge app in a process of its own over a bare
event feed (no gateway), N ``/v1/stream`` readers (processes of 10), ``--events`` events published at
``--rate``; it reports the bridge process's CPU per event per client and, per event, the time from its
publication to each reader (the clock is the system's monotonic one, shared by the processes):

    python bench/bridge.py --fanout 50 --events 1500 --rate 300

``--gc-pauses`` times the gateway's garbage-collector passes during the REST run (wall and CPU, per
generation): the collector runs on the event loop's thread, so a long pass is a stall in the tail. It
also takes a census of what a full pass walks, before the REST run (what start-up left unfrozen and the
FIX run left behind) and after it: the tracked objects, the references the pass follows (its cost grows
with them) by the kind of object holding them, and one full pass timed (CPU):

    python bench/bridge.py --rate 1000 --seconds 10 --no-fix --gc-pauses

Each path also reports the gateway process's CPU time per order (user + system, from ``/proc``; Linux):
a figure that holds on a loaded machine, where rates and latencies do not. ``--no-fix`` skips the FIX
path (a quicker REST-only run, e.g. with ``--profile``, whose report groups the bridge's own layers).

Figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import secrets
import signal
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
accounts = ["bench"]

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


#: Extra stream clients per worker process (the readers must not be what is measured).
_PER_WORKER = 10


def _start_stream_workers(url: str, secret: str, clients: int) -> tuple[list[Any], Path]:
    """Start processes holding ``clients`` stream readers in all; return them once every reader is in."""
    stop_file = Path(tempfile.mkdtemp(prefix="fixgw-bench-fanout-")) / "stop"
    workers = []
    for index, start in enumerate(range(0, clients, _PER_WORKER)):
        n = min(_PER_WORKER, clients - start)
        workers.append(subprocess.Popen([sys.executable, __file__, "--stream-worker", url, str(n), str(stop_file),
                                         str(index)],
                                        env=dict(os.environ, BENCH_BRIDGE_SECRET=secret), stdout=subprocess.PIPE,
                                        text=True))
    for w in workers:
        assert w.stdout is not None
        if w.stdout.readline().strip() != "ready":
            for other in workers:
                other.kill()
            raise RuntimeError("a stream worker did not start")
    return workers, stop_file


def _stop_stream_workers(workers: list[Any], stop_file: Path) -> tuple[dict[str, list[int]], dict[int, list[int]]]:
    """Stop the readers; merge what they saw: order id -> OrderSubmitted receipt times, event id -> times."""
    stop_file.touch()
    arrived: dict[str, list[int]] = {}
    seen: dict[int, list[int]] = {}
    for w in workers:
        try:
            out, _ = w.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            w.kill()
            continue
        lines = out.strip().splitlines()
        if not lines:  # the worker failed (its error is on stderr): its readers are left out
            continue
        data = json.loads(lines[-1])
        for oid, ts in data["arrived"].items():
            arrived.setdefault(oid, []).extend(ts)
        for eid, ts in data["seen"].items():
            seen.setdefault(int(eid), []).extend(ts)
    return arrived, seen


class _RawReader(asyncio.Protocol):
    """A ``/v1/stream`` reader with no WebSocket library, as light as a reader can be, so that 50 of them
    on the gateway's own small machine measure the gateway and not themselves: on each read it stamps the
    time and splits the server's frames (unmasked, RFC 6455 section 5.2), keeping the payloads; parsing
    them waits until the run is over. A full client (``AsyncBridgeClient.stream``: a reader task per
    connection, a message assembler, JSON per message) lagged by several ms at p99 behind the gateway."""

    def __init__(self) -> None:
        self.transport: Any = None
        self.head = bytearray()
        self.buf = bytearray()
        self.upgraded: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.received: list[tuple[int, bytes]] = []  # (perf_counter_ns at the read, text payload)

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter_ns()
        if not self.upgraded.done():
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            status, data = bytes(self.head[:end]), bytes(self.head[end + 4:])
            self.upgraded.set_result(status)
        buf = self.buf
        buf += data
        while len(buf) >= 2:
            n, at = buf[1] & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    return
                n, at = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n, at = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < at + n:
                return
            opcode, payload = buf[0] & 0x0F, bytes(buf[at:at + n])
            del buf[:at + n]
            if opcode == 0x1:
                self.received.append((now, payload))
            elif opcode == 0x9:  # the server's keep-alive ping
                self.send(0xA, payload)
            elif opcode == 0x8:
                self.transport.close()

    def send(self, opcode: int, payload: bytes) -> None:
        """A masked client frame (payloads under 126 bytes: pings and pongs)."""
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(bytes((0x80 | opcode, 0x80 | len(payload))) + mask + masked)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError("closed before the upgrade"))


async def _raw_stream(host: str, port: int, secret: str, timestamp_ms: int) -> _RawReader:
    """Open a signed ``/v1/stream`` (its timestamp ``timestamp_ms``: unique per reader, so that no two
    readers sign the same request) and wait for the upgrade."""
    import base64

    from fixgw.bridge.auth import signed_headers

    loop = asyncio.get_running_loop()
    _, reader = await loop.create_connection(_RawReader, host, port)
    signed = signed_headers("bench", secret, timestamp_ms, "GET", "/v1/stream", "", b"")
    head = "".join(f"{k}: {v}\r\n" for k, v in signed.items())
    key = base64.b64encode(os.urandom(16)).decode()
    reader.transport.write(f"GET /v1/stream HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"{head}\r\n".encode())
    status = await asyncio.wait_for(reader.upgraded, 30)
    if b" 101 " not in status.split(b"\r\n", 1)[0] + b" ":
        raise RuntimeError(f"stream upgrade refused: {status[:80]!r}")
    return reader


async def _stream_worker(url: str, n: int, stop_file: Path, index: int) -> None:
    """``n`` stream readers (``_RawReader``) until ``stop_file`` exists; print ``ready``, then what they saw
    as JSON (``time.perf_counter_ns``, the system's monotonic clock, comparable between processes)."""
    secret = os.environ["BENCH_BRIDGE_SECRET"]
    host, port = url.rsplit("/", 1)[-1].split(":")
    readers = []
    for i in range(n):
        for attempt in range(20):
            # A timestamp of its own per reader (up to 1,000 readers): the gateway refuses a signature it has seen.
            stamp = time.time_ns() // 1_000_000_000 * 1000 - (index * _PER_WORKER + i) % 1000
            try:
                readers.append(await _raw_stream(host, int(port), secret, stamp))
                break
            except RuntimeError:
                if attempt == 19:
                    raise
                await asyncio.sleep(0.05)
    print("ready", flush=True)
    ping = json.dumps({"type": "ping"}).encode()
    pinged = time.monotonic()
    while not stop_file.exists():
        await asyncio.sleep(0.2)
        if time.monotonic() - pinged > 5:  # the stream wants a message every 3 heartbeats (default 10 s)
            pinged = time.monotonic()
            for r in readers:
                r.send(0x1, ping)
    arrived: dict[str, list[int]] = {}
    seen: dict[int, list[int]] = {}
    for r in readers:
        r.transport.close()
        for now, payload in r.received:
            m = json.loads(payload)
            if m.get("type") == "event":
                seen.setdefault(m["id"], []).append(now)
                if m["kind"] == "OrderSubmitted":
                    arrived.setdefault(m["order_id"], []).append(now)
    with contextlib.suppress(BrokenPipeError):  # the parent gave up waiting
        print(json.dumps({"arrived": arrived, "seen": seen}), flush=True)


async def rest_run(url: str, secret: str, rate: float, seconds: float, warmup: int,
                   connections: int, stream_clients: int = 0) -> dict[str, Any]:
    """Paced POSTs at ``rate`` for ``seconds`` with the stream open (and ``stream_clients`` more streams);
    return counts and latencies (ms)."""
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

    fanout: list[float] = []   # ms, POST sent -> the order's first event at each extra client
    spread: list[float] = []   # ms, per event: last extra client to get it - first one
    workers, stop_file = _start_stream_workers(url, secret, stream_clients)

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
    try:
        await asyncio.wait_for(listener, 5)
    except asyncio.TimeoutError:  # its close waits behind a backlog: the figures are taken already
        print("the stream listener did not close in 5 s", file=sys.stderr)
    arrived, seen_by_id = _stop_stream_workers(workers, stop_file)
    for cl in measured:
        oid = order_ids.get(cl)
        fanout.extend((t - sent[cl]) / 1e6 for t in arrived.get(oid or "", ()))
    spread.extend((max(ts) - min(ts)) / 1e6 for ts in seen_by_id.values() if len(ts) == stream_clients)
    fanout.sort()
    spread.sort()
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
            "post_max_ms": post_lat[-1] if post_lat else float("nan"),
            "fanout_n": len(fanout), "fanout_events": len(spread),
            **{f"fanout_p{p}_ms": pct(fanout, p) for p in (50, 99)},
            **{f"spread_p{p}_ms": pct(spread, p) for p in (50, 99)}}


def asgi_run(n: int, rounds: int = 3) -> None:
    """Print the CPU time per ``POST /v1/orders`` through the app alone, lane on and off (``--asgi``)."""
    from types import SimpleNamespace

    from fixgw.bridge import BridgeKey, Permission, create_app
    from fixgw.bridge.auth import signed_headers
    from fixgw.bridge.schemas import Order

    row = {f: None for f in Order.model_fields}
    row.update(order_id="sim_R-1", client_order_id="x", session_key="bench_R", account="bench", venue="sim",
               symbol="BTC/USDT", side="buy", type="limit", time_in_force="ioc", quantity="0.001", price="30000",
               status="pending_new", open=True, cum_qty="0", leaves_qty="0.001", avg_px="0", notional="0",
               fees={}, created_at="2026-01-01T00:00:00.000Z", updated_at="2026-01-01T00:00:00.000Z",
               entered_by="rest")
    account = SimpleNamespace(account=SimpleNamespace(name="bench"))
    answer = SimpleNamespace(ok=True, created=True, ctx=account, order=None, code=None, text="")
    desk = SimpleNamespace(account=lambda name: account, submit=lambda name, cmd: answer, flush=lambda: None)
    view = SimpleNamespace(order_desk=lambda: desk, order_row=lambda ctx, order: dict(row))
    secret = "bench-secret-0123456789abcdef0123456789abcdef"
    key = BridgeKey("bench", secret, {Permission.READ, Permission.TRADE})

    async def drive(app: Any, requests: list[tuple[list[tuple[bytes, bytes]], bytes]]) -> float:
        sent: list[Any] = []

        async def send(message: Any) -> None:
            sent.append(message)

        t0 = time.process_time()
        for headers, body in requests:
            messages = [{"type": "http.request", "body": body, "more_body": False}]
            scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                     "scheme": "http", "path": "/v1/orders", "raw_path": b"/v1/orders", "query_string": b"",
                     "root_path": "", "headers": headers, "client": ("127.0.0.1", 5000),
                     "server": ("127.0.0.1", 9880)}

            async def receive() -> Any:
                return messages.pop() if messages else {"type": "http.disconnect"}

            await app(scope, receive, send)
        spent = time.process_time() - t0
        statuses = {m["status"] for m in sent if m["type"] == "http.response.start"}
        assert statuses == {201}, (statuses, [m for m in sent if m["type"] == "http.response.body"][:1])
        return spent

    def requests(tag: str) -> list[tuple[list[tuple[bytes, bytes]], bytes]]:
        out = []
        now_ms = time.time_ns() // 1_000_000
        for i in range(n):
            body = json.dumps({"client_order_id": f"{tag}-{i}", **ORDER}).encode()
            h = signed_headers("bench", secret, now_ms, "POST", "/v1/orders", "", body)
            out.append(([(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())]
                        + [(k.lower().encode(), v.encode()) for k, v in h.items()], body))
        return out

    apps = {"lane on ": create_app(view, [key], fast_orders=True), "lane off": create_app(view, [key], fast_orders=False)}
    figures: dict[str, list[float]] = {name: [] for name in apps}

    async def main() -> None:
        for name, app in apps.items():  # warm up (the middleware stack is built at the first request)
            await drive(app, requests(f"warm{name.replace(' ', '')}")[:200])
        for r in range(rounds):
            for name, app in apps.items():
                figures[name].append(await drive(app, requests(f"{r}{name.replace(' ', '')}")) / n * 1e6)

    asyncio.run(main())
    for name, values in figures.items():
        print(f"POST /v1/orders through the app, {name}: CPU {min(values):6.1f} us/request (best of {rounds}; "
              f"all {', '.join(f'{v:.1f}' for v in values)})")


def _fanout_server(port: int, start_file: Path, events: int, rate: float) -> None:
    """Child process of ``--fanout``: the app over a bare feed; once ``start_file`` exists, publish ``events``
    paced at ``rate``, then print the publication times (JSON: event id -> perf_counter_ns)."""
    from types import SimpleNamespace

    import anyio

    from fixgw.bridge import BridgeKey, Permission, create_app, serve
    from fixgw.gateway._feed import EventFeed
    from fixgw.gateway._lifecycle import freeze_start_up_heap
    from fixgw.orders import OrderSubmitted

    feed = EventFeed()
    view = SimpleNamespace(event_feed=lambda: feed, sessions=list, venues=list, account_names=dict,
                           market_data=lambda: None, order_desk=lambda: None)
    key = BridgeKey("bench", os.environ["BENCH_BRIDGE_SECRET"], {Permission.READ})
    app = create_app(view, [key])
    published: dict[int, int] = {}

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            await tg.start(serve, app, "127.0.0.1", port)
            # As the gateway once ready (``fixgw.gateway._lifecycle``): without it, a full collection over
            # the start-up heap stalled this process for 120 ms (wall, loaded machine) in the middle of a run.
            freeze_start_up_heap()
            print("listening", flush=True)
            while not start_file.exists():
                await anyio.sleep(0.05)
            t0 = time.perf_counter()
            for i in range(events):
                delay = t0 + i / rate - time.perf_counter()
                if delay > 0:
                    await anyio.sleep(delay)
                feed.append("bench_R", OrderSubmitted(order_id=f"bench_R-{i}", ts_ns=1))
                published[feed.last_id] = time.perf_counter_ns()
            await anyio.sleep(1.0)
            print(json.dumps(published), flush=True)
            tg.cancel_scope.cancel()

    anyio.run(main)


def fanout_run(clients: int, events: int, rate: float, profile: bool = False) -> None:
    """``--fanout``: the bridge process's CPU per event per client, and publication -> receipt latency."""
    port = _gw.free_port()
    tmp = Path(tempfile.mkdtemp(prefix="fixgw-bench-fanout-"))
    start_file = tmp / "start"
    secret = secrets.token_urlsafe(32)
    env = dict(os.environ, BENCH_BRIDGE_SECRET=secret,
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    prof = ["-m", "cProfile", "-o", str(tmp / "fanout.prof")] if profile else []
    server = subprocess.Popen([sys.executable, *prof, __file__, "--fanout-server", str(port), str(start_file),
                               str(events), str(rate)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != "listening":
            raise RuntimeError("the fan-out server did not start")
        os.environ["BENCH_BRIDGE_SECRET"] = secret
        workers, stop_file = _start_stream_workers(f"http://127.0.0.1:{port}", secret, clients)
        cpu0 = _cpu_s(server.pid)
        start_file.touch()
        published = {int(k): v for k, v in json.loads(server.stdout.readline()).items()}
        cpu1 = _cpu_s(server.pid)
        _, seen = _stop_stream_workers(workers, stop_file)
    finally:
        try:
            server.wait(10)  # it stops by itself once it has printed (and writes its profile)
        except subprocess.TimeoutExpired:
            server.terminate()
            server.wait(10)
    if profile and (tmp / "fanout.prof").exists():
        print_profile(tmp / "fanout.prof")
    lat = sorted((t - published[eid]) / 1e6 for eid, ts in seen.items() if eid in published for t in ts)
    receipts = len(lat)
    pct = _client.pct
    print(f"fan-out of {events} events at {rate:g}/s to {clients} clients (raw readers, {_PER_WORKER} per process): "
          f"{receipts}/{events * clients} receipts; "
          f"bridge CPU {1e6 * (cpu1 - cpu0) / max(1, events * clients):.1f} us per event per client; "
          f"publication -> client p50 {pct(lat, 50):.2f} ms  p99 {pct(lat, 99):.2f} ms  max "
          f"{lat[-1] if lat else float('nan'):.1f} ms")


def _profiled_gateway(out: str, argv: list[str]) -> int:
    """``fixgw <argv>`` with cProfile on from SIGUSR1 to SIGUSR2 (then written to ``out``)."""
    import cProfile

    from fixgw.cli import main as cli_main

    prof = cProfile.Profile()

    def dump(*_: Any) -> None:
        prof.disable()
        prof.dump_stats(out)

    signal.signal(signal.SIGUSR1, lambda *_: prof.enable())
    signal.signal(signal.SIGUSR2, dump)
    return cli_main(argv)


def _census(timed: bool) -> dict[str, Any]:
    """What a full collection walks now (the frozen start-up heap is not walked): the count of tracked
    objects and the kinds with the most; ``timed``: also the CPU time of one full pass over them (a pass
    the bench makes: not before the REST run, where it would change when the gateway's own passes come)."""
    import collections
    import gc

    kinds: collections.Counter[str] = collections.Counter()
    edges: collections.Counter[str] = collections.Counter()  # references a pass follows, by the holder's kind
    for o in gc.get_objects():
        name = f"{type(o).__module__}.{type(o).__qualname__}"
        kinds[name] += 1
        edges[name] += len(gc.get_referents(o))
    out = {"tracked": sum(kinds.values()), "kinds": kinds.most_common(12), "frozen": gc.get_freeze_count(),
           "edges": sum(edges.values()), "edge_kinds": edges.most_common(8),
           "collected": [g["collected"] for g in gc.get_stats()]}  # cyclic garbage found so far, per generation
    if timed:
        t0 = time.thread_time_ns()
        out["garbage"] = gc.collect()
        out["full_pass_ms"] = (time.thread_time_ns() - t0) / 1e6
    return out


def _gc_gateway(out: str, argv: list[str]) -> int:
    """``fixgw <argv>`` timing every pass of the cyclic garbage collector from SIGUSR1 to SIGUSR2 (then
    written to ``out`` as JSON: generation -> pause lengths in ms): the collector runs on the event loop's
    thread, so a long pass is a stall every request in flight waits for. At each signal it also takes a
    census of what a full pass walks (``_census``: at SIGUSR1, what start-up and the FIX run left)."""
    import gc

    from fixgw.cli import main as cli_main

    pauses: dict[int, list[tuple[float, float]]] = {}
    started: list[int] = []
    recording = [False]
    census: dict[str, Any] = {}

    def timed(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[:] = [time.perf_counter_ns(), time.thread_time_ns()] if recording[0] else []
        elif started:  # (wall, CPU): on a loaded machine the wall time includes waiting for a core
            pauses.setdefault(info["generation"], []).append(((time.perf_counter_ns() - started[0]) / 1e6,
                                                              (time.thread_time_ns() - started[1]) / 1e6))
            started.clear()

    def begin(*_: Any) -> None:
        census["before"] = _census(False)
        recording[0] = True

    def dump(*_: Any) -> None:
        recording[0] = False  # the census's own pass is not one of the gateway's
        census["after"] = _census(True)
        Path(out).write_text(json.dumps({"pauses": pauses, **census}))

    gc.callbacks.append(timed)
    signal.signal(signal.SIGUSR1, begin)
    signal.signal(signal.SIGUSR2, dump)
    return cli_main(argv)


def _print_gc(path: Path) -> None:
    data = json.loads(path.read_text())
    pauses = data["pauses"]
    for gen in sorted(pauses, key=int):
        wall = sorted(w for w, _ in pauses[gen])
        cpu = sorted(c for _, c in pauses[gen])
        print(f"gateway GC generation {gen}: {len(wall)} passes; CPU {sum(cpu):.1f} ms in all, longest "
              f"{cpu[-1]:.2f} ms; wall longest {wall[-1]:.2f} ms, p50 {_client.pct(wall, 50):.3f} ms")
    before, after = data.get("before"), data.get("after")
    if before and after:
        found = [a - b for a, b in zip(after["collected"], before["collected"])]
        print(f"cyclic garbage the gateway's passes freed during the REST run, per generation: {found}")
    for when, label in (("before", "before the REST run"), ("after", "after it")):
        c = data.get(when)
        if c:
            print(f"a full pass {label}: {c['tracked']} tracked objects walked ({c['frozen']} frozen, not walked)"
                  + (f", {c['full_pass_ms']:.1f} ms CPU" if "full_pass_ms" in c else "") + "; most: "
                  + ", ".join(f"{name.rsplit('.', 1)[-1]} {n}" for name, n in c["kinds"][:8]))
            if "garbage" in c:
                print(f"    that pass found {c['garbage']} unreachable objects (cyclic garbage)")
            if "edges" in c:
                print(f"    references it follows: {c['edges']}; most held by: "
                      + ", ".join(f"{name} {n}" for name, n in c["edge_kinds"][:6]))


def _wait_ready(port: int, timeout: float = 30.0) -> bool:
    """Wait for the bridge's ``/readyz`` to answer 200 (the venue connected), then a moment more: the
    gateway freezes its start-up heap once ready, and what is measured starts after that."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    time.sleep(0.3)
                    return True
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.05)
    return False


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far; NaN where ``/proc`` is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_GROUPS = (
    ("bridge (fixgw.bridge)", ("fixgw/bridge",)),
    ("ASGI server, framework, validation (uvicorn, starlette, fastapi, pydantic, h11 server side)",
     ("/uvicorn/", "/starlette/", "/fastapi/", "/pydantic", "/httptools/")),
    ("HTTP client to the venue (httpx, httpcore, h11)", ("/httpx/", "/httpcore/", "/h11/")),
    ("venue adapter (fixgw.venues)", ("fixgw/venues",)),
    ("websockets (venue order stream, /v1/stream)", ("/websockets/",)),
    ("FIX session + transport + codec", ("fixgw/session", "fixgw/transport", "fixgw/codec", "fixgw_ext")),
    ("orders + journal + stores", ("fixgw/orders", "fixgw/stores")),
    ("gateway + translate + risk", ("fixgw/gateway", "fixgw/translate", "fixgw/risk")),
    ("anyio", ("/anyio/",)),
    ("asyncio event loop", ("/asyncio/", "selectors")),
)


def print_profile(path: Path) -> None:
    """Print the gateway's own time grouped by layer (the bridge's apart), then the top functions."""
    _gw.print_profile(path, _GROUPS, top=25)


def main() -> int:
    if len(sys.argv) > 3 and sys.argv[1] == "--profiled-gateway":
        return _profiled_gateway(sys.argv[2], sys.argv[3:])
    if len(sys.argv) > 3 and sys.argv[1] == "--gc-gateway":
        return _gc_gateway(sys.argv[2], sys.argv[3:])
    if len(sys.argv) == 6 and sys.argv[1] == "--fanout-server":
        _fanout_server(int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
        return 0
    if len(sys.argv) == 6 and sys.argv[1] == "--stream-worker":  # one of the fan-out's reader processes
        asyncio.run(_stream_worker(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5])))
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=1000.0, help="orders per second, each path (default 1000)")
    ap.add_argument("--seconds", type=float, default=10.0, help="measured duration of each path (default 10)")
    ap.add_argument("--warmup", type=int, default=200, help="orders sent before measuring (default 200)")
    ap.add_argument("--connections", type=int, default=16, help="HTTP connections of the REST client (default 16)")
    ap.add_argument("--stream-clients", type=int, default=0,
                    help="extra /v1/stream clients during the REST run; reports fan-out latency (default 0)")
    ap.add_argument("--store", choices=("memory", "sqlite"), default="sqlite", help="gateway state (default sqlite)")
    ap.add_argument("--profile", action="store_true", help="profile the gateway process (cProfile); prints the top")
    ap.add_argument("--gc-pauses", action="store_true",
                    help="time the gateway's garbage-collector passes during the REST run (not with --profile)")
    ap.add_argument("--no-fix", action="store_true", help="skip the FIX path (REST only)")
    ap.add_argument("--fanout", type=int, metavar="N", help="the stream's fan-out alone to N clients (no gateway)")
    ap.add_argument("--events", type=int, default=1500, help="events published with --fanout (default 1500)")
    ap.add_argument("--asgi", type=int, metavar="N", help="the app's own CPU per POST, in-process, lane on/off")
    args = ap.parse_args()
    if args.asgi:
        asgi_run(args.asgi)
        return 0
    if args.fanout:
        fanout_run(args.fanout, args.events, args.rate, args.profile)
        return 0
    if args.rate <= 0 or args.seconds <= 0 or args.connections < 1 or args.stream_clients < 0:
        ap.error("--rate, --seconds and --connections must be positive, --stream-clients not negative")

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
        # --profile: the gateway under cProfile during the REST run only (not its start-up, not the FIX run).
        start = [__file__, "--profiled-gateway", str(tmp / "gateway.prof")] if args.profile else (
            [__file__, "--gc-gateway", str(tmp / "gc.json")] if args.gc_pauses else ["-m", "fixgw"])
        watched = args.profile or args.gc_pauses
        gw = subprocess.Popen([sys.executable, *start, "run", "--config", str(cfg), "--log-level", "WARNING"],
                              stdout=subprocess.DEVNULL, stderr=log, env=env)
        if not (_gw.wait_for_port(gw_port) and _gw.wait_for_port(bridge_port) and _wait_ready(bridge_port)):
            print(f"gateway did not start; see {tmp / 'gateway.log'}", file=sys.stderr)
            return 1
        fix: dict[str, Any] = {}
        cpu0 = _cpu_s(gw.pid)
        if not args.no_fix:
            fix = asyncio.run(_client.run_client(gw_port, args.rate, args.seconds, args.warmup))
        if watched:
            gw.send_signal(signal.SIGUSR1)
        cpu1 = _cpu_s(gw.pid)
        rest = asyncio.run(rest_run(f"http://127.0.0.1:{bridge_port}", secret, args.rate, args.seconds,
                                    args.warmup, args.connections, args.stream_clients))
        cpu2 = _cpu_s(gw.pid)
        if watched:
            gw.send_signal(signal.SIGUSR2)
            deadline = time.monotonic() + 30
            while not (tmp / ("gateway.prof" if args.profile else "gc.json")).exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.5)
        n = args.warmup + int(args.rate * args.seconds)  # the warm-up orders count: the gateway ran them too
        fix["cpu_ms"] = 1000 * (cpu1 - cpu0) / n
        rest["cpu_ms"] = 1000 * (cpu2 - cpu1) / n
    finally:
        for p in (gw, sim):
            if p is not None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
    if args.profile and (tmp / "gateway.prof").exists():
        print_profile(tmp / "gateway.prof")
    if args.gc_pauses and (tmp / "gc.json").exists():
        _print_gc(tmp / "gc.json")
    print(f"offered {args.rate:g} orders/s for {args.seconds:g} s each path, store {args.store}")
    if not args.no_fix:
        print(f"FIX : {fix.get('orders_per_s', float('nan')):8.1f} orders/s  NewOrderSingle -> first ExecutionReport "
              f"p50 {fix.get('p50_ms', float('nan')):.2f} ms  p99 {fix.get('p99_ms', float('nan')):.2f} ms  "
              f"gateway CPU {fix['cpu_ms']:.3f} ms/order")
    print(f"REST: {rest['rate']:8.1f} orders/s  POST -> answer p50 {rest['post_p50_ms']:.2f} ms  "
          f"p99 {rest['post_p99_ms']:.2f} ms (max {rest['post_max_ms']:.1f})  gateway CPU {rest['cpu_ms']:.3f} ms/order")
    print(f"      POST -> first stream event p50 {rest['event_p50_ms']:.2f} ms  p99 {rest['event_p99_ms']:.2f} ms  "
          f"({rest['with_event']}/{rest['orders']} seen; statuses {rest['statuses']})")
    if args.stream_clients:
        print(f"fan-out to {args.stream_clients} more stream clients (raw readers, {_PER_WORKER} per process, "
              f"stamped on arrival): POST -> OrderSubmitted at each client "
              f"p50 {rest['fanout_p50_ms']:.2f} ms  p99 {rest['fanout_p99_ms']:.2f} ms ({rest['fanout_n']} receipts); "
              f"first to last client per event p50 {rest['spread_p50_ms']:.2f} ms  p99 {rest['spread_p99_ms']:.2f} ms "
              f"({rest['fanout_events']} events seen by all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
