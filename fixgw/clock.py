"""The clock: the only place that reads wall or monotonic time.

Sans-I/O cores take ``now_ns`` (UTC epoch nanoseconds) as an argument; drivers get it from a
``Clock``. Tests use ``FakeClock`` so protocol timers never need real sleeps.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

__all__ = ["Clock", "SystemClock", "FakeClock", "ns_to_datetime", "datetime_to_ns"]

NS_PER_S = 1_000_000_000


class Clock:
    """Interface: ``now_ns()`` returns UTC epoch nanoseconds."""

    def now_ns(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError


class SystemClock(Clock):
    """Wall-clock UTC time from the operating system."""

    def now_ns(self) -> int:
        return time.time_ns()


class FakeClock(Clock):
    """A clock that moves only when told to; for tests and simulations."""

    def __init__(self, start_ns: int = 1_700_000_000 * NS_PER_S) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def advance(self, seconds: float = 0.0, *, ns: int = 0) -> int:
        """Move time forward and return the new now."""
        self._now += int(seconds * NS_PER_S) + ns
        return self._now

    def set(self, now_ns: int) -> None:
        self._now = now_ns


def ns_to_datetime(ns: int) -> datetime:
    """Return the aware UTC datetime for epoch nanoseconds (microsecond precision)."""
    return datetime.fromtimestamp(ns // 1000 / 1_000_000, tz=timezone.utc)


def datetime_to_ns(dt: datetime) -> int:
    """Return epoch nanoseconds for an aware datetime (naive ones are taken as UTC)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    delta = dt - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * 1000
