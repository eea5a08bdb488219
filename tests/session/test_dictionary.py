"""The engine with the real FIX dictionaries: case 14 rejects carry the dictionary's reason and tag."""

from __future__ import annotations

import pytest

from fixgw.codec import encode, format_utc_timestamp
from fixgw.session import Rejected, SessionID

from .helpers import FakeDictionary, Peer, drain, logged_on_acceptor, make_session, new_clock, sent

dictionary = pytest.importorskip("fixgw.codec.dictionary")

ORDER = [(11, "x"), (55, "BTCUSDT"), (54, "1"), (60, "20240101-00:00:00"), (38, "1"), (40, "2"), (44, "100")]


@pytest.fixture(scope="module")
def fix44():
    return dictionary.load_dictionary("FIX.4.4")


def _reject_of(fix44, fields):
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, dictionary=fix44)
    s.receive_data(peer.frame("D", fields), clock.now_ns())
    events = drain(s)
    assert len(events) == 1 and isinstance(events[0], Rejected), events
    (reject,) = sent(s)
    assert reject.get(35) == b"3" and reject.get(45) == b"2" and reject.get(372) == b"D"
    assert s.next_target_seq == 3
    return events[0]


def test_14_valid_order_passes_real_dictionary(fix44):
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, dictionary=fix44)
    s.receive_data(peer.frame("D", ORDER), clock.now_ns())
    assert drain(s)[0].message.get(11) == b"x"


def test_14b_required_tag_missing_rejected_373_1(fix44):
    event = _reject_of(fix44, [f for f in ORDER if f[0] != 60])
    assert (event.reason, event.ref_tag) == (1, 60)


def test_14a_undefined_tag_rejected(fix44):
    event = _reject_of(fix44, [*ORDER, (9999, "x")])
    assert event.reason in (0, 3) and event.ref_tag == 9999


def test_14c_tag_not_defined_for_message_rejected_373_2(fix44):
    event = _reject_of(fix44, [*ORDER, (108, "30")])
    assert (event.reason, event.ref_tag) == (2, 108)


def test_14e_incorrect_enum_value_rejected_373_5(fix44):
    event = _reject_of(fix44, [(t, "Z" if t == 54 else v) for t, v in ORDER])
    assert (event.reason, event.ref_tag) == (5, 54)


def test_14h_repeated_tag_rejected_373_13(fix44):
    event = _reject_of(fix44, [*ORDER, (11, "again")])
    assert (event.reason, event.ref_tag) == (13, 11)


def test_logon_with_real_dictionary_accepted(fix44):
    clock = new_clock()
    s, _ = logged_on_acceptor(clock, dictionary=fix44)
    assert s.is_logged_on


def test_fix42_reject_omits_reason_codes_fix42_lacks():
    clock = new_clock()
    sid = SessionID("FIX.4.2", "GW", "CLIENT")
    s = make_session(clock, session_id=sid, dictionary=FakeDictionary())
    peer = Peer(sid.reversed(), clock)
    s.connection_made(clock.now_ns())
    s.receive_data(peer.logon(), clock.now_ns())
    sent(s)
    s.receive_data(peer.frame("D", [*ORDER, (11, "again")]), clock.now_ns())
    assert drain(s)[-1].reason == 13
    (reject,) = sent(s)
    assert 373 not in reject and reject.get(371) == b"11" and reject.get(58) == b"Tag appears more than once"


def test_14d_tag_without_value_rejected_373_4(fix44):
    event = _reject_of(fix44, [(t, "" if t == 38 else v) for t, v in ORDER])
    assert (event.reason, event.ref_tag) == (4, 38)


def test_14f_incorrect_data_format_rejected_373_6(fix44):
    event = _reject_of(fix44, [(t, "abc" if t == 38 else v) for t, v in ORDER])
    assert (event.reason, event.ref_tag) == (6, 38)


def test_14g_header_field_after_body_rejected_373_14(fix44):
    event = _reject_of(fix44, [*ORDER[:2], (115, "ONBEHALF"), *ORDER[2:]])
    assert (event.reason, event.ref_tag) == (14, 115)


def test_14i_num_in_group_count_wrong_rejected_373_16(fix44):
    event = _reject_of(fix44, [*ORDER, (453, 2), (448, "P1"), (447, "D"), (452, 1)])
    assert (event.reason, event.ref_tag) == (16, 453)


@pytest.mark.parametrize(("tag", "value", "shown"), [(54, "Z", "value Z"), (38, "+200.00", "value +200.00"),
                                                     (54, "\x7f", "value \\x7f")])
def test_14e_14f_reject_text_shows_the_value_as_sent_not_as_python_bytes(fix44, tag, value, shown):
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, dictionary=fix44)
    s.receive_data(peer.frame("D", [(t, value if t == tag else v) for t, v in ORDER]), clock.now_ns())
    (reject,) = sent(s)
    text = reject.get(58).decode("latin-1")
    assert text.endswith(shown) and "b'" not in text, text


def test_14g_sending_time_after_a_body_field_rejected_373_14_not_missing(fix44):
    clock = new_clock()
    s, peer = logged_on_acceptor(clock, dictionary=fix44)
    fields = [(49, "CLIENT"), (56, "GW"), (34, 2), *ORDER[:2], (52, format_utc_timestamp(clock.now_ns())), *ORDER[2:]]
    frame = encode("FIX.4.4", "D", fields)
    s.receive_data(frame, clock.now_ns())
    events = drain(s)
    assert len(events) == 1 and isinstance(events[0], Rejected), events
    assert (events[0].reason, events[0].ref_tag) == (14, 52)
