"""What the session engine tells its driver: frozen, slotted event values and the NEED_DATA sentinel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "NEED_DATA",
    "Event",
    "LoggedOn",
    "ApplicationMessage",
    "LoggedOut",
    "Disconnected",
    "Rejected",
    "RejectReceived",
    "SequenceGap",
    "LogonRefused",
]


class _NeedData:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


#: ``next_event()`` returns this when nothing more can happen until more bytes (or time) arrive.
NEED_DATA = _NeedData()


class Event:
    """Base of every session event."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class LoggedOn(Event):
    """The Logon handshake completed; application messages may flow."""

    heartbeat_interval: int
    reset_seq_num: bool = False


@dataclass(frozen=True, slots=True)
class ApplicationMessage(Event):
    """An application message, delivered once and in sequence order.

    ``poss_dup`` is PossDupFlag (43=Y: a session-level resend of a number we had not seen);
    ``poss_resend`` is PossResend (97=Y: the application must check the message's own id, case 19).
    """

    message: Any
    poss_dup: bool = False
    poss_resend: bool = False

    @property
    def msg_type(self) -> bytes:
        return self.message.get(35)

    @property
    def seq(self) -> int:
        return int(self.message.get(34))


@dataclass(frozen=True, slots=True)
class LoggedOut(Event):
    """The Logout handshake completed (ours acknowledged, or the peer's answered)."""

    text: str = ""
    initiated_locally: bool = False


@dataclass(frozen=True, slots=True)
class LogonRefused(Event):
    """The engine refused the peer's Logon (or an initiator the answer to its own), before ``Disconnected``.

    ``text`` says why, as the Logout sent to the peer did (when one was sent: a stranger with wrong
    CompIDs, a refused address or a garbled first message gets no reply). A driver may slow down repeated
    refusals from one address; ``text`` may hold peer-supplied values, so log it through
    ``fixgw.logsafe.printable``.
    """

    text: str
    #: The credentials (Username/Password, the authenticator's verdict) were refused: the one refusal a
    #: stranger can learn from by trying again, which an acceptor may slow down per address.
    credentials: bool = False


@dataclass(frozen=True, slots=True)
class Disconnected(Event):
    """The session is over for this connection: flush ``data_to_send()``, then close the socket."""

    reason: str


@dataclass(frozen=True, slots=True)
class Rejected(Event):
    """We rejected an inbound message (informational; the Reject is already queued).

    ``business`` tells a BusinessMessageReject (35=j, ``reason`` is 380) from a session Reject (35=3,
    ``reason`` is 373).
    """

    ref_seq: int
    reason: int | None
    text: str
    ref_tag: int | None = None
    ref_msg_type: bytes | None = None
    business: bool = False


@dataclass(frozen=True, slots=True)
class RejectReceived(Event):
    """The peer sent a session Reject (35=3) about one of our messages (case 7)."""

    ref_seq: int | None
    reason: int | None
    ref_tag: int | None
    text: str
    message: Any = None


@dataclass(frozen=True, slots=True)
class SequenceGap(Event):
    """Messages ``begin``..``end`` (``end`` 0 = open) are missing; a ResendRequest went out or is pending."""

    begin: int
    end: int
