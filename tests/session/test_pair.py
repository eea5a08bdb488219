"""Two engines linked in memory: whole conversations in FIX 4.2 and 4.4, input in any chunking."""

from __future__ import annotations

import pytest

from fixgw.session import LoggedOn, SessionID

from .helpers import ConnectionPair, Peer, drain, logged_on_acceptor, make_session, new_clock, parse_frames


@pytest.mark.parametrize("begin_string", ["FIX.4.2", "FIX.4.4"])
def test_pair_conversation_both_directions_delivered_in_order(begin_string):
    sid = SessionID(begin_string, "GW", "CLIENT")
    pair = ConnectionPair(acceptor={"session_id": sid}, initiator={"session_id": sid.reversed()})
    pair.connect()
    now = pair.clock.now_ns()
    for k in range(5):
        pair.initiator.send(b"D", [(11, f"c{k}"), (55, "BTCUSDT")], now)
        pair.acceptor.send(b"8", [(37, f"e{k}"), (17, f"x{k}")], now)
    pair.pump()
    assert [e.message.get(11) for e in pair.app("acceptor")] == [b"c%d" % k for k in range(5)]
    assert [e.message.get(37) for e in pair.app("initiator")] == [b"e%d" % k for k in range(5)]
    assert {m.get(8) for m in pair.wire["acceptor"] + pair.wire["initiator"]} == {begin_string.encode()}
    pair.advance(200)
    assert pair.acceptor.is_logged_on and pair.initiator.is_logged_on


def test_pair_reconnect_resumes_sequence_numbers_from_store():
    pair = ConnectionPair()
    pair.connect()
    pair.initiator.send(b"D", [(11, "a")], pair.clock.now_ns())
    pair.pump()
    pair.initiator.logout(pair.clock.now_ns())
    pair.pump()
    assert not pair.acceptor.is_connected and not pair.initiator.is_connected
    pair.connect()
    logon = [m for m in pair.wire["initiator"] if m.get(35) == b"A"][-1]
    assert logon.get(34) == b"4"  # Logon 1, order 2, Logout 3
    assert pair.acceptor.is_logged_on and not pair.acceptor.awaiting_gap_fill


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_pair_input_in_any_chunking_gives_same_events(chunk):
    clock = new_clock()
    s, peer = logged_on_acceptor(clock)
    data = b"".join(peer.order(f"o{k}") for k in range(6)) + peer.frame("1", [(112, "T")])
    for i in range(0, len(data), chunk):
        s.receive_data(data[i : i + chunk], clock.now_ns())
    events = drain(s)
    assert [e.message.get(11) for e in events] == [b"o%d" % k for k in range(6)]
    (hb,) = parse_frames(s.data_to_send())
    assert hb.get(112) == b"T"


def test_pair_logon_with_trailing_bytes_processes_both():
    clock = new_clock()
    s = make_session(clock)
    peer = Peer(SessionID("FIX.4.4", "CLIENT", "GW"), clock)
    s.connection_made(clock.now_ns())
    s.receive_data(peer.logon() + peer.order("right-after"), clock.now_ns())
    events = drain(s)
    assert events[0] == LoggedOn(30, False)
    assert events[1].message.get(11) == b"right-after"
