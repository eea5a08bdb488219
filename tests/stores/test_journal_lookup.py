"""The journal's per-order lookups (``load_order``, ``find_order_id``) for every journal, and the migration
of a SQLite file written before they existed."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from fixgw.orders import (
    CancelOrder,
    OrderAccepted,
    OrderBook,
    OrderCanceled,
    OrderFilled,
    OrderPendingCancel,
    OrderSubmitted,
)
from fixgw.orders.serial import record_to_json
from fixgw.stores.journal_sqlite import SqliteOrderJournal
from fixgw.stores.sqlite import SqliteMessageStore

from test_journal import KINDS, make_kind, submit

D = Decimal


@pytest.fixture(params=list(KINDS))
def kind(request, tmp_path):
    return make_kind(request, tmp_path)


def _two_orders(book: OrderBook) -> None:
    a = book.submit(submit("c1"))
    book.apply(OrderSubmitted(order_id=a.order_id, ts_ns=2))
    book.apply(OrderAccepted(order_id=a.order_id, ts_ns=3, venue_order_id="V1"))
    b = book.submit(submit("c2"))
    book.apply(OrderFilled(order_id=a.order_id, ts_ns=4, trade_id="T1", last_qty=D("0.5"), last_px=D(1)))
    book.cancel(CancelOrder(cl_ord_id="c3", orig_cl_ord_id="c1", ts_ns=5))
    book.apply(OrderCanceled(order_id=a.order_id, ts_ns=6))
    book.apply(OrderSubmitted(order_id=b.order_id, ts_ns=7))


def test_journal_load_order_returns_one_orders_records_in_order(kind):
    journal = kind.open()
    book = OrderBook("acct", journal)
    _two_orders(book)
    journal.commit()
    journal = kind.reopen(journal)
    records = journal.load_order("acct-1")
    kinds = [type(r).__name__ for r in records]
    assert kinds == ["SubmitOrder", "OrderSubmitted", "OrderAccepted", "OrderFilled", "CancelOrder",
                     "OrderPendingCancel", "OrderCanceled"]
    assert records[0].cl_ord_id == "c1"
    assert [type(r).__name__ for r in journal.load_order("acct-2")] == ["SubmitOrder", "OrderSubmitted"]
    assert journal.load_order("acct-3") == [] and journal.load_order("V1") == []


def test_journal_load_order_before_stops_at_that_sequence(kind):
    journal = kind.open()
    book = OrderBook("acct", journal)
    _two_orders(book)
    journal.commit()
    seqs = [seq for seq, r in journal.records() if getattr(r, "order_id", None) == "acct-1"
            or getattr(r, "cl_ord_id", None) == "c1"]
    assert len(journal.load_order("acct-1", seqs[3])) == 3


def test_journal_find_order_id_newest_user_of_each_id(kind):
    journal = kind.open()
    book = OrderBook("acct", journal)
    _two_orders(book)
    c = book.submit(submit("c1"))  # c1 is free again (acct-1 is canceled): now it names acct-3
    journal.commit()
    assert c.order_id == "acct-3"
    journal = kind.reopen(journal)
    assert journal.find_order_id(cl_ord_id="c1") == "acct-3"
    assert journal.find_order_id(cl_ord_id="c3") == "acct-1"  # a cancel request's own id
    assert journal.find_order_id(cl_ord_id="c2") == "acct-2"
    assert journal.find_order_id(venue_order_id="V1") == "acct-1"
    assert journal.find_order_id(cl_ord_id="nope", venue_order_id="V1") == "acct-1"
    assert journal.find_order_id(cl_ord_id="nope") is None and journal.find_order_id() is None


def test_journal_lookups_see_uncommitted_appends_and_lose_them_on_reopen(kind):
    journal = kind.open()
    journal.append(submit("c1"), "acct-1")
    journal.append(OrderAccepted(order_id="acct-1", ts_ns=3, venue_order_id="V1"))
    assert len(journal.load_order("acct-1")) == 2
    assert journal.find_order_id(venue_order_id="V1") == "acct-1"
    journal = kind.reopen(journal)
    assert journal.load_order("acct-1") == [] and journal.find_order_id(cl_ord_id="c1") is None


def test_journal_accounts_lookups_kept_apart(kind):
    a, b = kind.open("a"), kind.open("b")
    a.append_and_commit(submit("c1"), "a-1")
    b.append_and_commit(submit("c1"), "b-1")
    assert a.find_order_id(cl_ord_id="c1") == "a-1" and b.find_order_id(cl_ord_id="c1") == "b-1"
    assert a.load_order("b-1") == []


_OLD_SCHEMA = (
    "CREATE TABLE order_journal (seq INTEGER PRIMARY KEY, account TEXT NOT NULL, kind TEXT NOT NULL,"
    " order_id TEXT, ts_ns INTEGER NOT NULL, body TEXT NOT NULL)"
)


def test_sqlite_journal_old_file_migrated_lookups_work_and_book_recovers(tmp_path):
    path = tmp_path / "old.sqlite"
    records = [
        submit("c1"),
        OrderSubmitted(order_id="acct-1", ts_ns=2),
        OrderAccepted(order_id="acct-1", ts_ns=3, venue_order_id="V1"),
        submit("c2"),
        CancelOrder(cl_ord_id="c3", orig_cl_ord_id="c1", ts_ns=5),
        OrderPendingCancel(order_id="acct-1", ts_ns=5, cl_ord_id="c3"),
        OrderCanceled(order_id="acct-1", ts_ns=6),
    ]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(_OLD_SCHEMA)
    for r in records:  # the rows as the journal wrote them before: order ids of events only
        oid = r.order_id if hasattr(type(r), "exec_type") else None
        conn.execute("INSERT INTO order_journal (account, kind, order_id, ts_ns, body) VALUES (?, ?, ?, ?, ?)",
                     ("acct", type(r).__name__, oid, r.ts_ns, record_to_json(r)))
    conn.execute("INSERT INTO order_journal (account, kind, order_id, ts_ns, body) VALUES (?, ?, ?, ?, ?)",
                 ("other", "SubmitOrder", None, 1, record_to_json(submit("c1"))))
    conn.close()

    journal = SqliteOrderJournal(path, "acct")
    assert [type(r).__name__ for r in journal.load_order("acct-1")] == [
        "SubmitOrder", "OrderSubmitted", "OrderAccepted", "OrderPendingCancel", "OrderCanceled"]
    assert journal.find_order_id(cl_ord_id="c2") == "acct-2"
    assert journal.find_order_id(cl_ord_id="c3") == "acct-1"
    assert journal.find_order_id(venue_order_id="V1") == "acct-1"
    assert SqliteOrderJournal(path, "other").find_order_id(cl_ord_id="c1") == "other-1"
    book = OrderBook.recover(journal, retention=0)
    assert [o.order_id for o in book.open_orders()] == ["acct-2"] and len(book) == 1
    assert book.find(cl_ord_id="c1").status.value == "canceled"
    journal.close()
    SqliteOrderJournal(path, "acct").close()  # opening a migrated file again changes nothing


def test_sqlite_store_journal_lookup_keys_committed_with_the_store(tmp_path):
    store = SqliteMessageStore(tmp_path / "gw.sqlite", checkpoint="auto")
    journal = store.journal("acct")
    journal.append(submit("c1"), "acct-1")
    store.commit()  # the owner's commit carries the journal's rows and their keys
    store.connection.close()
    again = SqliteMessageStore(tmp_path / "gw.sqlite", checkpoint="auto").journal("acct")
    assert again.find_order_id(cl_ord_id="c1") == "acct-1"
    assert len(again.load_order("acct-1")) == 1
