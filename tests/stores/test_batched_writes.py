"""Batched writes: journal rows and outbound messages wait in memory until the commit inserts them
(one ``executemany`` each), sequence numbers come from memory, a submit's ``OrderSubmitted`` shares
its row, and every read still sees every write."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.orders import OrderAccepted, OrderExpired, OrderSubmitted, SubmitOrder
from fixgw.orders.enums import OrderSide, OrderType, TimeInForce
from fixgw.session import SessionID
from fixgw.stores.journal_sqlite import SqliteOrderJournal
from fixgw.stores.sqlite import SqliteMessageStore

SID = SessionID("FIX.4.4", "GATEWAY", "CLIENT")


def submit(n: int, ts: int) -> SubmitOrder:
    return SubmitOrder(cl_ord_id=f"C{n}", symbol="BTCUSDT", side=OrderSide.BUY, order_type=OrderType.LIMIT, ts_ns=ts,
                       quantity=Decimal("1"), price=Decimal("100"), time_in_force=TimeInForce.IOC)


def rows(path) -> list[tuple[int, str, str | None]]:
    """(seq, kind, order_id) of every journal row, as another connection sees them."""
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT seq, kind, order_id FROM order_journal ORDER BY seq").fetchall()
    finally:
        db.close()


def test_batched_writes_nothing_inserted_before_commit_everything_after(tmp_path):
    path = tmp_path / "gw.db"
    with SqliteMessageStore(path) as store:
        s = store.session_store(SID)
        journal = store.journal("acct")
        journal.append(OrderAccepted(order_id="acct-1", ts_ns=1, venue_order_id="V1"))
        s.save_outbound(1, b"report-1")
        s.save_outbound(2, bytearray(b"report-2"))
        conn = store.connection
        assert conn.execute("SELECT count(*) FROM fix_messages").fetchone()[0] == 0  # still in memory
        store.commit()
        assert conn.execute("SELECT count(*) FROM fix_messages").fetchone()[0] == 2
        assert rows(path) == [(1, "OrderAccepted", "acct-1")]
        assert s.fetch(1, 0) == [(1, b"report-1"), (2, b"report-2")]


def test_batched_writes_fetch_and_lookups_see_uncommitted_writes(tmp_path):
    with SqliteMessageStore(tmp_path / "gw.db") as store:
        s = store.session_store(SID)
        journal = store.journal("acct")
        s.save_outbound(1, b"one")
        seq = journal.append(submit(1, 5), "acct-1")
        journal.append(OrderAccepted(order_id="acct-1", ts_ns=6, venue_order_id="V1"))
        assert s.fetch(1, 1) == [(1, b"one")]
        assert journal.find_order_id(cl_ord_id="C1") == "acct-1"
        assert journal.find_order_id(venue_order_id="V1") == "acct-1"
        assert [type(r).__name__ for r in journal.load_order("acct-1")] == ["SubmitOrder", "OrderAccepted"]
        assert journal.load_order("acct-1", before=seq + 1) == [submit(1, 5)]


def test_batched_writes_reset_drops_messages_saved_in_the_same_batch(tmp_path):
    with SqliteMessageStore(tmp_path / "gw.db") as store:
        s = store.session_store(SID)
        s.save_outbound(1, b"one")
        s.save_outbound(2, b"two")
        s.reset(7)
        s.save_outbound(1, b"new-one")
        store.commit()
        assert s.fetch(1, 0) == [(1, b"new-one")]


def test_batched_writes_uncommitted_rows_are_lost_with_the_process(tmp_path):
    path = tmp_path / "gw.db"
    store = SqliteMessageStore(path)
    journal = store.journal("acct")
    session = store.session_store(SID)
    journal.append(OrderAccepted(order_id="acct-1", ts_ns=1, venue_order_id="V1"))
    store.commit()
    journal.append(OrderAccepted(order_id="acct-2", ts_ns=2, venue_order_id="V2"))
    session.save_outbound(1, b"lost")
    # No commit: what another process reading the file finds is what a restart would find.
    assert rows(path) == [(1, "OrderAccepted", "acct-1")]
    store._closed = True  # as if killed: nothing flushed
    store._db.close()
    with SqliteMessageStore(path) as again:
        j = again.journal("acct")
        assert j.append(OrderAccepted(order_id="acct-3", ts_ns=3, venue_order_id="V3")) == 2  # seq after the last row
        again.commit()
        assert [seq for seq, _ in j.records()] == [1, 2]


def test_batched_writes_submit_and_its_submitted_share_one_row(tmp_path):
    path = tmp_path / "gw.db"
    with SqliteMessageStore(path) as store:
        journal = store.journal("acct")
        s1 = journal.append(submit(1, 10), "acct-1")
        s2 = journal.append(OrderSubmitted(order_id="acct-1", ts_ns=10))
        s3 = journal.append(OrderAccepted(order_id="acct-1", ts_ns=11, venue_order_id="V1"))
        journal.commit()
        assert (s1, s2, s3) == (1, 2, 3)
        assert rows(path) == [(1, "SubmitOrder+OrderSubmitted", "acct-1"), (3, "OrderAccepted", "acct-1")]
        assert list(journal.records()) == [
            (1, submit(1, 10)), (2, OrderSubmitted(order_id="acct-1", ts_ns=10)),
            (3, OrderAccepted(order_id="acct-1", ts_ns=11, venue_order_id="V1"))]
        assert journal.load_order("acct-1", before=2) == [submit(1, 10)]
        assert len(journal.load_order("acct-1", before=3)) == 2


def test_batched_writes_submitted_not_folded_unless_it_follows_its_own_submit(tmp_path):
    path = tmp_path / "gw.db"
    with SqliteMessageStore(path) as store:
        journal = store.journal("acct")
        journal.append(submit(1, 10), "acct-1")
        journal.append(OrderSubmitted(order_id="acct-1", ts_ns=11))  # another time
        journal.append(submit(2, 12), "acct-2")
        journal.commit()
        journal.append(OrderSubmitted(order_id="acct-2", ts_ns=12))  # its submit was already inserted
        journal.append(submit(3, 13), "acct-3")
        journal.append(OrderSubmitted(order_id="acct-2", ts_ns=13))  # another order's submit before it
        journal.commit()
        assert [kind for _, kind, _ in rows(path)] == [
            "SubmitOrder", "OrderSubmitted", "SubmitOrder", "OrderSubmitted", "SubmitOrder", "OrderSubmitted"]


def test_batched_writes_journals_of_two_accounts_share_one_sequence(tmp_path):
    with SqliteMessageStore(tmp_path / "gw.db") as store:
        a, b = store.journal("a"), store.journal("b")
        seqs = [a.append(submit(1, 1), "a-1"), b.append(submit(1, 1), "b-1"),
                a.append(OrderSubmitted(order_id="a-1", ts_ns=1)), b.append(OrderSubmitted(order_id="b-1", ts_ns=1))]
        store.commit()
        assert seqs == [1, 2, 3, 4]
        assert [seq for seq, _ in a.records()] == [1, 3] and [seq for seq, _ in b.records()] == [2, 4]


def test_batched_writes_journal_owning_its_file_batches_too(tmp_path):
    path = tmp_path / "j.db"
    journal = SqliteOrderJournal(path, "acct")
    journal.append(submit(1, 1), "acct-1")
    journal.append(OrderSubmitted(order_id="acct-1", ts_ns=1))
    assert rows(path) == []
    journal.commit()
    journal.close()
    assert rows(path) == [(1, "SubmitOrder+OrderSubmitted", "acct-1")]
    again = SqliteOrderJournal(path, "acct")
    assert again.append(OrderExpired(order_id="acct-1", ts_ns=2)) == 3  # after the folded event's seq
    again.commit()
    assert [seq for seq, _ in again.records()] == [1, 2, 3]
    again.close()


def _play(journal: Any, steps: list[tuple[str, int]],
          record_of: Callable[[str, int, int, str], object]) -> list[tuple[int, object, str]]:
    """Append ``record_of(step, n, ts, oid)`` for each step (``commit`` commits instead), for order
    ``acct-<n>`` at time ``ts`` (the step's index); commit at the end. (seq, record, oid) of each append."""
    appended: list[tuple[int, object, str]] = []
    for ts, (step, n) in enumerate(steps):
        oid = f"acct-{n}"
        if step == "commit":
            journal.commit()
            continue
        record = record_of(step, n, ts, oid)
        appended.append((journal.append(record, oid), record, oid))
    journal.commit()
    return appended


_STEPS = st.lists(st.tuples(st.sampled_from(["submit", "submitted", "accepted", "commit"]), st.integers(1, 3)),
                  max_size=25)


@settings(max_examples=40, deadline=None)
@given(steps=_STEPS)
def test_batched_writes_records_and_lookups_match_what_was_appended(tmp_path_factory, steps):
    path = tmp_path_factory.mktemp("prop") / "gw.db"
    with SqliteMessageStore(path) as store:
        journal = store.journal("acct")

        def record_of(step: str, n: int, ts: int, oid: str) -> object:
            return {"submit": lambda: submit(n, ts), "submitted": lambda: OrderSubmitted(order_id=oid, ts_ns=ts - 1),
                    "accepted": lambda: OrderAccepted(order_id=oid, ts_ns=ts, venue_order_id=f"V{n}")}[step]()

        appended = _play(journal, steps, record_of)
        seqs = [seq for seq, _, _ in appended]
        assert seqs == sorted(set(seqs))
        assert list(journal.records()) == [(seq, record) for seq, record, _ in appended]
        for n in (1, 2, 3):
            oid = f"acct-{n}"
            mine = [(seq, record) for seq, record, o in appended if o == oid]
            assert journal.load_order(oid) == [record for _, record in mine]
            for bound in {seq for seq, _ in mine}:
                assert journal.load_order(oid, before=bound) == [r for seq, r in mine if seq < bound]


def test_batched_writes_bare_connection_appends_after_a_folded_row(tmp_path):
    path = tmp_path / "gw.db"
    with SqliteMessageStore(path) as store:
        journal = store.journal("acct")
        journal.append(submit(1, 1), "acct-1")
        journal.append(OrderSubmitted(order_id="acct-1", ts_ns=1))
        journal.commit()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        bare = SqliteOrderJournal(conn, "acct")
        assert bare.append_and_commit(OrderExpired(order_id="acct-1", ts_ns=2)) == 3
        assert [seq for seq, _ in bare.records()] == [1, 2, 3]
    finally:
        conn.close()


def expired(n: int, ts: int) -> OrderExpired:
    return OrderExpired(order_id=f"acct-{n}", ts_ns=ts, reason="ioc")


def test_batched_writes_events_of_one_order_in_a_row_share_one_row(tmp_path):
    path = tmp_path / "gw.db"
    with SqliteMessageStore(path) as store:
        journal = store.journal("acct")
        journal.append(submit(1, 10), "acct-1")
        journal.append(OrderSubmitted(order_id="acct-1", ts_ns=10))
        journal.commit()
        seqs = [journal.append(OrderAccepted(order_id="acct-1", ts_ns=11, venue_order_id="V1")),
                journal.append(expired(1, 12)),
                journal.append(OrderAccepted(order_id="acct-2", ts_ns=13, venue_order_id="V2"))]
        journal.commit()
        assert seqs == [3, 4, 5]
        assert rows(path) == [(1, "SubmitOrder+OrderSubmitted", "acct-1"), (3, "OrderAccepted+OrderExpired", "acct-1"),
                              (5, "OrderAccepted", "acct-2")]
        assert [seq for seq, _ in journal.records()] == [1, 2, 3, 4, 5]
        assert journal.load_order("acct-1") == [submit(1, 10), OrderSubmitted(order_id="acct-1", ts_ns=10),
                                                OrderAccepted(order_id="acct-1", ts_ns=11, venue_order_id="V1"),
                                                expired(1, 12)]
        assert journal.load_order("acct-1", before=4)[-1] == OrderAccepted(order_id="acct-1", ts_ns=11,
                                                                           venue_order_id="V1")
        assert journal.find_order_id(venue_order_id="V1") == "acct-1"
    with SqliteMessageStore(path) as again:  # the next seq follows the folded row's last event
        assert again.journal("acct").append(expired(2, 14)) == 6


def test_batched_writes_fold_stops_at_a_second_venue_order_id_and_at_commands(tmp_path):
    from fixgw.orders import CancelOrder, OrderPendingCancel

    path = tmp_path / "gw.db"
    with SqliteMessageStore(path) as store:
        journal = store.journal("acct")
        journal.append(OrderAccepted(order_id="acct-1", ts_ns=1, venue_order_id="V1"))
        journal.append(OrderAccepted(order_id="acct-1", ts_ns=2, venue_order_id="V9"))  # another key: own row
        journal.append(CancelOrder(cl_ord_id="X1", ts_ns=3, orig_cl_ord_id="C1"), "acct-1")
        journal.append(OrderPendingCancel(order_id="acct-1", ts_ns=3, cl_ord_id="X1"))  # after a command: own row
        journal.append(expired(1, 4))
        journal.commit()
        assert [kind for _, kind, _ in rows(path)] == [
            "OrderAccepted", "OrderAccepted", "CancelOrder", "OrderPendingCancel+OrderExpired"]
        assert journal.find_order_id(cl_ord_id="X1") == "acct-1"
        assert journal.find_order_id(venue_order_id="V9") == "acct-1"
        assert [seq for seq, _ in journal.records()] == [1, 2, 3, 4, 5]


def test_batched_writes_bare_connection_appends_after_a_row_of_folded_events(tmp_path):
    path = tmp_path / "gw.db"
    with SqliteMessageStore(path) as store:
        journal = store.journal("acct")
        for ts in range(1, 4):
            journal.append(OrderAccepted(order_id="acct-1", ts_ns=ts, venue_order_id="V1"))
        journal.commit()
    assert rows(path) == [(1, "OrderAccepted+OrderAccepted+OrderAccepted", "acct-1")]
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        bare = SqliteOrderJournal(conn, "acct")
        assert bare.append_and_commit(expired(1, 5)) == 4
        assert [seq for seq, _ in bare.records()] == [1, 2, 3, 4]
    finally:
        conn.close()


_EVENT_STEPS = st.lists(st.tuples(st.sampled_from(["accepted", "expired", "reaccepted", "commit", "submit"]),
                                  st.integers(1, 3)), max_size=25)


@settings(max_examples=40, deadline=None)
@given(steps=_EVENT_STEPS)
def test_batched_writes_folded_events_read_back_as_appended(tmp_path_factory, steps):
    path = tmp_path_factory.mktemp("fold") / "gw.db"
    with SqliteMessageStore(path) as store:
        journal = store.journal("acct")

        def record_of(step: str, n: int, ts: int, oid: str) -> object:
            return {"submit": lambda: submit(n, ts), "expired": lambda: expired(n, ts),
                    "accepted": lambda: OrderAccepted(order_id=oid, ts_ns=ts, venue_order_id=f"V{n}"),
                    "reaccepted": lambda: OrderAccepted(order_id=oid, ts_ns=ts, venue_order_id=f"W{ts}")}[step]()

        appended = _play(journal, steps, record_of)
        assert [seq for seq, _, _ in appended] == list(range(1, len(appended) + 1))
        assert list(journal.records()) == [(seq, record) for seq, record, _ in appended]
        for seq, record, oid in appended:
            mine = [(s, r) for s, r, o in appended if o == oid]
            assert journal.load_order(oid, before=seq + 1) == [r for s, r in mine if s <= seq]
            venue_id = getattr(record, "venue_order_id", None)
            if venue_id is not None:
                assert journal.find_order_id(venue_order_id=venue_id) == oid
    with SqliteMessageStore(path) as again:
        assert again.journal("acct").append(expired(1, 99)) == len(appended) + 1
