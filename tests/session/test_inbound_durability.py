"""Durable before counted: the persisted inbound number passes a message only when the application got it.

The engine's own view (``next_target_seq``) moves at once; the store's number (what a commit makes
durable) moves past an application message when ``next_event()`` hands it over, together with the admin
messages processed after it. A commit made while handling one event (as the gateway's per-order commit
does, and any other session's commit on a shared SQLite connection) therefore never counts a message the
application has not seen, and after a crash the peer is asked for exactly the undelivered ones.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.session import NEED_DATA, ApplicationMessage, Disconnected, LoggedOn, SessionID, SequenceGap
from fixgw.stores import SqliteMessageStore

from .helpers import ACCEPTOR_ID, INITIATOR_ID, Peer, drain, logged_on_acceptor, make_session, new_clock, parse_frames


def _orders(peer: Peer, n: int) -> bytes:
    return b"".join(peer.order(f"o{i}") for i in range(n))


def test_durable_batch_of_orders_persisted_number_moves_one_delivered_event_at_a_time():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(_orders(peer, 5), clock.now_ns())  # MsgSeqNum 2..6 in one read
    assert s.next_target_seq == 7  # the engine's view moved at once
    assert s.store.next_target_seq == 2  # nothing handed over yet: nothing counted
    for seq in range(2, 7):
        event = s.next_event()
        assert isinstance(event, ApplicationMessage) and event.seq == seq
        assert s.store.next_target_seq == seq + 1
    assert s.store.next_target_seq == 7


def test_durable_admin_messages_after_pending_order_persisted_with_it_not_before():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    batch = peer.order("a") + peer.frame("0") + peer.order("b") + peer.frame("0") + peer.frame("1", [(112, "t")])
    s.receive_data(batch, clock.now_ns())  # 2 order, 3 heartbeat, 4 order, 5 heartbeat, 6 test request
    assert (s.next_target_seq, s.store.next_target_seq) == (7, 2)
    assert s.next_event().seq == 2
    assert s.store.next_target_seq == 4  # the order and the heartbeat after it
    assert s.next_event().seq == 4
    assert s.store.next_target_seq == 7
    assert s.next_event() is NEED_DATA and s.store.next_target_seq == 7


def test_durable_admin_messages_without_pending_order_persisted_at_once():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.frame("0") + peer.frame("0"), clock.now_ns())
    assert s.store.next_target_seq == 4


def test_durable_reject_after_pending_order_waits_for_it():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order("a") + peer.frame("ZZ"), clock.now_ns())  # 3: invalid MsgType, rejected
    assert (s.next_target_seq, s.store.next_target_seq) == (4, 2)
    events = drain(s)
    assert [type(e).__name__ for e in events] == ["ApplicationMessage", "Rejected"]
    assert s.store.next_target_seq == 4


def test_durable_connection_lost_with_undelivered_orders_leaves_store_behind():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(_orders(peer, 3), clock.now_ns())
    s.next_event()  # order 2 handed over
    s.connection_lost(clock.now_ns())
    assert s.store.next_target_seq == 3
    # A driver that drains after the loss still hands the orders over, each counted as it goes.
    events = drain(s)
    assert [type(e) for e in events] == [ApplicationMessage, ApplicationMessage, Disconnected]
    assert s.store.next_target_seq == 5


def test_durable_fail_mid_batch_counts_only_what_was_handed_over():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    # 2, 3 orders, then a message with a wrong CompID: Reject + Logout, the session ends.
    s.receive_data(_orders(peer, 2) + peer.frame("0", sender="INTRUDER"), clock.now_ns())
    assert s.wants_disconnect
    assert s.store.next_target_seq == 2
    first = s.next_event()
    assert isinstance(first, ApplicationMessage) and s.store.next_target_seq == 3


def _crash(db: SqliteMessageStore) -> None:
    """Lose whatever was not committed, as a killed process would."""
    conn = db.connection
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    conn.close()


def _sqlite_session(path: Path, clock):
    db = SqliteMessageStore(path, checkpoint="auto", now_ns=clock.now_ns)
    return db, make_session(clock, store=db.session_store(ACCEPTOR_ID))


def test_durable_sqlite_crash_mid_batch_new_session_asks_exactly_for_undelivered(tmp_path):
    clock = new_clock()
    path = tmp_path / "fix.db"
    db, s = _sqlite_session(path, clock)
    peer = Peer(INITIATOR_ID, clock)
    s.connection_made(clock.now_ns(), ("127.0.0.1", 5000))
    s.receive_data(peer.logon(), clock.now_ns())
    assert drain(s) == [LoggedOn(30, False)]
    s.data_to_send()  # commits: Logon counted
    s.receive_data(_orders(peer, 10), clock.now_ns())  # 2..11 in one read
    # The application handles four orders: each answer stored and committed with it, as the gateway does.
    for _ in range(4):
        event = s.next_event()
        s.send(b"8", [(11, event.message.get(11)), (150, "0")], clock.now_ns())
        db.commit()
    # A fifth handed over but its commit never happens.
    s.next_event()
    s.send(b"8", [(11, b"o4"), (150, "0")], clock.now_ns())
    _crash(db)

    db2, s2 = _sqlite_session(path, clock)
    try:
        store = s2.store
        assert store.next_target_seq == 6  # orders 2..5 counted, 6..11 not
        assert [seq for seq, _ in store.fetch(1, 0)] == [1, 2, 3, 4, 5]  # Logon + four answers
        s2.connection_made(clock.now_ns(), ("127.0.0.1", 5001))
        s2.receive_data(peer.logon(), clock.now_ns())  # the client's next number: 12
        assert drain(s2) == [LoggedOn(30, False), SequenceGap(6, 0)]
        logon, request = parse_frames(s2.data_to_send())
        assert logon.get(35) == b"A"
        assert (request.get(35), request.get(7), request.get(16)) == (b"2", b"6", b"0")
    finally:
        db2.close()


def test_durable_sqlite_other_sessions_commit_does_not_count_undelivered(tmp_path):
    clock = new_clock()
    path = tmp_path / "fix.db"
    db, s = _sqlite_session(path, clock)
    peer = Peer(INITIATOR_ID, clock)
    s.connection_made(clock.now_ns(), None)
    s.receive_data(peer.logon(), clock.now_ns())
    drain(s)
    s.data_to_send()
    s.receive_data(_orders(peer, 3), clock.now_ns())
    other = db.session_store(SessionID("FIX.4.4", "GW", "OTHER"))
    other.save_outbound(1, b"x")
    other.commit()  # another session's commit: the whole file, this session's number included
    _crash(db)
    db2 = SqliteMessageStore(path, checkpoint="auto")
    try:
        assert db2.session_store(ACCEPTOR_ID).next_target_seq == 2
    finally:
        db2.close()


# -- property: whatever the chunking and wherever the crash --------------------------------------------

_KINDS = st.lists(st.sampled_from(["order", "heartbeat", "test", "bad"]), min_size=1, max_size=12)


@settings(max_examples=120, deadline=None)
@given(kinds=_KINDS, data=st.data())
def test_durable_property_persisted_number_is_first_undelivered_order(kinds, data):
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    frames = []
    for i, kind in enumerate(kinds):
        if kind == "order":
            frames.append(peer.order(f"o{i}"))
        elif kind == "heartbeat":
            frames.append(peer.frame("0"))
        elif kind == "test":
            frames.append(peer.frame("1", [(112, f"t{i}")]))
        else:
            frames.append(peer.frame("ZZ"))  # rejected, number consumed
    stream = b"".join(frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=5)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])]
    crash_after = data.draw(st.integers(0, len(kinds) + len(chunks)))
    orders = {2 + i for i, kind in enumerate(kinds) if kind == "order"}
    delivered: set[int] = set()
    received = 2  # engine's expected number after the chunks fed so far
    steps = 0
    for chunk in chunks:
        s.receive_data(chunk, clock.now_ns())
        received = s.next_target_seq
        while steps < crash_after:
            event = s.next_event()
            if event is NEED_DATA:
                break
            steps += 1
            if isinstance(event, ApplicationMessage):
                delivered.add(event.seq)
            _check(s, orders, delivered, received)
        _check(s, orders, delivered, received)
        if steps >= crash_after:
            break
    _check(s, orders, delivered, received)


def _check(s, orders: set[int], delivered: set[int], received: int) -> None:
    undelivered = [seq for seq in orders if seq < received and seq not in delivered]
    persisted = s.store.next_target_seq
    assert persisted == (min(undelivered) if undelivered else received)
    assert all(seq < persisted for seq in delivered)
