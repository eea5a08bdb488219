"""Interop with strict counterparties (issue 10), after logon: reject reasons, routing, resends.

The map of FIX Session Layer Test Cases to tests is in the docstring of ``test_interop.py``.
"""

from __future__ import annotations

import pytest

from fixgw.codec import checksum
from fixgw.codec.dictionary import load_dictionary
from fixgw.session import ApplicationMessage, LoggedOut, Rejected, SequenceGap, reverse_route

from .helpers import drain, logged_on_acceptor, new_clock, parse_frames, sent, types

ROUTE = [(115, "BROKER"), (116, "DESK"), (144, "NY")]


def _only(s):
    (message,) = sent(s)
    return message


# -- 2k / 2o: missing, empty, wrong header fields ---------------------------------------------------------


@pytest.mark.parametrize("tag", [49, 56])
def test_2k_missing_comp_id_rejected_373_1_session_goes_on(tag):
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order(omit=[tag]), clock.now_ns())
    reject = _only(s)
    assert (reject.get(35), reject.get(373), reject.get(371), reject.get(45)) == (b"3", b"1", b"%d" % tag, b"2")
    assert s.is_logged_on and s.next_target_seq == 3
    s.receive_data(peer.order("next"), clock.now_ns())
    assert [type(e) for e in drain(s)] == [Rejected, ApplicationMessage]


def _emptied(frame: bytes, tag: int) -> bytes:
    """``frame`` with the value of ``tag`` removed (``56=\x01``); BodyLength and CheckSum fixed."""
    start = frame.index(b"\x01%d=" % tag) + 1
    end = frame.index(b"\x01", start)
    frame = frame[: start + len(b"%d=" % tag)] + frame[end:]
    return _refix(frame)


def _refix(frame: bytes) -> bytes:
    soh1 = frame.index(b"\x01")
    soh2 = frame.index(b"\x01", soh1 + 1)
    body = frame[soh2 + 1 : frame.rindex(b"10=")]
    out = frame[: soh1 + 1] + b"9=%d\x01" % len(body) + body
    return out + b"10=%03d\x01" % checksum(out)


@pytest.mark.parametrize("tag", [49, 56, 52])
def test_2k_empty_header_field_rejected_373_4_session_goes_on(tag):
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(_emptied(peer.order(), tag), clock.now_ns())
    reject = _only(s)
    assert (reject.get(35), reject.get(373), reject.get(371)) == (b"3", b"4", b"%d" % tag)
    assert s.is_logged_on and s.next_target_seq == 3


@pytest.mark.parametrize("tag, field", [(49, "sender"), (56, "target")])
def test_2k_wrong_comp_id_rejected_373_9_then_logout(tag, field):
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order(**{field: "SOMEONE"}), clock.now_ns())
    reject, logout = sent(s)
    assert (reject.get(35), reject.get(373), reject.get(371)) == (b"3", b"9", b"%d" % tag)
    assert logout.get(35) == b"5" and s.wants_disconnect


def test_2o_missing_sending_time_rejected_373_1_session_goes_on():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order(omit=[52]), clock.now_ns())
    reject = _only(s)
    assert (reject.get(373), reject.get(371)) == (b"1", b"52")
    assert s.is_logged_on


def test_2k_missing_comp_id_above_gap_rejected_in_order():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    peer.next_seq = 3
    s.receive_data(peer.order(omit=[56]), clock.now_ns())  # 3, above the gap at 2
    assert types(sent(s)) == [b"2"]
    t = clock.now_ns()
    s.receive_data(peer.order("two", seq=2, poss_dup=True, orig_sending_time_ns=t), t)
    (reject,) = sent(s)
    assert (reject.get(45), reject.get(373), reject.get(371)) == (b"3", b"1", b"56")
    assert s.next_target_seq == 4


# -- 14: unknown tags, user-defined tags, and the per-session switches ------------------------------------


@pytest.fixture(scope="module")
def fix44():
    return load_dictionary("FIX.4.4")


def test_14_unknown_user_defined_tag_rejected_373_0_by_default(fix44):
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, dictionary=fix44)
    s.receive_data(_order_with(peer, (5001, "x")), clock.now_ns())
    reject = _only(s)
    assert (reject.get(35), reject.get(373), reject.get(371)) == (b"3", b"0", b"5001")


def _order_with(peer, *extra):
    return peer.frame("D", [(11, "a"), (55, "X"), (54, "1"), (60, "20240101-00:00:00"), (38, "1"), (40, "1"), *extra])


def test_14_unknown_tag_below_5000_rejected_373_0(fix44):
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, dictionary=fix44)
    s.receive_data(_order_with(peer, (4999, "x")), clock.now_ns())
    assert (_only(s).get(373), s.next_target_seq) == (b"0", 3)


def test_14_known_tag_not_in_message_type_rejected_373_2(fix44):
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, dictionary=fix44)
    s.receive_data(_order_with(peer, (112, "x")), clock.now_ns())  # TestReqID: not a NewOrderSingle field
    reject = _only(s)
    assert (reject.get(373), reject.get(371)) == (b"2", b"112")


def test_14_validate_user_defined_fields_off_delivers_tags_from_5000(fix44):
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, dictionary=fix44, validate_user_defined_fields=False)
    s.receive_data(_order_with(peer, (5001, "x")), clock.now_ns())
    (event,) = drain(s)
    assert event.message.get(5001) == b"x" and sent(s) == []
    s.receive_data(_order_with(peer, (4999, "x")), clock.now_ns())
    assert _only(s).get(373) == b"0"


def test_14_allow_unknown_message_fields_delivers_unknown_and_foreign_tags(fix44):
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, dictionary=fix44, allow_unknown_message_fields=True)
    s.receive_data(_order_with(peer, (4999, "x"), (112, "y"), (5001, "z")), clock.now_ns())
    (event,) = drain(s)
    assert isinstance(event, ApplicationMessage) and sent(s) == []


# -- 14: a field the parser could not read (tag 0, letters, no '=') ---------------------------------------


def _with_raw_field(frame: bytes, field: bytes) -> bytes:
    """Insert ``field`` (raw bytes, SOH added) at the end of the body; fix BodyLength and CheckSum."""
    soh1 = frame.index(b"\x01")
    soh2 = frame.index(b"\x01", soh1 + 1)
    body = frame[soh2 + 1 : frame.rindex(b"10=")] + field + b"\x01"
    out = frame[: soh1 + 1] + b"9=%d\x01" % len(body) + body
    return out + b"10=%03d\x01" % checksum(out)


@pytest.mark.parametrize("field, ref_tag", [(b"0=x", b"0"), (b"AB=1", None), (b"novalue", None)])
def test_14_unreadable_field_rejected_373_0_number_consumed(field, ref_tag):
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(_with_raw_field(peer.order("bad"), field) + peer.order("good"), clock.now_ns())
    reject = _only(s)
    assert (reject.get(35), reject.get(45), reject.get(373), reject.get(371)) == (b"3", b"2", b"0", ref_tag)
    events = drain(s)
    assert [type(e) for e in events] == [Rejected, ApplicationMessage]
    assert events[1].message.get(11) == b"good" and s.next_target_seq == 4 and s.is_logged_on


# -- reverse routing of the engine's own answers ----------------------------------------------------------


def test_reverse_route_swaps_on_behalf_of_and_deliver_to():
    clock = new_clock()
    _s, peer = logged_on_acceptor(clock)
    msg = parse_frames(peer.order(header=ROUTE))[0]
    assert reverse_route(msg) == ((128, b"BROKER"), (129, b"DESK"), (145, b"NY"))
    back = parse_frames(peer.order(header=[(128, "GW2"), (145, "LDN")]))[0]
    assert reverse_route(back) == ((115, b"GW2"), (144, b"LDN"))
    assert reverse_route(parse_frames(peer.order())[0]) == ()


def test_reverse_route_session_reject_delivered_to_the_on_behalf_of_party():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.frame("ZZ", header=ROUTE), clock.now_ns())  # invalid MsgType: 373=11
    reject = _only(s)
    assert reject.get(373) == b"11"
    assert (reject.get(128), reject.get(129), reject.get(145)) == (b"BROKER", b"DESK", b"NY")
    assert reject.get(115) is None


def test_reverse_route_business_reject_back_on_behalf_of_the_deliver_to_party():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, supported_app_msg_types=frozenset({"D"}))
    s.receive_data(peer.frame("F", [(11, "c")], header=[(128, "GW2"), (129, "OPS")]), clock.now_ns())
    reject = _only(s)
    assert (reject.get(35), reject.get(380)) == (b"j", b"3")
    assert (reject.get(115), reject.get(116), reject.get(128)) == (b"GW2", b"OPS", None)


def test_reverse_route_app_answer_via_header_fields():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    s.receive_data(peer.order(header=ROUTE), clock.now_ns())
    (event,) = drain(s)
    s.send(b"8", [(37, "x")], clock.now_ns(), header_fields=reverse_route(event.message))
    report = _only(s)
    assert [t for t, _ in report.fields][:10] == [8, 9, 35, 49, 56, 34, 52, 128, 129, 145]


# -- 20: simultaneous ResendRequests ----------------------------------------------------------------------


def test_20_simultaneous_resend_requests_both_served_then_session_goes_on_and_logout_answered():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    for i in range(3):
        s.send(b"8", [(37, f"x{i}")], clock.now_ns())  # 2, 3, 4: lost on the way to the peer
    s.data_to_send()
    s.receive_data(peer.order("o2"), clock.now_ns())
    assert [e.message.get(11) for e in drain(s)] == [b"o2"]
    # The peer's 3 and 4 are lost; its 5 (an order) and 6 (its own ResendRequest) arrive.
    peer.next_seq = 5
    s.receive_data(peer.order("o5"), clock.now_ns())
    (ours,) = sent(s)
    assert (ours.get(35), ours.get(7), ours.get(16)) == (b"2", b"3", b"0")
    s.receive_data(peer.frame("2", [(7, 2), (16, 0)]), clock.now_ns())
    out = sent(s)
    # Answered at once: 2..4 again with PossDup (5, our ResendRequest, as a GapFill), then ours again.
    assert [(m.get(35), m.get(34)) for m in out] == [(b"8", b"2"), (b"8", b"3"), (b"8", b"4"), (b"4", b"5"),
                                                     (b"2", b"6")]
    assert all(m.get(43) == b"Y" for m in out[:4])
    assert drain(s) == [SequenceGap(3, 0), SequenceGap(3, 0)] and s.awaiting_gap_fill
    # The peer fills 3..4 with PossDup copies: they and the held 5 are processed in order, 6 skipped.
    t = clock.now_ns()
    s.receive_data(peer.order("o3", seq=3, poss_dup=True, orig_sending_time_ns=t)
                   + peer.order("o4", seq=4, poss_dup=True, orig_sending_time_ns=t), t)
    got = drain(s)
    assert [(e.message.get(11), e.poss_dup) for e in got] == [(b"o3", True), (b"o4", True), (b"o5", False)]
    assert s.next_target_seq == 7 and not s.awaiting_gap_fill and sent(s) == []
    # Its answer to our repeated request: PossDup copies below the expected number, ignored.
    s.receive_data(peer.frame("4", [(123, "Y"), (36, 7)], seq=3, poss_dup=True, orig_sending_time_ns=t), t)
    assert drain(s) == [] and sent(s) == []
    # The session carries on: an order, then a Logout answered by a Logout.
    s.receive_data(peer.order("o7"), clock.now_ns())
    assert [e.message.get(11) for e in drain(s)] == [b"o7"]
    s.receive_data(peer.frame("5"), clock.now_ns())
    assert drain(s)[0] == LoggedOut("", False)
    assert types(sent(s)) == [b"5"]


def test_20_repeated_request_not_counted_as_unanswered_by_the_watchdog():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, max_resend_requests=2, gap_fill_timeout=5.0)
    peer.next_seq = 3
    s.receive_data(peer.order("o3"), clock.now_ns())
    s.receive_data(peer.frame("2", [(7, 1), (16, 0)]), clock.now_ns())
    sent(s)
    s.on_tick(clock.advance(5))  # one unanswered request (the repeat does not count): ask once more...
    assert s.is_logged_on and types(sent(s)) == [b"2"]
    s.on_tick(clock.advance(5))  # ... and only then give up
    assert s.wants_disconnect


# -- 8: chunked resends -----------------------------------------------------------------------------------


def _resend_all(s) -> list:
    chunks = []
    while s.has_data_to_send:
        chunks.append(parse_frames(s.data_to_send()))
    return chunks


def test_8_default_resend_chunk_bounded_new_messages_held_until_resend_done():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    assert s.config.resend_chunk_size == 1000
    for i in range(2500):
        s.send(b"8", [(37, i)], clock.now_ns())  # 2..2501
    s.data_to_send()
    s.receive_data(peer.frame("2", [(7, 2), (16, 0)]), clock.now_ns())
    assert s.next_deadline_ns() == clock.now_ns()  # more to produce: due at once
    first = parse_frames(s.data_to_send())
    assert len(first) == 1000 and first[0].get(34) == b"2" and first[-1].get(34) == b"1001"
    assert s.send(b"8", [(37, "new")], clock.now_ns()) == 2502  # held behind the resend
    rest = _resend_all(s)
    assert [len(c) for c in rest] == [1000, 501]
    seqs = [int(m.get(34)) for c in [first, *rest] for m in c]
    assert seqs == list(range(2, 2503))
    assert rest[-1][-1].get(43) is None and rest[-1][-1].get(37) == b"new"
    assert not s.has_data_to_send and s.data_to_send() == b""


def test_8_second_resend_request_during_chunked_resend_answered_after_it():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, resend_chunk_size=10)
    for i in range(30):
        s.send(b"8", [(37, i)], clock.now_ns())  # 2..31
    s.data_to_send()
    s.receive_data(peer.frame("2", [(7, 2), (16, 21)]), clock.now_ns())
    first = parse_frames(s.data_to_send())
    assert [int(m.get(34)) for m in first] == list(range(2, 12))
    # Inside what is still to come: nothing added. Below it: answered after the resend in progress.
    s.receive_data(peer.frame("2", [(7, 15), (16, 20)]), clock.now_ns())
    s.receive_data(peer.frame("2", [(7, 3), (16, 4)]), clock.now_ns())
    rest = _resend_all(s)
    seqs = [int(m.get(34)) for c in rest for m in c]
    # The peer's two ResendRequests (its 3 and 4) were numbers of its own; ours go 12..21, then 3..4.
    assert seqs == [*range(12, 22), 3, 4]
    assert all(m.get(43) == b"Y" for c in rest for m in c)


def test_8_resend_chunk_zero_still_answers_everything_at_once():
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, resend_chunk_size=0)
    for i in range(5):
        s.send(b"8", [(37, i)], clock.now_ns())
    s.data_to_send()
    s.receive_data(peer.frame("2", [(7, 2), (16, 0)]), clock.now_ns())
    assert len(parse_frames(s.data_to_send())) == 5 and not s.has_data_to_send
