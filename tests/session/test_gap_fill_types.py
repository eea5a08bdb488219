"""MsgTypes the application marks as never resent (``SessionConfig.gap_fill_msg_types``).

Stale data (market data above all) should not be replayed: such messages are numbered and sent like
any other but not stored, and a ResendRequest covering them is answered with SequenceReset-GapFill
over their numbers, while the ordinary application messages of the same range are resent with
PossDupFlag and OrigSendingTime. Checked on the memory store and on a real SQLite file, and across a
restart (the numbers they used are durable even though their bodies are not kept).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.codec import format_utc_timestamp
from fixgw.errors import ConfigError
from fixgw.session import SessionConfig, SessionID, SharedBody
from fixgw.session.messages import FrameWriter
from fixgw.stores import MemoryMessageStore, SqliteMessageStore

from .helpers import ACCEPTOR_ID, INITIATOR_ID, ConnectionPair, Peer, drain, make_session, new_clock, parse_frames, sent

MD = frozenset({b"W", b"X", b"Y"})


def _store(kind: str, tmp_path: Path, clock):
    if kind == "memory":
        return MemoryMessageStore(now_ns=clock.now_ns), None
    store = SqliteMessageStore(tmp_path / "fix.db", now_ns=clock.now_ns)
    return store, store


def _acceptor(kind: str, tmp_path: Path, **config):
    clock = new_clock()
    owner, closable = _store(kind, tmp_path, clock)
    s = make_session(clock, store=owner.session_store(ACCEPTOR_ID), **config)
    peer = Peer(INITIATOR_ID, clock)
    s.connection_made(clock.now_ns(), ("127.0.0.1", 5000))
    s.receive_data(peer.logon(), clock.now_ns())
    drain(s)
    s.data_to_send()
    return s, peer, clock, closable


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_gap_fill_types_resend_request_gap_fills_market_data_and_resends_reports(kind: str, tmp_path: Path) -> None:
    s, peer, clock, closable = _acceptor(kind, tmp_path, gap_fill_msg_types=MD)
    try:
        # Logon 1; then X 2, X 3, ExecutionReport 4, W 5, X 6, ExecutionReport 7, Y 8
        originals = {}
        plan = [(b"X", [(262, "md"), (268, 1), (279, 0), (269, 0), (270, "100"), (271, "1")]),
                (b"X", [(262, "md"), (268, 1), (279, 2), (269, 0), (270, "100")]),
                (b"8", [(37, "o4"), (17, "e4")]),
                (b"W", [(262, "md"), (55, "BTC/USDT"), (268, 0)]),
                (b"X", SharedBody.of(b"268=1\x01279=0\x01269=1\x01270=101\x01271=2\x01").led_by(b"262=md\x01")),
                (b"8", [(37, "o7"), (17, "e7")]),
                (b"Y", [(262, "bad"), (281, 0)])]
        for msg_type, body in plan:
            clock.advance(1)
            seq = s.send(msg_type, body, clock.now_ns())
            originals[seq] = format_utc_timestamp(clock.now_ns())
        first = sent(s)
        assert [(m.get(35), m.get(34)) for m in first] == [
            (b"X", b"2"), (b"X", b"3"), (b"8", b"4"), (b"W", b"5"), (b"X", b"6"), (b"8", b"7"), (b"Y", b"8")]
        assert first[4].get(262) == b"md" and first[4].get(271) == b"2"  # the shared body went out whole
        assert [seq for seq, _ in s.store.fetch(1, 0)] == [1, 4, 7]  # market data is not kept
        clock.advance(1)
        s.receive_data(peer.frame("2", [(7, 2), (16, 0)]), clock.now_ns())
        out = sent(s)
        assert [(m.get(35), m.get(34), m.get(36)) for m in out] == [
            (b"4", b"2", b"4"), (b"8", b"4", None), (b"4", b"5", b"7"), (b"8", b"7", None), (b"4", b"8", b"9")]
        now = format_utc_timestamp(clock.now_ns())
        for fill in out[0::2]:
            assert (fill.get(123), fill.get(43)) == (b"Y", b"Y")
        for report, seq in ((out[1], 4), (out[3], 7)):
            assert (report.get(43), report.get(122), report.get(52)) == (b"Y", originals[seq], now)
            assert report.get(37) == b"o%d" % seq
        assert s.next_sender_seq == 9  # answering used no new numbers
    finally:
        if closable is not None:
            closable.close()


def test_gap_fill_types_numbers_survive_a_restart_without_their_bodies(tmp_path: Path) -> None:
    s, _peer, clock, store = _acceptor("sqlite", tmp_path, gap_fill_msg_types=MD)
    s.send(b"X", [(262, "md"), (268, 0)], clock.now_ns())
    s.send(b"X", [(262, "md"), (268, 0)], clock.now_ns())
    s.data_to_send()  # commits: the bytes left, so their numbers are durable
    store.close()
    reopened = SqliteMessageStore(tmp_path / "fix.db")
    try:
        again = reopened.session_store(ACCEPTOR_ID)
        assert again.next_sender_seq == 4
        assert [seq for seq, _ in again.fetch(1, 0)] == [1]
    finally:
        reopened.close()


def test_gap_fill_types_chunked_resend_fills_each_chunk() -> None:
    clock = new_clock()
    s = make_session(clock, gap_fill_msg_types=frozenset({"X"}), resend_chunk_size=2)
    peer = Peer(INITIATOR_ID, clock)
    s.connection_made(clock.now_ns())
    s.receive_data(peer.logon(), clock.now_ns())
    drain(s)
    for msg_type in (b"X", b"X", b"X", b"8", b"X"):  # 2..6
        s.send(msg_type, [(58, "m")], clock.now_ns())
    s.data_to_send()
    s.receive_data(peer.frame("2", [(7, 2), (16, 0)]), clock.now_ns())
    frames = []
    while data := s.data_to_send():
        frames += [(m.get(35), m.get(34), m.get(36)) for m in parse_frames(data)]
    assert frames == [(b"4", b"2", b"4"), (b"4", b"4", b"5"), (b"8", b"5", None), (b"4", b"6", b"7")]


def test_gap_fill_types_peer_applies_the_fill_and_sees_only_reports() -> None:
    pair = ConnectionPair(acceptor={"gap_fill_msg_types": MD})
    pair.connect()
    now = pair.clock.now_ns()
    pair.acceptor.connection_lost(now)
    pair.initiator.connection_lost(now)
    pair.acceptor.send(b"X", [(262, "md"), (268, 0)], now)  # 2: sent while the peer was away
    pair.acceptor.send(b"8", [(37, "offline")], now)  # 3
    pair.acceptor.send(b"X", [(262, "md"), (268, 0)], now)  # 4
    pair.events = {"acceptor": [], "initiator": []}
    pair.connect()
    got = pair.app("initiator")
    assert [(e.message.get(35), e.message.get(37), e.poss_dup) for e in got] == [(b"8", b"offline", True)]
    assert pair.initiator.next_target_seq == pair.acceptor.next_sender_seq == 6  # after the Logon answer, 5
    assert pair.initiator.is_logged_on and not pair.initiator.awaiting_gap_fill


def test_gap_fill_types_config_takes_str_and_refuses_admin_types() -> None:
    sid = SessionID("FIX.4.4", "GW", "C")
    assert SessionConfig(sid, gap_fill_msg_types=frozenset({"X", b"W"})).gap_fill_msg_types == {b"X", b"W"}
    with pytest.raises(ConfigError):
        SessionConfig(sid, gap_fill_msg_types=frozenset({"X", "4"}))


@settings(max_examples=200, deadline=None)
@given(lead=st.binary(max_size=40), shared=st.binary(max_size=3000), seq=st.integers(1, 10**9),
       extra=st.sampled_from([b"", b"128=DESK\x01"]))
def test_shared_body_frame_equals_the_frame_of_its_bytes(lead: bytes, shared: bytes, seq: int, extra: bytes) -> None:
    w = FrameWriter("FIX.4.2", "GATEWAY", "CLIENT7")
    stamp = b"20260101-00:00:00.000"
    body = SharedBody.of(shared).led_by(lead)
    assert w.frame_shared(b"X", seq, stamp, body, extra) == w.frame(b"X", seq, stamp, lead + shared, extra)
    assert bytes(body) == lead + shared
