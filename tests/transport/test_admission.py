"""The acceptor's admission rules as pure values: pending caps, the failed-Logon brake, the log limiter,
and the Logout of a refused Logon."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixgw.codec import NEED_MORE, Message, Parser
from fixgw.transport._admission import LogLimiter, LogonThrottle, PendingConnections, peer_host, refusal_logout

NOW_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z


def test_pending_total_cap_refuses_past_limit_and_admits_after_release():
    pending = PendingConnections(max_total=2, max_per_host=5)
    assert pending.admit("10.0.0.1") is None and pending.admit("10.0.0.2") is None
    refused = pending.admit("10.0.0.3")
    assert refused is not None and "limit 2" in refused
    pending.release("10.0.0.1")
    assert pending.admit("10.0.0.3") is None and pending.total == 2


def test_pending_per_host_cap_refuses_that_host_only():
    pending = PendingConnections(max_total=10, max_per_host=2)
    assert pending.admit("h") is None and pending.admit("h") is None
    assert pending.admit("h") is not None
    assert pending.admit("other") is None
    assert (pending.held_by("h"), pending.total) == (2, 3)


def test_pending_release_of_unknown_host_changes_nothing():
    pending = PendingConnections(max_total=3, max_per_host=3)
    pending.admit("a")
    pending.release("b")
    pending.release("a")
    pending.release("a")
    assert pending.total == 0 and pending.held_by("a") == 0


@given(st.lists(st.tuples(st.booleans(), st.sampled_from(["a", "b", "c", "d"])), max_size=200),
       st.integers(1, 6), st.integers(1, 4))
def test_pending_any_admit_release_sequence_never_exceeds_caps(ops, max_total, max_per_host):
    pending = PendingConnections(max_total, max_per_host)
    held: dict[str, int] = {}
    for admit, host in ops:
        if admit:
            if pending.admit(host) is None:
                held[host] = held.get(host, 0) + 1
        elif held.get(host):
            pending.release(host)
            held[host] -= 1
        assert pending.total == sum(held.values()) <= max_total
        assert all(pending.held_by(h) == n <= max_per_host for h, n in held.items())


@pytest.mark.parametrize("total,per_host", [(0, 1), (1, 0)])
def test_pending_caps_below_one_raise_value_error(total, per_host):
    with pytest.raises(ValueError):
        PendingConnections(total, per_host)


def test_throttle_no_failures_answers_at_once():
    assert LogonThrottle().reserve("h", 100.0) == 0.0


def test_throttle_consecutive_failures_double_delay_up_to_maximum():
    throttle = LogonThrottle(initial=0.5, maximum=4.0)
    now = 0.0
    waits = []
    for _ in range(6):
        wait = throttle.reserve("h", now)
        waits.append(wait)
        now += wait
        throttle.failed("h", now)
    assert waits == [0.0, 0.5, 1.0, 2.0, 4.0, 4.0]


def test_throttle_parallel_reservations_get_successive_slots():
    throttle = LogonThrottle(initial=1.0)
    throttle.failed("h", 10.0)
    assert [throttle.reserve("h", 10.0) for _ in range(3)] == [1.0, 2.0, 3.0]
    assert throttle.reserve("other", 10.0) == 0.0


def test_throttle_quiet_period_forgets_host():
    throttle = LogonThrottle(initial=1.0, forget_after=60.0)
    throttle.failed("h", 0.0)
    throttle.failed("h", 1.0)
    assert throttle.failures("h", 61.0) == 2
    assert throttle.failures("h", 61.5) == 0
    assert throttle.reserve("h", 62.0) == 0.0


def test_throttle_initial_zero_turns_brake_off():
    throttle = LogonThrottle(initial=0.0)
    for _ in range(5):
        throttle.failed("h", 0.0)
    assert throttle.reserve("h", 0.0) == 0.0


def test_throttle_host_table_bounded_drops_oldest():
    throttle = LogonThrottle(max_hosts=3)
    for i in range(5):
        throttle.failed(f"h{i}", float(i))
    assert [throttle.failures(f"h{i}", 5.0) for i in range(5)] == [0, 0, 1, 1, 1]


def test_log_limiter_one_line_per_interval_counts_held_back():
    limiter = LogLimiter(interval=10.0)
    assert limiter.allow("k", 0.0) == 0
    assert limiter.allow("k", 1.0) is None
    assert limiter.allow("k", 2.0) is None
    assert limiter.allow("other", 2.0) == 0
    assert limiter.allow("k", 10.5) == 2


def test_log_limiter_many_keys_stay_bounded():
    limiter = LogLimiter(interval=10.0, max_keys=8)
    for i in range(100):
        assert limiter.allow(f"k{i}", 0.0) == 0
    assert len(limiter._keys) <= 8


def _parse(frame: bytes) -> Message:
    parser = Parser()
    parser.feed(frame)
    msg = parser.next_event()
    assert msg is not NEED_MORE and isinstance(msg, Message)
    return msg


def test_refusal_logout_mirrors_comp_ids_seq_one_with_text():
    frame = refusal_logout(b"FIX.4.2", b"CLIENT", b"GATEWAY", "Logon rejected: why", NOW_NS)
    assert frame is not None
    msg = _parse(frame)
    assert (msg.get(8), msg.get(35), msg.get(49), msg.get(56), msg.get(34)) == (
        b"FIX.4.2", b"5", b"GATEWAY", b"CLIENT", b"1")
    assert msg.get(52) == b"20260101-00:00:00.000"
    assert msg.get(58) == b"Logon rejected: why"


@pytest.mark.parametrize("begin,sender,target", [
    (b"FIX.4.4", b"EVIL\nCRITICAL forged", b"GATEWAY"),
    (b"FIX.4.4", b"CLIENT", b""),
    (b"FIX.4.4", None, b"GATEWAY"),
    (b"HTTP/1.1", b"CLIENT", b"GATEWAY"),
    (b"FIX.4.4", b"C" * 65, b"GATEWAY"),
    (b"FIX.4.4", "CLIENTé".encode(), b"GATEWAY"),
])
def test_refusal_logout_unreadable_header_no_answer(begin, sender, target):
    assert refusal_logout(begin, sender, target, "text", NOW_NS) is None


def test_peer_host_takes_host_of_address_tuple():
    assert peer_host(("127.0.0.1", 5000)) == "127.0.0.1"
    assert peer_host(("::1", 5000, 0, 0)) == "::1"
    assert peer_host(None) == "unknown"
