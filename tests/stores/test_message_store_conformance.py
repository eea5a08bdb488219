"""The MessageStore conformance suite: every store implementation must pass it unchanged."""

from __future__ import annotations

import pytest

from fixgw.session import SessionID
from fixgw.stores.memory import MemoryMessageStore
from fixgw.stores.sqlite import SqliteMessageStore

SID_A = SessionID("FIX.4.4", "GATEWAY", "CLIENT_A")
SID_B = SessionID("FIX.4.4", "GATEWAY", "CLIENT_B")
SID_A42 = SessionID("FIX.4.2", "GATEWAY", "CLIENT_A")


class _Factory:
    """Opens the store under test; ``reopen`` returns a fresh object on the same backing data."""

    def __init__(self, kind: str, tmp_path, dsn: str | None = None) -> None:
        self.kind = kind
        self.path = tmp_path / "store.db"
        self.dsn = dsn
        self.opened: list = []

    def open(self):
        if self.kind == "memory":
            store = MemoryMessageStore()
        elif self.kind == "postgres":
            from fixgw.stores.postgres import PostgresMessageStore

            store = PostgresMessageStore(self.dsn)
        elif self.kind == "sqlite-auto-checkpoint":
            store = SqliteMessageStore(self.path, checkpoint="auto")
        else:
            store = SqliteMessageStore(self.path)
        self.opened.append(store)
        return store

    @property
    def persistent(self) -> bool:
        return self.kind != "memory"


@pytest.fixture(params=["memory", "sqlite", "sqlite-auto-checkpoint", "postgres"])
def factory(request, tmp_path):
    # The PostgreSQL cluster is started (once) only when a postgres case runs.
    dsn = request.getfixturevalue("pg_dsn") if request.param == "postgres" else None
    f = _Factory(request.param, tmp_path, dsn)
    yield f
    for store in f.opened:
        try:
            store.close()
        except Exception:
            pass


@pytest.fixture
def store(factory):
    return factory.open()


def test_session_store_new_session_starts_at_one(store):
    s = store.session_store(SID_A)
    assert s.next_sender_seq == 1
    assert s.next_target_seq == 1
    assert s.fetch(1, 0) == []


def test_save_outbound_stores_message_and_increments_sender_seq(store):
    s = store.session_store(SID_A)
    s.save_outbound(1, b"m1")
    assert s.next_sender_seq == 2
    s.save_outbound(2, b"m2")
    assert s.next_sender_seq == 3
    assert s.fetch(1, 2) == [(1, b"m1"), (2, b"m2")]


def test_save_outbound_after_jump_sets_seq_past_saved(store):
    s = store.session_store(SID_A)
    s.set_next_sender_seq(10)
    s.save_outbound(10, b"m10")
    assert s.next_sender_seq == 11
    assert s.fetch(1, 0) == [(10, b"m10")]


def test_set_next_seqs_change_only_their_number(store):
    s = store.session_store(SID_A)
    s.set_next_target_seq(7)
    assert (s.next_sender_seq, s.next_target_seq) == (1, 7)
    s.set_next_sender_seq(5)
    assert (s.next_sender_seq, s.next_target_seq) == (5, 7)


def test_fetch_range_is_inclusive_and_ordered(store):
    s = store.session_store(SID_A)
    for seq in range(1, 11):
        s.save_outbound(seq, b"m%d" % seq)
    assert s.fetch(3, 5) == [(3, b"m3"), (4, b"m4"), (5, b"m5")]
    assert s.fetch(7, 7) == [(7, b"m7")]


def test_fetch_end_zero_returns_to_last(store):
    s = store.session_store(SID_A)
    for seq in range(1, 6):
        s.save_outbound(seq, b"m%d" % seq)
    assert [seq for seq, _ in s.fetch(3, 0)] == [3, 4, 5]


def test_fetch_beyond_last_returns_empty(store):
    s = store.session_store(SID_A)
    s.save_outbound(1, b"m1")
    assert s.fetch(2, 0) == []
    assert s.fetch(5, 9) == []


def test_fetch_range_with_gaps_returns_only_stored(store):
    s = store.session_store(SID_A)
    s.save_outbound(1, b"m1")
    s.set_next_sender_seq(4)
    s.save_outbound(4, b"m4")
    assert s.fetch(1, 10) == [(1, b"m1"), (4, b"m4")]


def test_fetch_returns_bytes_values(store):
    s = store.session_store(SID_A)
    raw = b"8=FIX.4.4\x019=5\x0135=0\x0110=000\x01"
    s.save_outbound(1, raw)
    ((seq, got),) = s.fetch(1, 1)
    assert type(seq) is int and type(got) is bytes and got == raw


def test_save_outbound_same_seq_again_replaces_message(store):
    s = store.session_store(SID_A)
    s.save_outbound(1, b"old")
    s.set_next_sender_seq(1)
    s.save_outbound(1, b"new")
    assert s.fetch(1, 0) == [(1, b"new")]


def test_reset_sets_seqs_to_one_and_drops_messages(store):
    s = store.session_store(SID_A)
    for seq in range(1, 4):
        s.save_outbound(seq, b"m")
    s.set_next_target_seq(9)
    s.reset(1_800_000_000_000_000_000)
    assert (s.next_sender_seq, s.next_target_seq) == (1, 1)
    assert s.fetch(1, 0) == []
    assert s.creation_time_ns == 1_800_000_000_000_000_000


def test_reset_then_save_starts_over(store):
    s = store.session_store(SID_A)
    s.save_outbound(1, b"before")
    s.reset(1_800_000_000_000_000_000)
    s.save_outbound(1, b"after")
    assert s.fetch(1, 0) == [(1, b"after")]
    assert s.next_sender_seq == 2


def test_commit_without_writes_is_harmless(store):
    s = store.session_store(SID_A)
    s.commit()
    s.commit()
    assert s.next_sender_seq == 1


def test_sessions_are_isolated(store):
    a = store.session_store(SID_A)
    b = store.session_store(SID_B)
    c = store.session_store(SID_A42)
    a.save_outbound(1, b"a1")
    a.save_outbound(2, b"a2")
    b.set_next_target_seq(5)
    c.save_outbound(1, b"c1")
    assert (a.next_sender_seq, a.next_target_seq) == (3, 1)
    assert (b.next_sender_seq, b.next_target_seq) == (1, 5)
    assert (c.next_sender_seq, c.next_target_seq) == (2, 1)
    assert b.fetch(1, 0) == []
    assert c.fetch(1, 0) == [(1, b"c1")]
    a.reset(1)
    assert c.fetch(1, 0) == [(1, b"c1")]


def test_session_store_same_id_twice_shares_state(store):
    first = store.session_store(SID_A)
    first.save_outbound(1, b"m1")
    again = store.session_store(SessionID("FIX.4.4", "GATEWAY", "CLIENT_A"))
    assert again.next_sender_seq == 2
    assert again.fetch(1, 0) == [(1, b"m1")]


def test_reopen_after_commit_keeps_seqs_and_messages(factory):
    if not factory.persistent:
        pytest.skip("memory store does not persist")
    store = factory.open()
    a = store.session_store(SID_A)
    b = store.session_store(SID_B)
    for seq in range(1, 4):
        a.save_outbound(seq, b"a%d" % seq)
    a.set_next_target_seq(8)
    b.save_outbound(1, b"b1")
    a.commit()
    created = a.creation_time_ns
    store.close()

    again = factory.open()
    a2 = again.session_store(SID_A)
    b2 = again.session_store(SID_B)
    assert (a2.next_sender_seq, a2.next_target_seq) == (4, 8)
    assert a2.fetch(1, 0) == [(1, b"a1"), (2, b"a2"), (3, b"a3")]
    assert a2.creation_time_ns == created
    assert b2.fetch(1, 0) == [(1, b"b1")]
    assert b2.next_sender_seq == 2


def test_reopen_after_reset_keeps_reset(factory):
    if not factory.persistent:
        pytest.skip("memory store does not persist")
    store = factory.open()
    a = store.session_store(SID_A)
    a.save_outbound(1, b"a1")
    a.commit()
    a.reset(42)
    a.commit()
    store.close()
    a2 = factory.open().session_store(SID_A)
    assert (a2.next_sender_seq, a2.next_target_seq, a2.creation_time_ns) == (1, 1, 42)
    assert a2.fetch(1, 0) == []
