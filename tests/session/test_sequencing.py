"""MsgSeqNum handling: 2a-2c, SequenceReset-GapFill (10) and -Reset (11), chunked ResendRequests."""

from __future__ import annotations

from fixgw.session import Disconnected, Rejected, SequenceGap

from .helpers import logged_on_acceptor, new_clock, drain, sent, types


def _order_ids(events):
    return [e.message.get(11) for e in events if type(e).__name__ == "ApplicationMessage"]


def test_2a_expected_seq_delivered_and_incremented():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order("a"), clock.now_ns())
    (event,) = drain(s)
    assert event.message.get(11) == b"a" and not event.poss_dup and event.msg_type == b"D" and event.seq == 2
    assert s.next_target_seq == 3
    assert s.data_to_send() == b""


def test_2a_messages_split_anywhere_delivered_once():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    data = peer.order("a") + peer.order("b") + peer.order("c")
    for i in range(len(data)):
        s.receive_data(data[i : i + 1], clock.now_ns())
    assert _order_ids(drain(s)) == [b"a", b"b", b"c"]


def test_2b_seq_too_high_sends_resend_request_and_queues_until_gap_filled():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order("o2"), clock.now_ns())
    peer.next_seq = 5
    s.receive_data(peer.order("o5"), clock.now_ns())
    s.receive_data(peer.order("o6"), clock.now_ns())
    events = drain(s)
    assert _order_ids(events) == [b"o2"]
    assert SequenceGap(3, 0) in events
    (resend,) = sent(s)  # one ResendRequest, not one per queued message
    assert (resend.get(35), resend.get(7), resend.get(16)) == (b"2", b"3", b"0")
    assert s.awaiting_gap_fill
    t = clock.now_ns()
    s.receive_data(peer.order("o3", seq=3, poss_dup=True, orig_sending_time_ns=t), t)
    s.receive_data(peer.order("o4", seq=4, poss_dup=True, orig_sending_time_ns=t), t)
    events = drain(s)
    assert _order_ids(events) == [b"o3", b"o4", b"o5", b"o6"]
    assert [e.poss_dup for e in events] == [True, True, False, False]
    assert s.next_target_seq == 7 and not s.awaiting_gap_fill
    assert s.data_to_send() == b""


def test_2c_seq_too_low_without_poss_dup_logs_out_with_text():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order(seq=1), clock.now_ns())
    assert [type(e) for e in drain(s)] == [Disconnected]
    (logout,) = sent(s)
    assert logout.get(35) == b"5"
    assert logout.get(58) == b"MsgSeqNum too low, expecting 2 but received 1"
    assert s.wants_disconnect


def test_10_gap_fill_seq_too_high_sends_resend_request():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.frame("4", [(123, "Y"), (36, 9)], seq=5), clock.now_ns())
    assert SequenceGap(2, 0) in drain(s)
    (resend,) = sent(s)
    assert (resend.get(35), resend.get(7)) == (b"2", b"2")


def test_10_gap_fill_seq_expected_moves_expected_to_new_seq_no():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.frame("4", [(123, "Y"), (36, 9)]), clock.now_ns())
    assert drain(s) == []
    assert s.next_target_seq == 9
    peer.next_seq = 9
    s.receive_data(peer.order("after"), clock.now_ns())
    assert _order_ids(drain(s)) == [b"after"]


def test_10_gap_fill_seq_too_low_with_poss_dup_ignored():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order(), clock.now_ns())
    drain(s)
    s.receive_data(peer.frame("4", [(123, "Y"), (36, 3)], seq=2, poss_dup=True), clock.now_ns())
    assert drain(s) == [] and s.data_to_send() == b""
    assert s.next_target_seq == 3


def test_10_gap_fill_seq_too_low_without_poss_dup_logs_out():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.frame("4", [(123, "Y"), (36, 5)], seq=1), clock.now_ns())
    assert [type(e) for e in drain(s)] == [Disconnected]
    assert b"MsgSeqNum too low" in sent(s)[0].get(58)


def test_10_gap_fill_new_seq_no_not_above_seq_rejected_373_5_ref_36():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.frame("4", [(123, "Y"), (36, 2)]), clock.now_ns())
    (event,) = drain(s)
    assert isinstance(event, Rejected) and (event.ref_seq, event.reason, event.ref_tag) == (2, 5, 36)
    (reject,) = sent(s)
    assert (reject.get(35), reject.get(45), reject.get(373), reject.get(371), reject.get(372)) == (
        b"3", b"2", b"5", b"36", b"4")
    assert s.next_target_seq == 3  # the Reject consumed the number


def test_11_reset_new_seq_no_higher_sets_expected_whatever_its_seq():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.frame("4", [(36, 20)], seq=1), clock.now_ns())  # 34 ignored in Reset mode
    assert drain(s) == [] and s.data_to_send() == b""
    assert s.next_target_seq == 20


def test_11_reset_new_seq_no_equal_accepted_without_reply():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.frame("4", [(123, "N"), (36, 2)], seq=2), clock.now_ns())
    assert drain(s) == [] and s.data_to_send() == b""
    assert s.next_target_seq == 2


def test_11_reset_new_seq_no_lower_rejected_373_5_ref_36():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order(), clock.now_ns())
    s.receive_data(peer.order(), clock.now_ns())
    drain(s)
    s.receive_data(peer.frame("4", [(36, 2)], seq=4), clock.now_ns())
    (event,) = drain(s)
    assert isinstance(event, Rejected) and (event.reason, event.ref_tag) == (5, 36)
    assert sent(s)[0].get(373) == b"5"
    assert s.next_target_seq == 4


def test_11_reset_over_a_gap_releases_queued_messages():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    peer.next_seq = 5
    s.receive_data(peer.order("o5"), clock.now_ns())
    drain(s)
    s.data_to_send()
    s.receive_data(peer.frame("4", [(36, 5)], seq=2), clock.now_ns())
    assert _order_ids(drain(s)) == [b"o5"]
    assert not s.awaiting_gap_fill and s.next_target_seq == 6


def test_resend_request_chunk_size_asks_in_chunks():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, resend_request_chunk_size=2)
    peer.next_seq = 7
    s.receive_data(peer.order("o7"), clock.now_ns())
    (first,) = sent(s)
    assert (first.get(7), first.get(16)) == (b"2", b"3")
    t = clock.now_ns()
    s.receive_data(peer.frame("4", [(123, "Y"), (36, 4)], seq=2, poss_dup=True, orig_sending_time_ns=t), t)
    (second,) = sent(s)
    assert (second.get(7), second.get(16)) == (b"4", b"5")
    s.receive_data(peer.frame("4", [(123, "Y"), (36, 6)], seq=4, poss_dup=True, orig_sending_time_ns=t), t)
    (third,) = sent(s)
    assert (third.get(7), third.get(16)) == (b"6", b"6")
    s.receive_data(peer.order("o6", seq=6, poss_dup=True, orig_sending_time_ns=t), t)
    assert _order_ids(drain(s)) == [b"o6", b"o7"]
    assert s.data_to_send() == b"" and not s.awaiting_gap_fill


def test_queue_overflow_logs_out():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, max_queued_messages=3)
    peer.next_seq = 10
    for _ in range(4):
        s.receive_data(peer.order(), clock.now_ns())
    assert isinstance(drain(s)[-1], Disconnected)
    assert types(sent(s)) == [b"2", b"5"]


def _run_timers_until(s, clock, seconds):
    target = clock.now_ns() + int(seconds * 1_000_000_000)
    while (deadline := s.next_deadline_ns()) is not None and deadline <= target and s.is_logged_on:
        clock.set(max(deadline, clock.now_ns()))
        s.on_tick(clock.now_ns())
    clock.set(max(target, clock.now_ns()))


def test_2b_unanswered_resend_request_asked_again_after_gap_fill_timeout():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, gap_fill_timeout=5.0)
    peer.next_seq = 5
    s.receive_data(peer.order("o5"), clock.now_ns())
    (first,) = sent(s)
    assert (first.get(35), first.get(7), first.get(16)) == (b"2", b"2", b"0")
    _run_timers_until(s, clock, 4.9)
    assert s.data_to_send() == b""
    _run_timers_until(s, clock, 0.2)
    (again,) = sent(s)
    assert (again.get(35), again.get(7), again.get(16)) == (b"2", b"2", b"0")
    assert SequenceGap(2, 0) in drain(s)
    # Answered this time: the queued message is released and nobody asks again.
    t = clock.now_ns()
    s.receive_data(peer.frame("4", [(123, "Y"), (36, 5)], seq=2, poss_dup=True, orig_sending_time_ns=t), t)
    assert _order_ids(drain(s)) == [b"o5"]
    _run_timers_until(s, clock, 20)
    assert b"2" not in types(sent(s))


def test_2b_resend_request_never_answered_logs_out_after_max_requests():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, gap_fill_timeout=5.0, max_resend_requests=3)
    peer.next_seq = 5
    s.receive_data(peer.order("o5"), clock.now_ns())
    _run_timers_until(s, clock, 16)
    out = sent(s)
    assert types(out) == [b"2", b"2", b"2", b"5"]
    assert out[-1].get(58) == b"ResendRequest for 2..4 not answered"
    assert isinstance(drain(s)[-1], Disconnected) and s.wants_disconnect


def test_2b_gap_being_filled_slowly_not_asked_again():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, gap_fill_timeout=5.0)
    peer.next_seq = 6
    s.receive_data(peer.order("o6"), clock.now_ns())
    assert types(sent(s)) == [b"2"]
    for n in (2, 3, 4):  # one resent message every 4 s: progress within each period
        _run_timers_until(s, clock, 4)
        t = clock.now_ns()
        s.receive_data(peer.order("o%d" % n, seq=n, poss_dup=True, orig_sending_time_ns=t), t)
    _run_timers_until(s, clock, 4)
    assert s.data_to_send() == b""
    t = clock.now_ns()
    s.receive_data(peer.order("o5", seq=5, poss_dup=True, orig_sending_time_ns=t), t)
    assert _order_ids(drain(s)) == [b"o2", b"o3", b"o4", b"o5", b"o6"]
    assert not s.awaiting_gap_fill


def test_2b_gap_fill_timeout_none_never_asks_again():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, gap_fill_timeout=None)
    peer.next_seq = 5
    s.receive_data(peer.order("o5"), clock.now_ns())
    assert types(sent(s)) == [b"2"]
    _run_timers_until(s, clock, 25)
    assert s.data_to_send() == b"" and s.awaiting_gap_fill and s.is_logged_on
