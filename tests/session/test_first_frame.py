"""FIX Session Layer Test Case 1S/1B, garbled first message: the connection is closed at once, even when a
sound frame follows the garbled one in the same read (the parser then reports the bad frame itself, since
it can resynchronise, instead of waiting for more bytes)."""

from __future__ import annotations

import pytest

from fixgw.codec import checksum
from fixgw.session import Disconnected, LogonRefused

from .helpers import ACCEPTOR_ID, Peer, drain, make_session, new_clock


def _bad_checksum(frame: bytes) -> bytes:
    head = frame[: frame.rindex(b"10=")]
    return head + b"10=%03d\x01" % ((checksum(head) + 1) % 256)


def _short_body_length(frame: bytes) -> bytes:
    soh1 = frame.index(b"\x01")
    soh2 = frame.index(b"\x01", soh1 + 1)
    body = frame[soh2 + 1 : frame.rindex(b"10=")]
    out = frame[: soh1 + 1] + b"9=%d\x01" % (len(body) - 5) + body
    return out + b"10=%03d\x01" % checksum(out)


@pytest.mark.parametrize("garble", [_bad_checksum, _short_body_length], ids=["bad_checksum", "short_body_length"])
def test_1S_garbled_first_logon_then_sound_logon_in_same_read_closes_without_logging_on(garble):
    clock = new_clock()
    s = make_session(clock)
    s.connection_made(clock.now_ns(), ("127.0.0.1", 5000))
    peer = Peer(ACCEPTOR_ID.reversed(), clock)
    first = garble(peer.logon())
    peer.next_seq = 1
    s.receive_data(first + peer.logon(), clock.now_ns())
    events = drain(s)
    assert [type(e) for e in events] == [LogonRefused, Disconnected]
    assert events[0].text.startswith("garbled first message")
    assert s.data_to_send() == b"" and s.wants_disconnect and not s.is_logged_on


def test_1B_garbled_logon_answer_then_sound_one_in_same_read_closes():
    clock = new_clock()
    s = make_session(clock, "initiator")
    s.connection_made(clock.now_ns())
    s.data_to_send()
    peer = Peer(ACCEPTOR_ID, clock)
    first = _bad_checksum(peer.logon())
    peer.next_seq = 1
    s.receive_data(first + peer.logon(), clock.now_ns())
    events = drain(s)
    assert [type(e) for e in events] == [Disconnected] and "garbled" in events[0].reason
    assert not s.is_logged_on
