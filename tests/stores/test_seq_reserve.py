"""Reserved sender numbers (``advance_sender_seq``, ``fixgw.stores._session``): market data sends no commit.

A message never resent needs only its number to be durable. One write reserves ``seq_reserve`` numbers
ahead; the advances up to that mark leave nothing to commit, and a store reopened after a crash resumes
at or above every number whose commit returned (the bytes of a message leave only after that). Checked on
real SQLite files (a crash: the connection closed with the transaction open; and a SIGKILLed child) and
on PostgreSQL (``abandon()``: what a crash does).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixgw.stores import MemoryMessageStore, SqliteMessageStore
from fixgw.stores._session import DEFAULT_SEQ_RESERVE

from store_helpers import SID

K = 50


def _sqlite(path: Path, **kw: Any) -> SqliteMessageStore:
    return SqliteMessageStore(path, checkpoint="auto", **kw)


def _sqlite_crash(store: SqliteMessageStore) -> None:
    """What a crash leaves: the open transaction is rolled back, nothing else is written."""
    store.connection.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, tmp_path) -> tuple[Callable[..., Any], Callable[[Any], None]]:
    """``(open(**kw), crash(store))`` of one durable store; ``open`` reopens the same file or schema."""
    if request.param == "sqlite":
        return (lambda **kw: _sqlite(tmp_path / "fix.db", **kw)), _sqlite_crash
    from fixgw.stores.postgres import PostgresMessageStore

    dsn = request.getfixturevalue("pg_dsn")
    return (lambda **kw: PostgresMessageStore(dsn, **kw)), (lambda store: store.abandon())


def test_seq_reserve_unstored_sends_below_the_mark_dirty_nothing(backend) -> None:
    open_store, crash = backend
    store = open_store(seq_reserve=K)
    try:
        scheduled: list[Any] = []
        store.defer_commits(scheduled.append)
        s = store.session_store(SID)
        s.advance_sender_seq(2)  # the first one writes the mark: committed like any write
        store.commit_soon()
        assert len(scheduled) == 1
        store.flush()
        commits = store.commits
        for n in range(3, 2 + K + 1):  # up to the mark: only the in-memory number moves
            s.advance_sender_seq(n)
            store.commit_soon()
            store.commit()
        assert scheduled == [scheduled[0]] and store.commits == commits
        assert s.next_sender_seq == 2 + K
        s.advance_sender_seq(2 + K + 1)  # past the mark: a write again
        store.commit_soon()
        assert len(scheduled) == 2
        store.commit()
        assert store.commits == commits + 1
    finally:
        crash(store)


def test_seq_reserve_crash_after_unstored_sends_resumes_above_every_sent_number(backend) -> None:
    open_store, crash = backend
    store = open_store(seq_reserve=K)
    s = store.session_store(SID)
    sent = 0
    for seq in range(1, 3 * K):
        if seq % 7 == 0:
            s.save_outbound(seq, b"report-%d" % seq)
        else:
            s.advance_sender_seq(seq + 1)
        s.commit()  # what data_to_send does before the bytes of ``seq`` leave
        sent = seq
    crash(store)
    with open_store(seq_reserve=K) as again:
        resumed = again.session_store(SID)
        assert sent + 1 <= resumed.next_sender_seq <= sent + 1 + K
        assert [seq for seq, _ in resumed.fetch(1, 0)] == list(range(7, 3 * K, 7))


_KILLED = (
    "import sys, time\n"
    "from fixgw.session import SessionID\n"
    "from fixgw.stores import SqliteMessageStore\n"
    "store = SqliteMessageStore(sys.argv[1], seq_reserve=50)\n"
    's = store.session_store(SessionID("FIX.4.4", "GATEWAY", "CLIENT"))\n'
    "for seq in range(1, 126):\n"
    "    s.advance_sender_seq(seq + 1)\n"
    "    s.commit()  # what data_to_send does before the bytes leave\n"
    "    if seq % 10 == 0: s.set_next_target_seq(seq)  # dirtied for another reason: the mark must hold\n"
    "s.advance_sender_seq(127)  # numbered, never committed nor sent\n"
    "print('pointed', flush=True)\n"
    "time.sleep(60)\n"
)


def test_seq_reserve_sigkilled_writer_resumes_above_every_sent_number(tmp_path: Path, kill_child) -> None:
    path = tmp_path / "fix.db"
    assert kill_child(_KILLED, str(path), at=lambda line: line == "pointed") == "pointed"  # 125 sent
    with SqliteMessageStore(path) as store:
        assert 126 <= store.session_store(SID).next_sender_seq <= 126 + 50


def test_seq_reserve_clean_close_writes_the_exact_next_number(backend) -> None:
    open_store, _crash = backend
    with open_store(seq_reserve=K) as store:
        s = store.session_store(SID)
        for n in range(2, 12):
            s.advance_sender_seq(n)
            s.commit()
    with open_store(seq_reserve=K) as again:
        assert again.session_store(SID).next_sender_seq == 11  # an orderly restart leaves no gap


def test_seq_reserve_set_next_sender_seq_and_reset_drop_the_mark(backend) -> None:
    open_store, crash = backend
    store = open_store(seq_reserve=K)
    s = store.session_store(SID)
    s.advance_sender_seq(10)
    s.commit()
    s.set_next_sender_seq(5)  # e.g. the operator's ``set_next_sender_seq``: written as given
    s.commit()
    crash(store)
    store = open_store(seq_reserve=K)
    s = store.session_store(SID)
    assert s.next_sender_seq == 5
    s.advance_sender_seq(6)
    s.commit()
    s.reset(1)
    s.commit()
    crash(store)
    with open_store(seq_reserve=K) as again:
        assert again.session_store(SID).next_sender_seq == 1


def test_seq_reserve_zero_writes_every_advance(tmp_path: Path) -> None:
    with _sqlite(tmp_path / "fix.db", seq_reserve=0) as store:
        s = store.session_store(SID)
        for n in range(2, 6):
            before = store.commits
            s.advance_sender_seq(n)
            s.commit()
            assert store.commits == before + 1
    with _sqlite(tmp_path / "fix.db") as again:
        assert again.seq_reserve == DEFAULT_SEQ_RESERVE
        assert again.session_store(SID).next_sender_seq == 5


@pytest.mark.parametrize("bad", [-1, 1.5, "10", True, None])
def test_seq_reserve_invalid_value_refused(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(ValueError, match="seq_reserve"):
        _sqlite(tmp_path / "fix.db", seq_reserve=bad)


def test_seq_reserve_memory_store_advance_moves_the_number() -> None:
    s = MemoryMessageStore().session_store(SID)
    s.advance_sender_seq(7)
    assert s.next_sender_seq == 7 and s.fetch(1, 0) == []


_OPS = st.lists(
    st.one_of(st.just(("advance",)), st.just(("save",)), st.just(("commit",)),
              st.tuples(st.just("set"), st.integers(1, 400))),
    max_size=120,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_OPS, reserve=st.integers(0, 40))
def test_seq_reserve_any_run_then_crash_resumes_at_or_above_the_committed_number(ops, reserve) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fix.db"
        store = _sqlite(path, seq_reserve=reserve)
        s = store.session_store(SID)
        committed, exact = 1, True  # the next number at the last commit; whether the row holds it as is
        marked = False  # an advance since the last set: a mark may stand above the number
        for op in ops:
            if op[0] == "advance":
                s.advance_sender_seq(s.next_sender_seq + 1)
                marked = True
            elif op[0] == "save":
                s.save_outbound(s.next_sender_seq, b"m")
            elif op[0] == "set":
                s.set_next_sender_seq(op[1])
                marked = False
            else:
                s.commit()
                committed, exact = s.next_sender_seq, not marked
        _sqlite_crash(store)
        with _sqlite(path) as again:
            resumed = again.session_store(SID).next_sender_seq
        if exact:
            assert resumed == committed
        else:
            assert committed <= resumed <= committed + reserve
