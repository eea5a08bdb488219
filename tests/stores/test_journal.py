"""One conformance suite for every OrderJournal, plus SQLite's own durability checks."""

from __future__ import annotations

import sqlite3
import textwrap
from decimal import Decimal

import pytest

from fixgw.errors import StoreError
from fixgw.orders import (
    CancelOrder,
    OrderAccepted,
    OrderBook,
    OrderFilled,
    OrderJournal,
    OrderSide,
    OrderSubmitted,
    OrderType,
    SubmitOrder,
)
from fixgw.stores.journal_memory import MemoryOrderJournal
from fixgw.stores.journal_sqlite import SqliteOrderJournal
from fixgw.stores.sqlite import SqliteMessageStore

D = Decimal


class MemoryKind:
    def __init__(self, tmp_path):
        self.journals: dict[str, MemoryOrderJournal] = {}

    def open(self, account="acct"):
        if account not in self.journals:
            self.journals[account] = MemoryOrderJournal(account, serialize=True)
        return self.journals[account]

    def reopen(self, journal):
        self.journals[journal.account] = journal.reopen()
        return self.journals[journal.account]


class SqliteKind:
    def __init__(self, tmp_path):
        self.path = tmp_path / "gateway.sqlite"

    def open(self, account="acct"):
        return SqliteOrderJournal(self.path, account)

    def reopen(self, journal):
        journal.close()
        return SqliteOrderJournal(self.path, journal.account)


class StoreJournalKind:
    """Journals from ``SqliteMessageStore.journal``: the store's connection and transactions."""

    def __init__(self, tmp_path):
        self.path = tmp_path / "gateway.sqlite"
        self.store = SqliteMessageStore(self.path, checkpoint="auto")

    def open(self, account="acct"):
        return self.store.journal(account)

    def reopen(self, journal):
        # A crash: the open transaction is rolled back, nothing is committed on the way out.
        self.store.connection.close()
        self.store = SqliteMessageStore(self.path, checkpoint="auto")
        return self.store.journal(journal.account)


class PostgresKind:
    """Journals from a connection string: each owns its connection and transactions."""

    def __init__(self, dsn):
        self.dsn = dsn
        self.journals: list = []

    def open(self, account="acct"):
        from fixgw.stores.journal_postgres import PostgresOrderJournal

        self.journals.append(PostgresOrderJournal(self.dsn, account))
        return self.journals[-1]

    def reopen(self, journal):
        journal.close()  # drops what is uncommitted, as a crash would
        return self.open(journal.account)

    def close(self):
        for journal in self.journals:
            journal.close()


class PostgresStoreKind:
    """Journals from ``PostgresMessageStore.journal``: the store's connection and transactions."""

    def __init__(self, dsn):
        from fixgw.stores.postgres import PostgresMessageStore

        self.dsn = dsn
        self.stores = [PostgresMessageStore(dsn)]

    def open(self, account="acct"):
        return self.stores[-1].journal(account)

    def reopen(self, journal):
        from fixgw.stores.postgres import PostgresMessageStore

        self.stores[-1].abandon()  # a crash: nothing queued or open is committed
        self.stores.append(PostgresMessageStore(self.dsn))
        return self.stores[-1].journal(journal.account)

    def close(self):
        for store in self.stores:
            store.abandon()


#: Every journal implementation: the conformance tests here and in test_journal_lookup run on each.
KINDS = {"memory": MemoryKind, "sqlite": SqliteKind, "store": StoreJournalKind,
         "postgres": PostgresKind, "postgres-store": PostgresStoreKind}


def make_kind(request, tmp_path):
    """Build the journal kind named by ``request.param`` (a PostgreSQL one starts the session's cluster)."""
    if request.param.startswith("postgres"):
        made = KINDS[request.param](request.getfixturevalue("pg_dsn"))
        request.addfinalizer(made.close)
        return made
    return KINDS[request.param](tmp_path)


@pytest.fixture(params=list(KINDS))
def kind(request, tmp_path):
    return make_kind(request, tmp_path)


def submit(cl="c1", **kw):
    base = dict(cl_ord_id=cl, symbol="BTCUSDT", side=OrderSide.BUY, order_type=OrderType.LIMIT,
                quantity=D("1.50"), price=D("27000.10"), ts_ns=1_700_000_000_000_000_001)
    base.update(kw)
    return SubmitOrder(**base)


def some_records():
    return [
        submit(),
        OrderSubmitted(order_id="acct-1", ts_ns=2),
        OrderAccepted(order_id="acct-1", ts_ns=3, venue_order_id="123"),
        OrderFilled(order_id="acct-1", ts_ns=4, trade_id="9", last_qty=D("0.500"), last_px=D("2.7E+4"),
                    fee=D("-0.00001"), fee_currency="BNB"),
        CancelOrder(cl_ord_id="c2", orig_cl_ord_id="c1", ts_ns=5),
    ]


def test_journal_implements_port(kind):
    assert isinstance(kind.open(), OrderJournal)


def test_journal_committed_records_replay_in_order_exactly(kind):
    j = kind.open()
    seqs = [j.append(r) for r in some_records()]
    j.commit()
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    j = kind.reopen(j)
    got = list(j.records())
    assert [s for s, _ in got] == seqs
    assert [r for _, r in got] == some_records()
    filled = got[3][1]
    assert filled.last_px.as_tuple() == D("2.7E+4").as_tuple() and str(filled.last_qty) == "0.500"


def test_journal_uncommitted_records_lost_on_reopen(kind):
    j = kind.open()
    j.append_and_commit(submit())
    j.append(OrderSubmitted(order_id="acct-1", ts_ns=2))
    assert j.uncommitted == 1
    j = kind.reopen(j)
    assert [type(r).__name__ for _, r in j.records()] == ["SubmitOrder"]


def test_journal_records_while_uncommitted_raises_store_error(kind):
    j = kind.open()
    j.append(submit())
    with pytest.raises(StoreError):
        list(j.records())


def test_journal_sequence_grows_across_reopen(kind):
    j = kind.open()
    first = j.append_and_commit(submit())
    j = kind.reopen(j)
    assert j.append_and_commit(submit("c2")) > first


def test_journal_commit_without_appends_is_harmless(kind):
    j = kind.open()
    j.commit()
    assert list(j.records()) == []


def test_journal_accounts_kept_apart(kind):
    a, b = kind.open("a"), kind.open("b")
    a.append_and_commit(submit("ca"))
    b.append_and_commit(submit("cb"))
    assert [r.cl_ord_id for _, r in a.records()] == ["ca"]
    assert [r.cl_ord_id for _, r in b.records()] == ["cb"]


def test_journal_unjournalable_object_raises_store_error(kind):
    with pytest.raises(StoreError):
        kind.open().append("not a record")


def test_journal_book_recovered_from_reopened_journal_equals_original(kind):
    j = kind.open()
    book = OrderBook("acct", j)
    o = book.submit(submit())
    book.apply(OrderSubmitted(order_id=o.order_id, ts_ns=2))
    book.apply(OrderFilled(order_id=o.order_id, ts_ns=3, trade_id="1", last_qty=D("0.5"), last_px=D("1")))
    book.cancel(CancelOrder(cl_ord_id="c2", orig_cl_ord_id="c1", ts_ns=4))
    j.commit()
    recovered = OrderBook.recover(kind.reopen(j))
    assert recovered.snapshot() == book.snapshot()
    assert [x.order_id for x in recovered.open_orders()] == [o.order_id]


# -- SQLite specifics ------------------------------------------------------------------------------


def test_sqlite_journal_uses_wal_and_normal_sync(tmp_path):
    j = SqliteOrderJournal(tmp_path / "j.sqlite")
    assert j._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert j._conn.execute("PRAGMA synchronous").fetchone()[0] == 1
    j.close()


def test_sqlite_journal_shares_connection_and_file_with_other_tables(tmp_path):
    conn = sqlite3.connect(tmp_path / "gw.sqlite", isolation_level=None)
    conn.execute("CREATE TABLE messages (seq INTEGER PRIMARY KEY, raw BLOB)")
    a, b = SqliteOrderJournal(conn, "a"), SqliteOrderJournal(conn, "b")
    a.append(submit("ca"))
    b.append(submit("cb"))
    a.commit()
    b.commit()
    a.close()  # does not close a shared connection
    assert [r.cl_ord_id for _, r in b.records()] == ["cb"]
    assert conn.execute("SELECT count(*) FROM order_journal").fetchone()[0] == 2


def test_sqlite_journal_corrupt_row_raises_store_error(tmp_path):
    j = SqliteOrderJournal(tmp_path / "j.sqlite")
    j.append_and_commit(submit())
    j._conn.execute("UPDATE order_journal SET body = '{\"type\": \"Nope\"}'")
    with pytest.raises(StoreError):
        list(j.records())


def test_sqlite_journal_bad_synchronous_raises_store_error(tmp_path):
    with pytest.raises(StoreError):
        SqliteOrderJournal(tmp_path / "j.sqlite", synchronous="SOMETIMES")


def test_sqlite_journal_unopenable_path_raises_store_error(tmp_path):
    with pytest.raises(StoreError):
        SqliteOrderJournal(tmp_path / "missing-dir" / "j.sqlite")


CHILD = textwrap.dedent(
    """
    import sys
    from fixgw.orders import OrderSubmitted
    from fixgw.stores.journal_sqlite import SqliteOrderJournal
    j = SqliteOrderJournal(sys.argv[1], "acct")
    batch = 0
    while True:
        for k in range(10):
            j.append(OrderSubmitted(order_id=f"b{batch}-{k}", ts_ns=batch * 10 + k))
        j.commit()
        print(batch, flush=True)
        batch += 1
    """
)


def test_sqlite_journal_sigkill_keeps_every_committed_batch_whole(tmp_path, kill_child):
    path = tmp_path / "killed.sqlite"
    last = int(kill_child(CHILD, str(path), at=lambda line: int(line) >= 200))
    assert last >= 200
    ids = [r.order_id for _, r in SqliteOrderJournal(path, "acct").records()]
    assert len(ids) % 10 == 0, "a batch is kept whole or not at all"
    assert len(ids) >= (last + 1) * 10, "every batch reported committed survived the kill"
    assert ids == [f"b{b}-{k}" for b in range(len(ids) // 10) for k in range(10)]
