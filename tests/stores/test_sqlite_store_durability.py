"""SqliteMessageStore specifics: crash durability (kill -9), batching, WAL, errors."""

from __future__ import annotations

import sqlite3
import textwrap
import time

import pytest

from fixgw.errors import StoreError
from fixgw.session import SessionID
from fixgw.stores.sqlite import SqliteMessageStore

SID = SessionID("FIX.4.4", "GATEWAY", "CLIENT")

_WRITER = textwrap.dedent(
    """
    import sys, time
    from fixgw.session import SessionID
    from fixgw.stores.sqlite import SqliteMessageStore
    store = SqliteMessageStore(sys.argv[1])
    s = store.session_store(SessionID("FIX.4.4", "GATEWAY", "CLIENT"))
    for seq in range(1, 101):
        s.save_outbound(seq, b"committed-%d" % seq)
    s.set_next_target_seq(55)
    s.commit()
    for seq in range(101, 151):
        s.save_outbound(seq, b"pending-%d" % seq)
    s.set_next_target_seq(99)
    print("ready", flush=True)
    time.sleep(60)
    """
)


def test_sqlite_store_process_killed_keeps_committed_drops_pending(tmp_path, kill_child):
    path = tmp_path / "gw.db"
    assert kill_child(_WRITER, str(path), at=lambda line: line == "ready") == "ready"

    with SqliteMessageStore(path) as store:
        s = store.session_store(SID)
        assert s.next_sender_seq == 101
        assert s.next_target_seq == 55
        got = s.fetch(1, 0)
        assert len(got) == 100
        assert got[0] == (1, b"committed-1") and got[-1] == (100, b"committed-100")


def test_sqlite_store_uncommitted_writes_invisible_to_other_connection(tmp_path):
    path = tmp_path / "gw.db"
    with SqliteMessageStore(path) as store:
        s = store.session_store(SID)
        s.save_outbound(1, b"m1")
        other = sqlite3.connect(path)
        try:
            assert other.execute("SELECT count(*) FROM fix_messages").fetchone()[0] == 0
            s.commit()
            assert other.execute("SELECT count(*) FROM fix_messages").fetchone()[0] == 1
            # The committed message proves its number: the row says so, and need not be rewritten.
            row, flag = other.execute("SELECT next_sender_seq, sender_from_messages FROM fix_sessions").fetchone()
            top = other.execute("SELECT max(key) & 4294967295 FROM fix_messages").fetchone()[0]
            assert flag == 1 and max(row, top + 1) == 2
        finally:
            other.close()


def test_sqlite_store_open_uses_wal_journal(tmp_path):
    path = tmp_path / "gw.db"
    SqliteMessageStore(path).close()
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()


def test_sqlite_store_close_commits_pending_writes(tmp_path):
    path = tmp_path / "gw.db"
    store = SqliteMessageStore(path)
    store.session_store(SID).save_outbound(1, b"m1")
    store.close()
    with SqliteMessageStore(path) as again:
        assert again.session_store(SID).fetch(1, 0) == [(1, b"m1")]


def test_sqlite_store_use_after_close_raises_store_error(tmp_path):
    store = SqliteMessageStore(tmp_path / "gw.db")
    s = store.session_store(SID)
    store.close()
    with pytest.raises(StoreError):
        s.save_outbound(1, b"m1")
    with pytest.raises(StoreError):
        s.fetch(1, 0)


def test_sqlite_store_unreadable_path_raises_store_error(tmp_path):
    with pytest.raises(StoreError):
        SqliteMessageStore(tmp_path / "missing-dir" / "gw.db")


def test_sqlite_store_bad_synchronous_raises_value_error(tmp_path):
    with pytest.raises(ValueError):
        SqliteMessageStore(tmp_path / "gw.db", synchronous="SOMETIMES")


def test_sqlite_store_full_synchronous_round_trips(tmp_path):
    path = tmp_path / "gw.db"
    with SqliteMessageStore(path, synchronous="FULL") as store:
        s = store.session_store(SID)
        s.save_outbound(1, b"m1")
        s.commit()
    with SqliteMessageStore(path) as store:
        assert store.session_store(SID).next_sender_seq == 2


def test_sqlite_store_seq_out_of_range_raises_store_error(tmp_path):
    with SqliteMessageStore(tmp_path / "gw.db") as store:
        s = store.session_store(SID)
        with pytest.raises(StoreError):
            s.save_outbound(0, b"m0")
        with pytest.raises(StoreError):
            s.save_outbound(1 << 32, b"too big")


def test_sqlite_store_background_checkpoint_restarts_wal_under_steady_writes(tmp_path):
    path = tmp_path / "gw.db"
    store = SqliteMessageStore(path, checkpoint_interval=0.01, wal_restart_pages=200)
    s = store.session_store(SID)
    raw = b"x" * 300
    # Write without pause for a while (at least 6,000 commits, at least one second): a PASSIVE
    # checkpoint never catches up with that, so only RESTART can let the WAL start over.
    seq = 0
    until = time.monotonic() + 1.0
    while seq < 6000 or time.monotonic() < until:
        seq += 1
        s.save_outbound(seq, raw)
        s.commit()
        if seq % 200 == 0:
            time.sleep(0)  # let the checkpointer thread in even on a machine short of cores
    wal_size = (tmp_path / "gw.db-wal").stat().st_size
    store.close()
    # Every commit adds two or more 1 KiB pages to the WAL; restarted, it holds a small part of them.
    assert wal_size < seq * 2 * 1024 // 4, (wal_size, seq)
    with SqliteMessageStore(path) as again:
        assert len(again.session_store(SID).fetch(1, 0)) == seq
