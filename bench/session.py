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

The acceptor validates every message against the FIX 4.4 dictionary, as in production; ``--no-validate``
turns that off for a comparison, and ``--compare`` runs both in turn (validation on first, each on a fresh
acceptor and store) and prints them side by side with their ratio, which a noisy machine disturbs less
than either figure.

Every echo is saved in the SQLite store and committed before it is written (the engine commits in
``data_to_send()``). Afterwards the script opens the store and checks, for each of the two sessions, that
the outbound messages are numbered 1..n without a gap and that every echo the client received (by
ClOrdID) is among them; it then deletes one stored echo inside a transaction it rolls back and checks the
check notices, so a blind check cannot pass. Any failure ends the run with exit status 1.

    python bench/session.py                   # 100k messages, then 5,000 msg/s for 5 s, validation on
    python bench/session.py --no-validate     # the same without dictionary validation
    python bench/session.py --compare         # both, side by side
    python bench/session.py --profile out.prof  # cProfile the acceptor process
    python bench/session.py --floor           # also time a bare asyncio echo: the machine's own tail

Not a test: apart from the store check it asserts nothing; it prints figures, which depend on the
machine and its load.
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
_SEQ_MASK = (1 << 32) - 1  # the store keys a message by (session row << 32) | MsgSeqNum


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


def _complete(data: bytes) -> int:
    """Length of the prefix of ``data`` that ends with a whole message (after its CheckSum field)."""
    cut = data.rfind(b"\x0110=")
    return data.find(b"\x01", cut + 4) + 1 if cut >= 0 else 0


def throughput(port: int, count: int, echoed: set[bytes]) -> float:
    """Write ``count`` orders as fast as the socket takes them; add the echoed ClOrdIDs to ``echoed``."""
    msgs = [order("BENCH1", seq, seq) for seq in range(2, count + 2)]
    sock = connect(port, "BENCH1")
    done = threading.Event()
    got = [0]

    def reader() -> None:
        rest = b""
        n = 0
        while n < count:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            data = rest + chunk if rest else chunk
            cut = _complete(data)
            for m in _CLORDID.finditer(data, 0, cut):
                echoed.add(m.group(1))
                n += 1
            rest = data[cut:]
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


def latency(port: int, rate: int, seconds: float, echoed: set[bytes] | None = None) -> tuple[list[float], list[float]]:
    """Send on a fixed schedule, read echoes while waiting; return the sorted latencies and slips.

    One thread (no GIL hand-offs). Message ``i`` is due at ``start + i / rate``; the wait for the next
    due time is a ``select`` on the socket with a microsecond timeout (an epoll timeout is rounded up
    to whole milliseconds, which would send the messages in bursts of several). A message is stamped
    just before its ``send`` and its echo just after the ``recv`` that completed it, matched by
    ClOrdID, so a late send never counts against the acceptor; the slips (send time minus due time)
    are returned so the schedule can be checked. The echoed ClOrdIDs are added to ``echoed``.
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
        cut = _complete(data)
        for m in _CLORDID.finditer(data, 0, cut):
            recv_at[int(m.group(1))] = now
            received += 1
            if echoed is not None:
                echoed.add(m.group(1))
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


def _scan(db: sqlite3.Connection, sender: str) -> tuple[int, list[int], dict[bytes, int]] | None:
    """(next_sender_seq, stored sequence numbers, ClOrdID -> key of its stored NewOrderSingle), or None."""
    row = db.execute("SELECT id, next_sender_seq FROM fix_sessions WHERE target_comp_id = ?", (sender,)).fetchone()
    if row is None:
        return None
    base = row[0] << 32
    seqs: list[int] = []
    orders: dict[bytes, int] = {}
    for key, raw in db.execute("SELECT key, raw FROM fix_messages WHERE key BETWEEN ? AND ? ORDER BY key",
                               (base, base | _SEQ_MASK)):
        seqs.append(key & _SEQ_MASK)
        raw = bytes(raw)
        m = _CLORDID.search(raw) if b"\x0135=D\x01" in raw else None
        if m:
            orders[m.group(1)] = key
    return row[1], seqs, orders


def check_store(db: sqlite3.Connection, sender: str, echoed: set[bytes]) -> list[str]:
    """Problems with the acceptor's store for the session with ``sender``; empty when it holds everything.

    The outbound messages must be numbered 1 .. next_sender_seq - 1 without a gap, and every ClOrdID in
    ``echoed`` (the echoes the client received) must be in a stored NewOrderSingle.
    """
    scan = _scan(db, sender)
    if scan is None:
        return [f"{sender}: no session in the store"]
    next_seq, seqs, orders = scan
    problems = []
    if seqs != list(range(1, next_seq)):
        gaps = sorted(set(range(1, next_seq)) - set(seqs))
        problems.append(f"{sender}: {len(seqs)} outbound messages stored, numbered 1..{next_seq - 1} expected; "
                        f"missing {len(gaps)} (first {gaps[:5]})")
    lost = echoed - orders.keys()
    if lost:
        problems.append(f"{sender}: {len(lost)} of {len(echoed)} echoes not in the store "
                        f"(ClOrdID {sorted(lost, key=int)[:5]})")
    return problems


def verify_store(store: str, echoed: dict[str, set[bytes]]) -> list[str]:
    """Check every session (``check_store``), then prove the check can fail.

    The stored echo of one received ClOrdID is deleted inside a transaction that is rolled back; a check
    that does not notice the loss is reported as a problem itself.
    """
    db = sqlite3.connect(store, isolation_level=None)
    try:
        problems = [p for sender, ids in echoed.items() for p in check_store(db, sender, ids)]
        sender, ids = next(((k, v) for k, v in echoed.items() if v), (None, set()))
        if sender is None:
            return problems + ["no echo was received: nothing to check"]
        scan = _scan(db, sender)
        victim = next((cl for cl in ids if scan and cl in scan[2]), None)
        if scan is None or victim is None:
            return problems  # already reported: nothing of this session is stored
        db.execute("BEGIN")
        try:
            db.execute("DELETE FROM fix_messages WHERE key = ?", (scan[2][victim],))
            if not check_store(db, sender, ids):
                problems.append(f"store check is blind: deleting the echo of ClOrdID {victim.decode()} went unnoticed")
        finally:
            db.execute("ROLLBACK")
        return problems
    finally:
        db.close()


def run_once(args: argparse.Namespace, validate: bool) -> dict:
    """One acceptor (fresh store): the throughput run, the paced run, the store check."""
    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "bench.db")
        proc, port = start_acceptor(store, validate, args.profile, args.checkpoint)
        echoed: dict[str, set[bytes]] = {"BENCH1": set(), "BENCH2": set()}
        gc.collect()
        gc.disable()  # the client's own collector pauses must not show in the figures
        try:
            rate = throughput(port, args.count, echoed["BENCH1"])
            time.sleep(args.settle)  # let the store's background checkpoint absorb run 1
            lat, slips = latency(port, args.rate, args.seconds, echoed["BENCH2"])
        finally:
            gc.enable()
            proc.terminate() if not args.profile else proc.send_signal(2)
            proc.wait(timeout=30)
        return {"validate": validate, "rate": rate, "lat": lat, "slips": slips,
                "stored": {k: stored_messages(store, k) for k in echoed},
                "echoed": {k: len(v) for k, v in echoed.items()},
                "problems": verify_store(store, echoed)}


def report(run: dict, args: argparse.Namespace) -> None:
    from fixgw.codec import IMPLEMENTATION

    us = 1e6
    lat, slips = run["lat"], run["slips"]
    print(f"codec: {IMPLEMENTATION}; validation: {'on' if run['validate'] else 'off'}; store: SQLite WAL, "
          f"synchronous=NORMAL, {args.checkpoint} checkpoints")
    print(f"throughput: {args.count} NewOrderSingles echoed at {run['rate']:,.0f} msg/s")
    if lat:
        print(
            f"latency at {args.rate:,} msg/s ({len(lat)} msgs): p50 {pct(lat, 50) * us:.0f} us,"
            f" p99 {pct(lat, 99) * us:.0f} us, p99.9 {pct(lat, 99.9) * us:.0f} us, max {lat[-1] * us:.0f} us"
        )
        print(f"schedule: sends late by p50 {pct(slips, 50) * us:.0f} us, p99 {pct(slips, 99) * us:.0f} us,"
              f" max {slips[-1] * us:.0f} us")
    print("persisted: " + ", ".join(f"{k} {run['stored'][k]} outbound messages for {run['echoed'][k]} echoes received"
                                    for k in run["stored"]))
    if run["problems"]:
        for p in run["problems"]:
            print(f"store check FAILED: {p}")
    else:
        print("store check: every echo received is in the store, outbound numbers without a gap "
              "(and the check catches a deleted echo)")


def side_by_side(on: dict, off: dict) -> None:
    us = 1e6
    rows = [("throughput, msg/s", on["rate"], off["rate"])]
    if on["lat"] and off["lat"]:
        rows += [(f"latency p{p:g}, us", pct(on["lat"], p) * us, pct(off["lat"], p) * us) for p in (50, 99, 99.9)]
    print(f"\n{'validation':<22} {'on':>10} {'off':>10} {'on/off':>8}")
    for label, a, b in rows:
        print(f"{label:<22} {a:>10,.0f} {b:>10,.0f} {a / b if b else float('nan'):>8.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=100_000, help="messages in the throughput run")
    p.add_argument("--rate", type=int, default=5_000, help="messages per second in the latency run")
    p.add_argument("--seconds", type=float, default=5.0, help="length of the latency run")
    p.add_argument("--settle", type=float, default=3.0, help="seconds between the two runs")
    v = p.add_mutually_exclusive_group()
    v.add_argument("--validate", action="store_true",
                   help="validate against the FIX 4.4 dictionary (the default, as in production)")
    v.add_argument("--no-validate", action="store_true", help="do not validate: the comparison figure")
    v.add_argument("--compare", action="store_true", help="validation on, then off, side by side")
    p.add_argument("--profile", help="write a cProfile of the acceptor process to this file")
    p.add_argument("--checkpoint", choices=("background", "auto"), default="background",
                   help="SQLite WAL checkpoints off the event loop (default) or inside commits")
    p.add_argument("--floor", action="store_true",
                   help="also run the latency client against a bare asyncio echo: this machine's floor")
    args = p.parse_args()
    if args.count < 1 or args.rate < 1 or args.seconds <= 0:
        p.error("--count, --rate and --seconds must be positive")

    runs = [run_once(args, not args.no_validate)]
    if args.compare:
        time.sleep(args.settle)
        runs.append(run_once(args, False))
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
    for n, run in enumerate(runs):
        if n:
            print()
        report(run, args)
    if len(runs) == 2:
        side_by_side(*runs)
    if floor:
        us = 1e6
        print(
            f"floor (bare asyncio echo, same client) at {args.rate:,} msg/s: p50 {pct(floor, 50) * us:.0f} us,"
            f" p99 {pct(floor, 99) * us:.0f} us, p99.9 {pct(floor, 99.9) * us:.0f} us, max {floor[-1] * us:.0f} us"
        )
    if any(run["problems"] for run in runs):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
