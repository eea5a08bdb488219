"""Order model and journal throughput: events applied per second, journal appends per second.

Run: ``python bench/orders.py [--orders N] [--batch B] [--dir PATH]``. Each order sees 10 events
(submitted, accepted, 8 fills); events are built before timing, so the figures are for applying and
journaling only. SQLite runs on a file in ``--dir`` (default: the system temp dir) with the default
durability setting (WAL, synchronous=NORMAL), and with FULL for comparison.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from decimal import Decimal

from fixgw.orders import (
    Order,
    OrderAccepted,
    OrderBook,
    OrderFilled,
    OrderSide,
    OrderSubmitted,
    OrderType,
    SubmitOrder,
)
from fixgw.stores.journal_memory import MemoryOrderJournal
from fixgw.stores.journal_sqlite import SqliteOrderJournal

FILLS = 8


def workload(n_orders: int, account: str = "bench"):
    """Return [(SubmitOrder, [events...]), ...] for n orders of 8 @ 100.xx, filled in 8 trades."""
    work = []
    for i in range(n_orders):
        order_id = f"{account}-{i + 1}"
        cmd = SubmitOrder(
            cl_ord_id=f"c{i}",
            symbol="BTCUSDT",
            side=OrderSide.BUY,
            order_type=OrderType.LIMIT,
            quantity=Decimal("8.000"),
            price=Decimal("100.25"),
            ts_ns=i,
        )
        events = [OrderSubmitted(order_id=order_id, ts_ns=i), OrderAccepted(order_id=order_id, ts_ns=i, venue_order_id=f"V{i}")]
        for k in range(FILLS):
            events.append(
                OrderFilled(
                    order_id=order_id,
                    ts_ns=i,
                    trade_id=f"t{i}-{k}",
                    last_qty=Decimal("1.000"),
                    last_px=Decimal(f"100.{10 + k}"),
                    fee=Decimal("0.0001"),
                    fee_currency="BNB",
                )
            )
        work.append((cmd, events))
    return work


def bench_order_apply(work) -> tuple[int, float]:
    orders = [Order(f"bench-{i + 1}", "bench", cmd) for i, (cmd, _) in enumerate(work)]
    t0 = time.perf_counter()
    n = 0
    for order, (_, events) in zip(orders, work):
        apply = order.apply
        for e in events:
            apply(e)
        n += len(events)
    return n, time.perf_counter() - t0


def bench_book(work, journal=None, *, autocommit=False, batch=0) -> tuple[int, float]:
    book = OrderBook("bench", journal, autocommit=autocommit)
    t0 = time.perf_counter()
    n = 0
    for cmd, events in work:
        book.submit(cmd)
        n += 1
        for e in events:
            book.apply(e)
            n += 1
            if batch and n % batch == 0:
                journal.commit()
    if journal is not None:
        journal.commit()
    return n, time.perf_counter() - t0


def bench_journal(journal, records, *, batch: int) -> tuple[int, float]:
    t0 = time.perf_counter()
    if batch <= 1:
        for r in records:
            journal.append_and_commit(r)
    else:
        for i, r in enumerate(records, 1):
            journal.append(r)
            if i % batch == 0:
                journal.commit()
        journal.commit()
    return len(records), time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5000, help="orders in the workload (10 events each)")
    parser.add_argument("--batch", type=int, default=100, help="records per commit in batched runs")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the SQLite files go")
    args = parser.parse_args()

    work = workload(args.orders)
    records = [cmd for cmd, _ in work] + [e for _, events in work for e in events]
    per_commit = records[: min(len(records), 5000)]  # per-record commits are slow; keep the run short
    rows: list[tuple[str, int, float]] = []

    rows.append(("Order.apply (no book, no journal)", *bench_order_apply(workload(args.orders))))
    rows.append(("OrderBook submit+apply, no journal", *bench_book(workload(args.orders))))
    rows.append(("OrderBook + memory journal", *bench_book(workload(args.orders), MemoryOrderJournal("bench"))))

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:

        def sqlite(name: str, sync: str = "NORMAL") -> SqliteOrderJournal:
            return SqliteOrderJournal(os.path.join(tmp, name), "bench", synchronous=sync)

        rows.append(
            (f"OrderBook + SQLite NORMAL, commit/{args.batch}", *bench_book(workload(args.orders), sqlite("b1"), batch=args.batch))
        )
        small = workload(min(args.orders, 500))
        rows.append(("OrderBook + SQLite NORMAL, commit/event", *bench_book(small, sqlite("b2"), autocommit=True)))
        for sync in ("NORMAL", "FULL"):
            rows.append((f"SQLite {sync} append, commit/{args.batch}", *bench_journal(sqlite(f"j{sync}b", sync), records, batch=args.batch)))
            rows.append((f"SQLite {sync} append, commit/record", *bench_journal(sqlite(f"j{sync}1", sync), per_commit, batch=1)))
        rows.append(("memory journal append (JSON), commit/record",
                     *bench_journal(MemoryOrderJournal("bench", serialize=True), records, batch=1)))

    width = max(len(name) for name, _, _ in rows)
    print(f"{'measure':<{width}}  {'ops':>8}  {'seconds':>8}  {'ops/s':>10}")
    for name, n, seconds in rows:
        print(f"{name:<{width}}  {n:>8}  {seconds:>8.3f}  {n / seconds:>10,.0f}")


if __name__ == "__main__":
    main()
