"""``ScriptedPeer``: a hand-written counterparty for one sans-I/O session, played step by step.

::

    from fixgw.clock import FakeClock
    from fixgw.testing import ScriptedPeer, PeerStep, SessionPair

    peer = ScriptedPeer(SessionID("FIX.4.4", "CLIENT", "GW"), FakeClock())   # the peer's view
    peer.drive(session, [peer.logon()])                   # the session under test: an acceptor
    peer.run(session, [PeerStep("send", 2), PeerStep("gap", 1), PeerStep("send"), PeerStep("wait", seconds=40)])
    peer.finish(session)
    assert [int(e.message.get(34)) for e in peer.delivered] == peer.expected_deliveries()

Theory of operation
-------------------
The peer builds its frames itself (so it can number them wrong, mark them PossDup, garble them) and keeps
every message it numbered, as an engine's store does. ``answer(data)`` reads what the session wrote and
answers as a conformant engine would: a ResendRequest from its store (application messages again with
PossDupFlag and OrigSendingTime, admin ones as a GapFill), a TestRequest with a Heartbeat. ``drive``
feeds frames in and loops until the session has nothing more to say; ``wait`` moves the fake clock,
ticking the session at its deadlines and sending Heartbeats as the peer's own interval says.

``expected_deliveries()`` is what the application must end up with: every application message number
the peer sent, once, in order, except the numbers a SequenceReset-Reset jumped over while they were
still lost on the way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ..clock import FakeClock
from ..codec import Message, Parser, encode, format_utc_timestamp
from ..session import NEED_DATA, ApplicationMessage, Session, SessionID
from .pair import NS

__all__ = ["ScriptedPeer", "PeerStep"]

_ADMIN = frozenset((b"0", b"1", b"2", b"3", b"4", b"5", b"A"))


@dataclass(frozen=True)
class PeerStep:
    """One thing a counterparty does (see ``ScriptedPeer.play``; ``strategies.peer_steps`` draws lists).

    ``send``: ``count`` application messages; ``gap``: ``count`` messages numbered and lost on the way;
    ``duplicate``: the last message again with PossDupFlag; ``resend``: message ``count`` back from the
    last, again with PossDupFlag; ``gap_fill``: a PossDup SequenceReset-GapFill over the first lost number
    (which is then never delivered), else over numbers already sent; ``reset``: a SequenceReset-Reset ``count`` numbers ahead (the numbers in between are never
    used); ``garble``: a garbled frame; ``wait``: ``seconds`` pass with nothing sent.
    """

    kind: str
    count: int = 1
    seconds: float = 0.0


class ScriptedPeer:
    """The other side of one session, written by hand; ``session_id`` is the peer's own view."""

    def __init__(self, session_id: SessionID, clock: FakeClock, *, heartbeat_interval: int = 30) -> None:
        self.sid = session_id
        self.clock = clock
        self.heartbeat_interval = heartbeat_interval
        self.next_seq = 1
        self.store: dict[int, tuple[bytes, list[tuple[int, Any]], int]] = {}
        self.app_seqs: list[int] = []
        self.lost: set[int] = set()  # numbered application messages not (yet) sent on the wire
        self.void: set[int] = set()  # lost numbers a Reset jumped over: never delivered
        self.delivered: list[ApplicationMessage] = []
        self.events: list[Any] = []
        self.received: list[Message] = []
        self._last_sent_ns = clock.now_ns()
        self._orders = 0

    # -- frames ---------------------------------------------------------------------------------------------
    def frame(self, msg_type: bytes | str, fields: Iterable[tuple[int, Any]] = (), *, seq: int | None = None,
              sending_time_ns: int | None = None, poss_dup: bool = False, orig_sending_time_ns: int | None = None,
              begin: str | None = None, sender: str | None = None, target: str | None = None,
              header: Iterable[tuple[int, Any]] = (), omit: Iterable[int] = (), store: bool = True) -> bytes:
        """Build one frame; ``seq`` None takes (and advances) the running number, storing the message."""
        mt = msg_type.encode("ascii") if isinstance(msg_type, str) else msg_type
        body = list(fields)
        if seq is None:
            seq = self.next_seq
            self.next_seq += 1
            if store:
                self.store[seq] = (mt, body, self.clock.now_ns())
        now = self.clock.now_ns() if sending_time_ns is None else sending_time_ns
        hdr: list[tuple[int, Any]] = [(49, sender or self.sid.sender_comp_id), (56, target or self.sid.target_comp_id),
                                      (34, seq), (52, format_utc_timestamp(now))]
        if poss_dup:
            hdr.append((43, "Y"))
        if orig_sending_time_ns is not None:
            hdr.append((122, format_utc_timestamp(orig_sending_time_ns)))
        hdr.extend(header)
        skip = set(omit)
        self._last_sent_ns = self.clock.now_ns()
        return encode(begin or self.sid.begin_string, mt, [(t, v) for t, v in (*hdr, *body) if t not in skip])

    def logon(self, heartbeat_interval: int | None = None, *, reset: bool = False, **kw: Any) -> bytes:
        hb = self.heartbeat_interval if heartbeat_interval is None else heartbeat_interval
        return self.frame("A", [(98, 0), (108, hb), *([(141, "Y")] if reset else [])], **kw)

    def order(self, cl_ord_id: str | None = None, **kw: Any) -> bytes:
        """A NewOrderSingle valid in FIX 4.2 and 4.4, recorded as an application message."""
        if cl_ord_id is None:
            self._orders += 1
            cl_ord_id = f"o{self._orders}"
        fields: list[tuple[int, Any]] = [(11, cl_ord_id)]
        if self.sid.begin_string == "FIX.4.2":
            fields.append((21, "1"))
        fields += [(55, "BTCUSDT"), (54, "1"), (60, "20240101-00:00:00"), (38, "1"), (40, "2"), (44, "100")]
        if kw.get("seq") is None:
            self.app_seqs.append(self.next_seq)
        return self.frame("D", fields, **kw)

    def resend_of(self, seq: int) -> bytes:
        """Message ``seq`` from the store again, PossDupFlag=Y with its OrigSendingTime (admin: a GapFill)."""
        mt, body, sent_ns = self.store[seq]
        if mt in _ADMIN:
            return self.frame("4", [(123, "Y"), (36, seq + 1)], seq=seq, poss_dup=True, orig_sending_time_ns=sent_ns)
        self.lost.discard(seq)
        return self.frame(mt, body, seq=seq, poss_dup=True, orig_sending_time_ns=sent_ns)

    # -- steps ----------------------------------------------------------------------------------------------
    def play(self, step: PeerStep) -> bytes:
        """The bytes one step puts on the wire (``wait`` moves the clock and returns nothing)."""
        if step.kind == "send":
            return b"".join(self.order() for _ in range(step.count))
        if step.kind == "gap":
            for _ in range(step.count):
                self.lost.add(self.next_seq)
                self.order()
            return b""
        if step.kind in ("duplicate", "resend"):
            sent = sorted(s for s in self.store if s < self.next_seq)
            if not sent:
                return b""
            back = 1 if step.kind == "duplicate" else min(step.count, len(sent))
            return self.resend_of(sent[-back])
        if step.kind == "gap_fill":
            if self.lost:  # the peer declines to send the first lost message at all: it is skipped
                low = min(self.lost)
                self.lost.discard(low)
                self.void.add(low)
                return self.frame("4", [(123, "Y"), (36, low + 1)], seq=low, poss_dup=True,
                                  orig_sending_time_ns=self.clock.now_ns())
            if self.next_seq <= 2:
                return b""
            return self.frame("4", [(123, "Y"), (36, self.next_seq - 1)], seq=self.next_seq - 2, poss_dup=True,
                              orig_sending_time_ns=self.clock.now_ns())
        if step.kind == "reset":
            new = self.next_seq + step.count
            self.void |= self.lost
            self.lost.clear()
            data = self.frame("4", [(36, new)], seq=self.next_seq, store=False)
            self.next_seq = new
            return data
        if step.kind == "garble":
            good = self.frame("1", [(112, "garbled")], seq=self.next_seq, store=False)
            return good[:-4] + b"%03d\x01" % ((int(good[-4:-1]) + 1) % 256)
        if step.kind == "wait":
            return b""
        raise ValueError(f"unknown step kind {step.kind!r}")

    def expected_deliveries(self) -> list[int]:
        """The application message numbers the session must deliver, in order."""
        return [s for s in self.app_seqs if s not in self.void]

    # -- talking to the session -----------------------------------------------------------------------------
    def answer(self, data: bytes) -> bytes:
        """Read what the session wrote; return the peer's answers (resends, Heartbeats)."""
        parser = Parser()
        parser.feed(data)
        out = []
        for msg in parser:
            if not isinstance(msg, Message):
                continue
            self.received.append(msg)
            mt = msg.get(35)
            if mt == b"2":
                begin, end = int(msg.get(7) or 0), int(msg.get(16) or 0)
                last = self.next_seq - 1 if end == 0 else min(end, self.next_seq - 1)
                for seq in range(begin, last + 1):
                    out.append(self.resend_of(seq) if seq in self.store else
                               self.frame("4", [(123, "Y"), (36, seq + 1)], seq=seq, poss_dup=True,
                                          orig_sending_time_ns=self.clock.now_ns()))
            elif mt == b"1":
                out.append(self.frame("0", [(112, msg.get(112) or b"")]))
        return b"".join(out)

    def drive(self, session: Session, chunks: Iterable[bytes], max_rounds: int = 1000) -> None:
        """Feed ``chunks`` to ``session`` and exchange until it has nothing more to say."""
        for data in chunks:
            if data:
                session.receive_data(data, self.clock.now_ns())
            for _ in range(max_rounds):
                self._drain(session)
                reply = self.answer(session.data_to_send())
                self._drain(session)
                if not reply:
                    break
                if session.is_connected:
                    session.receive_data(reply, self.clock.now_ns())

    def _drain(self, session: Session) -> None:
        while (event := session.next_event()) is not NEED_DATA:
            self.events.append(event)
            if isinstance(event, ApplicationMessage):
                self.delivered.append(event)

    def wait(self, session: Session, seconds: float) -> None:
        """Let ``seconds`` pass: the session ticks at its deadlines, the peer sends its Heartbeats."""
        end = self.clock.now_ns() + int(seconds * NS)
        while session.is_connected:
            deadlines = [d for d in (session.next_deadline_ns(),
                                     self._last_sent_ns + self.heartbeat_interval * NS) if d is not None]
            nxt = min(deadlines)
            if nxt > end:
                break
            self.clock.set(max(nxt, self.clock.now_ns()))
            now = self.clock.now_ns()
            heartbeat = self.frame("0") if now >= self._last_sent_ns + self.heartbeat_interval * NS else b""
            session.on_tick(now)
            self.drive(session, [heartbeat])
        self.clock.set(max(end, self.clock.now_ns()))

    def run(self, session: Session, steps: Iterable[PeerStep]) -> None:
        """Play ``steps`` against ``session``."""
        for step in steps:
            if step.kind == "wait":
                self.wait(session, step.seconds)
            else:
                self.drive(session, [self.play(step)])

    def finish(self, session: Session) -> None:
        """Reveal any number still lost (a Heartbeat above it) and let the resend complete."""
        self.drive(session, [self.frame("0")])
        self.wait(session, 1.0)
