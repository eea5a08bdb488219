"""Market data leaves without a commit wait, and a crash never reuses a number (reserved sender numbers).

The session sends a MsgType of ``gap_fill_msg_types`` through ``store.advance_sender_seq``: on a durable
store one commit reserves numbers ahead, and the sends up to that mark leave ``data_to_send()`` with
nothing to commit. After a crash the session resumes above every number it sent, and the peer's
ResendRequest over the gap is answered with SequenceReset-GapFill (and the stored reports resent).
Byte-level, on a real SQLite file.
"""

from __future__ import annotations

from pathlib import Path

from fixgw.stores import SqliteMessageStore

from .helpers import ACCEPTOR_ID, INITIATOR_ID, Peer, drain, make_session, new_clock, parse_frames, sent

MD = frozenset({b"W", b"X", b"Y"})
K = 20


def _logged_on(store: SqliteMessageStore, clock, peer: Peer):
    s = make_session(clock, store=store.session_store(ACCEPTOR_ID), gap_fill_msg_types=MD)
    s.connection_made(clock.now_ns(), ("127.0.0.1", 5000))
    s.receive_data(peer.logon(), clock.now_ns())
    drain(s)
    return s


def test_seq_reserve_market_data_sends_commit_once_per_reserved_block(tmp_path: Path) -> None:
    clock = new_clock()
    with SqliteMessageStore(tmp_path / "fix.db", checkpoint="auto", seq_reserve=K) as store:
        s = _logged_on(store, clock, Peer(INITIATOR_ID, clock))
        s.data_to_send()  # the Logon answer, 1
        commits = store.commits
        seqs = []
        for _ in range(3 * K):
            clock.advance(0.001)
            s.send(b"X", [(262, "md"), (268, 0)], clock.now_ns())
            seqs += [int(m.get(34)) for m in sent(s)]
        assert seqs == list(range(2, 2 + 3 * K))  # every one went out, in order
        # X 2 reserves up to 3 + K; the sends up to it commit nothing; then one commit per block
        assert store.commits - commits == 3


def test_seq_reserve_crash_after_market_data_resumes_above_and_gap_fills(tmp_path: Path) -> None:
    clock = new_clock()
    path = tmp_path / "fix.db"
    store = SqliteMessageStore(path, checkpoint="auto", seq_reserve=K)
    peer = Peer(INITIATOR_ID, clock)
    s = _logged_on(store, clock, peer)
    wire = sent(s)  # Logon 1
    for msg_type, body in ((b"X", [(262, "md"), (268, 0)]), (b"8", [(37, "o3"), (17, "e3")]),
                           (b"W", [(262, "md"), (55, "BTC/USDT"), (268, 0)]), (b"X", [(262, "md"), (268, 0)])):
        clock.advance(1)
        s.send(msg_type, body, clock.now_ns())
        wire += sent(s)  # committed first: these bytes left
    assert [(m.get(35), int(m.get(34))) for m in wire] == [(b"A", 1), (b"X", 2), (b"8", 3), (b"W", 4), (b"X", 5)]
    store.connection.close()  # kill -9: whatever was not committed is gone

    with SqliteMessageStore(path, checkpoint="auto", seq_reserve=K) as again:
        clock.advance(1)
        peer2 = Peer(INITIATOR_ID, clock)
        peer2.next_seq = peer.next_seq
        s2 = _logged_on(again, clock, peer2)
        logon = sent(s2)
        resumed = int(logon[0].get(34))
        assert logon[0].get(35) == b"A" and 6 <= resumed <= 3 + K + 1  # above every number sent
        clock.advance(1)
        s2.receive_data(peer2.frame("2", [(7, 2), (16, 0)]), clock.now_ns())
        answer = [(m.get(35), int(m.get(34)), m.get(36), m.get(43)) for m in sent(s2)]
        assert answer == [
            (b"4", 2, b"3", b"Y"),  # X 2: gap-filled
            (b"8", 3, None, b"Y"),  # the report: resent
            (b"4", 4, b"%d" % (resumed + 1), b"Y"),  # W 4, X 5, the unused numbers and the Logon
        ]
        s2.send(b"X", [(262, "md"), (268, 0)], clock.now_ns())
        assert [int(m.get(34)) for m in sent(s2)] == [resumed + 1]
