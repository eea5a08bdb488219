"""When a session may run: a daily or weekly window in a time zone.

Theory of operation
-------------------
A window opens at ``start_time`` local time and closes at the next ``end_time`` (the same day, or the next
day when ``end_time`` <= ``start_time``). ``weekdays`` (0 = Monday) limits the days a daily window may
open. A weekly window (``start_day`` and ``end_day`` set) opens once a week at ``start_day start_time``
and closes at ``end_day end_time``. Local times are turned into instants with ``zoneinfo`` on every
question, so daylight-saving changes move the instants, not the wall-clock times. ``start == end`` with
no days means a window of a full day (a daily reset at ``start_time``).

The session resets its sequence numbers when the store was created before the start of the window that
holds ``now`` (``session_start_ns``), which gives one sequence series per scheduled session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from ..errors import ConfigError

__all__ = ["SessionSchedule"]

NS = 1_000_000_000


def _to_ns(dt: datetime) -> int:
    delta = dt.astimezone(timezone.utc) - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * NS + delta.microseconds * 1000


@dataclass(frozen=True, slots=True)
class SessionSchedule:
    """A repeating window; see the module docstring."""

    start_time: time
    end_time: time
    tz: str = "UTC"
    weekdays: frozenset[int] | None = None
    start_day: int | None = None
    end_day: int | None = None
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            zone = ZoneInfo(self.tz)
        except Exception:
            raise ConfigError("schedule.tz", f"unknown time zone {self.tz!r}") from None
        object.__setattr__(self, "_zone", zone)
        if (self.start_day is None) != (self.end_day is None):
            raise ConfigError("schedule.start_day", "start_day and end_day go together")
        for d in (self.start_day, self.end_day, *(self.weekdays or ())):
            if d is not None and not 0 <= d <= 6:
                raise ConfigError("schedule.weekdays", "days are 0 (Monday) to 6 (Sunday)")
        if self.weekdays is not None and self.start_day is not None:
            raise ConfigError("schedule.weekdays", "weekdays applies to daily windows only")

    @property
    def weekly(self) -> bool:
        return self.start_day is not None

    def _window_from(self, day: date) -> tuple[int, int] | None:
        """The window opening on local ``day``, as (start_ns, end_ns), or None if none opens that day."""
        if self.weekly:
            if day.weekday() != self.start_day:
                return None
            days = (self.end_day - self.start_day) % 7  # type: ignore[operator]
            if days == 0 and self.end_time <= self.start_time:
                days = 7
        else:
            if self.weekdays is not None and day.weekday() not in self.weekdays:
                return None
            days = 1 if self.end_time <= self.start_time else 0
        start = datetime.combine(day, self.start_time, self._zone)
        end = datetime.combine(day + timedelta(days=days), self.end_time, self._zone)
        return _to_ns(start), _to_ns(end)

    def _window_at(self, now_ns: int) -> tuple[int, int] | None:
        today = datetime.fromtimestamp(now_ns // NS, self._zone).date()
        for back in range(0, 9):
            w = self._window_from(today - timedelta(days=back))
            if w is not None and w[0] <= now_ns:
                return w if now_ns < w[1] else None
        return None

    def is_in_session(self, now_ns: int) -> bool:
        """Tell whether ``now_ns`` falls inside a window."""
        return self._window_at(now_ns) is not None

    def session_start_ns(self, now_ns: int) -> int | None:
        """Return the opening instant of the window holding ``now_ns``, or None outside every window."""
        w = self._window_at(now_ns)
        return None if w is None else w[0]

    def session_end_ns(self, now_ns: int) -> int | None:
        """Return the closing instant of the window holding ``now_ns``, or None outside every window."""
        w = self._window_at(now_ns)
        return None if w is None else w[1]

    def next_start_ns(self, now_ns: int) -> int:
        """Return the next opening instant after ``now_ns``."""
        today = datetime.fromtimestamp(now_ns // NS, self._zone).date()
        for ahead in range(0, 15):
            w = self._window_from(today + timedelta(days=ahead))
            if w is not None and w[0] > now_ns:
                return w[0]
        raise ConfigError("schedule", "no window opens within two weeks")  # pragma: no cover - weekdays empty

    def needs_reset(self, creation_time_ns: int, now_ns: int) -> bool:
        """Tell whether a store created at ``creation_time_ns`` belongs to an earlier window than now's."""
        start = self.session_start_ns(now_ns)
        return start is not None and creation_time_ns < start
