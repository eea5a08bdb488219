"""fixgw's session engine under the test kit (fixgw.testing): SessionPair, ScriptedPeer and strategies.

Whatever the link does (drop, duplicate, delay, reorder, garble frames, in both directions, while time
passes), once it behaves again every application message is delivered exactly once, in order, body
intact; no gap is left; nobody stays silent past its HeartBtInt. The kit's peer plays gaps, duplicates,
PossDup resends, gap fills, resets and garbled frames against one acceptor, and any message of the
dictionaries crosses a validating pair unchanged.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixgw.codec.dictionary import load_dictionary
from fixgw.session import Session, SessionConfig, SessionID
from fixgw.stores import MemoryMessageStore
from fixgw.testing import NS, T0, ScriptedPeer, SessionPair
from fixgw.testing import strategies as fst
from fixgw.clock import FakeClock

SIDES = ("acceptor", "initiator")
BOUNDED = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_send = st.tuples(st.just("send"), st.sampled_from(SIDES))
_ops = st.one_of(
    _send, _send, _send,  # sends three times as often as each fault
    st.tuples(st.just("drop"), st.sampled_from(SIDES)),
    st.tuples(st.just("duplicate"), st.sampled_from(SIDES)),
    st.tuples(st.just("reorder"), st.sampled_from(SIDES)),
    st.tuples(st.just("corrupt"), st.sampled_from(SIDES)),
    st.tuples(st.just("delay"), st.sampled_from(SIDES), st.floats(0.1, 20.0)),
    st.tuples(st.just("advance"), st.floats(0.5, 70.0)),
    st.just(("reconnect",)),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["FIX.4.2", "FIX.4.4"]), st.lists(_ops, min_size=10, max_size=40))
def test_kit_pair_any_link_faults_then_heal_every_message_delivered_once(begin: str, ops: list) -> None:
    pair = SessionPair(begin, acceptor={"gap_fill_timeout": 10.0}, initiator={"gap_fill_timeout": 10.0})
    pair.connect()
    count = 0
    for op in ops:
        kind = op[0]
        if kind == "reconnect":
            if not (pair.acceptor.is_connected and pair.initiator.is_connected):
                pair.disconnect()
                pair.connect()
            continue
        if kind == "advance":
            pair.advance(op[1])
            continue
        side = op[1]
        if kind == "send":
            if pair.sessions[side].is_logged_on:
                count += 1
                pair.send(side, "D" if side == "initiator" else "8", [(11, f"m{count}"), (58, f"n{count}")])
        elif kind == "delay":
            pair.link(side).delay_next(op[2])
        else:
            getattr(pair.link(side), f"{kind}_next")()
    pair.heal()
    pair.check_invariants()


@BOUNDED
@given(st.sampled_from(["FIX.4.2", "FIX.4.4"]), fst.peer_steps(max_size=15))
def test_kit_peer_steps_acceptor_delivers_each_number_once_in_order(begin: str, steps: list) -> None:
    clock = FakeClock(T0)
    sid = SessionID(begin, "GW", "CLIENT")
    store = MemoryMessageStore(now_ns=clock.now_ns).session_store(sid)
    session = Session(SessionConfig(sid, role="acceptor", gap_fill_timeout=10.0), store,
                      dictionary=load_dictionary(begin))
    peer = ScriptedPeer(sid.reversed(), clock)
    session.connection_made(clock.now_ns(), ("127.0.0.1", 5000))
    peer.drive(session, [peer.logon()])
    assert session.is_logged_on
    peer.run(session, steps)
    peer.finish(session)
    assert session.is_logged_on, peer.events[-3:]
    assert [int(e.message.get(34)) for e in peer.delivered] == peer.expected_deliveries()
    assert not session.awaiting_gap_fill
    assert session.next_target_seq == peer.next_seq


def _app_types(begin: str) -> list[bytes]:
    d = load_dictionary(begin)
    return sorted(mt for mt, m in d.message_types.items() if not m.is_admin)


@pytest.mark.parametrize("begin", ["FIX.4.2", "FIX.4.4"])
def test_kit_pair_any_dictionary_message_crosses_a_validating_pair_intact(begin: str) -> None:
    d = load_dictionary(begin)
    pair = SessionPair(begin, dictionary=d)
    pair.connect()

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(fst.messages(begin, _app_types(begin)), st.sampled_from(SIDES))
    def cross(m: fst.DrawnMessage, side: str) -> None:
        pair.send(side, m.msg_type, m.body)
        last = pair.delivered[pair.other(side)][-1]
        assert last.message.get(35) == m.msg_type
        assert [(t, v) for t, v in last.message.fields if t not in (8, 9, 35, 49, 56, 34, 52, 10)] == list(m.body)

    cross()
    assert not [e for s in SIDES for e in pair.events[s] if type(e).__name__ == "Rejected"]
    pair.check_invariants()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fst.garbled(fst.messages("FIX.4.4", ["0", "1", "D"], optional=False).map(
    lambda m: m.encode(sender="INITIATOR", target="ACCEPTOR", seq=2, sending_time_ns=T0)), "broken"))
def test_kit_broken_framing_ignored_number_not_consumed(mutation: fst.Mutation) -> None:
    pair = SessionPair("FIX.4.4", dictionary=load_dictionary("FIX.4.4"))
    pair.connect()
    pair.acceptor.receive_data(mutation.data + b"8=FIX.4.4\x01", pair.clock.now_ns())  # the next frame's start
    pair.pump()
    assert pair.acceptor.next_target_seq == 2
    assert pair.acceptor.is_logged_on
    assert pair.delivered["acceptor"] == []
    pair.clock.advance(0, ns=NS)
