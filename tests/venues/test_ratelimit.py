"""The weight limiter holds requests before the ceiling, backs off on 429 and stops on 418 (fake time)."""

from __future__ import annotations

import pytest

from fixgw.clock import FakeClock
from fixgw.errors import VenueBanned
from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.ratelimit import Bucket, RateLimiter

pytestmark = pytest.mark.anyio


def _limiter(limit=10, interval=60.0, reserve=0):
    clock = FakeClock(start_ns=1_700_000_080 * 10**9)  # 20 s before a minute boundary
    sleeps: list[float] = []

    async def sleep(s: float) -> None:
        sleeps.append(s)
        clock.advance(s)

    return RateLimiter([Bucket("W", limit, interval, reserve=reserve)], clock=clock, sleep=sleep), clock, sleeps


async def test_limiter_burst_over_ceiling_waits_for_next_window():
    lim, clock, sleeps = _limiter(limit=10)
    for _ in range(10):
        await lim.acquire({"W": 1})
        lim.release({"W": 1})
    assert sleeps == []
    await lim.acquire({"W": 1})
    assert len(sleeps) == 1 and sleeps[0] == pytest.approx(20.25)  # boundary + clock-error margin
    assert lim.usage("W") == (1, 10)


async def test_limiter_used_weight_header_corrects_upwards_only():
    lim, clock, sleeps = _limiter(limit=10)
    await _take(lim, 2)
    lim.observe_used("W", 9)  # other processes on the same IP
    assert lim.usage("W") == (9, 10)
    lim.observe_used("W", 3)
    assert lim.usage("W") == (9, 10)
    await _take(lim, 2)
    assert len(sleeps) == 1


async def _take(lim, cost=1, urgent=False):
    await lim.acquire({"W": cost}, urgent=urgent)
    lim.release({"W": cost})


async def test_limiter_reserve_kept_for_urgent_requests():
    lim, clock, sleeps = _limiter(limit=10, reserve=3)
    for _ in range(7):
        await _take(lim)
    await _take(lim, urgent=True)
    assert sleeps == []
    await _take(lim)
    assert len(sleeps) == 1


async def test_limiter_429_backoff_doubles_and_honours_retry_after():
    lim, clock, sleeps = _limiter(limit=1000)
    assert lim.on_rate_limited(None) == 1.0
    await lim.acquire({"W": 1})
    assert lim.on_rate_limited(None) == 2.0
    await lim.acquire({"W": 1})
    assert lim.on_rate_limited(30) == 30
    await lim.acquire({"W": 1})
    assert sleeps == pytest.approx([1.0, 2.0, 30.0])
    lim.on_success()
    assert lim.on_rate_limited(None) == 1.0


async def test_limiter_429_backoff_capped():
    lim, clock, sleeps = _limiter()
    delays = [lim.on_rate_limited(None) for _ in range(12)]
    assert max(delays) == 60.0 and delays[:4] == [1.0, 2.0, 4.0, 8.0]


async def test_limiter_418_ban_refuses_until_it_ends():
    lim, clock, sleeps = _limiter()
    until = lim.on_banned(retry_after_s=120)
    with pytest.raises(VenueBanned) as info:
        await lim.acquire({"W": 1})
    assert info.value.until_ns == until
    clock.advance(121)
    await lim.acquire({"W": 1})
    assert lim.banned_until_ns is None


def test_server_clock_offset_from_round_trip_midpoint():
    clock = FakeClock(start_ns=1_000 * 10**9)
    sc = ServerClock(clock)
    sent = clock.now_ns()
    clock.advance(0.2)
    # server said 1005.100 s at the midpoint (local 1000.1 s): offset +5 s
    assert sc.record(sent, 1_005_100, clock.now_ns()) == 5 * 10**9
    assert sc.now_ms() == 1_005_200
    # a slower sample does not displace the faster one
    sent = clock.now_ns()
    clock.advance(2.0)
    sc.record(sent, 1_000_000, clock.now_ns())
    assert sc.offset_ns == 5 * 10**9


async def test_limiter_in_flight_weight_carried_into_next_window():
    lim, clock, sleeps = _limiter(limit=10)
    await lim.acquire({"W": 4})  # not answered yet
    await lim.acquire({"W": 2})
    lim.release({"W": 2})
    clock.advance(21)  # next window
    assert lim.usage("W") == (4, 10)
    lim.release({"W": 4})
    clock.advance(60)
    assert lim.usage("W") == (0, 10)


async def test_limiter_unanswered_requests_never_block_forever():
    lim, clock, sleeps = _limiter(limit=10)
    for _ in range(25):
        await lim.acquire({"W": 1})  # never released
    assert len(sleeps) <= 4
