"""Heartbeats (4, 5, 6), Logout (12, 13), and misuse by the application."""

from __future__ import annotations

import pytest

from fixgw.errors import LocalProtocolError
from fixgw.session import Disconnected, LoggedOut, SessionState

from .helpers import NS, ConnectionPair, drain, logged_on_acceptor, make_session, new_clock, sent, types


def test_4a_silence_from_us_sends_heartbeat_after_interval():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    start = clock.now_ns()
    assert s.next_deadline_ns() == start + 30 * NS
    s.on_tick(clock.advance(29.999))
    assert s.data_to_send() == b""
    s.on_tick(clock.advance(0.001))
    (hb,) = sent(s)
    assert hb.get(35) == b"0" and 112 not in hb
    assert s.next_deadline_ns() == start + 36 * NS  # the TestRequest is the nearer deadline now


def test_4a_sending_application_messages_postpones_heartbeat():
    clock = new_clock()
    s, _peer = logged_on_acceptor(clock)
    clock.advance(20)
    s.send(b"8", [(37, "x")], clock.now_ns())
    sent(s)
    s.on_tick(clock.advance(15))
    assert s.data_to_send() == b""


def test_4b_test_request_answered_with_heartbeat_echoing_id():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.frame("1", [(112, "PING-7")]), clock.now_ns())
    (hb,) = sent(s)
    assert (hb.get(35), hb.get(112)) == (b"0", b"PING-7")
    assert s.next_target_seq == 3


def test_4b_test_request_without_id_rejected():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.frame("1"), clock.now_ns())
    (event,) = drain(s)
    assert (event.reason, event.ref_tag) == (1, 112)


def test_5_heartbeat_received_consumed_silently():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.frame("0"), clock.now_ns())
    assert drain(s) == [] and s.data_to_send() == b""
    assert s.next_target_seq == 3


def test_6_peer_silence_sends_test_request_then_disconnects_without_answer():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, heartbeat_interval=10)
    s.receive_data(peer.frame("0"), clock.now_ns())  # keeps the peer alive; 108=30 from its Logon
    start = clock.now_ns()
    s.on_tick(clock.advance(30))
    assert types(sent(s)) == [b"0"]
    s.on_tick(clock.advance(6))  # 36 s = 30 * 1.2 of silence
    (test_request,) = sent(s)
    assert test_request.get(35) == b"1" and test_request.get(112)
    assert s.next_deadline_ns() == start + 66 * NS  # our next Heartbeat
    clock.set(start + 66 * NS)
    s.on_tick(clock.now_ns())
    assert types(sent(s)) == [b"0"] and drain(s) == []
    assert s.next_deadline_ns() == start + 72 * NS  # 2 x 1.2 x HeartBtInt of silence
    clock.set(start + 72 * NS - 1)
    s.on_tick(clock.now_ns())
    assert drain(s) == []
    clock.set(start + 72 * NS)
    s.on_tick(clock.now_ns())
    assert drain(s) == [Disconnected("no answer to TestRequest")]
    assert s.wants_disconnect


def test_6_test_request_answered_keeps_session_alive():
    pair = ConnectionPair()
    pair.connect()
    pair.advance(600)  # both sides heartbeat each other; nobody times out
    assert pair.acceptor.is_logged_on and pair.initiator.is_logged_on
    assert b"0" in types(pair.wire["acceptor"])


def test_6_silent_initiator_answers_test_request_and_survives():
    pair = ConnectionPair(initiator={"heartbeat_interval": 10}, acceptor={"test_request_margin": 0.0})
    pair.connect()
    # Silence the initiator's own heartbeats: only the acceptor's TestRequest draws an answer.
    pair.initiator._hb.interval_ns = 10**18
    pair.advance(25)
    assert b"1" in types(pair.wire["acceptor"])
    replies = [m for m in pair.wire["initiator"] if m.get(35) == b"0"]
    assert replies and replies[0].get(112) is not None
    assert pair.acceptor.is_logged_on


def test_12_logout_waits_for_ack_then_disconnects():
    pair = ConnectionPair()
    pair.connect()
    pair.acceptor.logout(pair.clock.now_ns(), "end of day")
    assert pair.acceptor.state is SessionState.LOGOUT_SENT
    pair.pump()
    assert pair.events["acceptor"][-2:] == [LoggedOut("", True), Disconnected("logout completed")]
    assert pair.events["initiator"][-2:] == [LoggedOut("end of day", False), Disconnected("logout requested by peer")]
    assert pair.acceptor.state is SessionState.DISCONNECTED


def test_12_logout_unacknowledged_disconnects_after_timeout():
    clock = new_clock()
    s, _peer = logged_on_acceptor(clock, logout_timeout=10)
    s.logout(clock.now_ns())
    assert types(sent(s)) == [b"5"]
    assert s.next_deadline_ns() == clock.now_ns() + 10 * NS
    s.on_tick(clock.advance(9))
    assert drain(s) == []
    s.on_tick(clock.advance(1))
    assert drain(s) == [Disconnected("logout timeout")]


def test_12_messages_received_while_logout_pending_still_delivered():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.logout(clock.now_ns())
    s.receive_data(peer.order("late") + peer.frame("5"), clock.now_ns())
    events = drain(s)
    assert events[0].message.get(11) == b"late"
    assert events[1:] == [LoggedOut("", True), Disconnected("logout completed")]


def test_13b_unsolicited_logout_answered_and_closed():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.frame("5", [(58, "bye")]), clock.now_ns())
    assert drain(s) == [LoggedOut("bye", False), Disconnected("logout requested by peer")]
    (answer,) = sent(s)
    assert answer.get(35) == b"5"
    assert s.wants_disconnect
    s.connection_lost(clock.now_ns())
    assert drain(s) == [] and s.state is SessionState.DISCONNECTED


def test_eof_from_peer_disconnects():
    clock = new_clock()
    s, _peer = logged_on_acceptor(clock)
    s.receive_data(b"", clock.now_ns())
    assert drain(s) == [Disconnected("connection closed by peer")]


def test_logout_while_disconnected_raises_local_protocol_error():
    clock = new_clock()
    s = make_session(clock)
    with pytest.raises(LocalProtocolError):
        s.logout(clock.now_ns())


def test_logout_before_logon_just_disconnects():
    clock = new_clock()
    s = make_session(clock)
    s.connection_made(clock.now_ns())
    s.logout(clock.now_ns())
    assert drain(s) == [Disconnected("logout before logon")] and s.data_to_send() == b""


def test_send_admin_msg_type_raises_local_protocol_error():
    clock = new_clock()
    s, _peer = logged_on_acceptor(clock)
    with pytest.raises(LocalProtocolError):
        s.send(b"0", [], clock.now_ns())
    with pytest.raises(LocalProtocolError):
        s.send(b"D", [(44, 1.5)], clock.now_ns())  # floats are refused
    assert s.next_sender_seq == 2


def test_send_ready_body_bytes_and_header_fields():
    clock = new_clock()
    s, _peer = logged_on_acceptor(clock)
    s.send(b"8", b"37=1\x0117=e\x01", clock.now_ns(), header_fields=[(115, "ON_BEHALF")])
    (msg,) = sent(s)
    assert [t for t, _ in msg.fields] == [8, 9, 35, 49, 56, 34, 52, 115, 37, 17, 10]


def test_deadline_none_when_disconnected():
    clock = new_clock()
    s = make_session(clock)
    assert s.next_deadline_ns() is None
    s.on_tick(clock.now_ns())
    assert drain(s) == []
