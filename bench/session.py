"""Benchmark: the echo acceptor (SQLite store, separate process) over loopback TCP.

Run 1 (throughput): a client writes N pre-encoded NewOrderSingles as fast as the socket takes them and
counts the echoes; prints messages per second from the first byte sent to the last echo received.
Run 2 (latency): the same, paced at ``--rate`` messages per second on a fixed schedule (message ``i``
due at ``start + i / rate``, each sent alone). A message's latency is the client's ``perf_counter``
from just before its ``send`` to just after the ``recv`` that returned the end of its echo (matched by
ClOrdID): the client's kernel send, loopback, the acceptor's whole turn (parse, application, store and
commit, encode, send), loopback back and the client's wakeup. Prints p50/p99/p99.9/max, and how late
the client sent against its schedule (a late send is measured from when it left, so it does not
inflate the latency, but a large slip means the run was not paced as asked).

Every echo is saved in the SQLite store and committed before it is written (the engine commits in
``data_to_send()``); the script checks the store afterwards holds every echoed message.

    python bench/session.py                   # 100k messages, then 5,000 msg/s for 5 s
    python bench/session.py --validate        # the acceptor validates against the FIX 4.4 dictionary
    python bench/session.py --profile out.prof  # cProfile the acceptor process
    python bench/session.py --floor           # also time a bare asyncio echo: the machine's own tail

Not a test: nothing here asserts; it prints figures.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import select
import socket
import sqlite3
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
_CLORDID = re.compile(rb"\x0111=(\d+)\x01")
_ECHO_END = b"\x0135=D\x01"


def start_acceptor(store: str, validate: bool, profile: str | None, checkpoint: str) -> tuple[subprocess.Popen, int]:
    cmd = [sys.executable]
    if profile:
        cmd += ["-m", "cProfile", "-o", profile]
    cmd += [
        str(ROOT / "examples" / "echo_acceptor.py"),
        "--port", "0", "--print-port", "--store", store,
        "--session", f"{BEGIN}:ECHO:BENCH1", "--session", f"{BEGIN}:ECHO:BENCH2",
        "--max-backlog", str(64 << 20), "--store-checkpoint", checkpoint,
    ]
    if not validate:
        cmd.append("--no-validate")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=str(ROOT),
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit(f"acceptor did not start: {line!r}")
    return proc, int(line.split()[1])


# The floor: a bare asyncio echo (no FIX engine, no store) answering the bench client over the same
# loopback. Its latency is what this machine, its scheduler and the client cost by themselves.
_FLOOR_SERVER = """
import asyncio, gc
class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
    def data_received(self, data):
        self.transport.write(data)  # the Logon comes back as a Logon, each order as its echo
async def main():
    server = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", 0)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    gc.freeze()
    await asyncio.Event().wait()
asyncio.run(main())
"""


def start_floor() -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-c", _FLOOR_SERVER], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit(f"floor echo did not start: {line!r}")
    return proc, int(line.split()[1])


def frame(sender: str, seq: int, msg_type: str, fields: list) -> bytes:
    header = [(49, sender), (56, "ECHO"), (34, seq), (52, format_utc_timestamp(time.time_ns()))]
    return encode(BEGIN, msg_type, header + fields)


def order(sender: str, seq: int, n: int) -> bytes:
    return frame(sender, seq, "D", [
        (11, str(n)), (21, 1), (55, "BTC/USDT"), (54, 1), (60, "20260101-00:00:00.000"),
        (38, "0.01"), (40, 2), (44, "65000.5"), (59, 1),
    ])


def logon(sock: socket.socket, sender: str) -> None:
    sock.sendall(frame(sender, 1, "A", [(98, 0), (108, 30)]))
    parser = Parser()
    while True:
        parser.feed(sock.recv(65536))
        msg = parser.next_event()
        if hasattr(msg, "get"):
            if msg.get(35) != b"A":
                raise SystemExit(f"logon refused: {msg.fields}")
            return


def connect(port: int, sender: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    logon(sock, sender)
    return sock


def throughput(port: int, count: int) -> float:
    msgs = [order("BENCH1", seq, seq) for seq in range(2, count + 2)]
    sock = connect(port, "BENCH1")
    done = threading.Event()
    got = [0]

    def reader() -> None:
        tail = b""
        n = 0
        while n < count:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            data = tail + chunk
            n += data.count(_ECHO_END)
            tail = data[-(len(_ECHO_END) - 1):]
        got[0] = n
        done.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    start = time.perf_counter()
    batch = 400
    for i in range(0, count, batch):
        sock.sendall(b"".join(msgs[i:i + batch]))
    done.wait()
    elapsed = time.perf_counter() - start
    sock.close()
    if got[0] != count:
        raise SystemExit(f"only {got[0]} of {count} echoes came back")
    return count / elapsed


def latency(port: int, rate: int, seconds: float) -> tuple[list[float], list[float]]:
    """Send on a fixed schedule, read echoes while waiting; return the sorted latencies and slips.

    One thread (no GIL hand-offs). Message ``i`` is due at ``start + i / rate``; the wait for the next
    due time is a ``select`` on the socket with a microsecond timeout (an epoll timeout is rounded up
    to whole milliseconds, which would send the messages in bursts of several). A message is stamped
    just before its ``send`` and its echo just after the ``recv`` that completed it, matched by
    ClOrdID, so a late send never counts against the acceptor; the slips (send time minus due time)
    are returned so the schedule can be checked.
    """
    count = int(rate * seconds)
    msgs = [order("BENCH2", seq, seq) for seq in range(2, count + 2)]
    sock = connect(port, "BENCH2")
    sent_at = [0.0] * (count + 2)
    recv_at = [0.0] * (count + 2)
    slips = [0.0] * count
    interval = 1.0 / rate
    wait_readable = select.select
    clock = time.perf_counter
    rlist = [sock]
    rest = b""
    received = 0
    i = 0
    start = clock() + 0.01
    due = start
    deadline = start + seconds + 30
    while received < count:
        now = clock()
        while i < count and now >= due:
            sent_at[i + 2] = now
            slips[i] = now - due
            sock.sendall(msgs[i])
            i += 1
            due = start + i * interval
            now = clock()
        if now > deadline:
            break
        timeout = due - now if i < count else 1.0
        if not wait_readable(rlist, (), (), timeout)[0]:
            continue
        chunk = sock.recv(1 << 20)  # readable: returns at once, with every echo buffered so far
        now = clock()
        if not chunk:
            break
        data = rest + chunk if rest else chunk
        cut = data.rfind(b"\x0110=")
        cut = data.find(b"\x01", cut + 4) + 1 if cut >= 0 else 0
        for m in _CLORDID.finditer(data, 0, cut):
            recv_at[int(m.group(1))] = now
            received += 1
        rest = data[cut:]
    sock.close()
    lat = sorted(recv_at[s] - sent_at[s] for s in range(2, count + 2) if recv_at[s])
    if len(lat) != count:
        print(f"warning: {count - len(lat)} echoes missing", file=sys.stderr)
    return lat, sorted(slips[:i])


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def stored_messages(store: str, sender: str) -> int:
    db = sqlite3.connect(store)
    try:
        return db.execute(
            "SELECT count(*) FROM fix_messages m JOIN fix_sessions s ON s.id = (m.key >> 32)"
            " WHERE s.target_comp_id = ?", (sender,)
        ).fetchone()[0]
    finally:
        db.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=100_000, help="messages in the throughput run")
    p.add_argument("--rate", type=int, default=5_000, help="messages per second in the latency run")
    p.add_argument("--seconds", type=float, default=5.0, help="length of the latency run")
    p.add_argument("--settle", type=float, default=3.0, help="seconds between the two runs")
    p.add_argument("--validate", action="store_true", help="validate against the FIX 4.4 dictionary")
    p.add_argument("--profile", help="write a cProfile of the acceptor process to this file")
    p.add_argument("--checkpoint", choices=("background", "auto"), default="background",
                   help="SQLite WAL checkpoints off the event loop (default) or inside commits")
    p.add_argument("--floor", action="store_true",
                   help="also run the latency client against a bare asyncio echo: this machine's floor")
    args = p.parse_args()
    from fixgw.codec import IMPLEMENTATION

    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "bench.db")
        proc, port = start_acceptor(store, args.validate, args.profile, args.checkpoint)
        gc.collect()
        gc.disable()  # the client's own collector pauses must not show in the figures
        try:
            rate = throughput(port, args.count)
            time.sleep(args.settle)  # let the store's background checkpoint absorb run 1
            lat, slips = latency(port, args.rate, args.seconds)
        finally:
            gc.enable()
            proc.terminate() if not args.profile else proc.send_signal(2)
            proc.wait(timeout=30)
        floor = None
        if args.floor:  # after the acceptor has gone, so the two do not share the machine
            floor_proc, floor_port = start_floor()
            gc.disable()
            try:
                floor, _ = latency(floor_port, args.rate, args.seconds)
            finally:
                gc.enable()
                floor_proc.kill()
                floor_proc.wait()
        print(f"codec: {IMPLEMENTATION}; validation: {'on' if args.validate else 'off'}; store: SQLite WAL, synchronous=NORMAL, {args.checkpoint} checkpoints")
        print(f"throughput: {args.count} NewOrderSingles echoed at {rate:,.0f} msg/s")
        us = 1e6
        if lat:
            print(
                f"latency at {args.rate:,} msg/s ({len(lat)} msgs): p50 {pct(lat, 50) * us:.0f} us,"
                f" p99 {pct(lat, 99) * us:.0f} us, p99.9 {pct(lat, 99.9) * us:.0f} us, max {lat[-1] * us:.0f} us"
            )
            print(f"schedule: sends late by p50 {pct(slips, 50) * us:.0f} us, p99 {pct(slips, 99) * us:.0f} us,"
                  f" max {slips[-1] * us:.0f} us")
        if floor:
            print(
                f"floor (bare asyncio echo, same client) at {args.rate:,} msg/s: p50 {pct(floor, 50) * us:.0f} us,"
                f" p99 {pct(floor, 99) * us:.0f} us, p99.9 {pct(floor, 99.9) * us:.0f} us, max {floor[-1] * us:.0f} us"
            )
        print(f"persisted: BENCH1 {stored_messages(store, 'BENCH1')} and BENCH2 {stored_messages(store, 'BENCH2')} outbound messages in the store")


if __name__ == "__main__":
    main()
