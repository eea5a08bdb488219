"""Request-weight rate limiter.

Theory of operation
-------------------
Venues count request weight per fixed interval (Binance: per minute, per IP) and answer 429 when
the ceiling is passed, then 418 (a ban) if that goes on. We never want to get there, so every
request *acquires* its weight first: local token accounting per interval window, held back (we
sleep until the next window) when the request would pass ``limit - reserve``. Each response's
used-weight header corrects the local count upwards (other processes on the same IP count too).

If a 429 happens anyway we back off exponentially (1 s, 2 s, 4 s ... capped), never shorter than
the venue's ``Retry-After``; a 418 is a ban: every acquire raises ``VenueBanned`` until it ends.

Most requests find plenty of headroom: they are counted at once, without taking the queue (or giving
the event loop a turn). The queue (a lock, first come first served) is taken only when a request has
to wait, or someone already waits: then a later request never overtakes an earlier one.

Time is injected (``Clock`` and an async ``sleep``) so tests run without real waiting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import anyio

from fixgw.backoff import backoff_delay
from fixgw.clock import Clock, SystemClock
from fixgw.errors import VenueBanned

__all__ = ["Bucket", "RateLimiter"]

_NS = 1_000_000_000


@dataclass(slots=True)
class Bucket:
    """One counted limit: ``limit`` units per ``interval_s`` seconds, windows aligned to the epoch."""

    name: str
    limit: int
    interval_s: float
    reserve: int = 0  # units kept free for urgent requests (cancels)
    used: int = 0
    window: int = -1
    in_flight: int = 0  # acquired but not answered yet: may land in the next window

    def roll(self, now_ns: int) -> None:
        w = int(now_ns // int(self.interval_s * _NS))
        if w != self.window:
            self.window = w
            # a request sent just before the boundary may be counted by the venue just after it;
            # carried once, so an unanswered request can never block every later window
            self.used, self.in_flight = self.in_flight, 0

    def next_window_ns(self) -> int:
        span = int(self.interval_s * _NS)
        return (self.window + 1) * span


class RateLimiter:
    """Hold requests back before a venue's limits; back off after 429; stop during a 418 ban."""

    def __init__(
        self,
        buckets: list[Bucket],
        *,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 60.0,
        default_ban_s: float = 120.0,
        boundary_margin_s: float = 0.25,
    ) -> None:
        self._buckets = {b.name: b for b in buckets}
        self._clock = clock or SystemClock()
        self._sleep = sleep or anyio.sleep
        self._base = backoff_base_s
        self._cap = backoff_cap_s
        self._default_ban_s = default_ban_s
        # our idea of the venue's clock can be off by a little: treat a new window as started only
        # this long after its boundary, so a full window is never topped up early
        self._margin_ns = int(boundary_margin_s * _NS)
        self._strikes = 0
        self._backoff_until_ns = 0
        self._banned_until_ns: int | None = None
        self._lock = anyio.Lock()
        self.waited_s = 0.0  # total time held back, for health and tests
        self.rate_limited_count = 0
        #: 418 answers (bans) so far.
        self.banned_count = 0

    # -- configuration -----------------------------------------------------------------------

    def set_limit(self, name: str, limit: int, interval_s: float) -> None:
        """Set or add a bucket (from the venue's published limits)."""
        b = self._buckets.get(name)
        if b is None:
            self._buckets[name] = Bucket(name, limit, interval_s)
        else:
            b.limit, b.interval_s = limit, interval_s

    def bucket(self, name: str) -> Bucket:
        return self._buckets[name]

    @property
    def banned_until_ns(self) -> int | None:
        if self._banned_until_ns is not None and self._clock.now_ns() >= self._banned_until_ns:
            self._banned_until_ns = None
        return self._banned_until_ns

    def windows(self) -> list[tuple[str, int, int, float]]:
        """Return (name, used, limit, interval seconds) of every bucket in its current window."""
        now = self._clock.now_ns() - self._margin_ns
        out = []
        for b in self._buckets.values():
            b.roll(now)
            out.append((b.name, b.used, b.limit, b.interval_s))
        return out

    def usage(self, name: str) -> tuple[int, int]:
        """Return (used, limit) of a bucket in the current window."""
        b = self._buckets[name]
        b.roll(self._clock.now_ns() - self._margin_ns)
        return b.used, b.limit

    # -- the request path ------------------------------------------------------------------------

    async def acquire(self, costs: Mapping[str, int], *, urgent: bool = False) -> None:
        """Wait until the request fits every bucket, then count it. Raise ``VenueBanned`` during a ban.

        ``urgent`` requests (cancels) may use the reserve. Call ``release(costs)`` once the answer
        is in: until then the request's weight is carried into the next window too.
        """
        if self._count_now(costs, urgent):
            return
        async with self._lock:  # one waiter at a time keeps the accounting simple and fair (FIFO)
            while True:
                now = self._clock.now_ns()
                banned = self.banned_until_ns
                if banned is not None:
                    raise VenueBanned("venue ban in force", until_ns=banned)
                wait_ns = max(self._backoff_until_ns - now, 0)
                if wait_ns == 0:
                    lagged = now - self._margin_ns
                    for name, cost in costs.items():
                        b = self._buckets.get(name)
                        if b is None or cost <= 0:
                            continue
                        b.roll(lagged)
                        ceiling = b.limit - (0 if urgent else b.reserve)
                        if b.used + cost > ceiling and b.used > 0:
                            wait_ns = max(wait_ns, b.next_window_ns() - lagged)
                if wait_ns <= 0:
                    for name, cost in costs.items():
                        b = self._buckets.get(name)
                        if b is not None:
                            b.used += cost
                            b.in_flight += cost
                    return
                self.waited_s += wait_ns / _NS
                await self._sleep(wait_ns / _NS)

    def _count_now(self, costs: Mapping[str, int], urgent: bool) -> bool:
        """Count the request at once and return ``True`` if it fits now with nobody waiting before it
        (no waiter holds the lock, no back-off or ban): most requests, which then never wait or yield
        to the event loop. ``False``: ``acquire`` takes the queue, which decides exactly as here."""
        if self._banned_until_ns is not None or self._lock.locked():
            return False
        now = self._clock.now_ns()
        if self._backoff_until_ns > now:
            return False
        lagged = now - self._margin_ns
        buckets = self._buckets
        for name, cost in costs.items():
            b = buckets.get(name)
            if b is None or cost <= 0:
                continue
            b.roll(lagged)
            if b.used + cost > b.limit - (0 if urgent else b.reserve) and b.used > 0:
                return False
        for name, cost in costs.items():
            b = buckets.get(name)
            if b is not None:
                b.used += cost
                b.in_flight += cost
        return True

    def release(self, costs: Mapping[str, int]) -> None:
        """Mark an acquired request as answered (or abandoned): it no longer straddles windows."""
        for name, cost in costs.items():
            b = self._buckets.get(name)
            if b is not None:
                b.in_flight = max(b.in_flight - cost, 0)

    def observe_used(self, name: str, used: int) -> None:
        """Correct a bucket from the venue's used-weight header (only ever upwards within a window)."""
        b = self._buckets.get(name)
        if b is None:
            return
        b.roll(self._clock.now_ns() - self._margin_ns)
        if used > b.used:
            b.used = used

    def observe_counts(self, counts: list[tuple[str, int]]) -> None:
        """``observe_used`` for several buckets at once (a WebSocket API answer's ``rateLimits``)."""
        lagged = self._clock.now_ns() - self._margin_ns
        for name, used in counts:
            b = self._buckets.get(name)
            if b is not None:
                b.roll(lagged)
                if used > b.used:
                    b.used = used

    def on_success(self) -> None:
        self._strikes = 0

    def on_rate_limited(self, retry_after_s: float | None) -> float:
        """Record a 429; return how long requests are held back (seconds)."""
        self.rate_limited_count += 1
        delay = backoff_delay(self._strikes, self._base, self._cap)
        self._strikes += 1
        if retry_after_s is not None:
            delay = max(delay, retry_after_s)
        self._backoff_until_ns = max(self._backoff_until_ns, self._clock.now_ns() + int(delay * _NS))
        return delay

    def on_banned(self, retry_after_s: float | None = None, until_ns: int | None = None) -> int:
        """Record a 418; return the epoch ns the ban ends."""
        self.banned_count += 1
        if until_ns is None:
            secs = retry_after_s if retry_after_s is not None else self._default_ban_s
            until_ns = self._clock.now_ns() + int(secs * _NS)
        self._banned_until_ns = max(self._banned_until_ns or 0, until_ns)
        return self._banned_until_ns
