"""The outbound queue: frames ready for the wire, and the resend in progress.

Theory of operation
-------------------
New frames (already numbered and stored) are pushed in order. When we answer a ResendRequest, the range
is produced from the store — application messages again with PossDupFlag, the rest as GapFills (see
``resend.plan_resend``) — at most ``chunk`` numbers per ``produce`` call (0 = all at once). Frames
pushed meanwhile are held back and released after the last resent one, so the peer always sees
increasing numbers after the resend and never an original after its own PossDup copy. A second
ResendRequest during a resend is answered after the one in progress, only for what the rest of the
current one does not already cover.
"""

from __future__ import annotations

from .messages import FrameWriter
from .resend import GapFill, Resend, as_poss_dup, plan_resend
from .store import SessionStore

__all__ = ["Outbox"]


class Outbox:
    """Frames waiting for ``data_to_send()``; see the module docstring."""

    __slots__ = ("frames", "held", "held_from", "cursor", "queued", "chunk")

    def __init__(self, chunk: int = 0) -> None:
        self.frames: list[bytes] = []
        self.held: list[bytes] = []
        self.held_from: int | None = None
        self.cursor: tuple[int, int] | None = None  # (next, last) of the resend in progress
        self.queued: list[tuple[int, int]] = []  # ranges asked for meanwhile, answered in turn
        self.chunk = chunk

    def clear(self) -> None:
        self.frames.clear()
        self.held.clear()
        self.held_from = None
        self.cursor = None
        self.queued.clear()

    @property
    def pending(self) -> bool:
        return bool(self.frames) or self.cursor is not None

    def push(self, seq: int, frame: bytes) -> None:
        """Queue a new frame numbered ``seq`` (held back while a resend is in progress)."""
        if self.cursor is not None:
            if self.held_from is None:
                self.held_from = seq
            self.held.append(frame)
        else:
            self.frames.append(frame)

    def last_resendable(self, next_sender_seq: int) -> int:
        """The highest number a resend may cover now: held frames go out on their own afterwards."""
        return (self.held_from if self.held_from is not None else next_sender_seq) - 1

    def start_resend(self, begin: int, end: int) -> None:
        """Resend ``begin`` .. ``end``; during a resend, queue what the rest of it does not cover."""
        cursor = self.cursor
        if cursor is None:
            self.cursor = (begin, end)
            return
        if cursor[0] <= begin and end <= cursor[1]:
            return  # the rest of the resend in progress answers it
        if begin >= cursor[0] and begin <= cursor[1] + 1:
            self.cursor = (cursor[0], max(end, cursor[1]))  # extends the one in progress
            return
        self.queued.append((begin, end))

    def produce(self, store: SessionStore, writer: FrameWriter, now_ns: int) -> None:
        """Queue the next chunk of the resend in progress; release held frames after the last one."""
        cursor = self.cursor
        if cursor is None:
            return
        begin, end = cursor
        hi = end if self.chunk == 0 else min(end, begin + self.chunk - 1)
        sending_time = writer.timestamp(now_ns)
        frames = self.frames
        for item in plan_resend(store.fetch(begin, hi), begin, hi):
            if type(item) is Resend:
                frame = as_poss_dup(item.raw, sending_time)
                if frame is not None:
                    frames.append(frame)
                    continue
                item = GapFill(item.seq, item.seq + 1)  # unreadable stored frame: skip its number
            assert isinstance(item, GapFill)
            frames.append(
                writer.frame(
                    b"4",
                    item.seq,
                    sending_time,
                    b"123=Y\x0136=%d\x01" % item.new_seq,
                    b"43=Y\x01122=%s\x01" % sending_time,
                )
            )
        if hi >= end and self.queued:
            self.cursor = self.queued.pop(0)
        elif hi >= end:
            self.cursor = None
            frames.extend(self.held)
            self.held.clear()
            self.held_from = None
        else:
            self.cursor = (hi + 1, end)

    def take(self) -> bytes:
        """Return and forget the queued frames as one byte string."""
        frames = self.frames
        if not frames:
            return b""
        data = b"".join(frames) if len(frames) > 1 else frames[0]
        frames.clear()
        return data
