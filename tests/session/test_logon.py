"""Logon scenarios: 1S (acceptor), 1B (initiator), 2S (acceptor-side Logon sequencing), 789."""

from __future__ import annotations

import pytest

from fixgw.errors import LocalProtocolError
from fixgw.session import Disconnected, LoggedOn, LoggedOut, LogonRefused, SequenceGap, SessionState

from .helpers import (
    ACCEPTOR_ID,
    INITIATOR_ID,
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


def _acceptor(clock, **config):
    s = make_session(clock, **config)
    s.connection_made(clock.now_ns(), ("127.0.0.1", 5000))
    return s, Peer(INITIATOR_ID, clock)


def test_1S_valid_logon_answered_with_logon_echoing_heartbeat_interval():
    clock = new_clock()
    s, peer = _acceptor(clock)
    s.receive_data(peer.logon(heartbeat_interval=45), clock.now_ns())
    assert drain(s) == [LoggedOn(45, False)]
    (answer,) = sent(s)
    assert answer.get(35) == b"A" and answer.get(108) == b"45" and answer.get(98) == b"0"
    assert answer.get(34) == b"1" and answer.get(49) == b"GW" and answer.get(56) == b"CLIENT"
    assert 141 not in answer
    assert s.state is SessionState.ACTIVE and s.is_logged_on
    assert (s.next_sender_seq, s.next_target_seq) == (2, 2)
    assert s.heartbeat_interval == 45


def test_1S_logon_with_reset_seq_num_flag_resets_store_and_echoes_flag():
    clock = new_clock()
    s, peer = _acceptor(clock)
    s.store.set_next_sender_seq(10)
    s.store.set_next_target_seq(7)
    s.receive_data(peer.logon(extra=[(141, "Y")], seq=1), clock.now_ns())
    assert drain(s) == [LoggedOn(30, True)]
    (answer,) = sent(s)
    assert answer.get(141) == b"Y" and answer.get(34) == b"1"
    assert (s.next_sender_seq, s.next_target_seq) == (2, 2)


def test_1S_logon_seq_too_high_answered_with_logon_then_resend_request():
    clock = new_clock()
    s, peer = _acceptor(clock)
    s.receive_data(peer.logon(seq=5), clock.now_ns())
    events = drain(s)
    assert events == [LoggedOn(30, False), SequenceGap(1, 0)]
    logon, resend = sent(s)
    assert logon.get(35) == b"A"
    assert resend.get(35) == b"2" and resend.get(7) == b"1" and resend.get(16) == b"0"
    # The peer gap-fills 1..5 (its Logon included); then a new order at 6 is delivered.
    s.receive_data(
        peer.frame("4", [(123, "Y"), (36, 6)], seq=1, poss_dup=True, orig_sending_time_ns=clock.now_ns()),
        clock.now_ns(),
    )
    peer.next_seq = 6
    s.receive_data(peer.order(), clock.now_ns())
    (app,) = drain(s)
    assert app.message.get(34) == b"6" and not app.poss_dup
    assert s.next_target_seq == 7 and not s.awaiting_gap_fill


def test_1S_logon_with_unknown_comp_id_disconnects_without_reply():
    clock = new_clock()
    s, peer = _acceptor(clock)
    s.receive_data(peer.logon(sender="STRANGER"), clock.now_ns())
    refused, event = drain(s)
    assert isinstance(refused, LogonRefused) and isinstance(event, Disconnected)
    assert s.data_to_send() == b""
    assert s.wants_disconnect


def test_1S_logon_failed_authentication_logs_out_with_reason_and_disconnects():
    clock = new_clock()
    calls = []

    def authenticator(session_id, username, password, peer_address):
        calls.append((session_id, username, password, peer_address))
        return password == "secret"

    s, peer = _acceptor(clock, authenticator=authenticator)
    s.receive_data(peer.logon(extra=[(553, "alice"), (554, "wrong")]), clock.now_ns())
    assert [type(e) for e in drain(s)] == [LogonRefused, Disconnected]
    (logout,) = sent(s)
    assert (logout.get(35), logout.get(58)) == (b"5", b"Logon rejected: authentication failed")
    assert calls == [(ACCEPTOR_ID, "alice", "wrong", ("127.0.0.1", 5000))]


def test_1S_logon_with_valid_credentials_accepted():
    clock = new_clock()
    s, peer = _acceptor(clock, authenticator=lambda sid, u, p, a: (u, p) == ("alice", "secret"))
    s.receive_data(peer.logon(extra=[(553, "alice"), (554, "secret")]), clock.now_ns())
    assert drain(s) == [LoggedOn(30, False)]


def test_1S_logon_from_refused_address_disconnects_without_reply():
    clock = new_clock()
    s = make_session(clock, allowed_addresses=frozenset({"10.0.0.0/8"}))
    s.connection_made(clock.now_ns(), ("192.168.1.9", 5000))
    s.receive_data(Peer(INITIATOR_ID, clock).logon(), clock.now_ns())
    assert [type(e) for e in drain(s)] == [LogonRefused, Disconnected]
    assert s.data_to_send() == b""


def test_1S_logon_from_allowed_network_accepted():
    clock = new_clock()
    s = make_session(clock, allowed_addresses=frozenset({"10.0.0.0/8"}))
    s.connection_made(clock.now_ns(), ("10.1.2.3", 5000))
    s.receive_data(Peer(INITIATOR_ID, clock).logon(), clock.now_ns())
    assert drain(s) == [LoggedOn(30, False)]


def test_1S_first_message_not_logon_disconnects_without_reply():
    clock = new_clock()
    s, peer = _acceptor(clock)
    s.receive_data(peer.order(), clock.now_ns())
    refused, event = drain(s)
    assert isinstance(refused, LogonRefused) and isinstance(event, Disconnected) and "Logon" in event.reason
    assert s.data_to_send() == b""


def test_1S_no_logon_within_timeout_disconnects():
    clock = new_clock()
    s, _peer = _acceptor(clock, logon_timeout=5)
    assert s.next_deadline_ns() == clock.now_ns() + 5 * NS
    s.on_tick(clock.advance(4.9))
    assert drain(s) == []
    s.on_tick(clock.advance(0.1))
    assert drain(s) == [Disconnected("logon timeout")]


def test_1S_logon_with_bad_sending_time_logs_out():
    clock = new_clock()
    s, peer = _acceptor(clock)
    s.receive_data(peer.logon(sending_time_ns=clock.now_ns() - 300 * NS), clock.now_ns())
    assert [type(e) for e in drain(s)] == [LogonRefused, Disconnected]
    (logout,) = sent(s)
    assert logout.get(35) == b"5"


def test_1S_logon_without_heartbeat_interval_logs_out():
    clock = new_clock()
    s, peer = _acceptor(clock)
    s.receive_data(peer.frame("A", [(98, 0)]), clock.now_ns())
    assert [type(e) for e in drain(s)] == [LogonRefused, Disconnected]
    assert types(sent(s)) == [b"5"]


def test_2S_logon_seq_too_low_logs_out_and_disconnects():
    clock = new_clock()
    s, peer = _acceptor(clock)
    s.store.set_next_target_seq(10)
    s.receive_data(peer.logon(seq=3), clock.now_ns())
    assert [type(e) for e in drain(s)] == [Disconnected]
    (logout,) = sent(s)
    assert logout.get(35) == b"5"
    assert logout.get(58) == b"MsgSeqNum too low, expecting 10 but received 3"


def test_2S_second_connection_visible_through_is_connected():
    clock = new_clock()
    s, _peer = logged_on_acceptor(clock)
    assert s.is_connected
    with pytest.raises(LocalProtocolError):
        s.connection_made(clock.now_ns())
    s.connection_lost(clock.now_ns())
    assert not s.is_connected
    assert drain(s) == [Disconnected("connection lost")]


def test_1B_initiator_sends_logon_with_heartbeat_and_credentials():
    clock = new_clock()
    s = make_session(clock, "initiator", heartbeat_interval=20, username="alice", password="secret")
    s.connection_made(clock.now_ns())
    (logon,) = sent(s)
    assert logon.get(35) == b"A" and logon.get(34) == b"1"
    assert (logon.get(98), logon.get(108), logon.get(553), logon.get(554)) == (b"0", b"20", b"alice", b"secret")
    assert logon.get(49) == b"CLIENT" and logon.get(56) == b"GW"
    assert s.state is SessionState.LOGON_SENT
    peer = Peer(ACCEPTOR_ID, clock)
    s.receive_data(peer.logon(heartbeat_interval=20), clock.now_ns())
    assert drain(s) == [LoggedOn(20, False)]
    assert s.data_to_send() == b""


def test_1B_password_not_in_config_repr():
    clock = new_clock()
    s = make_session(clock, "initiator", password="secret")
    assert "secret" not in repr(s.config)


def test_1B_logon_answer_seq_too_high_sends_resend_request():
    clock = new_clock()
    s = make_session(clock, "initiator")
    s.connection_made(clock.now_ns())
    s.data_to_send()
    s.receive_data(Peer(ACCEPTOR_ID, clock).logon(seq=4), clock.now_ns())
    assert drain(s) == [LoggedOn(30, False), SequenceGap(1, 0)]
    (resend,) = sent(s)
    assert (resend.get(35), resend.get(7), resend.get(16)) == (b"2", b"1", b"0")


def test_1B_logon_answer_with_wrong_comp_id_disconnects():
    clock = new_clock()
    s = make_session(clock, "initiator")
    s.connection_made(clock.now_ns())
    s.data_to_send()
    s.receive_data(Peer(ACCEPTOR_ID, clock).logon(target="SOMEONE"), clock.now_ns())
    assert [type(e) for e in drain(s)] == [LogonRefused, Disconnected]
    assert not s.is_logged_on


def test_1B_first_message_not_logon_disconnects():
    clock = new_clock()
    s = make_session(clock, "initiator")
    s.connection_made(clock.now_ns())
    s.data_to_send()
    s.receive_data(Peer(ACCEPTOR_ID, clock).frame("0"), clock.now_ns())
    assert [type(e) for e in drain(s)] == [LogonRefused, Disconnected]


def test_1B_logout_instead_of_logon_reports_refusal_and_disconnects():
    clock = new_clock()
    s = make_session(clock, "initiator")
    s.connection_made(clock.now_ns())
    s.data_to_send()
    s.receive_data(Peer(ACCEPTOR_ID, clock).frame("5", [(58, "not today")]), clock.now_ns())
    assert drain(s) == [LoggedOut("not today", False), Disconnected("Logon refused: not today")]


def test_1B_no_logon_answer_within_timeout_disconnects():
    clock = new_clock()
    s = make_session(clock, "initiator", logon_timeout=10)
    s.connection_made(clock.now_ns())
    s.on_tick(clock.advance(10))
    assert drain(s) == [Disconnected("logon timeout")]


def test_1B_reset_on_logon_sends_seq_one_with_reset_flag_and_pair_logs_on():
    pair = ConnectionPair(initiator={"reset_on_logon": True})
    pair.initiator.store.set_next_sender_seq(50)
    pair.acceptor.store.set_next_target_seq(50)
    pair.acceptor.store.set_next_sender_seq(20)
    pair.connect()
    logon = pair.wire["initiator"][0]
    assert (logon.get(34), logon.get(141)) == (b"1", b"Y")
    answer = pair.wire["acceptor"][0]
    assert (answer.get(34), answer.get(141)) == (b"1", b"Y")
    assert pair.acceptor.is_logged_on and pair.initiator.is_logged_on
    assert (pair.initiator.next_sender_seq, pair.initiator.next_target_seq) == (2, 2)


def test_logon_next_expected_msg_seq_num_sent_and_missed_messages_resent():
    pair = ConnectionPair(acceptor={"send_next_expected_msg_seq_num": True},
                          initiator={"send_next_expected_msg_seq_num": True})
    pair.connect()
    clock = pair.clock
    # The acceptor sends two orders' answers the initiator never receives (lost with the connection).
    pair.acceptor.send(b"8", [(37, "x1")], clock.now_ns())
    pair.acceptor.send(b"8", [(37, "x2")], clock.now_ns())
    pair.acceptor.data_to_send()
    pair.acceptor.connection_lost(clock.now_ns())
    pair.initiator.connection_lost(clock.now_ns())
    pair.events = {"acceptor": [], "initiator": []}
    pair.wire = {"acceptor": [], "initiator": []}
    pair.connect()
    logon = pair.wire["initiator"][0]
    assert logon.get(789) == b"2"
    answer = pair.wire["acceptor"][0]
    assert answer.get(35) == b"A" and answer.get(789) == b"3"
    assert [m.get(37) for m in (e.message for e in pair.app("initiator"))] == [b"x1", b"x2"]
    assert all(e.poss_dup for e in pair.app("initiator"))
    # 789 in use: nobody asked with a ResendRequest.
    assert b"2" not in types(pair.wire["initiator"]) + types(pair.wire["acceptor"])
    assert pair.initiator.next_target_seq == pair.acceptor.next_sender_seq


def test_logon_next_expected_msg_seq_num_too_high_logs_out():
    clock = new_clock()
    s, peer = _acceptor(clock)
    s.receive_data(peer.logon(extra=[(789, 40)]), clock.now_ns())
    events = drain(s)
    assert isinstance(events[-1], Disconnected)
    assert types(sent(s)) == [b"A", b"5"]


def test_logon_next_expected_msg_seq_num_ignored_in_fix42():
    from fixgw.session import SessionID

    clock = new_clock()
    sid = SessionID("FIX.4.2", "GW", "CLIENT")
    s = make_session(clock, session_id=sid)
    s.connection_made(clock.now_ns())
    s.receive_data(Peer(sid.reversed(), clock).logon(extra=[(789, 40)]), clock.now_ns())
    assert drain(s) == [LoggedOn(30, False)]


def test_1S_acceptor_reset_on_logon_with_resetting_peer_restarts_both_at_one():
    pair = ConnectionPair(acceptor={"reset_on_logon": True}, initiator={"reset_on_logon": True})
    pair.connect()
    pair.initiator.send(b"D", [(11, "a")], pair.clock.now_ns())
    pair.pump()
    for s in (pair.acceptor, pair.initiator):
        s.connection_lost(pair.clock.now_ns())
    pair.events = {"acceptor": [], "initiator": []}
    pair.wire = {"acceptor": [], "initiator": []}
    pair.connect()
    answer = pair.wire["acceptor"][0]
    assert (answer.get(35), answer.get(34), answer.get(141)) == (b"A", b"1", b"Y")
    assert pair.acceptor.is_logged_on and pair.initiator.is_logged_on
    pair.initiator.send(b"D", [(11, "b")], pair.clock.now_ns())
    pair.pump()
    assert [e.message.get(11) for e in pair.app("acceptor")] == [b"b"]
    assert pair.initiator.next_target_seq == pair.acceptor.next_sender_seq
    assert pair.acceptor.next_target_seq == pair.initiator.next_sender_seq


def test_1S_acceptor_reset_on_logon_without_peer_flag_resets_both_silently_and_asks_for_the_gap():
    clock = new_clock()
    s, peer = _acceptor(clock, reset_on_logon=True)
    s.store.save_outbound(1, b"old")
    s.store.set_next_sender_seq(10)
    s.store.set_next_target_seq(7)
    s.receive_data(peer.logon(seq=5), clock.now_ns())  # no 141=Y from the peer
    assert drain(s) == [LoggedOn(30, True), SequenceGap(1, 0)]
    answer, request = sent(s)
    assert (answer.get(35), answer.get(34), answer.get(141)) == (b"A", b"1", None)
    assert (request.get(35), request.get(34), request.get(7), request.get(16)) == (b"2", b"2", b"1", b"0")
    assert (s.next_sender_seq, s.next_target_seq) == (3, 1)
    assert s.store.fetch(1, 1)[0][1] != b"old"


def test_1S_acceptor_reset_on_logon_refused_logon_leaves_store_untouched():
    clock = new_clock()
    s, peer = _acceptor(clock, reset_on_logon=True, authenticator=lambda *a: False)
    s.store.set_next_sender_seq(10)
    s.store.set_next_target_seq(7)
    s.receive_data(peer.logon(seq=7), clock.now_ns())
    assert [type(e) for e in drain(s)] == [LogonRefused, Disconnected]
    (logout,) = sent(s)  # the refusal's Logout is numbered in the old numbering
    assert (logout.get(35), logout.get(34)) == (b"5", b"10")
    assert (s.next_sender_seq, s.next_target_seq) == (11, 7)


def test_logon_next_expected_msg_seq_num_gap_not_filled_unasked_requested_after_timeout():
    clock = new_clock()
    s, peer = _acceptor(clock, send_next_expected_msg_seq_num=True, gap_fill_timeout=5.0)
    s.receive_data(peer.logon(seq=5, extra=[(789, 1)]), clock.now_ns())
    assert drain(s) == [LoggedOn(30, False), SequenceGap(1, 4)]
    (answer,) = sent(s)  # 789 on both Logons: the peer resends unasked, no ResendRequest yet
    assert (answer.get(35), answer.get(789)) == (b"A", b"1")
    clock.advance(5)
    s.on_tick(clock.now_ns())
    (request,) = sent(s)
    assert (request.get(35), request.get(7), request.get(16)) == (b"2", b"1", b"0")


def test_config_gap_fill_settings_validated():
    from fixgw.errors import ConfigError
    from fixgw.session import SessionConfig

    with pytest.raises(ConfigError):
        SessionConfig(ACCEPTOR_ID, gap_fill_timeout=0)
    with pytest.raises(ConfigError):
        SessionConfig(ACCEPTOR_ID, max_resend_requests=0)
    assert SessionConfig(ACCEPTOR_ID, gap_fill_timeout=None).gap_fill_timeout is None
