"""Benchmark: a big ResendRequest answered by the acceptor while another session keeps talking.

The acceptor (separate process, SQLite store on a temporary file) serves two sessions: RESENDER, whose
store is filled beforehand with ``--count`` ExecutionReports, and PINGER. The PINGER client logs on and
sends a TestRequest every ``--ping-interval`` seconds, timing each Heartbeat answer. The RESENDER client
then logs on, asks ``7=1 16=0`` and reads as fast as it can until the last number of the resend has
arrived. Printed: the resend time (ResendRequest sent to last byte received), the PINGER's answer
latency during the resend (p50 / p99 / max), the acceptor's peak backlog on the RESENDER connection,
its peak RSS, and how the RESENDER connection ended. The stream is checked afterwards: every number
1..count arrives once, in order, as a PossDup ExecutionReport.

    python bench/resend.py                       # 50,000 messages, resend_chunk_size 1000
    python bench/resend.py --chunk 0             # the whole range built at once (the old default)
    python bench/resend.py --count 10000 --chunk 200
    python bench/resend.py --read-delay 0.002    # a reader slower than the acceptor: the backlog shows

Not a test: nothing here asserts; it prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixgw.codec import Parser, encode, format_utc_timestamp  # noqa: E402

BEGIN = "FIX.4.4"
GW = "GW"


def _peak_rss_kib() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


# -- the acceptor process ---------------------------------------------------------------------------
def serve(store_path: str, chunk: int) -> None:
    import anyio

    from fixgw.session import SessionConfig, SessionID
    from fixgw.stores.sqlite import SqliteMessageStore
    from fixgw.transport import Acceptor, Application, SessionHandle

    resender = SessionID(BEGIN, GW, "RESENDER")
    peaks: dict = {}
    if not hasattr(SessionHandle, "peak_backlog"):  # an older driver: watch the backlog after each pull
        original = SessionHandle._pull

        def _pull(self, conn):  # type: ignore[no-untyped-def]
            original(self, conn)
            peaks[self.session_id] = max(peaks.get(self.session_id, 0), conn.backlog)

        SessionHandle._pull = _pull  # type: ignore[method-assign]

    async def report(handle: SessionHandle) -> None:
        while not handle.last_disconnect_reason:
            await anyio.sleep(0.01)
        peak = getattr(handle, "peak_backlog", None)
        print("STATS " + json.dumps({
            "peak_backlog": peak if peak is not None else peaks.get(resender, 0),
            "peak_rss_kib": _peak_rss_kib(),
            "reason": handle.last_disconnect_reason,
        }), flush=True)

    async def main() -> None:
        store = SqliteMessageStore(store_path)
        configs = [
            SessionConfig(resender, resend_chunk_size=chunk),
            SessionConfig(SessionID(BEGIN, GW, "PINGER")),
        ]
        acceptor = Acceptor(configs, Application(), store)
        async with anyio.create_task_group() as tg:
            port = await tg.start(acceptor.serve)
            tg.start_soon(report, acceptor.handles[resender])
            print("PORT", port, _peak_rss_kib(), flush=True)

    anyio.run(main)


# -- the clients ----------------------------------------------------------------------------------------
def fill_store(path: str, count: int) -> None:
    from fixgw.session import SessionID
    from fixgw.session.messages import FrameWriter
    from fixgw.stores.sqlite import SqliteMessageStore

    store = SqliteMessageStore(path)
    session = store.session_store(SessionID(BEGIN, GW, "RESENDER"))
    writer = FrameWriter(BEGIN, GW, "RESENDER")
    stamp = writer.timestamp(time.time_ns())
    for seq in range(1, count + 1):
        body = (
            b"37=O%d\x0111=C%d\x0117=E%d\x01150=F\x0139=1\x0155=BTC/USDT\x0154=1\x0138=0.5\x01"
            b"32=0.01\x0131=65000.5\x01151=0.49\x0114=0.01\x016=65000.5\x01" % (seq, seq, seq)
        )
        session.save_outbound(seq, writer.frame(b"8", seq, stamp, body))
    store.commit()
    store.close()


def frame(sender: str, seq: int, msg_type: str, fields: list) -> bytes:
    header = [(49, sender), (56, GW), (34, seq), (52, format_utc_timestamp(time.time_ns()))]
    return encode(BEGIN, msg_type, header + fields)


def connect(port: int, sender: str) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(frame(sender, 1, "A", [(98, 0), (108, 30)]))
    parser = Parser()
    buf = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit(f"{sender}: connection closed during logon")
        buf += chunk
        parser.feed(chunk)
        msg = parser.next_event()
        if hasattr(msg, "get"):
            if msg.get(35) != b"A":
                raise SystemExit(f"logon refused: {msg.fields}")
            return sock, buf[len(msg.raw or b""):]


def pinger(port: int, interval: float, stop: threading.Event, out: list) -> None:
    sock, _ = connect(port, "PINGER")
    parser = Parser()
    seq = 2
    while not stop.is_set():
        token = b"P%d" % seq
        t0 = time.perf_counter()
        sock.sendall(frame("PINGER", seq, "1", [(112, token.decode())]))
        seq += 1
        answered = False
        while not answered:
            chunk = sock.recv(65536)
            if not chunk:
                raise SystemExit("PINGER: connection closed")
            parser.feed(chunk)
            for msg in parser:
                if msg.get(35) == b"0" and msg.get(112) == token:
                    answered = True
        out.append((time.perf_counter(), time.perf_counter() - t0))
        time.sleep(interval)
    sock.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=50_000)
    ap.add_argument("--chunk", type=int, default=1000, help="resend_chunk_size of the RESENDER session")
    ap.add_argument("--ping-interval", type=float, default=0.005)
    ap.add_argument("--read-delay", type=float, default=0.0,
                    help="seconds the RESENDER client sleeps after each read of at most 64 KiB (a slow reader)")
    ap.add_argument("--serve", metavar="STORE", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.chunk)
        return

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "resend.db")
        fill_store(path, args.count)
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", path, "--chunk", str(args.chunk)],
            stdout=subprocess.PIPE, text=True, cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            line = proc.stdout.readline().split()
            if not line or line[0] != "PORT":
                raise SystemExit(f"acceptor did not start: {line!r}")
            port, rss_start = int(line[1]), int(line[2])
            stop = threading.Event()
            pings: list = []
            ping_thread = threading.Thread(target=pinger, args=(port, args.ping_interval, stop, pings))
            ping_thread.start()
            time.sleep(0.3)
            sock, data = connect(port, "RESENDER")
            received = bytearray(data)
            end_mark = b"\x0136=%d\x01" % (args.count + 2)  # the GapFill over our Logon (count + 1) ends it
            t0 = time.perf_counter()
            sock.sendall(frame("RESENDER", 2, "2", [(7, 1), (16, 0)]))
            closed = False
            while True:
                try:
                    chunk = sock.recv(64 << 10 if args.read_delay else 1 << 20)
                    if args.read_delay:
                        time.sleep(args.read_delay)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    closed = True
                    break
                start = max(0, len(received) - len(end_mark))
                received += chunk
                if received.find(end_mark, start) >= 0:
                    break
            t1 = time.perf_counter()
            time.sleep(0.1)
            stop.set()
            ping_thread.join()
            if not closed:
                sock.sendall(frame("RESENDER", 3, "5", []))
                time.sleep(0.2)
            sock.close()
            stats_line = proc.stdout.readline()
            stats = json.loads(stats_line[6:]) if stats_line.startswith("STATS ") else {}
        finally:
            proc.terminate()
            proc.wait()

    seqs = []
    bad = 0
    for msg in _parse_all(bytes(received)):
        if msg.get(35) == b"8":
            seqs.append(int(msg.get(34)))
            bad += msg.get(43) != b"Y"
    in_order = seqs == list(range(1, args.count + 1))
    during = [lat for (t, lat) in pings if t0 <= t <= t1 + 0.05]
    print(f"messages {args.count}, resend_chunk_size {args.chunk}")
    print(f"resend: {t1 - t0:.2f} s, {len(received) / 1e6:.1f} MB, "
          f"{'all received in order' if in_order else f'{len(seqs)} received, NOT complete/in order'}"
          f"{'' if not bad else f', {bad} without PossDupFlag'}{', connection CLOSED by gateway' if closed else ''}")
    if during:
        during.sort()
        print(f"other session's TestRequest answers during the resend: n={len(during)} "
              f"p50 {statistics.median(during) * 1e3:.1f} ms, p99 {during[int(len(during) * 0.99) - 1] * 1e3:.1f} ms, "
              f"max {during[-1] * 1e3:.1f} ms")
    print(f"acceptor: peak backlog {stats.get('peak_backlog', '?')} bytes, peak RSS {stats.get('peak_rss_kib', '?')} KiB "
          f"(at start {rss_start} KiB), connection ended: {stats.get('reason', '?')}")


def _parse_all(data: bytes) -> list:
    parser = Parser()
    parser.feed(data)
    return [m for m in parser if hasattr(m, "get")]


if __name__ == "__main__":
    main()
