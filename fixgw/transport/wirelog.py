"""The wire log: every FIX message in and out, one log record per message.

Logger ``fixgw.wire.<session>`` where ``<session>`` is ``BeginString:SenderCompID->TargetCompID`` (our
view) with dots replaced by ``_`` so the name stays one level below ``fixgw.wire``. Records are emitted at
INFO with ``extra={"direction": "in" | "out"}``; the message text has SOH shown as ``|`` and every other
control or non-ASCII byte escaped as ``\\xNN`` (``fixgw.logsafe.printable_bytes``), so a value a peer
chose cannot start a log line of its own. When the logger is disabled (the default), the cost is one
``isEnabledFor`` check per read or write.

Secrets never reach the log: the values of Password (554), NewPassword (925) and the data fields that
carry logon signatures or credentials (RawData 96, SecureData 91) are written as ``***``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from ..logsafe import printable_bytes

__all__ = ["WireLog", "wire_logger_name", "mask_secrets", "SECRET_TAGS"]

# End of a frame: SOH 10=ddd SOH. Only used to split batches for logging.
_FRAME_END = re.compile(rb"\x0110=\d{3}\x01")
_MAX_REMAINDER = 1 << 20
#: Tags whose values are secrets: Password, NewPassword, RawData, SecureData.
SECRET_TAGS = (554, 925, 96, 91)
_SECRET = re.compile(rb"(?:(?<=\x01)|^)(" + b"|".join(b"%d" % t for t in SECRET_TAGS) + rb")=[^\x01]*")


def mask_secrets(frame: bytes) -> bytes:
    """Return ``frame`` with the values of secret tags replaced by ``***``."""
    return _SECRET.sub(rb"\1=***", frame)


def wire_logger_name(session_id: Any) -> str:
    """Return the wire logger name of a session id (BeginString, SenderCompID, TargetCompID)."""
    label = f"{session_id.begin_string}:{session_id.sender_comp_id}->{session_id.target_comp_id}"
    return "fixgw.wire." + label.replace(".", "_")


class WireLog:
    """Split byte batches into messages and log each one on the session's wire logger."""

    __slots__ = ("logger", "_rest_in", "_rest_out")

    def __init__(self, session_id: Any) -> None:
        self.logger = logging.getLogger(wire_logger_name(session_id))
        self._rest_in = b""
        self._rest_out = b""

    def inbound(self, data: bytes) -> None:
        if self.logger.isEnabledFor(logging.INFO):
            self._rest_in = self._emit("in", self._rest_in + data)
        elif self._rest_in:
            self._rest_in = b""

    def outbound(self, data: bytes) -> None:
        if self.logger.isEnabledFor(logging.INFO):
            self._rest_out = self._emit("out", self._rest_out + data)
        elif self._rest_out:
            self._rest_out = b""

    def _emit(self, direction: str, buf: bytes) -> bytes:
        start = 0
        log = self.logger.info
        arrow = "<<" if direction == "in" else ">>"
        for m in _FRAME_END.finditer(buf):
            end = m.end()
            text = printable_bytes(mask_secrets(buf[start:end]))
            log("%s %s", arrow, text, extra={"direction": direction})
            start = end
        rest = buf[start:]
        return rest if len(rest) <= _MAX_REMAINDER else b""
