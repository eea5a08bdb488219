"""Inbound sequencing: classify MsgSeqNum, hold messages above a gap, decide what to ask to resend.

Theory of operation
-------------------
The next number expected from the peer lives in the store (``next_target_seq``); this module only holds
what the store does not: messages that arrived above a gap (``queue``, keyed by their number) and the
ResendRequest we have outstanding (``requested``, an inclusive range). A gap is "satisfied" once the
expected number passes the end of the range we asked for; if messages are still queued above a hole at
that point, the hole is asked for anew, so every gap is eventually requested.

Chunking (``chunk`` > 0) asks for at most ``chunk`` numbers per ResendRequest and asks for the next chunk
when the previous one is filled; without it a ResendRequest asks for everything (EndSeqNo 0).
"""

from __future__ import annotations

__all__ = ["EXPECTED", "TOO_HIGH", "TOO_LOW", "classify", "InboundSequencer", "SKIP"]

EXPECTED = 0
TOO_HIGH = 1
TOO_LOW = -1


def classify(seq: int, expected: int) -> int:
    """Return EXPECTED, TOO_HIGH or TOO_LOW."""
    if seq == expected:
        return EXPECTED
    return TOO_HIGH if seq > expected else TOO_LOW


class _Skip:
    __slots__ = ()

    def __repr__(self) -> str:
        return "SKIP"


#: Queue placeholder for a number already handled out of order (a Logon or ResendRequest above a gap):
#: when it comes up, the expected number simply moves past it.
SKIP = _Skip()


class InboundSequencer:
    """Messages held above a gap and the outstanding ResendRequest range."""

    __slots__ = ("queue", "requested", "chunk", "limit")

    def __init__(self, chunk: int = 0, limit: int = 100_000) -> None:
        self.queue: dict[int, object] = {}
        self.requested: tuple[int, int] | None = None
        self.chunk = chunk
        self.limit = limit

    def clear(self) -> None:
        self.queue.clear()
        self.requested = None

    @property
    def awaiting_gap_fill(self) -> bool:
        return self.requested is not None

    @property
    def overflowing(self) -> bool:
        return len(self.queue) > self.limit

    def hold(self, seq: int, item: object) -> None:
        """Keep a message that arrived above the gap (the first copy wins)."""
        self.queue.setdefault(seq, item)

    def request_for(self, expected: int, seen: int) -> tuple[int, int, int]:
        """Plan a ResendRequest for the hole starting at ``expected`` below ``seen``.

        Returns (BeginSeqNo, EndSeqNo as sent, last number the request covers) and records it.
        """
        if self.chunk:
            end = min(expected + self.chunk - 1, seen - 1)
            self.requested = (expected, end)
            return expected, end, end
        self.requested = (expected, seen - 1)
        return expected, 0, seen - 1

    def on_too_high(self, seq: int, expected: int) -> tuple[int, int, int] | None:
        """A message numbered ``seq`` > ``expected`` arrived (and is held); return a request to send, if any."""
        if self.requested is None:
            return self.request_for(expected, seq)
        begin, end = self.requested
        if self.chunk == 0 and end < seq - 1:
            # An open-ended request covers everything the peer had sent; widen what we wait for.
            self.requested = (begin, seq - 1)
        return None

    def pop_next(self, expected: int) -> object | None:
        """Return and remove the held message numbered ``expected``, dropping stale ones below it."""
        queue = self.queue
        if not queue:
            return None
        item = queue.pop(expected, None)
        if item is None:
            stale = [s for s in queue if s < expected]
            for s in stale:
                del queue[s]
        return item

    def after_advance(self, expected: int) -> tuple[int, int, int] | None:
        """The expected number moved to ``expected``: close a satisfied request; ask again if a hole remains."""
        requested = self.requested
        if requested is not None and expected > requested[1]:
            self.requested = None
            requested = None
        if requested is None and self.queue:
            lowest = min(self.queue)
            if lowest > expected:
                return self.request_for(expected, lowest)
        return None
