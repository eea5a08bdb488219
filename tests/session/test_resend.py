"""PossDup and resend: 2e-2g, 8, 16, 19, 20, and storing before sending."""

from __future__ import annotations

from fixgw.codec import format_utc_timestamp
from fixgw.session import Disconnected, Rejected, SequenceGap, SessionID
from fixgw.stores import MemoryMessageStore

from .helpers import (
    NS,
    ConnectionPair,
    Peer,
    drain,
    logged_on_acceptor,
    make_session,
    new_clock,
    sent,
    types,
)


def test_2e_poss_dup_already_received_ignored():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order("a"), clock.now_ns())
    drain(s)
    t = clock.now_ns()
    s.receive_data(peer.order("a", seq=2, poss_dup=True, orig_sending_time_ns=t - NS), t)
    assert drain(s) == [] and s.data_to_send() == b""
    assert s.next_target_seq == 3


def test_2e_poss_dup_not_yet_received_processed_with_flag():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    t = clock.now_ns()
    s.receive_data(peer.order("a", poss_dup=True, orig_sending_time_ns=t - NS), t)
    (event,) = drain(s)
    assert event.poss_dup and event.message.get(11) == b"a"


def test_2f_orig_sending_time_after_sending_time_rejected_373_10_and_consumed():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    t = clock.now_ns()
    s.receive_data(peer.order(poss_dup=True, orig_sending_time_ns=t + 5 * NS), t)
    (event,) = drain(s)
    assert isinstance(event, Rejected) and (event.reason, event.ref_tag) == (10, 122)
    (reject,) = sent(s)
    assert (reject.get(35), reject.get(373), reject.get(45)) == (b"3", b"10", b"2")
    assert s.next_target_seq == 3 and s.is_logged_on


def test_2g_poss_dup_without_orig_sending_time_rejected_373_1_ref_122():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order(poss_dup=True), clock.now_ns())
    (event,) = drain(s)
    assert isinstance(event, Rejected) and (event.reason, event.ref_tag) == (1, 122)
    (reject,) = sent(s)
    assert (reject.get(373), reject.get(371), reject.get(372)) == (b"1", b"122", b"D")
    assert s.next_target_seq == 3
    s.receive_data(peer.order("next"), clock.now_ns())
    assert drain(s)[0].message.get(11) == b"next"


def _acceptor_with_history(clock):
    """Acceptor after Logon(1), app 2, 3, Heartbeat 4, app 5, Heartbeat 6, TestRequest 7."""
    s, peer = logged_on_acceptor(clock)
    originals = {}
    for seq in (2, 3):
        assert s.send(b"8", [(37, f"x{seq}")], clock.now_ns()) == seq
        originals[seq] = format_utc_timestamp(clock.now_ns())
    s.on_tick(clock.advance(30))  # Heartbeat 4
    clock.advance(1)
    assert s.send("8", [(37, "x5")], clock.now_ns()) == 5
    originals[5] = format_utc_timestamp(clock.now_ns())
    s.receive_data(peer.frame("0"), clock.now_ns())  # keep the peer alive
    s.on_tick(clock.advance(30))  # Heartbeat 6
    s.on_tick(clock.advance(6.1))  # TestRequest 7 (peer silent for 36.1 s)
    sent(s)
    assert s.next_sender_seq == 8
    return s, peer, originals


def test_8_resend_request_resends_app_messages_with_poss_dup_and_gap_fills_admin():
    clock = new_clock()
    s, peer, originals = _acceptor_with_history(clock)
    clock.advance(1)
    s.receive_data(peer.frame("2", [(7, 1), (16, 0)]), clock.now_ns())
    out = sent(s)
    assert [(m.get(35), m.get(34)) for m in out] == [
        (b"4", b"1"), (b"8", b"2"), (b"8", b"3"), (b"4", b"4"), (b"8", b"5"), (b"4", b"6")]
    fill_logon, x2, x3, fill_hb, x5, fill_tail = out
    assert (fill_logon.get(123), fill_logon.get(36), fill_logon.get(43)) == (b"Y", b"2", b"Y")
    assert fill_hb.get(36) == b"5"
    assert fill_tail.get(36) == b"8"  # Heartbeat 6 and TestRequest 7 collapsed into one GapFill
    now = format_utc_timestamp(clock.now_ns())
    for msg, seq in ((x2, 2), (x3, 3), (x5, 5)):
        assert msg.get(43) == b"Y"
        assert msg.get(122) == originals[seq]
        assert msg.get(52) == now
        assert msg.get(37) == b"x%d" % seq
    # Header order: 43 and 122 follow 52; body unchanged after them.
    assert [t for t, _ in x2.fields][:10] == [8, 9, 35, 49, 56, 34, 52, 43, 122, 37]
    assert s.next_sender_seq == 8  # resending does not use new numbers


def test_8_resend_request_bounded_range():
    clock = new_clock()
    s, peer, _ = _acceptor_with_history(clock)
    s.receive_data(peer.frame("2", [(7, 3), (16, 4)]), clock.now_ns())
    assert [(m.get(35), m.get(34)) for m in sent(s)] == [(b"8", b"3"), (b"4", b"4")]


def test_8_fix42_end_seq_999999_means_infinity():
    clock = new_clock()
    sid = SessionID("FIX.4.2", "GW", "CLIENT")
    s = make_session(clock, session_id=sid)
    peer = Peer(sid.reversed(), clock)
    s.connection_made(clock.now_ns())
    s.receive_data(peer.logon(), clock.now_ns())
    s.send(b"8", [(37, "a")], clock.now_ns())
    s.send(b"8", [(37, "b")], clock.now_ns())
    sent(s)
    s.receive_data(peer.frame("2", [(7, 2), (16, 999999)]), clock.now_ns())
    out = sent(s)
    assert [(m.get(35), m.get(34), m.get(8)) for m in out] == [(b"8", b"2", b"FIX.4.2"), (b"8", b"3", b"FIX.4.2")]


def test_8_resend_chunk_size_spreads_resend_over_calls_and_holds_new_messages():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, resend_chunk_size=2)
    for k in range(5):
        s.send(b"8", [(37, k)], clock.now_ns())
    sent(s)
    s.receive_data(peer.frame("2", [(7, 2), (16, 0)]), clock.now_ns())
    assert s.has_data_to_send and s.next_deadline_ns() == clock.now_ns()
    s.send(b"8", [(37, "new")], clock.now_ns())  # seq 7, must not overtake the resend
    batches = []
    while (data := s.data_to_send()):
        from .helpers import parse_frames

        batches.append([(m.get(34), m.get(43)) for m in parse_frames(data)])
    assert batches == [
        [(b"2", b"Y"), (b"3", b"Y")],
        [(b"4", b"Y"), (b"5", b"Y")],
        [(b"6", b"Y"), (b"7", None)],
    ]
    assert not s.has_data_to_send


def test_8_resend_request_beyond_last_sent_answers_nothing():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.frame("2", [(7, 5), (16, 0)]), clock.now_ns())
    assert s.data_to_send() == b""
    assert s.next_target_seq == 3


def test_8_resend_request_with_bad_range_rejected():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.frame("2", [(7, 5), (16, 3)]), clock.now_ns())
    (event,) = drain(s)
    assert isinstance(event, Rejected) and event.reason == 5
    assert s.next_target_seq == 3


def test_19_poss_resend_flag_passed_to_application():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order(header=[(97, "Y")]), clock.now_ns())
    (event,) = drain(s)
    assert event.poss_resend and not event.poss_dup


def test_20_resend_request_while_awaiting_gap_fill_served_then_gap_rerequested():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.send(b"8", [(37, "x")], clock.now_ns())
    s.data_to_send()
    peer.next_seq = 4
    s.receive_data(peer.order("o4"), clock.now_ns())
    (first_request,) = sent(s)
    assert (first_request.get(7), first_request.get(16)) == (b"2", b"0")
    # The peer, missing our message 2 as well, asks at seq 5 (still above our gap).
    s.receive_data(peer.frame("2", [(7, 2), (16, 0)]), clock.now_ns())
    out = sent(s)
    assert [(m.get(35), m.get(34)) for m in out[:2]] == [(b"8", b"2"), (b"4", b"3")]
    assert out[0].get(43) == b"Y"
    assert (out[-1].get(35), out[-1].get(7), out[-1].get(16)) == (b"2", b"2", b"0")
    t = clock.now_ns()
    s.receive_data(peer.frame("4", [(123, "Y"), (36, 4)], seq=2, poss_dup=True, orig_sending_time_ns=t), t)
    events = drain(s)
    assert [e.message.get(11) for e in events if type(e).__name__ == "ApplicationMessage"] == [b"o4"]
    assert s.next_target_seq == 6 and not s.awaiting_gap_fill


def test_16_messages_sent_while_disconnected_recovered_after_logon():
    pair = ConnectionPair()
    pair.connect()
    now = pair.clock.now_ns()
    pair.acceptor.connection_lost(now)
    pair.initiator.connection_lost(now)
    assert pair.acceptor.send(b"8", [(37, "offline1")], now) == 2
    assert pair.acceptor.send(b"8", [(37, "offline2")], now) == 3
    assert pair.acceptor.data_to_send() == b""
    pair.events = {"acceptor": [], "initiator": []}
    pair.connect()
    got = pair.app("initiator")
    assert [e.message.get(37) for e in got] == [b"offline1", b"offline2"]
    assert all(e.poss_dup for e in got)
    assert SequenceGap(2, 0) in pair.events["initiator"]
    assert pair.initiator.next_target_seq == pair.acceptor.next_sender_seq


class _SpyStore:
    """Records the order of store writes, commits and what left data_to_send()."""

    def __init__(self, inner, log):
        self._inner = inner
        self._log = log

    def __getattr__(self, name):
        return getattr(self._inner, name)

    @property
    def next_sender_seq(self):
        return self._inner.next_sender_seq

    @property
    def next_target_seq(self):
        return self._inner.next_target_seq

    def save_outbound(self, seq, raw):
        self._log.append(("save", seq))
        self._inner.save_outbound(seq, raw)

    def commit(self):
        self._log.append(("commit",))
        self._inner.commit()


def test_outbound_saved_before_data_to_send_and_committed_once_per_batch():
    clock = new_clock()
    log = []
    sid = SessionID("FIX.4.4", "GW", "CLIENT")
    store = _SpyStore(MemoryMessageStore(now_ns=clock.now_ns).session_store(sid), log)
    s = make_session(clock, store=store)
    s.connection_made(clock.now_ns())
    s.receive_data(Peer(sid.reversed(), clock).logon(), clock.now_ns())
    s.send(b"8", [(37, "a")], clock.now_ns())
    data = s.data_to_send()
    log.append(("sent", data.count(b"\x0110=")))
    assert log == [("save", 1), ("save", 2), ("commit",), ("sent", 2)]
    assert store.fetch(1, 0)[1][1] in data
    assert s.data_to_send() == b"" and log[-1] == ("sent", 2)


def test_disconnect_then_logout_text_reaches_peer_before_close():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order(seq=1), clock.now_ns())
    events = drain(s)
    assert isinstance(events[-1], Disconnected) and s.wants_disconnect
    assert types(sent(s)) == [b"5"]
    s.receive_data(peer.order(), clock.now_ns())  # ignored after the decision to close
    assert drain(s) == []
