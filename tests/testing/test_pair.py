"""SessionPair: the faulty link does what it says, and each invariant check can fail."""

from __future__ import annotations

import pytest

from fixgw.session import SequenceGap
from fixgw.testing import InvariantError, SessionPair


def _order(k: int) -> list[tuple[int, str]]:
    return [(11, f"o{k}"), (55, "BTCUSDT")]


@pytest.mark.parametrize("begin", ["FIX.4.2", "FIX.4.4"])
def test_pair_clean_link_both_ways_invariants_hold(begin: str) -> None:
    pair = SessionPair(begin)
    pair.connect()
    for k in range(3):
        pair.send("initiator", "D", _order(k))
        pair.send("acceptor", "8", [(37, f"e{k}")])
    pair.advance(200)
    pair.check_invariants()
    assert [e.message.get(11) for e in pair.delivered["acceptor"]] == [b"o0", b"o1", b"o2"]
    heartbeats = [m for _, _, m in pair.wire["initiator"] if m.get(35) == b"0"]
    assert len(heartbeats) == 6  # 200 s of silence at HeartBtInt 30


def test_pair_dropped_frame_is_resent_and_delivered_once() -> None:
    pair = SessionPair()
    pair.connect()
    pair.link("initiator").drop_next()
    pair.send("initiator", "D", _order(1))
    pair.send("initiator", "D", _order(2))
    assert len(pair.link("initiator").dropped) == 1
    assert SequenceGap(2, 0) in pair.events["acceptor"]
    pair.check_invariants()
    assert [(e.message.get(11), e.poss_dup) for e in pair.delivered["acceptor"]] == [(b"o1", True), (b"o2", False)]


def test_pair_duplicated_and_reordered_frames_delivered_once_in_order() -> None:
    pair = SessionPair()
    pair.connect()
    pair.link("initiator").duplicate_next()
    pair.send("initiator", "D", _order(1))
    pair.link("initiator").reorder_next()
    pair.send("initiator", "D", _order(2))
    pair.send("initiator", "D", _order(3))
    pair.heal()
    pair.check_invariants()
    assert [e.message.get(11) for e in pair.delivered["acceptor"]] == [b"o1", b"o2", b"o3"]


def test_pair_delayed_frame_arrives_at_its_time() -> None:
    pair = SessionPair()
    pair.connect()
    pair.link("acceptor").delay_next(5.0)
    pair.send("acceptor", "8", [(37, "e1")])
    assert pair.delivered["initiator"] == []
    pair.advance(4.9)
    assert pair.delivered["initiator"] == []
    pair.advance(0.2)
    assert len(pair.delivered["initiator"]) == 1


def test_pair_corrupted_frame_is_garbled_then_recovered() -> None:
    pair = SessionPair()
    pair.connect()
    pair.link("initiator").corrupt_next()
    pair.send("initiator", "D", _order(1))
    assert pair.delivered["acceptor"] == []
    pair.heal()
    pair.check_invariants()
    assert len(pair.delivered["acceptor"]) == 1


def test_pair_check_no_gap_fails_while_the_resend_request_is_lost() -> None:
    pair = SessionPair()
    pair.connect()
    pair.link("initiator").drop_next()
    pair.link("acceptor").drop_next()  # the acceptor's ResendRequest
    pair.send("initiator", "D", _order(1))
    pair.send("initiator", "D", _order(2))
    with pytest.raises(InvariantError, match="the acceptor still waits for a gap fill"):
        pair.check_no_gap()
    pair.heal()
    pair.check_invariants()


def test_pair_check_delivered_once_fails_for_a_message_never_handed_over() -> None:
    pair = SessionPair()
    pair.connect()
    pair.send("initiator", "D", _order(1))
    pair.sent["initiator"].append((99, b"D", []))  # a message the acceptor never saw
    with pytest.raises(InvariantError, match=r"initiator sent MsgSeqNums \[2, 99\], the acceptor was handed \[2\]"):
        pair.check_delivered_once()


def test_pair_check_heartbeats_fails_when_time_jumps_without_timers() -> None:
    pair = SessionPair()
    pair.connect()
    pair.clock.advance(100)  # no on_tick: nobody heartbeats
    with pytest.raises(InvariantError, match="has sent nothing for 100s"):
        pair.check_heartbeats()


class _ForgetfulStore:
    """A session store that keeps nothing to resend: a resend becomes a gap fill, the message is lost."""

    def __init__(self, inner) -> None:
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def fetch(self, begin: int, end: int) -> list:
        return []


def test_pair_invariants_catch_an_engine_whose_store_forgets_messages() -> None:
    from fixgw.session import SessionID
    from fixgw.stores import MemoryMessageStore

    sid = SessionID("FIX.4.4", "ACCEPTOR", "INITIATOR")
    pair = SessionPair(acceptor_store=_ForgetfulStore(MemoryMessageStore().session_store(sid)))
    pair.connect()
    pair.link("acceptor").drop_next()
    pair.send("acceptor", "8", [(37, "e1")])
    pair.send("acceptor", "8", [(37, "e2")])
    pair.heal()
    pair.check_no_gap()  # the gap was filled ...
    with pytest.raises(InvariantError, match=r"acceptor sent MsgSeqNums \[2, 3\], the initiator was handed \[\]"):
        pair.check_delivered_once()  # ... by a gap fill over both messages: neither arrived
