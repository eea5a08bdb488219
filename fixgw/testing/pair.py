"""``SessionPair``: two sans-I/O sessions back to back on a fake clock, with a faulty link between them.

::

    from fixgw.testing import SessionPair

    pair = SessionPair("FIX.4.4")
    pair.connect()                                   # Logon both ways
    pair.link("initiator").drop_next()               # the next frame from the initiator is lost
    pair.send("initiator", "D", [(11, "o1"), (55, "BTCUSDT")])
    pair.send("initiator", "D", [(11, "o2"), (55, "BTCUSDT")])   # reveals the gap: resend
    pair.advance(60)                                 # timers run at their deadlines on the way
    pair.check_invariants()                          # no gap left, each message once, heartbeats on time

Theory of operation
-------------------
Each direction has a ``Link``: the frames a session writes are queued there with a delivery time and
handed to the other session when the fake clock reaches it. The link's faults act on the next frames
written: ``drop_next``, ``duplicate_next``, ``delay_next(seconds)``, ``reorder_next`` (the next two
frames swap places), ``corrupt_next`` (one byte changed: a garbled frame). ``pump`` moves frames until
both sides are quiet; ``advance(seconds)`` moves the clock, stopping at every session deadline and every
delivery time on the way, so timers fire when they are due and no earlier.

The pair drives both sessions as a driver must (``fixgw.session``): after each input it drains
``next_event()`` and writes ``data_to_send()``; on ``wants_disconnect`` it closes the connection on
both sides (``connection_lost``), and ``connect()`` opens it again. Everything the application sees is
kept: ``events[side]``, ``delivered[side]`` (ApplicationMessage events), and what was sent through
``send`` (``sent[side]``: MsgSeqNum, MsgType and body). ``on_event(side, event)``, when set, is called
for every event as it is handed over: the application under test (it may answer with
``send(..., pump=False)``).

Invariants (``check_invariants``, each also on its own): no sequence gap left unfilled once the link
has settled; every application message sent by one side delivered to the other exactly once, in order,
with its body intact; no side silent for more than its HeartBtInt while logged on (heartbeats on time).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..clock import FakeClock
from ..codec import Message, Parser, encode_value
from ..session import NEED_DATA, ApplicationMessage, Session, SessionConfig, SessionID
from ..stores import MemoryMessageStore

__all__ = ["SessionPair", "Link", "InvariantError", "NS", "T0"]

NS = 1_000_000_000
#: The fake clock's default start: 2023-11-14T22:13:20Z.
T0 = 1_700_000_000 * NS
SIDES = ("acceptor", "initiator")
_FRAME_END = re.compile(rb"\x0110=\d{3}\x01")
_HEADER = frozenset((8, 9, 35, 34, 43, 49, 52, 56, 97, 122, 10))


class InvariantError(AssertionError):
    """An invariant of the pair does not hold; the message says which and where."""


@dataclass
class Link:
    """One direction of the wire: frames in flight with their delivery times, and the pending faults."""

    name: str
    in_flight: list[tuple[int, int, bytes]] = field(default_factory=list)  # (deliver at, order, bytes)
    faults: list[tuple[str, float]] = field(default_factory=list)
    dropped: list[bytes] = field(default_factory=list)
    _order: int = 0
    _rest: bytes = b""
    _held: bytes | None = None  # the first frame of a reorder, waiting for the second

    def drop_next(self, n: int = 1) -> None:
        """Lose the next ``n`` frames."""
        self.faults.extend([("drop", 0.0)] * n)

    def duplicate_next(self, n: int = 1) -> None:
        """Deliver each of the next ``n`` frames twice."""
        self.faults.extend([("duplicate", 0.0)] * n)

    def delay_next(self, seconds: float, n: int = 1) -> None:
        """Deliver the next ``n`` frames ``seconds`` late (later frames may overtake them)."""
        self.faults.extend([("delay", seconds)] * n)

    def reorder_next(self) -> None:
        """Swap the next two frames."""
        self.faults.append(("reorder", 0.0))

    def corrupt_next(self) -> None:
        """Change one byte of the next frame's body, so its CheckSum no longer holds."""
        self.faults.append(("corrupt", 0.0))

    def clear(self) -> None:
        """Forget the faults not yet applied (frames in flight stay in flight)."""
        self.faults.clear()
        if self._held is not None:
            self._queue(self._held, 0)
            self._held = None

    def reset(self) -> None:
        """The connection closed: everything in flight is lost."""
        self.in_flight.clear()
        self._rest = b""
        self._held = None

    def write(self, data: bytes, now_ns: int) -> None:
        """Take bytes a session wrote at ``now_ns``; apply the pending faults frame by frame."""
        buf = self._rest + data
        start = 0
        for m in _FRAME_END.finditer(buf):
            self._frame(buf[start:m.end()], now_ns)
            start = m.end()
        self._rest = buf[start:]

    def _frame(self, frame: bytes, now_ns: int) -> None:
        if self._held is not None:  # the second frame of a reorder overtakes the first
            self._queue(frame, now_ns)
            self._queue(self._held, now_ns)
            self._held = None
            return
        kind, arg = self.faults.pop(0) if self.faults else ("", 0.0)
        if kind == "drop":
            self.dropped.append(frame)
        elif kind == "duplicate":
            self._queue(frame, now_ns)
            self._queue(frame, now_ns)
        elif kind == "delay":
            self._queue(frame, now_ns + int(arg * NS))
        elif kind == "reorder":
            self._held = frame
        elif kind == "corrupt":
            at = frame.find(b"\x0134=") + 4
            self._queue(frame[:at] + (b"9" if frame[at:at + 1] != b"9" else b"8") + frame[at + 1:], now_ns)
        else:
            self._queue(frame, now_ns)

    def _queue(self, frame: bytes, at_ns: int) -> None:
        self._order += 1
        self.in_flight.append((at_ns, self._order, frame))

    def due(self, now_ns: int) -> bytes:
        """Take the frames due at ``now_ns``, in delivery order."""
        ready = sorted(f for f in self.in_flight if f[0] <= now_ns)
        if not ready:
            return b""
        self.in_flight = [f for f in self.in_flight if f[0] > now_ns]
        return b"".join(f[2] for f in ready)

    def next_delivery_ns(self) -> int | None:
        return min((f[0] for f in self.in_flight), default=None)


class SessionPair:
    """Two sessions (acceptor and initiator) linked in memory through faulty links, on one fake clock."""

    def __init__(self, begin_string: str = "FIX.4.4", *, acceptor_comp_id: str = "ACCEPTOR",
                 initiator_comp_id: str = "INITIATOR", clock: FakeClock | None = None,
                 acceptor: dict[str, Any] | None = None, initiator: dict[str, Any] | None = None,
                 dictionary: Any = None, authenticator: Any = None,
                 acceptor_store: Any = None, initiator_store: Any = None) -> None:
        """``acceptor`` / ``initiator``: extra ``SessionConfig`` keywords; ``dictionary``: validate with it."""
        self.clock = clock or FakeClock(T0)
        sid = SessionID(begin_string, acceptor_comp_id, initiator_comp_id)
        ids = {"acceptor": sid, "initiator": sid.reversed()}
        stores = {"acceptor": acceptor_store, "initiator": initiator_store}
        configs = {"acceptor": acceptor or {}, "initiator": initiator or {}}
        self.sessions: dict[str, Session] = {}
        for side in SIDES:
            store = stores[side]
            if store is None:
                store = MemoryMessageStore(now_ns=self.clock.now_ns).session_store(ids[side])
            config = SessionConfig(ids[side], role=side, **configs[side])
            self.sessions[side] = Session(config, store, dictionary=dictionary,
                                          authenticator=authenticator if side == "acceptor" else None)
        self.links = {side: Link(side) for side in SIDES}
        self.events: dict[str, list[Any]] = {side: [] for side in SIDES}
        self.delivered: dict[str, list[ApplicationMessage]] = {side: [] for side in SIDES}
        self.sent: dict[str, list[tuple[int, bytes, list[tuple[int, bytes]]]]] = {side: [] for side in SIDES}
        self.wire: dict[str, list[tuple[int, int, Message]]] = {side: [] for side in SIDES}  # (ns, conn no, msg)
        self.connections = 0
        self.on_event: Callable[[str, Any], None] | None = None

    # -- access -------------------------------------------------------------------------------------------
    @property
    def acceptor(self) -> Session:
        return self.sessions["acceptor"]

    @property
    def initiator(self) -> Session:
        return self.sessions["initiator"]

    def link(self, side: str) -> Link:
        """The link carrying what ``side`` writes."""
        return self.links[side]

    @staticmethod
    def other(side: str) -> str:
        return "initiator" if side == "acceptor" else "acceptor"

    # -- driving -----------------------------------------------------------------------------------------
    def connect(self) -> None:
        """Open the connection on both sides (the initiator sends its Logon) and pump."""
        now = self.clock.now_ns()
        self.connections += 1
        for side in SIDES:
            self.links[side].reset()
            self.sessions[side].connection_made(now, ("127.0.0.1", 40000 if side == "acceptor" else 9876))
        self.pump()

    def disconnect(self) -> None:
        """Close the connection on both sides (whoever asked for it); frames in flight are lost."""
        now = self.clock.now_ns()
        for side in SIDES:
            self.links[side].reset()
            if self.sessions[side].is_connected:
                self.sessions[side].connection_lost(now)
            self._drain(side)

    def send(self, side: str, msg_type: bytes | str, body: Iterable[tuple[int, Any]], *, pump: bool = True) -> int:
        """Send an application message from ``side``; return its MsgSeqNum (recorded in ``sent``).

        From an ``on_event`` callback (an application answering what it was handed), pass
        ``pump=False``: the pump already running moves the answer.
        """
        mt = msg_type.encode("ascii") if isinstance(msg_type, str) else msg_type
        fields = [(tag, encode_value(value)) for tag, value in body]
        seq = self.sessions[side].send(mt, fields, self.clock.now_ns())
        self.sent[side].append((seq, mt, fields))
        if pump:
            self.pump()
        return seq

    def _drain(self, side: str) -> None:
        s = self.sessions[side]
        while (event := s.next_event()) is not NEED_DATA:
            self.events[side].append(event)
            if isinstance(event, ApplicationMessage):
                self.delivered[side].append(event)
            if self.on_event is not None:
                self.on_event(side, event)

    def _write(self, side: str) -> bool:
        data = self.sessions[side].data_to_send()
        if not data:
            return False
        now = self.clock.now_ns()
        parser = Parser()
        parser.feed(data)
        for item in parser:
            if isinstance(item, Message):
                self.wire[side].append((now, self.connections, item))
        self.links[side].write(data, now)
        return True

    def pump(self, max_rounds: int = 10_000) -> None:
        """Move due frames both ways until both sides are quiet; close the connection when one wants it."""
        for _ in range(max_rounds):
            moved = False
            now = self.clock.now_ns()
            for side in SIDES:
                self._drain(side)
                moved |= self._write(side)
                data = self.links[side].due(now)
                peer = self.other(side)
                if data and self.sessions[peer].is_connected:
                    self.sessions[peer].receive_data(data, now)
                    moved = True
            for side in SIDES:
                self._drain(side)
                moved |= self.sessions[side].has_data_to_send
            if not moved:
                if any(self.sessions[s].wants_disconnect for s in SIDES):
                    for side in SIDES:
                        self._write(side)  # the last words (a Logout) before the close
                    self.disconnect()
                return
        raise InvariantError(f"the pair did not settle within {max_rounds} rounds")

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` on, running timers and deliveries at their times on the way."""
        end = self.clock.now_ns() + int(seconds * NS)
        while True:
            times = [t for t in (*(s.next_deadline_ns() for s in self.sessions.values()),
                                 *(link.next_delivery_ns() for link in self.links.values())) if t is not None]
            nxt = min(times, default=None)
            if nxt is None or nxt > end:
                break
            self.clock.set(max(nxt, self.clock.now_ns()))
            now = self.clock.now_ns()
            for s in self.sessions.values():
                deadline = s.next_deadline_ns()
                if deadline is not None and deadline <= now:
                    s.on_tick(now)
            self.pump()
        self.clock.set(end)
        self.pump()

    def heal(self, max_seconds: float = 600.0, step: float = 5.0) -> None:
        """Stop injecting faults and run until the pair is logged on with no gap (reconnecting if needed)."""
        for link in self.links.values():
            link.clear()
        waited = 0.0
        while waited <= max_seconds:
            if not (self.acceptor.is_connected and self.initiator.is_connected):
                self.disconnect()
                self.connect()
            self.advance(step)
            waited += step
            if self.gap_problem() is None and not any(link.in_flight for link in self.links.values()):
                return
        raise InvariantError(f"still not healed after {max_seconds:g}s: {self.gap_problem()}")

    # -- invariants --------------------------------------------------------------------------------------
    def gap_problem(self) -> str | None:
        """Why a gap is left unfilled (or the pair is not logged on), or None."""
        for side in SIDES:
            s, peer = self.sessions[side], self.sessions[self.other(side)]
            if not s.is_logged_on:
                return f"the {side} is not logged on ({s.state.name})"
            if s.awaiting_gap_fill:
                return f"the {side} still waits for a gap fill"
            if s.next_target_seq != peer.next_sender_seq:
                return (f"the {side} expects MsgSeqNum {s.next_target_seq}, the {self.other(side)} "
                        f"sends {peer.next_sender_seq} next")
        return None

    def check_no_gap(self) -> None:
        problem = self.gap_problem()
        if problem is not None:
            raise InvariantError(problem)

    def check_delivered_once(self) -> None:
        """Every application message sent by one side reached the other once, in order, body intact."""
        for side in SIDES:
            peer = self.other(side)
            got = [(int(e.message.get(34)), e.message) for e in self.delivered[peer]]
            want = self.sent[side]
            seqs = [s for s, _ in got]
            if seqs != [s for s, _, _ in want]:
                raise InvariantError(f"{side} sent MsgSeqNums {[s for s, _, _ in want]}, the {peer} "
                                     f"was handed {seqs}")
            for (seq, mt, body), (_, msg) in zip(want, got):
                received = [(t, v) for t, v in msg.fields if t not in _HEADER]
                if msg.get(35) != mt or received != body:
                    raise InvariantError(f"{side} message {seq}: sent 35={mt!r} {body}, received {msg.fields}")

    def check_heartbeats(self, slack: float = 0.0) -> None:
        """While logged on, neither side stayed silent longer than its HeartBtInt (plus ``slack`` s)."""
        for side in SIDES:
            interval = self.sessions[side].heartbeat_interval
            last: tuple[int, int] | None = None
            for at, conn, _msg in self.wire[side]:
                if last is not None and last[1] == conn and at - last[0] > (interval + slack) * NS:
                    raise InvariantError(f"the {side} sent nothing for {(at - last[0]) / NS:g}s "
                                         f"(HeartBtInt {interval})")
                last = (at, conn)
            s = self.sessions[side]
            if last is not None and s.is_logged_on and last[1] == self.connections:
                silent = self.clock.now_ns() - last[0]
                if silent > (interval + slack) * NS:
                    raise InvariantError(f"the {side} has sent nothing for {silent / NS:g}s (HeartBtInt {interval})")

    def check_invariants(self) -> None:
        """All three: no gap left unfilled, every application message delivered once, heartbeats on time."""
        self.check_no_gap()
        self.check_delivered_once()
        self.check_heartbeats()
