"""Interop with strict counterparties (issue 10): the Logon handshake, resets, refusals, garbled first frames.

Map of the FIX Session Layer Test Cases to the tests of ``tests/session`` (module: test name prefix):

- 1S  valid Logon answered; too high → Logon + ResendRequest; refused Logon; first message not a Logon
      — test_logon: ``test_1S_*``; here: ``test_1S_*`` (refusal texts, HeartBtInt range, garbled first
      frame, reset flag only when asked).
- 1B  initiator Logon, its answer too high, wrong CompID, Logout instead of Logon — test_logon ``test_1B_*``;
      here ``test_1B_garbled_logon_answer_*``.
- 2S  Logon too low, second connection — test_logon ``test_2S_*``.
- 2a  MsgSeqNum as expected — test_sequencing; 2b too high → ResendRequest — test_sequencing ``test_2b_*``.
- 2c  too low without PossDup → Logout — test_sequencing ``test_2c_*``.
- 2d, 2h, 2m, 2s, 2t, 3b garbled frames ignored after logon — test_validation (garbled tests).
- 2e, 2f, 2g PossDup handling — test_resend ``test_2e_*``, ``test_2f_*``, ``test_2g_*``.
- 2i  wrong BeginString → Logout — test_validation; here ``test_1S_logon_with_wrong_begin_string_*``.
- 2k  CompID: missing 373=1, empty 373=4, wrong 373=9 + Logout — test_interop_messages ``test_2k_*``.
- 2o  SendingTime: missing 373=1, empty 373=4, wrong → 373=10 + Logout — test_validation,
      test_interop_messages ``test_2o_*``.
- 2q  invalid MsgType 373=11; 2r unsupported MsgType → BusinessMessageReject 380=3 — test_validation.
- 4a, 4b, 6 Heartbeat, TestRequest, no answer → disconnect — test_heartbeat_logout.
- 7   Reject received, never answered — test_validation ``test_7_*``.
- 8   ResendRequest answered (chunked too) — test_resend ``test_8_*``; test_interop_messages ``test_8_*``.
- 10  SequenceReset-GapFill — test_sequencing ``test_10*``; 11 SequenceReset-Reset — ``test_11*``; here
      ``test_11_logon_reset_inside_session_*`` (FIX 4.4 Logon 141=Y inside a session).
- 12, 13 Logout initiated / received — test_heartbeat_logout.
- 14  field-level rejects (14a-14i) — test_validation, test_dictionary; unknown and user-defined tags,
      invalid fields — test_interop_messages ``test_14_*``.
- 15, 16 messages sent while disconnected recovered after logon — test_resend ``test_16_*``.
- 19  PossResend passed to the application — test_resend ``test_19_*``.
- 20  simultaneous ResendRequest — test_resend ``test_20_*``, test_interop_messages ``test_20_*``.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.codec import checksum, encode
from fixgw.session import (
    NEED_DATA,
    Disconnected,
    LoggedOn,
    LogonRefused,
    SequenceGap,
    SessionID,
)
from fixgw.session.validation import first_frame_problem

from .helpers import (
    ACCEPTOR_ID,
    Peer,
    drain,
    logged_on_acceptor,
    make_session,
    new_clock,
    sent,
    types,
)


def _acceptor(clock, session_id=None, **config):
    s = make_session(clock, session_id=session_id, **config)
    s.connection_made(clock.now_ns(), ("127.0.0.1", 5000))
    return s, Peer((session_id or ACCEPTOR_ID).reversed(), clock)


def _refused(s, text: str, *, credentials: bool = False) -> None:
    """The Logon was refused with a Logout carrying ``text``, then LogonRefused and Disconnected."""
    assert drain(s) == [LogonRefused(text, credentials), Disconnected(text)]
    (logout,) = sent(s)
    assert (logout.get(35), logout.get(58)) == (b"5", text.encode())
    assert s.wants_disconnect


# -- reset flags --------------------------------------------------------------------------------------


def test_1S_reset_on_logon_answer_carries_141_only_when_peer_asked():
    clock = new_clock()
    s, peer = _acceptor(clock, reset_on_logon=True)
    s.receive_data(peer.logon(extra=[(141, "Y")]), clock.now_ns())
    assert drain(s) == [LoggedOn(30, True)]
    (answer,) = sent(s)
    assert (answer.get(34), answer.get(141)) == (b"1", b"Y")

    s2, peer2 = _acceptor(clock, reset_on_logon=True)
    s2.receive_data(peer2.logon(), clock.now_ns())
    (answer,) = sent(s2)
    assert (answer.get(34), answer.get(141)) == (b"1", None)


def test_1S_plain_acceptor_answers_peer_reset_with_141():
    clock = new_clock()
    s, peer = _acceptor(clock)
    s.store.set_next_sender_seq(9)
    s.store.set_next_target_seq(9)
    s.receive_data(peer.logon(extra=[(141, "Y")]), clock.now_ns())
    assert drain(s) == [LoggedOn(30, True)]
    (answer,) = sent(s)
    assert (answer.get(34), answer.get(141)) == (b"1", b"Y")
    assert (s.next_sender_seq, s.next_target_seq) == (2, 2)


def test_1S_reset_on_logon_resets_both_directions_logon_5_asks_from_1():
    clock = new_clock()
    s, peer = _acceptor(clock, reset_on_logon=True)
    s.store.set_next_sender_seq(40)
    s.store.set_next_target_seq(5)
    s.receive_data(peer.logon(seq=5), clock.now_ns())
    assert drain(s) == [LoggedOn(30, True), SequenceGap(1, 0)]
    logon, request = sent(s)
    assert (logon.get(35), logon.get(34), logon.get(141)) == (b"A", b"1", None)
    assert (request.get(35), request.get(34), request.get(7), request.get(16)) == (b"2", b"2", b"1", b"0")


def test_11_logon_reset_inside_session_fix44_answered_with_reset_logon_and_both_go_on_from_2():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.send(b"8", [(37, "x")], clock.now_ns())
    s.receive_data(peer.order("a"), clock.now_ns())
    drain(s)
    s.data_to_send()
    assert (s.next_sender_seq, s.next_target_seq) == (3, 3)
    s.receive_data(peer.logon(seq=1, extra=[(141, "Y")]), clock.now_ns())
    assert drain(s) == [LoggedOn(30, True)]
    (answer,) = sent(s)
    assert (answer.get(35), answer.get(34), answer.get(141)) == (b"A", b"1", b"Y")
    assert s.is_logged_on and (s.next_sender_seq, s.next_target_seq) == (2, 2)
    assert (s.store.next_sender_seq, s.store.next_target_seq) == (2, 2)
    peer.next_seq = 2
    s.receive_data(peer.order("b"), clock.now_ns())
    (event,) = drain(s)
    assert event.message.get(11) == b"b" and event.seq == 2
    assert s.send(b"8", [(37, "y")], clock.now_ns()) == 2


def test_11_logon_reset_inside_session_fix42_keeps_logging_out():
    clock = new_clock()
    sid = SessionID("FIX.4.2", "GW", "CLIENT")
    s, peer = _acceptor(clock, session_id=sid)
    s.receive_data(peer.logon(), clock.now_ns())
    drain(s)
    s.data_to_send()
    s.receive_data(peer.order("a"), clock.now_ns())
    drain(s)
    s.receive_data(peer.logon(seq=1, extra=[(141, "Y")]), clock.now_ns())
    assert [type(e) for e in drain(s)] == [Disconnected]
    (logout,) = sent(s)
    assert logout.get(35) == b"5" and b"too low" in logout.get(58)


# -- refused Logons: a Logout that says why -------------------------------------------------------------


@pytest.mark.parametrize("verdict, text", [
    ("unknown user", "Logon rejected: unknown user"),
    ("invalid password", "Logon rejected: invalid password"),
    (False, "Logon rejected: authentication failed"),
])
def test_1S_authenticator_refusal_logout_text_says_why(verdict, text):
    clock = new_clock()
    s, peer = _acceptor(clock, authenticator=lambda *args: verdict)
    s.receive_data(peer.logon(extra=[(553, "bob"), (554, "pw")]), clock.now_ns())
    _refused(s, text, credentials=True)  # the refusal an acceptor may slow down per address


def test_1S_authenticator_that_raises_refuses_without_leaking_the_error(caplog):
    clock = new_clock()

    def authenticator(*args):
        raise RuntimeError("database password hunter2 rejected")

    s, peer = _acceptor(clock, authenticator=authenticator)
    s.receive_data(peer.logon(), clock.now_ns())
    _refused(s, "Logon rejected: authentication failed", credentials=True)
    assert "hunter2" not in caplog.text


def test_1S_authenticator_true_accepts():
    clock = new_clock()
    s, peer = _acceptor(clock, authenticator=lambda *args: True)
    s.receive_data(peer.logon(), clock.now_ns())
    assert drain(s) == [LoggedOn(30, False)]


def test_1S_logon_with_wrong_begin_string_logout_names_it():
    clock = new_clock()
    s, peer = _acceptor(clock)
    s.receive_data(peer.logon(begin="FIX.4.2"), clock.now_ns())
    _refused(s, "Incorrect BeginString: expected FIX.4.4, received FIX.4.2")


@pytest.mark.parametrize("interval", [301, -5, 999999999])
def test_1S_logon_heartbeat_interval_out_of_range_refused_naming_range(interval):
    clock = new_clock()
    s, peer = _acceptor(clock)
    s.receive_data(peer.logon(heartbeat_interval=interval), clock.now_ns())
    _refused(s, f"Logon rejected: HeartBtInt(108) {interval} out of range, allowed 0 to 300 seconds")
    assert s.heartbeat_interval == 30  # not adopted


def test_1S_logon_heartbeat_interval_within_configured_max_accepted():
    clock = new_clock()
    s, peer = _acceptor(clock, max_heartbeat_interval=600)
    s.receive_data(peer.logon(heartbeat_interval=600), clock.now_ns())
    assert drain(s) == [LoggedOn(600, False)]


def test_1S_max_heartbeat_interval_negative_is_a_config_error():
    from fixgw.errors import ConfigError
    from fixgw.session import SessionConfig

    with pytest.raises(ConfigError):
        SessionConfig(ACCEPTOR_ID, max_heartbeat_interval=-1)


# -- a garbled first frame closes at once ----------------------------------------------------------------


def _reframe(frame: bytes, body_length_delta: int = 0, checksum_delta: int = 0) -> bytes:
    """Rewrite ``frame`` with its BodyLength and CheckSum off by the given amounts."""
    soh1 = frame.index(b"\x01")
    soh2 = frame.index(b"\x01", soh1 + 1)
    body = frame[soh2 + 1 : frame.rindex(b"10=")]
    head = frame[: soh1 + 1] + b"9=%d\x01" % (len(body) + body_length_delta)
    out = head + body
    return out + b"10=%03d\x01" % ((checksum(out) + checksum_delta) % 256)


@pytest.mark.parametrize("delta", [(-5, 0), (3, 0), (0, 1)], ids=["short_body_length", "long_body_length",
                                                                     "bad_checksum"])
def test_1S_garbled_first_message_closes_at_once_without_reply(delta):
    clock = new_clock()
    s, peer = _acceptor(clock)
    frame = _reframe(peer.logon(), *delta)
    if delta[0] > 0:
        frame += b"\x00" * delta[0]  # the bytes a too-long BodyLength waits for
    s.receive_data(frame, clock.now_ns())
    events = drain(s)
    assert [type(e) for e in events] == [LogonRefused, Disconnected]
    assert events[0].text.startswith("garbled first message")
    assert s.data_to_send() == b""
    assert s.wants_disconnect


def test_1S_garbled_first_message_judged_when_its_last_byte_arrives():
    clock = new_clock()
    s, peer = _acceptor(clock)
    frame = _reframe(peer.logon(), 0, 7)
    s.receive_data(frame[:20], clock.now_ns())
    s.receive_data(frame[20:-1], clock.now_ns())
    assert drain(s) == [] and not s.wants_disconnect
    s.receive_data(frame[-1:], clock.now_ns())
    assert [type(e) for e in drain(s)] == [LogonRefused, Disconnected]


def test_1S_valid_logon_fed_byte_by_byte_is_not_judged_garbled():
    clock = new_clock()
    s, peer = _acceptor(clock)
    for byte in peer.logon():
        s.receive_data(bytes([byte]), clock.now_ns())
    assert drain(s) == [LoggedOn(30, False)]


def test_1S_huge_body_length_in_first_message_closes_at_once():
    clock = new_clock()
    s, _peer = _acceptor(clock)
    s.receive_data(b"8=FIX.4.4\x019=99999999\x0135=A\x01", clock.now_ns())
    assert [type(e) for e in drain(s)] == [LogonRefused, Disconnected]


def test_1S_data_before_begin_string_closes_at_once():
    clock = new_clock()
    s, _peer = _acceptor(clock)
    s.receive_data(b"GET / HTTP/1.1\r\n", clock.now_ns())
    assert [type(e) for e in drain(s)] == [LogonRefused, Disconnected]


def test_1B_garbled_logon_answer_closes_at_once():
    clock = new_clock()
    s = make_session(clock, "initiator")
    s.connection_made(clock.now_ns())
    s.data_to_send()
    s.receive_data(_reframe(Peer(ACCEPTOR_ID, clock).logon(), -4), clock.now_ns())
    events = drain(s)
    assert [type(e) for e in events] == [Disconnected] and "garbled" in events[0].reason
    assert s.next_event() is NEED_DATA


def test_2d_garbled_frame_after_logon_still_ignored():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(_reframe(peer.order("bad"), 0, 1) + peer.order("good", seq=2), clock.now_ns())
    events = drain(s)
    assert [e.message.get(11) for e in events] == [b"good"]
    assert s.is_logged_on and types(sent(s)) == []


@settings(max_examples=200, deadline=None)
@given(fields=st.lists(st.tuples(st.integers(1, 9999), st.binary(min_size=1, max_size=20).filter(
    lambda v: b"\x01" not in v)), max_size=8), data=st.data())
def test_1S_first_frame_problem_never_flags_a_prefix_of_a_sound_frame(fields, data):
    frame = encode("FIX.4.4", "A", [(49, "CLIENT"), (56, "GW"), (34, 1), *fields])
    cut = data.draw(st.integers(0, len(frame)))
    assert first_frame_problem(frame[:cut]) is None
    flipped = bytearray(frame)
    flipped[-3] = ord("0") + (flipped[-3] - ord("0") + 1) % 10  # a CheckSum digit off by one
    assert first_frame_problem(bytes(flipped)) == "CheckSum(10) mismatch"


# -- 20: simultaneous ResendRequests (the acceptance scripts' 20_SimultaneousResendRequest) ------------


def test_20_peer_request_not_covering_ours_served_without_asking_again():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    for cl in ("o2", "o3"):  # the peer's 2 and 3, answered by our 2 and 3
        s.receive_data(peer.order(cl), clock.now_ns())
        s.send(b"8", [(37, cl)], clock.now_ns())
    drain(s)
    s.data_to_send()
    s.receive_data(peer.frame("0", seq=7), clock.now_ns())  # the peer's 4..6 lost
    (ours,) = sent(s)
    assert (ours.get(35), ours.get(34), ours.get(7), ours.get(16)) == (b"2", b"4", b"4", b"0")
    # The peer asks for our 2..3 only: it has our ResendRequest (4), so one is enough.
    s.receive_data(peer.frame("2", [(7, 2), (16, 3)], seq=8), clock.now_ns())
    out = sent(s)
    assert [(m.get(35), m.get(34), m.get(43)) for m in out] == [(b"8", b"2", b"Y"), (b"8", b"3", b"Y")]
    t = clock.now_ns()
    s.receive_data(b"".join(peer.frame("0", seq=n, poss_dup=True, orig_sending_time_ns=t) for n in (4, 5, 6)), t)
    assert s.next_target_seq == 9 and not s.awaiting_gap_fill
    s.receive_data(peer.frame("5", seq=9), clock.now_ns())
    assert types(sent(s)) == [b"5"]
