"""Sender numbers of the SQLite store told by the stored messages ("Sender numbers" in ``fixgw.stores.sqlite``).

Saving a message past the highest stored one does not rewrite the session's row; a store reopened after a
crash (the connection closed with its transaction open: rolled back, nothing else written) resumes past
the last committed message. A number used again (lowered below a stored message, or a message saved again)
puts the row back in charge. Files of schema version 1 open and keep their rows authoritative.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixgw.stores import SqliteMessageStore

from store_helpers import SID


def _open(path: Path, **kw) -> SqliteMessageStore:
    return SqliteMessageStore(path, checkpoint="auto", **kw)


def _crash(store: SqliteMessageStore) -> None:
    store.connection.close()  # the open transaction is rolled back, nothing else is written


def _reopened_next_sender(path: Path) -> int:
    with _open(path) as store:
        return store.session_store(SID).next_sender_seq


def _statements(store: SqliteMessageStore) -> list[str]:
    seen: list[str] = []
    store.connection.set_trace_callback(seen.append)
    return seen


def test_sqlite_sender_seq_commit_of_messages_only_writes_no_session_row(tmp_path: Path) -> None:
    store = _open(tmp_path / "gw.db")
    s = store.session_store(SID)
    s.save_outbound(1, b"m1")  # the first save marks the row (schema version 2: already marked)
    store.commit()
    seen = _statements(store)
    s.save_outbound(2, b"m2")
    s.save_outbound(3, b"m3")
    store.commit()
    assert not [q for q in seen if q.startswith("UPDATE fix_sessions")]
    assert [q.split()[0] for q in seen] == ["BEGIN", "INSERT", "INSERT", "COMMIT"]  # one executemany
    _crash(store)
    assert _reopened_next_sender(tmp_path / "gw.db") == 4


def test_sqlite_sender_seq_uncommitted_messages_not_counted_after_crash(tmp_path: Path) -> None:
    store = _open(tmp_path / "gw.db")
    s = store.session_store(SID)
    for seq in range(1, 6):
        s.save_outbound(seq, b"m")
    store.commit()
    s.save_outbound(6, b"m6")  # never committed, so never sent
    _crash(store)
    assert _reopened_next_sender(tmp_path / "gw.db") == 6


def test_sqlite_sender_seq_lowered_below_stored_reopens_at_row(tmp_path: Path) -> None:
    store = _open(tmp_path / "gw.db")
    s = store.session_store(SID)
    for seq in range(1, 11):
        s.save_outbound(seq, b"old")
    store.commit()
    s.set_next_sender_seq(3)  # e.g. the operator: numbers 3.. are used again
    store.commit()
    s.save_outbound(3, b"new")
    store.commit()
    _crash(store)
    with _open(tmp_path / "gw.db") as again:
        s2 = again.session_store(SID)
        assert s2.next_sender_seq == 4  # not 11: the old messages above no longer tell the number
        assert s2.fetch(3, 4) == [(3, b"new"), (4, b"old")]


def test_sqlite_sender_seq_saved_below_a_number_set_ahead_reopens_after_it(tmp_path: Path) -> None:
    # Set ahead past every stored message, then a message numbered below it (past the stored ones): the
    # row held the number set ahead, so the save writes it again (the next number went back).
    store = _open(tmp_path / "gw.db", seq_reserve=0)
    s = store.session_store(SID)
    s.set_next_sender_seq(3)
    store.commit()
    s.save_outbound(1, b"again")
    store.commit()
    assert s.durable_sender_seq == 2
    _crash(store)
    assert _reopened_next_sender(tmp_path / "gw.db") == 2


def test_sqlite_sender_seq_close_writes_exact_row(tmp_path: Path) -> None:
    with _open(tmp_path / "gw.db") as store:
        s = store.session_store(SID)
        for seq in range(1, 8):
            s.save_outbound(seq, b"m")
            store.commit()
    db = sqlite3.connect(tmp_path / "gw.db")
    try:
        assert db.execute("SELECT next_sender_seq FROM fix_sessions").fetchone()[0] == 8
    finally:
        db.close()


def _version_1_file(path: Path, next_sender: int, stored: range) -> None:
    """A file as schema version 1 wrote it: no ``sender_from_messages`` column."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.executescript(
            "CREATE TABLE fix_sessions (id INTEGER PRIMARY KEY, begin_string TEXT NOT NULL,"
            " sender_comp_id TEXT NOT NULL, target_comp_id TEXT NOT NULL, next_sender_seq INTEGER NOT NULL,"
            " next_target_seq INTEGER NOT NULL, creation_time_ns INTEGER NOT NULL,"
            " UNIQUE (begin_string, sender_comp_id, target_comp_id));"
            "CREATE TABLE fix_messages (key INTEGER PRIMARY KEY, raw BLOB NOT NULL);"
            "PRAGMA user_version=1;"
        )
        db.execute("INSERT INTO fix_sessions VALUES (1, ?, ?, ?, ?, 7, 123)",
                   (SID.begin_string, SID.sender_comp_id, SID.target_comp_id, next_sender))
        db.executemany("INSERT INTO fix_messages VALUES (?, ?)", [((1 << 32) | n, b"v1") for n in stored])
    finally:
        db.close()


def test_sqlite_sender_seq_version_1_file_row_stays_authoritative(tmp_path: Path) -> None:
    # Messages above the row (a number lowered under version 1): the row tells the number, as before.
    _version_1_file(tmp_path / "gw.db", 3, range(1, 11))
    with _open(tmp_path / "gw.db") as store:
        s = store.session_store(SID)
        assert (s.next_sender_seq, s.next_target_seq, s.creation_time_ns) == (3, 7, 123)
        assert len(s.fetch(1, 0)) == 10
    db = sqlite3.connect(tmp_path / "gw.db")
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    finally:
        db.close()


def test_sqlite_sender_seq_version_1_file_saves_past_top_then_from_messages(tmp_path: Path) -> None:
    _version_1_file(tmp_path / "gw.db", 5, range(1, 5))
    store = _open(tmp_path / "gw.db")
    s = store.session_store(SID)
    s.save_outbound(5, b"m5")  # past the highest: the row is marked once, in this commit
    store.commit()
    s.save_outbound(6, b"m6")
    store.commit()
    _crash(store)
    assert _reopened_next_sender(tmp_path / "gw.db") == 7


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("save"), st.integers(1, 3)),  # save the next n numbers
        st.tuples(st.just("set"), st.integers(1, 30)),
        st.tuples(st.just("advance"), st.integers(1, 3)),
        st.tuples(st.just("resave"), st.integers(0, 5)),  # save again a number some way back
        st.just(("reset", 0)),
        st.just(("commit", 0)),
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_OPS, reserve=st.sampled_from([0, 4]))
def test_sqlite_sender_seq_reopen_after_crash_resumes_at_committed_number(ops, reserve) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gw.db"
        store = _open(path, seq_reserve=reserve)
        s = store.session_store(SID)
        for op, n in ops:
            if op == "save":
                for _ in range(n):
                    s.save_outbound(s.next_sender_seq, b"m")
            elif op == "set":
                s.set_next_sender_seq(n)
            elif op == "advance":
                s.advance_sender_seq(s.next_sender_seq + n)
            elif op == "resave":
                seq = max(1, s.next_sender_seq - n)
                s.save_outbound(seq, b"again")
            elif op == "reset":
                s.reset(1)
            else:
                store.commit()
        if ops and ops[-1][0] == "commit":
            durable = s.durable_sender_seq
            s.save_outbound(s.next_sender_seq, b"never committed")  # lost in the crash, never sent
        else:
            store.commit()
            durable = s.durable_sender_seq  # the next number, or the reserved mark past it
        _crash(store)
        assert _reopened_next_sender(path) == durable


def test_sqlite_sender_seq_version_1_file_with_column_added_before_crash_opens(tmp_path: Path) -> None:
    # A crash after the column was added and before the version was written: opening again still works.
    _version_1_file(tmp_path / "gw.db", 5, range(1, 5))
    db = sqlite3.connect(tmp_path / "gw.db", isolation_level=None)
    db.execute("ALTER TABLE fix_sessions ADD COLUMN sender_from_messages INTEGER NOT NULL DEFAULT 0")
    db.close()
    assert _reopened_next_sender(tmp_path / "gw.db") == 5
