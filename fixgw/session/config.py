"""Session identity and configuration: frozen values built once (by ``fixgw.config`` or by hand)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from .schedule import SessionSchedule

__all__ = ["SessionID", "SessionConfig", "ACCEPTOR", "INITIATOR", "BEGIN_STRINGS"]

ACCEPTOR = "acceptor"
INITIATOR = "initiator"
BEGIN_STRINGS = ("FIX.4.2", "FIX.4.4")
#: The session-level MsgTypes (``validation.ADMIN_MSG_TYPES``; not imported, to keep this module a leaf).
_ADMIN_MSG_TYPES = frozenset((b"0", b"1", b"2", b"3", b"4", b"5", b"A"))


@dataclass(frozen=True, slots=True)
class SessionID:
    """A FIX session seen from our side: we are ``sender_comp_id``, the peer is ``target_comp_id``."""

    begin_string: str
    sender_comp_id: str
    target_comp_id: str

    def __str__(self) -> str:
        return f"{self.begin_string}:{self.sender_comp_id}->{self.target_comp_id}"

    def reversed(self) -> SessionID:
        """Return the same session seen from the peer's side."""
        return SessionID(self.begin_string, self.target_comp_id, self.sender_comp_id)


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """How one session behaves. Times are in seconds; the engine converts them once.

    - ``heartbeat_interval``: HeartBtInt (108) an initiator proposes; an acceptor adopts the peer's.
    - ``reset_on_logon``: restart both numbers at 1 at every Logon. The initiator sends
      ResetSeqNumFlag (141=Y); the acceptor resets when a Logon arrives and answers with 141=Y. An
      acceptor always honours a peer's 141=Y and echoes it, whatever this setting.
    - ``send_next_expected_msg_seq_num``: put NextExpectedMsgSeqNum (789) on our Logon (FIX 4.4 only).
      A received 789 is always honoured: what the peer missed is resent after the Logon.
    - ``allowed_addresses``: IP addresses or networks a peer may connect from (acceptor); None = any.
    - ``max_sending_time_skew``: SendingTime (52) tolerance; None disables the check (2o).
    - ``test_request_margin``: a TestRequest goes out after ``heartbeat_interval * (1 + margin)`` of
      silence from the peer; the connection is dropped after that much again with no answer (6).
    - ``resend_request_chunk_size``: largest range we ask for in one ResendRequest; 0 = to infinity.
    - ``resend_chunk_size``: most resent messages produced per ``data_to_send()`` call when answering a
      ResendRequest (bounds memory and the time of one call on huge resends); 0 = all at once.
    - ``supported_app_msg_types``: application MsgTypes we accept; others get BusinessMessageReject
      380=3 (2r). None = all.
    - ``max_queued_messages``: messages above a sequence gap kept while waiting for the gap fill; past
      it the session logs out (protects memory from a peer that never fills the gap).
    - ``gap_fill_timeout``: seconds a ResendRequest of ours may go without the expected number moving
      before we ask again for the same hole; None never asks again (the FIX specification leaves an
      unanswered ResendRequest open).
    - ``max_resend_requests``: unanswered ResendRequests in a row for one hole before we log out; the
      next Logon's sequencing finds the gap again.
    - ``max_heartbeat_interval``: the largest HeartBtInt (108) a peer's Logon may ask for (acceptor);
      a larger or negative one is refused with a Logout naming the allowed range.
    - ``validate_user_defined_fields``: with a dictionary, check tags >= 5000 like any other (an unknown
      one is 373=0); False lets them through unchecked (QuickFIX's ValidateUserDefinedFields).
    - ``allow_unknown_message_fields``: with a dictionary, let through tags the dictionary does not know
      and tags not defined for the message type, instead of 373=0 / 373=2 (QuickFIX's
      AllowUnknownMsgFields).
    - ``gap_fill_msg_types``: application MsgTypes never resent. They are numbered and sent like any
      other but not stored, so a ResendRequest covering them is answered with SequenceReset-GapFill over
      their numbers, as for admin messages. For messages whose content is stale once missed (market
      data: the peer asks for a fresh snapshot instead). Admin MsgTypes are refused here.
    """

    session_id: SessionID
    role: str = ACCEPTOR
    heartbeat_interval: int = 30
    reset_on_logon: bool = False
    send_next_expected_msg_seq_num: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    allowed_addresses: frozenset[str] | None = None
    logon_timeout: float = 10.0
    logout_timeout: float = 10.0
    test_request_margin: float = 0.2
    max_sending_time_skew: float | None = 120.0
    timestamp_precision: int = 3
    resend_request_chunk_size: int = 0
    resend_chunk_size: int = 1000
    supported_app_msg_types: frozenset[bytes] | None = None
    schedule: SessionSchedule | None = None
    max_queued_messages: int = 100_000
    gap_fill_timeout: float | None = 30.0
    max_resend_requests: int = 3
    max_heartbeat_interval: int = 300
    validate_user_defined_fields: bool = True
    allow_unknown_message_fields: bool = False
    gap_fill_msg_types: frozenset[bytes] = frozenset()

    def __post_init__(self) -> None:
        if self.session_id.begin_string not in BEGIN_STRINGS:
            raise ConfigError("begin_string", f"must be one of {BEGIN_STRINGS}")
        if self.role not in (ACCEPTOR, INITIATOR):
            raise ConfigError("role", "must be 'acceptor' or 'initiator'")
        if self.heartbeat_interval < 0:
            raise ConfigError("heartbeat_interval", "must be >= 0")
        if self.max_heartbeat_interval < 0:
            raise ConfigError("max_heartbeat_interval", "must be >= 0")
        if self.timestamp_precision not in (0, 3, 6, 9):
            raise ConfigError("timestamp_precision", "must be 0, 3, 6 or 9")
        if self.resend_request_chunk_size < 0 or self.resend_chunk_size < 0:
            raise ConfigError("resend_chunk_size", "must be >= 0")
        if self.logon_timeout <= 0 or self.logout_timeout <= 0:
            raise ConfigError("logon_timeout", "timeouts must be > 0")
        if self.gap_fill_timeout is not None and self.gap_fill_timeout <= 0:
            raise ConfigError("gap_fill_timeout", "must be > 0 or None")
        if self.max_resend_requests < 1:
            raise ConfigError("max_resend_requests", "must be >= 1")
        if self.test_request_margin < 0:
            raise ConfigError("test_request_margin", "must be >= 0")
        if self.supported_app_msg_types is not None:
            types = frozenset(t.encode("ascii") if isinstance(t, str) else bytes(t) for t in self.supported_app_msg_types)
            object.__setattr__(self, "supported_app_msg_types", types)
        types = frozenset(t.encode("ascii") if isinstance(t, str) else bytes(t) for t in self.gap_fill_msg_types)
        if types & _ADMIN_MSG_TYPES:
            raise ConfigError("gap_fill_msg_types", "session (admin) messages are gap-filled already; name application MsgTypes")
        object.__setattr__(self, "gap_fill_msg_types", types)
        if self.allowed_addresses is not None:
            for entry in self.allowed_addresses:
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ConfigError("allowed_addresses", f"{entry!r} is not an IP address or network") from None

    @property
    def is_initiator(self) -> bool:
        return self.role == INITIATOR

    def address_allowed(self, peer_address: object) -> bool:
        """Tell whether a peer connecting from ``peer_address`` (str or (host, port)) may log on."""
        if self.allowed_addresses is None:
            return True
        if peer_address is None:
            return False
        host = peer_address[0] if isinstance(peer_address, tuple) else peer_address
        try:
            ip = ipaddress.ip_address(str(host))
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        for entry in self.allowed_addresses:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        return False
