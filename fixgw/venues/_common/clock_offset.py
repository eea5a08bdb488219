"""Server-clock offset, learned from the venue's time endpoint.

Signed requests carry a venue timestamp that must be within the receive window of the venue's
clock (Binance rejects anything more than 1 s ahead). We keep ``offset = server - local`` from
the midpoint of each round trip, preferring the sample with the shortest round trip among recent
ones, and stamp requests with ``local + offset``.
"""

from __future__ import annotations

from collections import deque

from fixgw.clock import Clock

__all__ = ["ServerClock"]

_NS_PER_MS = 1_000_000


class ServerClock(Clock):
    """Local clock corrected by the venue's clock (itself a ``Clock``: ``now_ns`` is venue time)."""

    def __init__(self, clock: Clock, *, keep: int = 5) -> None:
        self._clock = clock
        self._samples: deque[tuple[int, int]] = deque(maxlen=keep)  # (rtt_ns, offset_ns)
        self._offset_ns: int | None = None

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def offset_ns(self) -> int | None:
        """Server minus local, in ns; ``None`` before the first sample."""
        return self._offset_ns

    @property
    def offset_ms(self) -> float | None:
        return None if self._offset_ns is None else self._offset_ns / _NS_PER_MS

    def record(self, sent_ns: int, server_time_ms: int, received_ns: int) -> int:
        """Add one sample (local send/receive times around a server time reading); return the offset."""
        rtt = max(received_ns - sent_ns, 0)
        midpoint = sent_ns + rtt // 2
        offset = server_time_ms * _NS_PER_MS - midpoint
        self._samples.append((rtt, offset))
        self._offset_ns = min(self._samples)[1]
        return self._offset_ns

    def reset(self) -> None:
        """Forget all samples (after the venue told us our timestamps are wrong)."""
        self._samples.clear()

    def local_ns(self) -> int:
        return self._clock.now_ns()

    def now_ns(self) -> int:
        """Venue time in epoch ns."""
        return self._clock.now_ns() + (self._offset_ns or 0)

    def now_ms(self) -> int:
        """Venue time in epoch ms (the timestamp to sign)."""
        return self.now_ns() // _NS_PER_MS
