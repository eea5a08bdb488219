"""The book: ids, lookups by every id, duplicate client order ids, commands, journaling and replay."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fixgw.errors import DuplicateClOrdID, InvalidTransition, OrderError, OverfillError, StoreError, UnknownOrder
from fixgw.orders import (
    CancelOrder,
    OrderAccepted,
    OrderBook,
    OrderCanceled,
    OrderCancelRejected,
    OrderFilled,
    OrderReplaced,
    OrderStatus,
    OrderSubmitted,
    ReplaceOrder,
)
from fixgw.stores.journal_memory import MemoryOrderJournal

from orders_helpers import limit

D = Decimal
S = OrderStatus


def working_book(journal=None):
    book = OrderBook("acct", journal)
    o = book.submit(limit("c1"))
    book.apply(OrderSubmitted(order_id=o.order_id, ts_ns=2))
    book.apply(OrderAccepted(order_id=o.order_id, ts_ns=3, venue_order_id="V1"))
    return book, o


def test_book_submit_assigns_sequential_order_ids_per_account():
    book = OrderBook("acct")
    assert [book.submit(limit(f"c{i}")).order_id for i in range(3)] == ["acct-1", "acct-2", "acct-3"]
    assert OrderBook("other").submit(limit("c0")).order_id == "other-1"


def test_book_submit_live_duplicate_clordid_raises():
    book, _ = working_book()
    with pytest.raises(DuplicateClOrdID):
        book.submit(limit("c1"))
    assert len(book) == 1


def test_book_submit_clordid_reusable_after_terminal():
    book, o = working_book()
    book.apply(OrderCanceled(order_id=o.order_id, ts_ns=4))
    o2 = book.submit(limit("c1"))
    assert o2.order_id != o.order_id and book.find(cl_ord_id="c1") is o2
    assert book.get(o.order_id) is o


def test_book_find_by_any_id_in_chain_and_venue_id():
    book, o = working_book()
    book.replace(ReplaceOrder(cl_ord_id="c2", orig_cl_ord_id="c1", quantity=D("5"), ts_ns=4))
    book.apply(OrderReplaced(order_id=o.order_id, ts_ns=5, venue_order_id="V2"))
    book.cancel(CancelOrder(cl_ord_id="c3", orig_cl_ord_id="c1", ts_ns=6))  # an old id still finds it
    for key in ("c1", "c2", "c3"):
        assert book.find(cl_ord_id=key) is o
    for key in ("V1", "V2"):
        assert book.find(venue_order_id=key) is o
        assert book.find(order_id=key) is o  # FIX OrderID may carry the venue's id
    assert book.find(order_id=o.order_id) is o
    assert book.find(cl_ord_id="nope") is None
    assert o.cl_ord_id == "c2" and o.pending_cl_ord_id == "c3"


def test_book_cancel_unknown_order_raises():
    book, _ = working_book()
    with pytest.raises(UnknownOrder):
        book.cancel(CancelOrder(cl_ord_id="c9", orig_cl_ord_id="zz", ts_ns=4))
    with pytest.raises(UnknownOrder):
        book.apply(OrderCanceled(order_id="acct-99", ts_ns=4))


def test_book_cancel_request_with_live_clordid_raises_and_journals_nothing():
    journal = MemoryOrderJournal("acct")
    book, o = working_book(journal)
    journal.commit()
    book.submit(limit("c2"))
    journal.commit()
    before = len(journal)
    with pytest.raises(DuplicateClOrdID):
        book.cancel(CancelOrder(cl_ord_id="c2", orig_cl_ord_id="c1", ts_ns=4))
    assert journal.uncommitted == 0 and len(journal) == before and o.status is S.NEW


def test_book_cancel_filled_order_raises_invalid_transition():
    book, o = working_book()
    book.apply(OrderFilled(order_id=o.order_id, ts_ns=4, trade_id="T", last_qty=D("10"), last_px=D("1")))
    with pytest.raises(InvalidTransition):
        book.cancel(CancelOrder(cl_ord_id="c2", orig_cl_ord_id="c1", ts_ns=5))


def test_book_cancel_journals_command_then_pending_event():
    journal = MemoryOrderJournal("acct")
    book, o = working_book(journal)
    journal.commit()
    n = len(journal)
    book.cancel(CancelOrder(cl_ord_id="c2", order_id=o.order_id, ts_ns=4))
    journal.commit()
    kinds = [type(r).__name__ for _, r in journal.records()][n:]
    assert kinds == ["CancelOrder", "OrderPendingCancel"]
    assert o.status is S.PENDING_CANCEL


def test_book_replace_below_cumulative_raises_overfill_and_journals_nothing():
    journal = MemoryOrderJournal("acct")
    book, o = working_book(journal)
    book.apply(OrderFilled(order_id=o.order_id, ts_ns=4, trade_id="T", last_qty=D("6"), last_px=D("1")))
    journal.commit()
    with pytest.raises(OverfillError):
        book.replace(ReplaceOrder(cl_ord_id="c2", orig_cl_ord_id="c1", quantity=D("5"), ts_ns=5))
    assert journal.uncommitted == 0 and book.find(cl_ord_id="c2") is None


def test_book_mismatched_order_id_and_orig_clordid_raises_unknown_order():
    book, o = working_book()
    book.submit(limit("other"))
    with pytest.raises(UnknownOrder):
        book.cancel(CancelOrder(cl_ord_id="c9", orig_cl_ord_id="other", order_id=o.order_id, ts_ns=4))


def test_book_open_orders_excludes_terminal():
    book, o = working_book()
    o2 = book.submit(limit("c2"))
    book.apply(OrderCanceled(order_id=o.order_id, ts_ns=4))
    assert book.open_orders() == [o2]


def test_book_recover_rebuilds_identical_book_and_exec_ids():
    journal = MemoryOrderJournal("acct", serialize=True)
    book, o = working_book(journal)
    book.apply(OrderFilled(order_id=o.order_id, ts_ns=4, trade_id="T", last_qty=D("3"), last_px=D("1.5")))
    book.cancel(CancelOrder(cl_ord_id="c2", orig_cl_ord_id="c1", ts_ns=5))
    book.apply(OrderCancelRejected(order_id=o.order_id, ts_ns=6))
    book.submit(limit("c3"))
    journal.commit()
    recovered = OrderBook.recover(journal.reopen())
    assert recovered.snapshot() == book.snapshot()
    r = recovered.get(o.order_id)
    assert r.events == o.events and r.exec_id == o.exec_id
    assert [x.order_id for x in recovered.open_orders()] == [x.order_id for x in book.open_orders()]
    assert recovered.submit(limit("c4")).order_id == "acct-3"  # the counter continues


def test_book_recover_loses_only_uncommitted_tail():
    journal = MemoryOrderJournal("acct")
    book, o = working_book(journal)
    journal.commit()
    book.apply(OrderFilled(order_id=o.order_id, ts_ns=4, trade_id="T", last_qty=D("3"), last_px=D("1")))
    recovered = OrderBook.recover(journal.reopen())
    assert recovered.get(o.order_id).status is S.NEW


def test_book_autocommit_commits_each_record():
    journal = MemoryOrderJournal("acct")
    book = OrderBook("acct", journal, autocommit=True)
    book.submit(limit("c1"))
    assert journal.uncommitted == 0 and len(journal) == 1


def test_book_refused_event_not_journaled():
    journal = MemoryOrderJournal("acct")
    book, o = working_book(journal)
    journal.commit()
    with pytest.raises(InvalidTransition):
        book.apply(OrderSubmitted(order_id=o.order_id, ts_ns=9))
    assert journal.uncommitted == 0


def test_book_duplicate_fill_not_journaled():
    journal = MemoryOrderJournal("acct")
    book, o = working_book(journal)
    f = OrderFilled(order_id=o.order_id, ts_ns=4, trade_id="T", last_qty=D("3"), last_px=D("1"))
    assert book.apply(f)
    journal.commit()
    assert book.apply(f) is False
    assert journal.uncommitted == 0


def test_book_recover_inconsistent_journal_raises_store_error():
    journal = MemoryOrderJournal("acct")
    journal.append(OrderSubmitted(order_id="acct-1", ts_ns=1))
    journal.commit()
    with pytest.raises(StoreError):
        OrderBook.recover(journal)


def test_book_with_journal_of_other_account_refused():
    with pytest.raises(OrderError):
        OrderBook("a", MemoryOrderJournal("b"))
