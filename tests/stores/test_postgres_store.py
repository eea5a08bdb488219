"""PostgreSQL store specifics: durability against kill -9, group commit, one transaction for messages and
journal, final failures, secrets, awkward text. The conformance suites run on PostgreSQL too (their
``postgres`` params); these are what only a server-backed store has."""

from __future__ import annotations

import os
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

if not os.environ.get("CI"):  # without psycopg these skip; CI must run them (the test extra brings psycopg)
    pytest.importorskip("psycopg", reason="psycopg is not installed")
import psycopg  # noqa: E402

from fixgw.errors import StoreError  # noqa: E402
from fixgw.session import SessionID  # noqa: E402
from fixgw.stores.journal_postgres import PostgresOrderJournal
from fixgw.stores.postgres import PostgresMessageStore

from store_helpers import SID, accepted, killed_writer
from test_journal import submit


def on_server(dsn: str) -> tuple[int, int, int]:
    """(journal rows, stored messages, next target seq) as another connection sees them: what is committed."""
    with psycopg.connect(dsn, autocommit=True) as db:
        journal = db.execute("SELECT count(*) FROM order_journal").fetchone()[0]
        messages = db.execute("SELECT count(*) FROM fix_messages").fetchone()[0]
        row = db.execute("SELECT next_target_seq FROM fix_sessions").fetchone()
    return journal, messages, row[0] if row else 0


_WRITER = killed_writer("fixgw.stores.postgres:PostgresMessageStore", committed=50, unflushed=10,
                        alternate_commits=True, read_after=True)


def test_postgres_store_killed_keeps_committed_drops_the_unflushed_turn(pg_dsn, kill_child):
    assert kill_child(_WRITER, pg_dsn, at=lambda line: line == "pointed") == "pointed"
    assert on_server(pg_dsn) == (50, 50, 51)
    with PostgresMessageStore(pg_dsn) as store:
        s = store.session_store(SID)
        assert (s.next_sender_seq, s.next_target_seq) == (51, 51)
        assert s.fetch(50, 0) == [(50, b"report-50")]
        journal = store.journal("acct")
        assert [r.order_id for _, r in journal.records()][-1] == "acct-50"
        assert journal.append(accepted(51)) == 51  # the numbers go on from what was committed


def test_postgres_group_commit_commit_points_of_one_turn_share_one_transaction(pg_dsn):
    scheduled: list = []
    with PostgresMessageStore(pg_dsn) as store:
        s = store.session_store(SID)
        journal = store.journal("acct")
        store.defer_commits(scheduled.append)
        before = store.commits
        for n in range(1, 11):
            s.set_next_target_seq(n + 1)
            journal.append(accepted(n))
            s.save_outbound(n, b"report-%d" % n)
            journal.commit()
            assert journal.uncommitted == 0
        assert on_server(pg_dsn) == (0, 0, 1) and len(scheduled) == 1 and store.flush_due
        scheduled.pop()()
        assert on_server(pg_dsn) == (10, 10, 11) and store.commits == before + 1 and not store.flush_due
        journal.append(accepted(11))
        s.commit()  # what the session's data_to_send() does: a real commit at once
        assert on_server(pg_dsn) == (11, 10, 11)


def test_postgres_failed_deferred_commit_refuses_every_later_write(pg_dsn):
    scheduled: list = []
    store = PostgresMessageStore(pg_dsn)
    s = store.session_store(SID)
    journal = store.journal("acct")
    store.defer_commits(scheduled.append)
    journal.append(accepted(1))
    journal.commit()
    store.connection.close()  # the COMMIT the next turn runs fails
    scheduled.pop()()  # no caller to raise to: kept
    for write in (lambda: journal.append(accepted(2)), lambda: s.save_outbound(1, b"r"), s.commit,
                  lambda: s.fetch(1, 0), lambda: s.set_next_target_seq(3)):
        with pytest.raises(StoreError, match="commit failed"):
            write()
    with pytest.raises(StoreError, match="commit failed"):
        store.close()  # as SQLite's: closing raises the failure it keeps (and closes)
    store.close()  # once closed, closing again does nothing
    assert on_server(pg_dsn)[0] == 0


def test_postgres_commit_that_fails_commits_nothing_of_its_batch(pg_dsn):
    store = PostgresMessageStore(pg_dsn)
    s = store.session_store(SID)
    journal = store.journal("acct")
    s.save_outbound(1, b"report-1")
    journal.append(accepted(1))
    with psycopg.connect(pg_dsn, autocommit=True) as other:  # another writer took seq 1 of the account
        other.execute("INSERT INTO order_journal (account, seq, kind, ts_ns, body) VALUES ('acct', 1, 'x', 0, '{}')")
    with pytest.raises(StoreError, match="commit failed"):
        s.commit()
    with pytest.raises(StoreError):
        s.save_outbound(2, b"report-2")
    with pytest.raises(StoreError):
        store.close()
    assert on_server(pg_dsn)[:2] == (1, 0)


def test_postgres_store_password_never_in_repr_or_errors(pg_cluster, pg_dsn):
    dsn = pg_dsn + " password=s3cret-pw"
    with PostgresMessageStore(dsn) as store:  # trust authentication: the password is not checked
        assert "s3cret" not in repr(store) and "***" in repr(store)
        assert "s3cret" not in repr(store.journal("acct")) and "s3cret" not in store.dsn
    closed = f"host=127.0.0.1 port={pg_cluster.port + 1 if pg_cluster.port < 65535 else 1} user=x password=s3cret-pw"
    with pytest.raises(StoreError) as info:
        PostgresMessageStore(closed, connect_timeout=2)
    assert "s3cret" not in str(info.value) and "cannot connect" in str(info.value)
    with pytest.raises(StoreError, match="invalid PostgreSQL connection string") as info:
        PostgresMessageStore("host=x password='s3cret-pw")
    assert "s3cret" not in str(info.value)


def test_postgres_nul_and_backslash_in_ids_round_trip(pg_dsn):
    odd = SessionID("FIX.4.4", "GW\x00\\0", "CLIENT\\")
    journal_id = "c\x00\\0\\"
    with PostgresMessageStore(pg_dsn) as store:
        s = store.session_store(odd)
        s.save_outbound(1, b"a\x00b")
        journal = store.journal("ac\x00ct")
        journal.append(submit(journal_id), "ac\x00ct-1")
        store.commit()
    with PostgresMessageStore(pg_dsn) as store:
        assert store.session_store(odd).fetch(1, 0) == [(1, b"a\x00b")]
        assert store.session_store(SessionID("FIX.4.4", "GW\\0\\0", "CLIENT\\")).fetch(1, 0) == []
        journal = store.journal("ac\x00ct")
        assert journal.find_order_id(cl_ord_id=journal_id) == "ac\x00ct-1"
        assert journal.find_order_id(cl_ord_id="c\\0\\0\\") is None
        assert [r.cl_ord_id for _, r in journal.records()] == [journal_id]


def test_postgres_two_processes_opening_an_empty_database_at_once_both_succeed(pg_dsn):
    errors: list[BaseException] = []
    stores: list[PostgresMessageStore] = []
    barrier = threading.Barrier(4)

    def open_one() -> None:
        barrier.wait()
        try:
            stores.append(PostgresMessageStore(pg_dsn))
        except BaseException as exc:  # pragma: no cover - what the test is about
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    for store in stores:
        store.close()
    assert errors == [] and len(stores) == 4


def test_postgres_unknown_schema_version_refused(pg_dsn):
    PostgresMessageStore(pg_dsn).close()
    with psycopg.connect(pg_dsn, autocommit=True) as db:
        db.execute("UPDATE fixgw_schema SET version = 99")
    with pytest.raises(StoreError, match="unknown store schema version 99"):
        PostgresMessageStore(pg_dsn)


def test_postgres_journal_records_pages_through_many_rows(pg_dsn):
    journal = PostgresOrderJournal(pg_dsn, "acct")
    for n in range(1, 2502):
        journal.append(accepted(n))
    journal.commit()
    seqs = [seq for seq, _ in journal.records()]
    assert seqs == list(range(1, 2502))
    journal.close()


def test_postgres_bench_stores_measures_every_backend_side_by_side(pg_cluster, capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / "stores.py"
    spec = importlib.util.spec_from_file_location("fixgw_bench_stores", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    columns = bench.main(["--seconds", "0.05", "--dsn", pg_cluster.dsn()])
    assert list(columns) == ["sqlite", "postgres", "pg async"]
    for name, results in columns.items():
        assert list(results) == ["messages", "messages x10", "journal", "turn", "turn, pipelined"]
        assert all(r.rate > 0 and r.p50 <= r.p99 <= r.max for r in results.values() if r is not None)
        assert (results["turn, pipelined"] is None) == (name == "sqlite")  # SQLite commits on the loop
    out = capsys.readouterr().out
    assert "sqlite" in out and "pg async" in out and "commit p50/p99/max" in out


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@pytest.fixture
def pg_store(pg_dsn):
    with PostgresMessageStore(pg_dsn) as store:
        yield store


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(comp=_TEXT, cl_ord_id=_TEXT.filter(bool), raw=st.binary(max_size=300))
def test_postgres_any_text_and_bytes_round_trip_exactly(pg_store, comp, cl_ord_id, raw):
    sid = SessionID("FIX.4.4", comp, "T'; DROP TABLE fix_messages; --")
    s = pg_store.session_store(sid)
    s.save_outbound(1, raw)
    journal = pg_store.journal(comp)
    journal.append(submit(cl_ord_id), "o-1")
    pg_store.commit()
    # Read back from the server (committed rows), not from anything kept in memory.
    assert s.fetch(1, 1) == [(1, raw)]
    assert journal.find_order_id(cl_ord_id=cl_ord_id) == "o-1"
    assert [r.cl_ord_id for _, r in journal.records()][-1] == cl_ord_id


def test_postgres_text_that_is_not_unicode_refused_at_the_call_not_at_commit(pg_dsn):
    with PostgresMessageStore(pg_dsn) as store:
        s = store.session_store(SID)
        s.save_outbound(1, b"kept")
        with pytest.raises(StoreError, match="not valid Unicode"):
            store.session_store(SessionID("FIX.4.4", "GW\udcff", "C"))
        s.commit()  # the store goes on: nothing was queued for the refused value
        assert s.fetch(1, 0) == [(1, b"kept")]
