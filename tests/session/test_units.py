"""The small pure pieces: transition table, sequencer, resend planning, heartbeat timer, memory store."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.codec import Message, Parser, encode
from fixgw.errors import ConfigError, LocalProtocolError
from fixgw.session import TRANSITIONS, SessionConfig, SessionID, SessionState, Trigger
from fixgw.session.heartbeat import HeartbeatTimer
from fixgw.session.messages import FrameWriter, encode_body
from fixgw.session.resend import GapFill, Resend, as_poss_dup, plan_resend, stored_msg_type
from fixgw.session.sequencing import (
    ASK_AGAIN,
    EXPECTED,
    GIVE_UP,
    SKIP,
    TOO_HIGH,
    TOO_LOW,
    WAIT,
    GapWatch,
    InboundSequencer,
    classify,
)
from fixgw.session.states import next_state
from fixgw.session.validation import check_comp_ids, check_poss_dup, check_sending_time, parse_sending_time
from fixgw.stores import MemoryMessageStore

NS = 1_000_000_000


def test_transition_table_unknown_pair_raises_local_protocol_error():
    with pytest.raises(LocalProtocolError):
        next_state(SessionState.DISCONNECTED, Trigger.LOGOUT_REQUESTED)
    with pytest.raises(LocalProtocolError):
        next_state(SessionState.ACTIVE, Trigger.ACCEPTED)


def test_transition_table_every_connected_state_can_fail_and_be_lost():
    for state in (SessionState.AWAITING_LOGON, SessionState.LOGON_SENT, SessionState.ACTIVE, SessionState.LOGOUT_SENT):
        assert TRANSITIONS[(state, Trigger.FAILED)] is SessionState.DISCONNECTING
        assert TRANSITIONS[(state, Trigger.CONNECTION_LOST)] is SessionState.DISCONNECTED


def test_classify_seq_three_ways():
    assert (classify(5, 5), classify(6, 5), classify(4, 5)) == (EXPECTED, TOO_HIGH, TOO_LOW)


def test_sequencer_one_request_per_gap_then_satisfied():
    s = InboundSequencer()
    s.hold(5, "m5")
    assert s.on_too_high(5, 2) == (2, 0, 4)
    s.hold(6, "m6")
    assert s.on_too_high(6, 2) is None
    assert s.pop_next(2) is None
    assert s.after_advance(5) is None and s.requested == (2, 5)  # widened to the newest held message
    assert s.pop_next(5) == "m5"
    assert s.after_advance(6) is None and s.requested is None


def test_sequencer_remaining_hole_requested_again():
    s = InboundSequencer()
    s.hold(4, "m4")
    s.on_too_high(4, 2)
    s.hold(9, "m9")
    s.on_too_high(9, 2)
    s.queue.pop(4)  # pretend 4 was processed; 5..8 never came
    assert s.after_advance(5) is None  # the open-ended request still covers 5..8
    assert s.after_advance(9) is None
    s2 = InboundSequencer(chunk=3)
    s2.hold(10, "m10")
    assert s2.on_too_high(10, 2) == (2, 4, 4)
    assert s2.after_advance(5) == (5, 7, 7)
    assert s2.after_advance(8) == (8, 9, 9)


def test_sequencer_drops_stale_entries_below_expected():
    s = InboundSequencer()
    s.hold(3, SKIP)
    s.hold(4, "m4")
    assert s.pop_next(6) is None
    assert s.queue == {}


def _raw(seq, msg_type):
    return encode("FIX.4.4", msg_type, [(49, "A"), (56, "B"), (34, seq), (52, "20240101-00:00:00.000")])


def test_gap_watch_unanswered_requests_ask_again_then_give_up():
    watch = GapWatch(5)
    watch.watch(3, 100, asked=True, request_seq=7)
    assert (watch.deadline_ns, watch.requests, watch.request_seq) == (105, 1, 7)
    assert watch.check(105, 3, max_requests=2) is ASK_AGAIN
    watch.watch(3, 105, asked=True, request_seq=9)  # the same hole: a repeat
    assert watch.requests == 2
    assert watch.check(110, 3, max_requests=2) is GIVE_UP


def test_gap_watch_progress_or_higher_hole_restarts_the_count():
    watch = GapWatch(5)
    watch.watch(3, 100, asked=True)
    assert watch.check(105, 4, max_requests=1) is WAIT  # the peer answered part of it
    assert (watch.mark, watch.requests, watch.deadline_ns) == (4, 0, 110)
    watch.watch(4, 110, asked=True)
    watch.watch(8, 111, asked=True)  # the hole moved up
    assert watch.requests == 1


def test_gap_watch_without_timeout_arms_nothing_but_remembers_the_request():
    watch = GapWatch(None)
    watch.watch(3, 100, asked=True, request_seq=12)
    assert watch.deadline_ns is None and watch.requests == 0 and watch.request_seq == 12
    watch.forget()
    assert watch.request_seq == 0


def test_plan_resend_collapses_admin_and_missing_into_gap_fills():
    stored = [(1, _raw(1, "A")), (2, _raw(2, "D")), (3, _raw(3, "0")), (4, _raw(4, "1")), (6, _raw(6, "D"))]
    assert plan_resend(stored, 1, 8) == [
        GapFill(1, 2), Resend(2, stored[1][1]), GapFill(3, 6), Resend(6, stored[4][1]), GapFill(7, 9)]


def test_plan_resend_nothing_stored_is_one_gap_fill():
    assert plan_resend([], 3, 7) == [GapFill(3, 8)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["A", "0", "D", "8", None]), min_size=1, max_size=30), st.data())
def test_plan_resend_covers_every_number_exactly_once(kinds, data):
    stored = [(i + 1, _raw(i + 1, k)) for i, k in enumerate(kinds) if k is not None]
    begin = data.draw(st.integers(1, len(kinds)))
    end = data.draw(st.integers(begin, len(kinds) + 3))
    plan = plan_resend(stored, begin, end)
    covered = []
    for item in plan:
        covered.extend([item.seq] if isinstance(item, Resend) else range(item.seq, item.new_seq))
    assert covered == list(range(begin, end + 1))
    for a, b in zip(plan, plan[1:]):
        assert not (isinstance(a, GapFill) and isinstance(b, GapFill))  # consecutive fills collapsed
    for item in plan:
        if isinstance(item, Resend):
            assert stored_msg_type(item.raw) in (b"D", b"8")


def test_as_poss_dup_sets_flags_and_keeps_body():
    raw = encode("FIX.4.4", "8", [(49, "A"), (56, "B"), (34, 7), (52, "20240101-00:00:00.000"), (37, "x"), (95, 3), (96, b"a\x01b")])
    again = as_poss_dup(raw, b"20240101-00:05:00.000")
    p = Parser()
    p.feed(again)
    msg = p.next_event()
    assert isinstance(msg, Message)
    assert (msg.get(43), msg.get(122), msg.get(52), msg.get(34)) == (b"Y", b"20240101-00:00:00.000", b"20240101-00:05:00.000", b"7")
    assert msg.get(96) == b"a\x01b" and msg.get(37) == b"x"


def test_heartbeat_timer_deadlines():
    t = HeartbeatTimer(30, 0.2, 0)
    assert t.next_deadline_ns() == 30 * NS
    assert t.heartbeat_due(30 * NS) and not t.test_request_due(35 * NS) and t.test_request_due(36 * NS)
    t.test_request_sent(36 * NS)
    assert t.next_deadline_ns() == 66 * NS
    assert not t.timed_out(71 * NS) and t.timed_out(72 * NS)
    t.received(50 * NS)
    assert not t.timed_out(100 * NS) and t.test_request_sent_ns is None
    assert HeartbeatTimer(0, 0.2, 0).next_deadline_ns() is None


def test_validation_checks_as_values():
    assert check_comp_ids(b"P", b"U", b"P", b"U") is None
    assert check_comp_ids(b"X", b"U", b"P", b"U").ref_tag == 49
    ns, rej = check_sending_time(b"20240101-00:00:00.000", parse_sending_time(b"20240101-00:03:00.000"), 120 * NS)
    assert rej.reason == 10 and rej.fatal and ns is not None
    assert check_sending_time(None, 0, None)[1].reason == 1
    assert check_poss_dup(b"20240101-00:00:01", parse_sending_time(b"20240101-00:00:00")).reason == 10
    assert check_poss_dup(b"garbage", 0).reason == 6


@given(st.integers(0, 4_000_000_000 * NS))
@settings(max_examples=100)
def test_parse_sending_time_cached_matches_codec(ns):
    from fixgw.codec import format_utc_timestamp, parse_utc_timestamp

    for precision in (0, 3, 6, 9):
        v = format_utc_timestamp(ns, precision)
        assert parse_sending_time(v) == parse_utc_timestamp(v)
        assert parse_sending_time(v) == parse_utc_timestamp(v)  # second call hits the cache


def test_frame_writer_matches_codec_encoder():
    w = FrameWriter("FIX.4.4", "GW", "CLIENT")
    body = encode_body([(37, "1"), (44, 12), (54, b"1")])
    frame = w.frame(b"8", 3, b"20240101-00:00:00.000", body)
    assert frame == encode("FIX.4.4", "8", [(49, "GW"), (56, "CLIENT"), (34, 3), (52, "20240101-00:00:00.000"),
                                           (37, "1"), (44, 12), (54, "1")])


def test_config_rejects_bad_values():
    sid = SessionID("FIX.4.4", "A", "B")
    with pytest.raises(ConfigError):
        SessionConfig(SessionID("FIX.5.0", "A", "B"))
    with pytest.raises(ConfigError):
        SessionConfig(sid, role="server")
    with pytest.raises(ConfigError):
        SessionConfig(sid, allowed_addresses=frozenset({"not-an-ip"}))
    assert SessionConfig(sid, supported_app_msg_types=frozenset({"D"})).supported_app_msg_types == frozenset({b"D"})


def test_config_address_allowed_handles_tuples_and_mapped_ipv6():
    cfg = SessionConfig(SessionID("FIX.4.4", "A", "B"), allowed_addresses=frozenset({"10.0.0.0/8", "::1"}))
    assert cfg.address_allowed(("10.2.3.4", 1))
    assert cfg.address_allowed("::ffff:10.0.0.1")
    assert cfg.address_allowed(("::1", 1, 0, 0))  # IPv6 4-tuples: host is first
    assert not cfg.address_allowed(None)
    assert not cfg.address_allowed("192.168.0.1")


def test_memory_store_keeps_sessions_apart_and_fetches_ranges():
    store = MemoryMessageStore(now_ns=lambda: 42)
    a = store.session_store(SessionID("FIX.4.4", "A", "B"))
    assert a.creation_time_ns == 42
    for seq in (1, 2, 3, 5):
        a.set_next_sender_seq(seq)
        a.save_outbound(seq, b"m%d" % seq)
    assert a.fetch(2, 0) == [(2, b"m2"), (3, b"m3"), (5, b"m5")]
    assert a.fetch(4, 4) == []
    assert store.session_store(SessionID("FIX.4.4", "A", "B")) is a
    assert store.session_store(SessionID("FIX.4.4", "A", "C")).next_sender_seq == 1
    a.reset(7)
    assert (a.next_sender_seq, a.next_target_seq, a.creation_time_ns, a.fetch(1, 0)) == (1, 1, 7, [])


def test_session_last_received_ns_follows_the_peers_last_message() -> None:
    from .helpers import drain, logged_on_acceptor, make_session, new_clock

    clock = new_clock()
    assert make_session(clock).last_received_ns is None  # never connected
    s, peer = logged_on_acceptor(clock)
    logon_at = s.last_received_ns
    assert logon_at is not None and logon_at <= clock.now_ns()
    clock.advance(5.0)
    s.receive_data(peer.frame("0"), clock.now_ns())
    drain(s)
    assert s.last_received_ns == clock.now_ns() > logon_at
