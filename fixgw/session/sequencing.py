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

``GapWatch`` is the watchdog of our own ResendRequests: the FIX specification does not say what to do
when a ResendRequest is never answered, so we ask again for the same hole once ``gap_fill_timeout``
passes without the expected number moving, and after ``max_resend_requests`` unanswered requests in a
row we log out (the next Logon's sequencing finds the gap again).
"""

from __future__ import annotations

__all__ = ["EXPECTED", "TOO_HIGH", "TOO_LOW", "classify", "InboundSequencer", "SKIP", "GapWatch", "WAIT", "ASK_AGAIN", "GIVE_UP"]

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


#: Verdicts of ``GapWatch.check``.
WAIT = "wait"  # the peer is answering: another period
ASK_AGAIN = "ask again"
GIVE_UP = "give up"


class GapWatch:
    """When to look again at our outstanding ResendRequest, and how many in a row went unanswered."""

    __slots__ = ("timeout_ns", "deadline_ns", "mark", "requests", "request_seq")

    def __init__(self, timeout_ns: int | None) -> None:
        self.timeout_ns = timeout_ns
        self.deadline_ns: int | None = None
        self.mark = 0  # the expected number when we last asked
        self.requests = 0  # unanswered requests in a row
        self.request_seq = 0  # the MsgSeqNum of our latest ResendRequest (20: did the peer see it?)

    def forget(self) -> None:
        self.deadline_ns = None
        self.mark = 0
        self.requests = 0
        self.request_seq = 0

    def watch(self, begin: int, now_ns: int, *, asked: bool, request_seq: int | None = None) -> None:
        """A ResendRequest from ``begin`` went out (``asked``, numbered ``request_seq``) or is expected to
        be filled unasked (789)."""
        if request_seq is not None:
            self.request_seq = request_seq
        timeout = self.timeout_ns
        if timeout is None:
            return
        if begin > self.mark:
            self.requests = 0  # the hole moved up since the last request: the peer is answering
        self.mark = begin
        if asked:
            self.requests += 1
        self.deadline_ns = now_ns + timeout

    def check(self, now_ns: int, expected: int, max_requests: int) -> str:
        """The deadline passed with a request still outstanding: WAIT, ASK_AGAIN or GIVE_UP."""
        if expected > self.mark:
            # Progress since the last request: the peer is still answering, give it another period.
            self.mark = expected
            self.requests = 0
            self.deadline_ns = now_ns + self.timeout_ns  # type: ignore[operator]
            return WAIT
        return GIVE_UP if self.requests >= max_requests else ASK_AGAIN
