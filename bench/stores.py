"""Benchmark: the message store and the order journal on SQLite and on PostgreSQL, in the same run.

Each backend runs the same workloads for ``--seconds`` each, one after the other:

- ``messages``: one outbound message (an ExecutionReport of ~250 bytes) saved and committed at a time,
  as the session commits before every send;
- ``messages x10``: ten messages per commit (one event-loop turn that answered ten orders);
- ``journal``: one journal record appended and committed at a time;
- ``turn``: what one order costs in the gateway: two journal records (submit, accepted), the inbound
  sequence number and one outbound report, one commit.
- ``turn, pipelined``: the same turns offered at ``--rate`` per second (default 1,000) on an event loop,
  with the commits on their own thread as the gateway runs PostgreSQL (``PgWriter.pipeline_commits``):
  each turn seals (or joins) a commit and waits for it without holding the loop. Its latency is from the
  turn's writes to its commit landing (what a reply waits), and "loop held" is the longest a commit
  point held the loop. SQLite commits on the loop: "-".

Printed side by side: operations per second (messages or records) and the commit latency (p50 / p99 /
max, microseconds) of each workload. SQLite runs on a temporary file with the store's defaults (WAL,
``synchronous=NORMAL``: survives a process crash, not a power loss). PostgreSQL runs on a throwaway
cluster started for the run with the server's defaults (``fsync=on``, ``synchronous_commit=on``: a commit
is on the server's disk when it returns) unless ``--dsn`` names a server; the column
``pg async`` is the same with ``synchronous_commit=off`` (survives a crash of the gateway, may lose the
last commits on a crash of the server), the nearest to SQLite's default promise.

    python bench/stores.py                 # 2 s per workload and backend
    python bench/stores.py --seconds 5
    python bench/stores.py --dsn "host=db.internal dbname=fixgw user=fixgw"   # password: PGPASSWORD

Not a test: nothing here asserts; it prints figures. Needs psycopg and PostgreSQL's binaries (Debian:
``postgresql``) unless ``--dsn`` is given; without them only SQLite is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))

from fixgw.orders import OrderAccepted, OrderSide, OrderType, SubmitOrder  # noqa: E402
from fixgw.session import SessionID  # noqa: E402

SID = SessionID("FIX.4.4", "GATEWAY", "CLIENT")
REPORT = (
    b"8=FIX.4.4\x019=228\x0135=8\x0149=GATEWAY\x0156=CLIENT\x0134=%d\x0152=20261206-05:00:00.000\x01"
    b"37=123456789\x0111=c%d\x0117=e%d\x01150=0\x0139=0\x0155=BTCUSDT\x0154=1\x0138=1.5\x0140=2\x01"
    b"44=27000.10\x0114=0\x016=0\x01151=1.5\x0160=20261206-05:00:00.000\x0110=000\x01"
)


def _submit(n: int) -> SubmitOrder:
    return SubmitOrder(cl_ord_id=f"c{n}", symbol="BTCUSDT", side=OrderSide.BUY, order_type=OrderType.LIMIT,
                       quantity=Decimal("1.5"), price=Decimal("27000.10"), ts_ns=1_800_000_000_000_000_000 + n)


def _accepted(n: int) -> OrderAccepted:
    return OrderAccepted(order_id=f"acct-{n}", ts_ns=1_800_000_000_000_000_000 + n, venue_order_id=str(n))


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


class Result:
    def __init__(self, ops: int, elapsed: float, commits: list[float]) -> None:
        commits.sort()
        self.rate = ops / elapsed if elapsed > 0 else 0.0
        self.p50 = _percentile(commits, 0.50) * 1e6
        self.p99 = _percentile(commits, 0.99) * 1e6
        self.max = (commits[-1] if commits else float("nan")) * 1e6
        self.held = 0.0  # pipelined: the longest a commit point held the loop (µs)


def _run(seconds: float, step: Callable[[int], int], commit: Callable[[], None]) -> Result:
    """Call ``step(n)`` (returns the operations it did) then ``commit()`` until ``seconds`` passed."""
    commits: list[float] = []
    ops = 0
    n = 0
    clock = time.perf_counter
    start = clock()
    deadline = start + seconds
    while True:
        n += 1
        ops += step(n)
        t0 = clock()
        commit()
        t1 = clock()
        commits.append(t1 - t0)
        if t1 >= deadline:
            break
    return Result(ops, clock() - start, commits)


def pipelined_turns(open_store: Callable[[], Any], seconds: float, rate: float) -> Result | None:
    """``turn`` offered at ``rate`` per second with pipelined commits; None for a store without them."""
    store = open_store()
    if not hasattr(store, "pipeline_commits"):
        store.close()
        return None
    clock = time.perf_counter
    latencies: list[float] = []
    held = [0.0]

    async def main() -> int:
        store.pipeline_commits(asyncio.get_running_loop().call_soon_threadsafe)
        s = store.session_store(SessionID("FIX.4.4", "GATEWAY", "CLIENTP"))
        journal = store.journal("bench-pipelined")
        pipe = store.pipeline
        n = 0
        start = clock()
        due = start
        while due < start + seconds:
            while clock() >= due:  # every turn that is due (a late wake-up does several)
                n += 1
                t0 = clock()
                s.set_next_target_seq(n + 1)
                journal.append(_submit(n), f"acct-{n}")
                journal.append(_accepted(n))
                s.save_outbound(n, REPORT % (n, n, n))
                t1 = clock()
                s.commit()  # a commit point: seals, or joins the next commit while one is in flight
                ticket = s.covering()
                held[0] = max(held[0], clock() - t1)
                pipe.when_durable(ticket, lambda t0=t0: latencies.append(clock() - t0))
                due += 1.0 / rate
            await asyncio.sleep(max(0.0, due - clock()))
        while len(latencies) < n:
            await asyncio.sleep(0.001)
        return n

    try:
        start = clock()
        n = asyncio.run(main())
        result = Result(n, clock() - start, latencies)
        result.held = held[0] * 1e6
        return result
    finally:
        store.close()


def workloads(open_store: Callable[[], Any], seconds: float, rate: float = 1000.0) -> dict[str, Result | None]:
    """Run every workload on a fresh store from ``open_store``; return the results by name."""
    results: dict[str, Result | None] = {}

    store = open_store()
    s = store.session_store(SID)
    results["messages"] = _run(seconds, lambda n: (s.save_outbound(n, REPORT % (n, n, n)), 1)[1], s.commit)
    store.close()

    store = open_store()
    s = store.session_store(SessionID("FIX.4.4", "GATEWAY", "CLIENT10"))

    def ten(n: int) -> int:
        for k in range(10):
            seq = n * 10 + k
            s.save_outbound(seq, REPORT % (seq, seq, seq))
        return 10

    results["messages x10"] = _run(seconds, ten, s.commit)
    store.close()

    store = open_store()
    journal = store.journal("bench-journal")
    results["journal"] = _run(seconds, lambda n: (journal.append(_accepted(n)), 1)[1], journal.commit)
    store.close()

    store = open_store()
    s = store.session_store(SessionID("FIX.4.4", "GATEWAY", "CLIENTT"))
    journal = store.journal("bench-turn")

    def turn(n: int) -> int:
        s.set_next_target_seq(n + 1)
        journal.append(_submit(n), f"acct-{n}")
        journal.append(_accepted(n))
        s.save_outbound(n, REPORT % (n, n, n))
        return 1

    results["turn"] = _run(seconds, turn, s.commit)
    store.close()

    results["turn, pipelined"] = pipelined_turns(open_store, seconds, rate)
    return results


def _print(columns: dict[str, dict[str, Result | None]]) -> None:
    names = list(columns)
    units = {"messages": "msg/s", "messages x10": "msg/s", "journal": "rec/s", "turn": "orders/s",
             "turn, pipelined": "orders/s"}
    print(f"{'':<30}" + "".join(f"{name:>22}" for name in names))
    for workload in next(iter(columns.values())):
        label = f"{workload} ({units.get(workload, 'ops/s')})"
        results = [columns[n][workload] for n in names]
        print(f"{label:<30}" + "".join(f"{r.rate:>22,.0f}" if r else f"{'-':>22}" for r in results))
        what = "to durable" if workload == "turn, pipelined" else "commit"
        print(f"{f'  {what} p50/p99/max µs':<30}"
              + "".join(f"{f'{r.p50:.0f} / {r.p99:.0f} / {r.max:.0f}':>22}" if r else f"{'-':>22}"
                        for r in results))
        if workload == "turn, pipelined":
            print(f"{'  loop held, max µs':<30}"
                  + "".join(f"{getattr(r, 'held', 0):>22,.0f}" if r else f"{'-':>22}" for r in results))


def main(argv: list[str] | None = None) -> dict[str, dict[str, Result]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per workload and backend")
    parser.add_argument("--rate", type=float, default=1000.0, help="turns per second offered to the pipelined"
                        " workload (default 1000)")
    parser.add_argument("--dsn", default=None, help="a PostgreSQL server to use instead of a throwaway cluster")
    parser.add_argument("--fast-cluster", action="store_true",
                        help="throwaway cluster with fsync off (what the tests use; not a durable figure)")
    args = parser.parse_args(argv)

    columns: dict[str, dict[str, Result]] = {}
    with tempfile.TemporaryDirectory(prefix="fixgw-bench-stores-") as tmp:
        from fixgw.stores.sqlite import SqliteMessageStore

        counter = iter(range(1_000_000))

        def sqlite_store() -> Any:
            return SqliteMessageStore(Path(tmp) / f"bench-{next(counter)}.db")

        columns["sqlite"] = workloads(sqlite_store, args.seconds, args.rate)

        cluster = None
        dsn = args.dsn
        try:
            if dsn is None:
                from pg_cluster import PgCluster, find_bin_dir

                bindir = find_bin_dir()
                if bindir is None:
                    print("PostgreSQL binaries not found: only SQLite measured", file=sys.stderr)
                else:
                    cluster = PgCluster(bindir, fast=args.fast_cluster)
                    dsn = cluster.dsn()
            if dsn is not None:
                import psycopg
                from psycopg.conninfo import make_conninfo

                from fixgw.stores.postgres import PostgresMessageStore

                def pg_store(extra: str = "") -> Callable[[], Any]:
                    def open_one() -> Any:
                        schema = f"bench_{os.getpid()}_{next(counter)}"
                        with psycopg.connect(dsn, autocommit=True) as conn:
                            conn.execute(f"CREATE SCHEMA {schema}")
                        return PostgresMessageStore(make_conninfo(dsn, options=f"-csearch_path={schema}{extra}"))
                    return open_one

                columns["postgres"] = workloads(pg_store(), args.seconds, args.rate)
                columns["pg async"] = workloads(pg_store(" -csynchronous_commit=off"), args.seconds, args.rate)
        finally:
            if cluster is not None:
                cluster.stop()
    print(f"{args.seconds:g} s per workload; PostgreSQL: "
          + ("the given server" if args.dsn else "throwaway cluster, " + ("fsync off" if args.fast_cluster else "fsync on")))
    _print(columns)
    return columns


if __name__ == "__main__":
    main()
