"""Header and body validation: 2d, 2i, 2k, 2m, 2o, 2q, 2r, 2t, 3, 7, 14."""

from __future__ import annotations

import pytest

from fixgw.codec import encode, format_utc_timestamp
from fixgw.session import Disconnected, RejectReceived, Rejected

from .helpers import NS, FakeDictionary, drain, logged_on_acceptor, new_clock, sent, types


def _ids(events):
    return [e.message.get(11) for e in events if type(e).__name__ == "ApplicationMessage"]


def test_2d_garbled_message_ignored_without_incrementing():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    frame = peer.order("bad")
    garbled = frame[:-4] + b"000\x01" if not frame.endswith(b"000\x01") else frame[:-4] + b"001\x01"
    s.receive_data(garbled, clock.now_ns())
    assert drain(s) == [] and s.data_to_send() == b""
    assert s.next_target_seq == 2
    s.receive_data(peer.order("good", seq=2), clock.now_ns())
    assert _ids(drain(s)) == [b"good"]


def test_3b_invalid_checksum_ignored_and_next_message_processed():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    frame = bytearray(peer.order("x", seq=2))
    frame[-3] = ord("0") if frame[-3] != ord("0") else ord("1")
    s.receive_data(bytes(frame) + peer.order("y", seq=2), clock.now_ns())
    assert _ids(drain(s)) == [b"y"]


def test_2m_wrong_body_length_ignored():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    frame = peer.order("x", seq=2)
    head, rest = frame.split(b"\x0135=", 1)
    length = int(head.split(b"9=")[1])
    wrong = head.replace(b"9=%d" % length, b"9=%d" % (length + 3)) + b"\x0135=" + rest
    s.receive_data(wrong + peer.order("y", seq=2), clock.now_ns())
    assert _ids(drain(s)) == [b"y"]
    assert s.next_target_seq == 3


def test_2t_first_three_fields_out_of_order_ignored():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    body = b"35=D\x0149=CLIENT\x0156=GW\x0134=2\x0152=20231114-22:13:20.000\x0111=x\x01"
    bad = b"9=%d\x018=FIX.4.4\x01" % len(body) + body
    bad += b"10=%03d\x01" % (sum(bad) & 0xFF)
    s.receive_data(bad + peer.order("y", seq=2), clock.now_ns())
    assert _ids(drain(s)) == [b"y"]


def test_2i_wrong_begin_string_logs_out_and_disconnects():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order(begin="FIX.4.2"), clock.now_ns())
    assert [type(e) for e in drain(s)] == [Disconnected]
    (logout,) = sent(s)
    assert logout.get(35) == b"5" and logout.get(58) == b"Incorrect BeginString"


def test_2k_comp_id_mismatch_rejected_373_9_then_logout():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order(sender="INTRUDER"), clock.now_ns())
    events = drain(s)
    assert isinstance(events[0], Rejected) and (events[0].reason, events[0].ref_tag) == (9, 49)
    assert isinstance(events[-1], Disconnected)
    reject, logout = sent(s)
    assert (reject.get(35), reject.get(373), reject.get(371), reject.get(45)) == (b"3", b"9", b"49", b"2")
    assert logout.get(35) == b"5"
    assert s.next_target_seq == 3


def test_2k_target_comp_id_mismatch_refers_to_tag_56():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order(target="OTHER"), clock.now_ns())
    assert drain(s)[0].ref_tag == 56


def test_2o_sending_time_out_of_tolerance_rejected_373_10_then_logout():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order(sending_time_ns=clock.now_ns() - 121 * NS), clock.now_ns())
    events = drain(s)
    assert (events[0].reason, events[0].ref_tag) == (10, 52)
    assert isinstance(events[-1], Disconnected)
    reject, logout = sent(s)
    assert (reject.get(35), reject.get(373)) == (b"3", b"10")
    assert logout.get(35) == b"5"


def test_2o_sending_time_within_tolerance_accepted():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order(sending_time_ns=clock.now_ns() + 119 * NS), clock.now_ns())
    assert len(_ids(drain(s))) == 1


def test_2o_sending_time_check_disabled_accepts_any_time():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, max_sending_time_skew=None)
    s.receive_data(peer.order(sending_time_ns=clock.now_ns() - 86_400 * NS), clock.now_ns())
    assert len(_ids(drain(s))) == 1


def test_2o_sending_time_not_utc_timestamp_rejected_then_logout():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    frame = encode("FIX.4.4", "D", [(49, "CLIENT"), (56, "GW"), (34, 2), (52, "2023-11-14 22:13:20"), (11, "x")])
    s.receive_data(frame, clock.now_ns())
    events = drain(s)
    assert events[0].reason == 10 and isinstance(events[-1], Disconnected)


def test_missing_sending_time_rejected_373_1_ref_52_and_consumed():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order(omit=[52]), clock.now_ns())
    (event,) = drain(s)
    assert (event.reason, event.ref_tag) == (1, 52)
    assert s.next_target_seq == 3 and s.is_logged_on


def test_missing_msg_seq_num_logs_out():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order(omit=[34]), clock.now_ns())
    assert [type(e) for e in drain(s)] == [Disconnected]
    assert sent(s)[0].get(58) == b"MsgSeqNum(34) missing"


def test_2q_invalid_msg_type_rejected_373_11():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.frame("ZZ", [(11, "x")]), clock.now_ns())
    (event,) = drain(s)
    assert isinstance(event, Rejected) and (event.reason, event.ref_msg_type) == (11, b"ZZ")
    (reject,) = sent(s)
    assert (reject.get(373), reject.get(372), reject.get(45)) == (b"11", b"ZZ", b"2")
    assert s.next_target_seq == 3


def test_2q_user_defined_msg_type_accepted():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.frame("U1", [(11, "x")]), clock.now_ns())
    (event,) = drain(s)
    assert event.msg_type == b"U1"


def test_2q_invalid_msg_type_per_dictionary():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, dictionary=FakeDictionary())
    s.receive_data(peer.frame("AB", [(11, "x")]), clock.now_ns())  # FIX 4.4 type the dictionary lacks
    (event,) = drain(s)
    assert event.reason == 11


def test_2r_unsupported_msg_type_business_reject_380_3():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, supported_app_msg_types=frozenset({"D", "F"}))
    s.receive_data(peer.frame("R", [(131, "q1")]), clock.now_ns())
    (event,) = drain(s)
    assert isinstance(event, Rejected) and event.business and event.reason == 3
    (reject,) = sent(s)
    assert (reject.get(35), reject.get(380), reject.get(372), reject.get(45)) == (b"j", b"3", b"R", b"2")
    assert s.next_target_seq == 3
    s.receive_data(peer.order("ok"), clock.now_ns())
    assert _ids(drain(s)) == [b"ok"]


def test_7_reject_received_reported_consumed_and_never_rejected():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, supported_app_msg_types=frozenset({b"D"}))
    s.receive_data(peer.frame("3", [(45, 1), (371, 55), (373, 5), (58, "bad symbol")]), clock.now_ns())
    (event,) = drain(s)
    assert isinstance(event, RejectReceived)
    assert (event.ref_seq, event.ref_tag, event.reason, event.text) == (1, 55, 5, "bad symbol")
    assert s.data_to_send() == b""
    # A Reject with its own problems (PossDup without OrigSendingTime) is still not answered.
    s.receive_data(peer.frame("3", [(45, 1)], poss_dup=True), clock.now_ns())
    assert s.data_to_send() == b""
    assert s.next_target_seq == 4


def test_14b_required_tag_missing_rejected_with_dictionary_reason():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, dictionary=FakeDictionary())
    s.receive_data(peer.frame("D", [(11, "x"), (54, "1"), (38, "1"), (40, "2")]), clock.now_ns())
    (event,) = drain(s)
    assert (event.reason, event.ref_tag, event.ref_msg_type) == (1, 55, b"D")
    (reject,) = sent(s)
    assert (reject.get(373), reject.get(371), reject.get(58)) == (b"1", b"55", b"Required tag missing")
    assert s.next_target_seq == 3


def test_14a_invalid_tag_number_rejected_373_0():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, dictionary=FakeDictionary())
    s.receive_data(peer.order(header=[(9999, "x")]), clock.now_ns())
    assert (drain(s)[0].reason, sent(s)[0].get(371)) == (0, b"9999")


def test_14e_value_out_of_range_rejected_373_5():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, dictionary=FakeDictionary())
    s.receive_data(peer.frame("D", [(11, "x"), (55, "B"), (54, "9"), (38, "1"), (40, "2")]), clock.now_ns())
    assert (drain(s)[0].reason, sent(s)[0].get(371)) == (5, b"54")


def test_14h_repeated_tag_rejected_373_13_and_session_continues():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, dictionary=FakeDictionary())
    s.receive_data(peer.frame("D", [(11, "x"), (11, "y"), (55, "B"), (54, "1"), (38, "1"), (40, "2")]), clock.now_ns())
    assert drain(s)[0].reason == 13
    s.receive_data(peer.order("fine"), clock.now_ns())
    assert _ids(drain(s)) == [b"fine"]


def test_14_without_dictionary_body_not_validated():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.frame("D", [(11, "x"), (11, "y"), (9999, "z")]), clock.now_ns())
    assert _ids(drain(s)) == [b"x"]


def test_dictionary_validates_admin_messages_too():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, dictionary=FakeDictionary())
    s.receive_data(peer.frame("0", [(112, "")]), clock.now_ns())
    assert drain(s)[0].reason == 4


def test_15_header_fields_in_any_order_accepted():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    frame = encode("FIX.4.4", "D", [(56, "GW"), (52, format_utc_timestamp(clock.now_ns())),
                                    (34, 2), (49, "CLIENT"), (11, "z")])
    s.receive_data(frame, clock.now_ns())
    assert _ids(drain(s)) == [b"z"]


def test_rejects_counted_in_types_of_outbound():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.frame("ZZ") + peer.order(poss_dup=True), clock.now_ns())
    assert types(sent(s)) == [b"3", b"3"]


def test_2h_expected_begin_string_accepted():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order("a", begin="FIX.4.4"), clock.now_ns())
    assert _ids(drain(s)) == [b"a"] and s.next_target_seq == 3


def test_2j_expected_comp_ids_accepted():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order("a", sender="CLIENT", target="GW"), clock.now_ns())
    assert _ids(drain(s)) == [b"a"] and s.data_to_send() == b""


def test_2l_correct_body_length_accepted():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    frame = peer.order("a")
    head, body = frame.split(b"\x0135=", 1)
    length = int(head.split(b"\x019=", 1)[1])
    assert length == len(b"35=" + body[: body.rindex(b"10=")])  # from 35= up to the CheckSum field
    s.receive_data(frame, clock.now_ns())
    assert _ids(drain(s)) == [b"a"]


def test_2n_sending_time_within_default_tolerance_accepted():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)  # default tolerance 120 s
    s.receive_data(peer.order("late", sending_time_ns=clock.now_ns() - 119 * NS), clock.now_ns())
    s.receive_data(peer.order("early", sending_time_ns=clock.now_ns() + 119 * NS), clock.now_ns())
    assert _ids(drain(s)) == [b"late", b"early"] and s.data_to_send() == b""


def test_2p_valid_msg_type_accepted():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.frame("F", [(41, "a"), (11, "b")]), clock.now_ns())
    (event,) = drain(s)
    assert event.msg_type == b"F" and s.next_target_seq == 3


def test_2s_first_three_fields_in_order_accepted():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    frame = peer.order("a")
    assert frame.startswith(b"8=FIX.4.4\x019=") and frame.split(b"\x01")[2].startswith(b"35=")
    s.receive_data(frame, clock.now_ns())
    assert _ids(drain(s)) == [b"a"]


def test_3a_valid_checksum_accepted():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    frame = peer.order("a")
    assert int(frame[-4:-1]) == sum(frame[: frame.rindex(b"10=")]) & 0xFF
    s.receive_data(frame, clock.now_ns())
    assert _ids(drain(s)) == [b"a"]


def test_3c_checksum_not_last_field_ignored_without_incrementing():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    frame = peer.order("x")
    body_end = frame.rindex(b"10=")
    # Move the last body field behind the CheckSum: BodyLength no longer ends where 10= starts.
    last_field_start = frame.rindex(b"\x01", 0, body_end - 1) + 1
    moved = frame[:last_field_start] + frame[body_end:] + frame[last_field_start:body_end]
    s.receive_data(moved, clock.now_ns())
    assert drain(s) == [] and s.data_to_send() == b""
    assert s.next_target_seq == 2
    s.receive_data(peer.order("y", seq=2), clock.now_ns())
    assert _ids(drain(s)) == [b"y"]


@pytest.mark.parametrize(
    "case",
    ["2f", "2g", "2k", "2o", "2q", "2r", "10e", "14", "52-missing", "112-missing", "7-missing"],
)
def test_every_reject_and_business_reject_consumes_inbound_seq(case):
    clock = new_clock()
    config = {}
    if case == "2r":
        config["supported_app_msg_types"] = frozenset({"D", "F"})
    if case == "14":
        config["dictionary"] = FakeDictionary()
    s, peer = logged_on_acceptor(clock, **config)
    now = clock.now_ns()
    frames = {
        "2f": lambda: peer.order(poss_dup=True, orig_sending_time_ns=now + NS),
        "2g": lambda: peer.order(poss_dup=True),
        "2k": lambda: peer.order(sender="INTRUDER"),
        "2o": lambda: peer.order(sending_time_ns=now - 600 * NS),
        "2q": lambda: peer.frame("ZZ", [(11, "x")]),
        "2r": lambda: peer.frame("R", [(131, "q")]),
        "10e": lambda: peer.frame("4", [(123, "Y"), (36, 2)]),
        "14": lambda: peer.frame("D", [(11, "x"), (54, "1"), (38, "1"), (40, "2")]),
        "52-missing": lambda: peer.order(omit=[52]),
        "112-missing": lambda: peer.frame("1"),
        "7-missing": lambda: peer.frame("2", [(16, 0)]),
    }
    s.receive_data(frames[case](), now)
    rejects = [e for e in drain(s) if isinstance(e, Rejected)]
    assert len(rejects) == 1 and rejects[0].ref_seq == 2
    out = sent(s)
    assert out[0].get(35) in (b"3", b"j") and out[0].get(45) == b"2"
    assert s.next_target_seq == 3
