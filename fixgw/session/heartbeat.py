"""Heartbeat timing (cases 4 and 6), as plain arithmetic on ``now_ns``.

We send a Heartbeat after ``interval`` of silence from us. After ``interval * (1 + margin)`` of silence
from the peer we send a TestRequest; if the peer stays silent for that long again, the link is dead.
Anything received from the peer counts as a sign of life and cancels the pending TestRequest.
An interval of 0 switches all of it off.
"""

from __future__ import annotations

__all__ = ["HeartbeatTimer"]

NS = 1_000_000_000


class HeartbeatTimer:
    """When the next Heartbeat or TestRequest is due, and when the peer counts as gone."""

    __slots__ = ("interval_ns", "grace_ns", "last_sent_ns", "last_received_ns", "test_request_sent_ns")

    def __init__(self, interval_s: float, margin: float, now_ns: int) -> None:
        self.interval_ns = int(interval_s * NS)
        self.grace_ns = int(interval_s * (1.0 + margin) * NS)
        self.last_sent_ns = now_ns
        self.last_received_ns = now_ns
        self.test_request_sent_ns: int | None = None

    @property
    def enabled(self) -> bool:
        return self.interval_ns > 0

    def sent(self, now_ns: int) -> None:
        self.last_sent_ns = now_ns

    def received(self, now_ns: int) -> None:
        self.last_received_ns = now_ns
        self.test_request_sent_ns = None

    def test_request_sent(self, now_ns: int) -> None:
        self.test_request_sent_ns = now_ns
        self.last_sent_ns = now_ns

    def heartbeat_due(self, now_ns: int) -> bool:
        return self.interval_ns > 0 and now_ns - self.last_sent_ns >= self.interval_ns

    def test_request_due(self, now_ns: int) -> bool:
        return (
            self.interval_ns > 0
            and self.test_request_sent_ns is None
            and now_ns - self.last_received_ns >= self.grace_ns
        )

    def timed_out(self, now_ns: int) -> bool:
        sent = self.test_request_sent_ns
        return self.interval_ns > 0 and sent is not None and now_ns - sent >= self.grace_ns

    def next_deadline_ns(self) -> int | None:
        if self.interval_ns <= 0:
            return None
        heartbeat = self.last_sent_ns + self.interval_ns
        sent = self.test_request_sent_ns
        peer = self.last_received_ns + self.grace_ns if sent is None else sent + self.grace_ns
        return heartbeat if heartbeat < peer else peer
