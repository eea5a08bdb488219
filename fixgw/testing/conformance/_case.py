"""What every conformance case shares: the target, the case registry, the per-case context and helpers.

A case is a function of a ``CaseContext``. It opens connections through the context (which closes them
afterwards), plays its script with a ``Counterparty``, raises ``Mismatch`` on the first difference,
and calls ``t.saw(...)`` to say which of two allowed behaviours it met. The context logs on with
ResetSeqNumFlag(141)=Y so that every case starts at MsgSeqNum 1 on both sides, whatever ran before.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ...codec import Message, format_utc_timestamp
from ..compare import Rules
from ..counterparty import Counterparty, Mismatch

__all__ = ["Target", "Case", "CaseContext", "CASES", "case", "valid_order", "NS"]

NS = 1_000_000_000


@dataclass(frozen=True)
class Target:
    """The engine under test and how to reach it; ``sender`` is our SenderCompID, ``target`` its."""

    begin_string: str
    sender: str
    target: str
    host: str = "127.0.0.1"
    port: int = 0
    timeout: float = 5.0  # per expected message or disconnection
    slow_timeout: float = 15.0  # for answers an engine may give only when its logon timeout runs out
    heartbeat_interval: int = 30  # HeartBtInt of ordinary cases
    short_heartbeat: int = 1  # HeartBtInt of the heartbeat and TestRequest timing cases
    rules: Rules = field(default_factory=Rules)
    listener: socket.socket | None = None  # initiator mode: where the initiator under test connects
    username: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Case:
    """One conformance case: its FIX test-case id, name, role tested, the versions it applies to."""

    id: str
    name: str
    summary: str
    run: Callable[["CaseContext"], None]
    role: str = "acceptor"  # the role of the engine under test
    versions: tuple[str, ...] = ("FIX.4.2", "FIX.4.4")

    @property
    def full_name(self) -> str:
        return f"{self.id}_{self.name}"


CASES: list[Case] = []


def case(case_id: str, name: str, summary: str, *, role: str = "acceptor",
         versions: tuple[str, ...] = ("FIX.4.2", "FIX.4.4")) -> Callable[[Callable[["CaseContext"], None]], Callable]:
    """Register a case (a decorator)."""

    def register(fn: Callable[[CaseContext], None]) -> Callable[[CaseContext], None]:
        CASES.append(Case(case_id, name, summary, fn, role, versions))
        return fn

    return register


class CaseContext:
    """What a case works with: the target, its connections, and the notes it makes."""

    def __init__(self, target: Target, shared: dict[str, Any] | None = None) -> None:
        self.target = target
        self.notes: list[str] = []
        self.connections: list[Counterparty] = []
        self.shared = shared if shared is not None else {}  # initiator mode: the live session between cases
        self._ids = 0

    # -- notes and ids ------------------------------------------------------------------------------------
    def saw(self, text: str) -> None:
        """Record which of the allowed behaviours the engine showed (printed with PASS)."""
        self.notes.append(text)

    def test_id(self, prefix: str = "T") -> str:
        self._ids += 1
        return f"{prefix}{self._ids}-{time.time_ns() % 10**9}"

    # -- connections ----------------------------------------------------------------------------------------
    def connect(self, **kw: Any) -> Counterparty:
        t = self.target
        try:
            cp = Counterparty.connect(t.host, t.port, t.begin_string, sender=t.sender, target=t.target,
                                      rules=t.rules, timeout=t.timeout, **kw)
        except OSError as exc:
            raise Mismatch(f"could not connect to {t.host}:{t.port} ({exc.strerror or exc})") from None
        self.connections.append(cp)
        return cp

    def logon_fields(self, heartbeat: int, reset: bool = True) -> list[tuple[int, Any]]:
        fields: list[tuple[int, Any]] = [(98, 0), (108, heartbeat)]
        if reset:
            fields.append((141, "Y"))
        if self.target.username is not None:
            fields.append((553, self.target.username))
        if self.target.password is not None:
            fields.append((554, self.target.password))
        return fields

    def logon(self, heartbeat: int | None = None, **kw: Any) -> Counterparty:
        """Connect, log on with 141=Y and check the Logon answer (HeartBtInt echoed, MsgSeqNum 1)."""
        hb = self.target.heartbeat_interval if heartbeat is None else heartbeat
        for attempt in (1, 2):
            cp = self.connect(**kw)
            cp.send("A", self.logon_fields(hb), seq=1)
            first = cp.receive()
            if attempt == 1 and (first is None or first.get(35) == b"5"):
                # The previous case's connection may still be closing on the engine's side.
                cp.close()
                time.sleep(0.5)
                self.saw("Logon refused once while the previous connection closed; retried")
                continue
            cp.push_back(first)
            break
        notes: list[str] = []
        answer = cp.expect("A", {98: 0, 108: hb, 34: 1})
        if answer.get(141) != b"Y":
            notes.append("Logon answer without 141=Y")
        cp.expected_seq = 2
        self.notes.extend(n for n in notes if n not in self.notes)
        return cp

    def sync(self, cp: Counterparty, seq: int | None = None) -> Message:
        """Send a TestRequest (numbered ``seq``, else the running number) and expect its Heartbeat next."""
        test_id = self.test_id()
        cp.send("1", [(112, test_id)], seq=seq)
        return cp.expect("0", {112: test_id})

    def logout(self, cp: Counterparty) -> None:
        """End the case: send Logout, take the answer (other admin traffic passed over), close."""
        try:
            cp.send("5")
            for _ in range(1000):
                msg = cp.receive()
                if msg is None or msg.get(35) == b"5":
                    break
        except Mismatch:
            pass
        cp.finish(timeout=min(2.0, self.target.timeout))

    def expect_logout_and_disconnect(self, cp: Counterparty, *, timeout: float | None = None) -> None:
        """The engine ends the session: a Logout, our Logout answer, then it disconnects (or we close)."""
        cp.expect("5", timeout=timeout)
        try:
            cp.send("5")
        except Mismatch:
            self.saw("disconnected right after its Logout")
            return
        seen = cp.expect_disconnect(allow=(b"5",))
        self.saw(f"Logout, {seen}")

    def close_all(self) -> None:
        for cp in self.connections:
            cp.close()

    # -- times ------------------------------------------------------------------------------------------------
    @staticmethod
    def timestamp(shift_seconds: float = 0.0) -> bytes:
        return format_utc_timestamp(time.time_ns() + int(shift_seconds * NS))


def valid_order(begin_string: str, cl_ord_id: str, *extra: tuple[int, Any]) -> list[tuple[int, Any]]:
    """A NewOrderSingle body valid in both dictionaries (``extra`` fields go before TransactTime)."""
    fields: list[tuple[int, Any]] = [(11, cl_ord_id)]
    if begin_string == "FIX.4.2":
        fields.append((21, "1"))
    fields.extend(extra)
    fields += [(55, "BTCUSDT"), (54, "1"), (60, CaseContext.timestamp()), (38, "1"), (40, "2"), (44, "100")]
    return fields

