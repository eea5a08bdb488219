"""Bounded books: finished orders leave memory and are answered from the journal exactly as before.

A book with a small retention must be indistinguishable, through its public lookups and commands,
from a book that keeps every order: same answers, same refusals, same state after late events.
"""

from __future__ import annotations

import sqlite3
import tracemalloc
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixgw.errors import OrderError
from fixgw.orders import (
    CancelOrder,
    OrderAccepted,
    OrderBook,
    OrderCanceled,
    OrderCancelRejected,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderReplaced,
    OrderSubmitted,
    ReplaceOrder,
)
from fixgw.stores.journal_memory import MemoryOrderJournal
from fixgw.stores.journal_sqlite import SqliteOrderJournal

from orders_helpers import limit

D = Decimal
CL_IDS = [f"c{i}" for i in range(5)]
TRADES = [f"T{i}" for i in range(4)]


def memory_journal() -> MemoryOrderJournal:
    return MemoryOrderJournal("acct", serialize=True)


def sqlite_journal() -> SqliteOrderJournal:
    return SqliteOrderJournal(sqlite3.connect(":memory:", isolation_level=None), "acct")


JOURNALS = {"memory": memory_journal, "sqlite": sqlite_journal}

# One step: (kind, order index, client order id index, extra).
steps = st.lists(
    st.tuples(
        st.sampled_from(
            ["submit", "submit", "accept", "fill", "fill", "cancel", "cancel_by_id", "canceled", "cancel_reject",
             "replace", "replaced", "expire", "reject", "lookup"]
        ),
        st.integers(0, 3),
        st.integers(0, len(CL_IDS) - 1),
        st.integers(0, len(TRADES) - 1),
    ),
    max_size=40,
)


def _run(book: OrderBook, step: tuple[str, int, int, int], ts: int):
    """Apply one step; return what a caller sees (a result or the error type)."""
    kind, k, c, t = step
    oid = f"acct-{k + 1}"
    cl = CL_IDS[c]
    try:
        if kind == "submit":
            return book.submit(limit(cl, quantity="3")).order_id
        if kind == "accept":
            book.apply(OrderSubmitted(order_id=oid, ts_ns=ts))
            return book.apply(OrderAccepted(order_id=oid, ts_ns=ts, venue_order_id=f"V{k}"))
        if kind == "fill":
            return book.apply(OrderFilled(order_id=oid, ts_ns=ts, trade_id=TRADES[t], last_qty=D(1),
                                          last_px=D(100), venue_order_id=f"V{k}"))
        if kind == "cancel":
            return book.cancel(CancelOrder(cl_ord_id=f"x{ts}", ts_ns=ts, orig_cl_ord_id=cl)).order_id
        if kind == "cancel_by_id":
            target = f"V{k}" if t % 2 else oid
            return book.cancel(CancelOrder(cl_ord_id=cl, ts_ns=ts, order_id=target)).order_id
        if kind == "canceled":
            return book.apply(OrderCanceled(order_id=oid, ts_ns=ts))
        if kind == "cancel_reject":
            return book.apply(OrderCancelRejected(order_id=oid, ts_ns=ts))
        if kind == "replace":
            return book.replace(ReplaceOrder(cl_ord_id=f"r{ts}", ts_ns=ts, orig_cl_ord_id=cl, order_id=oid,
                                             quantity=D(4), price=D(99))).order_id
        if kind == "replaced":
            return book.apply(OrderReplaced(order_id=oid, ts_ns=ts, venue_order_id=f"W{k}-{ts}"))
        if kind == "expire":
            return book.apply(OrderExpired(order_id=oid, ts_ns=ts))
        if kind == "reject":
            return book.apply(OrderRejected(order_id=oid, ts_ns=ts, reason="no"))
        return _lookups(book, k, cl)
    except OrderError as exc:
        return type(exc).__name__


def _state(order):
    return None if order is None else order.snapshot()


def _lookups(book: OrderBook, k: int, cl: str):
    oid = f"acct-{k + 1}"
    return (
        _state(book.find(order_id=oid)),
        _state(book.find(order_id=f"V{k}")),
        _state(book.find(venue_order_id=f"V{k}")),
        _state(book.find(cl_ord_id=cl)),
        oid in book,
        tuple(o.order_id for o in book.open_orders()),
    )


def _every_lookup(book: OrderBook, n: int, extra_cl: list[str]):
    return [_lookups(book, k, cl) for k in range(n) for cl in CL_IDS[:1]] + [
        _state(book.find(cl_ord_id=cl)) for cl in CL_IDS + extra_cl
    ]


@pytest.mark.parametrize("journal_kind", sorted(JOURNALS))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(retention=st.integers(0, 3), script=steps)
def test_book_retention_any_script_answers_like_unlimited_book(journal_kind, retention, script):
    make = JOURNALS[journal_kind]
    full = OrderBook("acct", make(), autocommit=True)
    bounded = OrderBook("acct", make(), autocommit=True, retention=retention)
    for ts, step in enumerate(script, start=10):
        assert _run(bounded, step, ts) == _run(full, step, ts), step
        assert len(bounded) <= len(bounded.open_orders()) + retention + 1
    extra = [f"x{ts}" for ts in range(10, 10 + len(script))] + [f"r{ts}" for ts in range(10, 10 + len(script))]
    assert _every_lookup(bounded, 9, extra) == _every_lookup(full, 9, extra)
    assert bounded.submitted == full.submitted

    # A restart: both recover from their journals; the bounded one holds open orders plus the window.
    full2 = OrderBook.recover(full.journal)
    bounded2 = OrderBook.recover(bounded.journal, retention=retention)
    assert len(bounded2) <= len(bounded2.open_orders()) + retention + 1
    assert [o.snapshot() for o in bounded2.open_orders()] == [o.snapshot() for o in full2.open_orders()]
    assert _every_lookup(bounded2, 9, extra) == _every_lookup(full2, 9, extra)
    # ... and keeps answering late events and new submits the same way.
    for ts, step in enumerate(script[:10], start=1000):
        assert _run(bounded2, step, ts) == _run(full2, step, ts), step
    assert bounded2.submitted == full2.submitted


def _done_order(book: OrderBook, i: int) -> str:
    o = book.submit(limit(f"c{i}", quantity="1"))
    book.apply(OrderSubmitted(order_id=o.order_id, ts_ns=2))
    book.apply(OrderAccepted(order_id=o.order_id, ts_ns=3, venue_order_id=f"V{i}"))
    book.apply(OrderFilled(order_id=o.order_id, ts_ns=4, trade_id=f"T{i}", last_qty=D(1), last_px=D(100)))
    return o.order_id


@pytest.mark.parametrize("journal_kind", sorted(JOURNALS))
def test_book_retention_evicted_order_late_fill_reaches_it_duplicate_dropped(journal_kind):
    book = OrderBook("acct", JOURNALS[journal_kind](), autocommit=True, retention=0)
    o = book.submit(limit("c1", quantity="3"))
    book.apply(OrderSubmitted(order_id=o.order_id, ts_ns=2))
    book.apply(OrderAccepted(order_id=o.order_id, ts_ns=3, venue_order_id="V1"))
    book.apply(OrderFilled(order_id=o.order_id, ts_ns=4, trade_id="T1", last_qty=D(1), last_px=D(100)))
    book.cancel(CancelOrder(cl_ord_id="c1-x", ts_ns=5, orig_cl_ord_id="c1"))
    book.apply(OrderCanceled(order_id=o.order_id, ts_ns=6))
    assert len(book) == 0 and "acct-1" in book
    late = OrderFilled(order_id="acct-1", ts_ns=7, trade_id="T2", last_qty=D(1), last_px=D(101))
    assert book.apply(late) is True
    assert len(book) == 0
    assert book.apply(late) is False  # the duplicate: its trade id came back with the replay
    again = book.get("acct-1")
    assert again.cum_qty == D(2) and again.trade_ids == {"T1", "T2"}
    assert book.find(cl_ord_id="c1-x") is again and book.find(venue_order_id="V1") is again


def test_book_retention_done_client_order_id_free_live_one_refused():
    book = OrderBook("acct", memory_journal(), autocommit=True, retention=0)
    _done_order(book, 1)
    reused = book.submit(limit("c1"))  # free again: its order is done (and gone from memory)
    assert book.find(cl_ord_id="c1") is reused
    with pytest.raises(OrderError):
        book.submit(limit("c1"))
    assert book.find(order_id="acct-1").cl_ord_id == "c1"


def test_book_retention_bounded_memory_twenty_thousand_orders():
    journal = SqliteOrderJournal(sqlite3.connect(":memory:", isolation_level=None), "acct")
    book = OrderBook("acct", journal, retention=100)
    for i in range(17_000):
        _done_order(book, i)
        if i % 3 == 0:
            book.submit(limit(f"open{i}", quantity="1"))  # stays open
        journal.commit()
        if i % 1_000 == 0:
            assert len(book) <= len(book.open_orders()) + 100
    tracemalloc.start()  # the last 3,000 finished orders, measured: they leave nothing behind
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(17_000, 20_000):
            _done_order(book, i)
            journal.commit()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(book) <= len(book.open_orders()) + 100
    assert book.submitted == 20_000 + len(book.open_orders())
    assert grown / 3_000 < 100, grown  # bytes per finished order (an order in memory is ~1-2 KB)
    assert book.find(cl_ord_id="c5").order_id == "acct-8"  # c3 was followed by an open order


def test_book_retention_unlimited_keeps_every_order():
    book = OrderBook("acct", memory_journal(), autocommit=True)
    for i in range(50):
        _done_order(book, i)
    assert len(book) == 50 and book.finished_in_memory == 0


def test_book_retention_refuses_negative():
    with pytest.raises(OrderError):
        OrderBook("acct", retention=-1)


def test_book_live_order_only_while_open():
    book = OrderBook("acct", memory_journal(), autocommit=True, retention=0)
    _done_order(book, 1)
    assert book.live_order("c1") is None and book.find(cl_ord_id="c1") is not None
    o = book.submit(limit("c1"))
    assert book.live_order("c1") is o and book.live_order("zz") is None
