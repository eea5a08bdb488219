"""A scripted FIX counterparty over TCP: "send this, expect that" against any engine.

::

    from fixgw.testing import Counterparty, Rules
    with Counterparty.connect("127.0.0.1", 9878, "FIX.4.4", sender="CLIENT", target="ECHO") as cp:
        cp.send("A", [(98, 0), (108, 30), (141, "Y")], seq=1)
        cp.expect("A", {108: 30, 141: "Y"})
        cp.send("1", [(112, "hello")])
        cp.expect("0", {112: "hello"})
        cp.send("5", [])
        cp.expect("5")
        print(cp.expect_disconnect())          # "disconnected" (or "Logout, then disconnected")

Theory of operation
-------------------
The counterparty plays one side of a session by hand: it numbers what it sends itself (``seq=`` takes a
number of your choice and moves the running number past it), so a script can send numbers too high,
too low or twice, and ``send_raw`` sends any bytes (garbled frames). Received bytes are split into
frames by BodyLength, as an engine would, and every frame is compared under explicit ``Rules``
(``fixgw.testing.compare``).

It also checks the other side's numbering: every message received without PossDupFlag(43)=Y must carry
the next MsgSeqNum (a SequenceReset moves the expected number to its NewSeqNo). While waiting for an
expected message, it passes over (and keeps in ``skipped``) the kinds the script says it does not care
about: application messages by default (an engine's application may answer in its own way), and
Heartbeats when ``skip_heartbeats`` is set (for scripts on short heartbeat intervals). It answers a
TestRequest itself only when ``answer_test_requests`` is set.

``Counterparty.listen`` accepts a connection instead, to test an initiator. The only clock read is the
wall clock, for SendingTime and timeouts.
"""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ..codec import Garbled, Message, Parser, encode, format_utc_timestamp
from .compare import Expected, Rules, compare, show

__all__ = ["Counterparty", "Mismatch", "Send", "Expect", "ExpectDisconnect", "play", "ADMIN_TYPES"]

ADMIN_TYPES = frozenset((b"0", b"1", b"2", b"3", b"4", b"5", b"A"))
NS = 1_000_000_000


class Mismatch(AssertionError):
    """A script line did not play out: ``expected`` and ``received`` describe the difference."""

    def __init__(self, problem: str, expected: str = "", received: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.expected = expected
        self.received = received

    def lines(self) -> list[str]:
        out = [self.problem]
        if self.expected:
            out.append(f"expected: {self.expected}")
        if self.received:
            out.append(f"received: {self.received}")
        return out


@dataclass
class Counterparty:
    """One connection, played by a script. Build it with ``connect`` or ``listen``."""

    sock: socket.socket
    begin_string: str
    sender: str  # our SenderCompID
    target: str  # theirs
    rules: Rules = field(default_factory=Rules)
    timeout: float = 5.0
    skip_app: bool = True
    skip_heartbeats: bool = False
    answer_test_requests: bool = False
    next_seq: int = 1  # ours, outbound
    expected_seq: int = 1  # theirs, inbound
    check_numbering: bool = True

    def __post_init__(self) -> None:
        self._parser = Parser()
        self._queue: list[Message | Garbled] = []
        self._pushed: list[Message] = []  # read, checked and handed back by ``push_back``
        self.eof = False
        self.received: list[Message] = []
        self.skipped: list[Message] = []
        self.sent: list[bytes] = []

    # -- opening and closing ----------------------------------------------------------------------------
    @classmethod
    def connect(cls, host: str, port: int, begin_string: str, *, sender: str, target: str,
                connect_timeout: float = 5.0, **kw: Any) -> "Counterparty":
        """Open a TCP connection to an acceptor."""
        sock = socket.create_connection((host, port), timeout=connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock, begin_string, sender, target, **kw)

    @classmethod
    def listen(cls, listener: socket.socket, begin_string: str, *, sender: str, target: str,
               accept_timeout: float = 30.0, **kw: Any) -> "Counterparty":
        """Wait on ``listener`` for an initiator to connect (``TimeoutError`` after ``accept_timeout``)."""
        if not select.select([listener], [], [], accept_timeout)[0]:
            raise TimeoutError(f"no initiator connected within {accept_timeout:g}s")
        sock, _ = listener.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock, begin_string, sender, target, **kw)

    def __enter__(self) -> "Counterparty":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def finish(self, timeout: float = 2.0) -> None:
        """Half-close our side and wait (bounded) for the other side to close: it has then seen the end."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.close()
            return
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            self._fill(deadline)
        self.close()

    # -- sending ----------------------------------------------------------------------------------------
    def build(self, msg_type: bytes | str, fields: Iterable[tuple[int, Any]] = (), *, seq: int | None = None,
              poss_dup: bool = False, orig_sending_time: bytes | str | None = None,
              sending_time: bytes | str | None = None, header: Iterable[tuple[int, Any]] = (),
              omit: Iterable[int] = (), begin: str | None = None, sender: str | None = None,
              target: str | None = None) -> bytes:
        """Return one frame (BodyLength and CheckSum right); ``seq`` None takes the running number."""
        if seq is None:
            seq = self.next_seq
        self.next_seq = max(self.next_seq, seq + 1)
        now = self.now_ns()
        hdr: list[tuple[int, Any]] = [
            (49, self.sender if sender is None else sender),
            (56, self.target if target is None else target),
            (34, seq),
            (52, format_utc_timestamp(now) if sending_time is None else sending_time),
        ]
        if poss_dup:
            hdr.append((43, "Y"))
            hdr.append((122, format_utc_timestamp(now - NS) if orig_sending_time is None else orig_sending_time))
        elif orig_sending_time is not None:
            hdr.append((122, orig_sending_time))
        hdr.extend(header)
        skip = set(omit)
        return encode(begin or self.begin_string, msg_type, [(t, v) for t, v in (*hdr, *fields) if t not in skip])

    def send(self, msg_type: bytes | str, fields: Iterable[tuple[int, Any]] = (), **kw: Any) -> bytes:
        """Build a frame (see ``build``) and send it; return it."""
        data = self.build(msg_type, fields, **kw)
        self.send_raw(data)
        return data

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are (a garbled frame, several frames, half a frame)."""
        self.sent.append(data)
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise Mismatch(f"could not send: the connection was dropped ({exc})") from exc

    @staticmethod
    def now_ns() -> int:
        return time.time_ns()

    # -- receiving --------------------------------------------------------------------------------------
    def _fill(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or self.eof:
            return False
        try:
            ready = select.select([self.sock], [], [], remaining)[0]
        except (OSError, ValueError):
            self.eof = True
            return False
        if not ready:
            return False
        try:
            chunk = self.sock.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            self.eof = True
            return True
        self._parser.feed(chunk)
        self._queue.extend(self._parser)
        return True

    def next_frame(self, timeout: float | None = None) -> Message | None:
        """The next frame as received (nothing skipped, numbering checked); None when the peer closed.

        Raises ``Mismatch`` on a timeout or a garbled frame.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self._queue:
            if self.eof:
                return None
            if not self._fill(deadline) and not self.eof:
                raise Mismatch(f"nothing received within {self.timeout if timeout is None else timeout:g}s")
        item = self._queue.pop(0)
        if isinstance(item, Garbled):
            raise Mismatch(f"received a garbled frame ({item.reason})", received=show(item.data))
        self.received.append(item)
        self._check_numbering(item)
        return item

    def _check_numbering(self, msg: Message) -> None:
        if not self.check_numbering:
            return
        raw_seq = msg.get(34)
        seq = int(raw_seq) if raw_seq is not None and raw_seq.isdigit() else None
        if seq is None:
            raise Mismatch("received a message without a valid MsgSeqNum (34)", received=show(msg.raw))
        if msg.get(35) == b"A" and msg.get(141) == b"Y":
            self.expected_seq = seq
        if msg.get(43) == b"Y":
            return
        if seq != self.expected_seq:
            raise Mismatch(f"MsgSeqNum {seq} received, {self.expected_seq} expected (the other side's "
                           "numbers must rise by one)", received=show(msg.raw))
        self.expected_seq = seq + 1
        if msg.get(35) == b"4":
            new = msg.get(36)
            if new is not None and new.isdigit():
                self.expected_seq = int(new)

    def push_back(self, msg: Message | None) -> None:
        """Return a message ``receive`` gave, so the next ``receive`` (or ``expect``) gives it again."""
        if msg is not None:
            self._pushed.insert(0, msg)

    def receive(self, timeout: float | None = None) -> Message | None:
        """The next message the script cares about (skipping as configured), or None when the peer closed."""
        if self._pushed:
            return self._pushed.pop(0)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            msg = self.next_frame(max(0.0, deadline - time.monotonic()))
            if msg is None or not self._skippable(msg):
                return msg
            self.skipped.append(msg)

    def _skippable(self, msg: Message) -> bool:
        mt = msg.get(35)
        if mt == b"1" and self.answer_test_requests:
            self.send("0", [(112, msg.get(112) or b"")])
            return True
        if self.skip_app and mt not in ADMIN_TYPES:
            return True
        return self.skip_heartbeats and mt == b"0" and msg.get(112) is None

    def expect(self, msg_type: bytes | str, fields: Mapping[int, Any] | Iterable[tuple[int, Any]] = (), *,
               absent: Iterable[int] = (), timeout: float | None = None, notes: list[str] | None = None) -> Message:
        """Read the next message (skipping as configured) and compare it with the expectation.

        Returns the message; raises ``Mismatch`` naming the first difference, a timeout or a disconnect.
        """
        want = Expected.of(msg_type, fields, absent)
        msg = self.receive(timeout)
        if msg is None:
            raise Mismatch("disconnected, expected a message", expected=want.describe())
        problem = compare(want, msg, self.rules, now_ns=self.now_ns(), notes=notes)
        if problem is not None:
            raise Mismatch(problem, expected=want.describe(), received=show(msg.raw))
        return msg

    def expect_disconnect(self, timeout: float | None = None, *, allow: Iterable[bytes | str] = (b"5",)) -> str:
        """Wait for the other side to close; messages of the ``allow``ed types may come first.

        Returns what was seen, e.g. ``"disconnected"`` or ``"Logout, then disconnected"``; raises
        ``Mismatch`` if another message comes or the connection stays open past the timeout.
        """
        allowed = {a.encode("ascii") if isinstance(a, str) else a for a in allow}
        seen: list[str] = []
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                msg = self.receive(max(0.0, deadline - time.monotonic()))
            except Mismatch as exc:
                if exc.problem.startswith("nothing received"):
                    raise Mismatch(f"still connected after {self.timeout if timeout is None else timeout:g}s, "
                                   "expected a disconnection") from None
                raise
            if msg is None:
                return ", then ".join([*seen, "disconnected"])
            mt = msg.get(35) or b""
            if mt not in allowed:
                raise Mismatch("expected a disconnection", expected="disconnect", received=show(msg.raw))
            seen.append(_NAMES.get(mt, f"35={show(mt)}"))

    def expect_nothing(self, seconds: float) -> None:
        """Succeed if no message the script cares about arrives within ``seconds`` (a disconnect fails)."""
        try:
            msg = self.receive(seconds)
        except Mismatch as exc:
            if exc.problem.startswith("nothing received"):
                return
            raise
        if msg is None:
            raise Mismatch("disconnected, expected the session to go on")
        raise Mismatch(f"expected no answer within {seconds:g}s", expected="nothing", received=show(msg.raw))


_NAMES = {b"0": "Heartbeat", b"1": "TestRequest", b"2": "ResendRequest", b"3": "Reject", b"4": "SequenceReset",
          b"5": "Logout", b"A": "Logon"}


# -- the step form: a scenario as a list of data ---------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """Step: send a message (keyword arguments as ``Counterparty.build``) or raw bytes."""

    msg_type: str = ""
    fields: tuple[tuple[int, Any], ...] = ()
    raw: bytes = b""
    options: tuple[tuple[str, Any], ...] = ()

    def run(self, cp: Counterparty) -> None:
        if self.raw:
            cp.send_raw(self.raw)
        else:
            cp.send(self.msg_type, self.fields, **dict(self.options))


@dataclass(frozen=True)
class Expect:
    """Step: expect a message (fields as values or matchers; ``ANY`` for present)."""

    msg_type: str
    fields: tuple[tuple[int, Any], ...] = ()
    absent: tuple[int, ...] = ()

    def run(self, cp: Counterparty) -> None:
        cp.expect(self.msg_type, self.fields, absent=self.absent)


@dataclass(frozen=True)
class ExpectDisconnect:
    """Step: expect the other side to close, optionally after a Logout."""

    allow_logout: bool = True

    def run(self, cp: Counterparty) -> None:
        cp.expect_disconnect(allow=(b"5",) if self.allow_logout else ())


def play(cp: Counterparty, steps: Iterable[Send | Expect | ExpectDisconnect]) -> None:
    """Run ``steps`` in order on ``cp``; raise ``Mismatch`` at the first that does not play out."""
    for number, step in enumerate(steps, 1):
        try:
            step.run(cp)
        except Mismatch as exc:
            exc.problem = f"step {number} ({type(step).__name__}): {exc.problem}"
            exc.args = (exc.problem,)
            raise

