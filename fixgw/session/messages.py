"""Outbound frames: the standard header written from precomputed bytes, and the admin message bodies.

The header of every message we send is ``8 9 35 49 56 34 52`` (then 43/122 when resending). Everything
but 9, 35, 34, 52 and 10 is fixed for a session, so it is built once; a frame is one ``build_frame``
call and the SendingTime (formatted once per millisecond, or per unit of the precision, for every
session: a fan-out sends to many sessions within one).

``build_frame`` here is the specification; ``fixgw_ext._frame.build_frame`` (compiled) gets the call when
it imports, unless ``FIXGW_NO_EXTENSIONS=1``. ``FRAME_IMPLEMENTATION`` says which one is in use.
"""

from __future__ import annotations

import os
from typing import Any, Iterable
from zlib import adler32

from ..codec import checksum, encode, encode_value, format_utc_timestamp

__all__ = [
    "FrameWriter",
    "SharedBody",
    "build_frame",
    "FRAME_IMPLEMENTATION",
    "encode_body",
    "reverse_route",
    "ROUTE_TAGS",
    "logon_body",
    "logout_body",
    "reject_body",
    "business_reject_body",
]

#: OnBehalfOf* -> DeliverTo* and back: (115, 128), (116, 129), (144, 145).
ROUTE_TAGS: tuple[tuple[int, int], ...] = ((115, 128), (116, 129), (144, 145))
_ROUTE_PAIRS = ROUTE_TAGS + tuple((deliver, behalf) for behalf, deliver in ROUTE_TAGS)


def reverse_route(message: Any) -> tuple[tuple[int, bytes], ...]:
    """Return the header fields that route an answer to ``message`` back through the same third party.

    OnBehalfOfCompID/SubID/LocationID (115/116/144) come back as DeliverToCompID/SubID/LocationID
    (128/129/145) with the same values, and DeliverTo* as OnBehalfOf*; absent or empty ones are skipped.
    Pass the result as ``header_fields`` of ``Session.send`` for an answer such as an ExecutionReport.
    """
    get = message.get
    out = []
    for tag, answer_tag in _ROUTE_PAIRS:
        value = get(tag)
        if value:
            out.append((answer_tag, value))
    return tuple(out)


def encode_body(fields: Iterable[tuple[int, Any]]) -> bytes:
    """Return ``tag=value SOH`` for each field, in order."""
    parts = []
    append = parts.append
    for tag, value in fields:
        t = type(value)
        if t is str:
            value = value.encode("utf-8")
        elif t is not bytes:
            value = encode_value(value)
        append(b"%d=%s\x01" % (tag, value))
    return b"".join(parts)


def logon_body(config: Any, heartbeat_interval: int, reset: bool, next_expected: int | None) -> bytes:
    """The body of our Logon: 98, 108, 141=Y when ``reset``, an initiator's 553/554, 789 when given."""
    parts = [b"98=0\x01108=%d\x01" % heartbeat_interval]
    if reset:
        parts.append(b"141=Y\x01")
    if config.is_initiator:
        if config.username is not None:
            parts.append(encode_body([(553, config.username)]))
        if config.password is not None:
            parts.append(encode_body([(554, config.password)]))
    if next_expected is not None:
        parts.append(b"789=%d\x01" % next_expected)
    return b"".join(parts)


def logout_body(text: str) -> bytes:
    return encode_body([(58, text)]) if text else b""


def reject_body(seq: int, msg_type: bytes | None, reject: Any, fix44: bool) -> bytes:
    """The body of a session Reject (3) of message ``seq`` for ``reject`` (a ``SessionReject``)."""
    parts = [b"45=%d\x01" % seq]
    if reject.ref_tag is not None:
        parts.append(b"371=%d\x01" % reject.ref_tag)
    if msg_type:
        parts.append(b"372=%s\x01" % msg_type)
    if fix44 or reject.reason <= 11:  # FIX 4.2 defines 373 values 0-11 only
        parts.append(b"373=%d\x01" % reject.reason)
    parts.append(encode_body([(58, reject.text)]))
    return b"".join(parts)


def business_reject_body(seq: int, msg_type: bytes, reason: int, text: str) -> bytes:
    """The body of a BusinessMessageReject (j) of message ``seq``."""
    return b"45=%d\x01372=%s\x01380=%d\x01" % (seq, msg_type, reason) + encode_body([(58, text)])


class SharedBody:
    """A message body sent to many sessions: ``lead`` (ready ``tag=value SOH`` bytes of this session's
    own first fields, e.g. a request id) then ``shared`` (encoded once for all of them), whose byte sum
    is computed once. Each session then writes only its header, the lead and the CheckSum from the known
    sum: the shared bytes are copied once into the frame, never re-encoded or summed again.

    ``SharedBody.of(shared)`` computes the sum; ``body.led_by(lead)`` gives one session's body. Treat it
    as immutable (a plain slotted class: one is made per session and message, so it must be cheap).
    """

    __slots__ = ("lead", "shared", "shared_sum")

    def __init__(self, lead: bytes, shared: bytes, shared_sum: int) -> None:
        self.lead = lead
        self.shared = shared
        self.shared_sum = shared_sum

    @classmethod
    def of(cls, shared: bytes) -> SharedBody:
        return cls(b"", shared, checksum(shared))

    def led_by(self, lead: bytes) -> SharedBody:
        return SharedBody(lead, self.shared, self.shared_sum)

    def __bytes__(self) -> bytes:
        return self.lead + self.shared

    def __repr__(self) -> str:
        return f"SharedBody(lead={self.lead!r}, shared={len(self.shared)} bytes)"


def build_frame(begin: bytes, mid: bytes, msg_type: bytes, seq: int, sending_time: bytes, extra_header: bytes,
                lead: bytes, shared: bytes, shared_sum: int) -> bytes:
    """Return ``begin BodyLength SOH 35=msg_type mid seq SOH 52=sending_time SOH extra_header lead shared
    10=CheckSum SOH``, where ``begin`` is ``8=<BeginString> SOH 9=``, ``mid`` the fixed ``SOH 49=.. SOH
    56=.. SOH 34=`` and ``shared_sum`` the byte sum of ``shared`` (summed by the caller once for all the
    sessions it goes to; ``shared`` is copied, never summed here)."""
    inner = b"35=%s%s%d\x0152=%s\x01%s%s" % (msg_type, mid, seq, sending_time, extra_header, lead)
    start = b"%s%d\x01%s" % (begin, len(inner) + len(shared), inner)
    # Adler-32's low half is 1 + the byte sum while that stays below 65521 (so up to 256 bytes).
    head_sum = (adler32(start) & 0xFFFF) - 1 if len(start) <= 256 else checksum(start)
    return b"%s%s10=%03d\x01" % (start, shared, (head_sum + shared_sum) & 0xFF)


_build = build_frame
FRAME_IMPLEMENTATION = "pure"
if os.environ.get("FIXGW_NO_EXTENSIONS") != "1":
    try:
        from fixgw_ext._frame import build_frame as _build  # type: ignore[no-redef]

        FRAME_IMPLEMENTATION = "compiled"
    except ImportError:  # pragma: no cover - exercised when the build is missing
        pass

#: SendingTime bytes last formatted: (precision, now_ns // unit of that precision, bytes). Shared by every
#: session (one event loop thread), as a fan-out stamps a hundred frames within the same millisecond.
_last_time: tuple[int, int, bytes] = (-1, -1, b"")
_UNIT_NS = {0: 1_000_000_000, 3: 1_000_000, 6: 1_000, 9: 1}


class FrameWriter:
    """Build complete frames for one session (our CompIDs, our BeginString)."""

    __slots__ = ("_begin", "_mid", "precision", "_begin_string", "_sender", "_target")

    def __init__(self, begin_string: str, sender_comp_id: str, target_comp_id: str, precision: int = 3) -> None:
        self._begin = b"8=" + begin_string.encode("ascii") + b"\x019="
        self._mid = (
            b"\x0149=" + sender_comp_id.encode("ascii") + b"\x0156=" + target_comp_id.encode("ascii") + b"\x0134="
        )
        self.precision = precision
        self._begin_string = begin_string.encode("ascii")
        self._sender = (49, sender_comp_id.encode("ascii"))
        self._target = (56, target_comp_id.encode("ascii"))

    def timestamp(self, now_ns: int) -> bytes:
        """SendingTime of ``now_ns`` at this writer's precision."""
        global _last_time
        precision = self.precision
        last = _last_time
        unit = now_ns // _UNIT_NS.get(precision, 1)
        if last[1] == unit and last[0] == precision:
            return last[2]
        text = format_utc_timestamp(now_ns, precision)
        _last_time = (precision, unit, text)
        return text

    def frame(self, msg_type: bytes, seq: int, sending_time: bytes, body: bytes, extra_header: bytes = b"") -> bytes:
        """Return the frame; ``body`` and ``extra_header`` are ready ``tag=value SOH`` bytes."""
        return _build(self._begin, self._mid, msg_type, seq, sending_time, extra_header, body, b"", 0)

    def frame_shared(self, msg_type: bytes, seq: int, sending_time: bytes, body: SharedBody,
                     extra_header: bytes = b"") -> bytes:
        """Return the frame of ``body`` (same bytes as ``frame`` of ``body.lead + body.shared``)."""
        return _build(self._begin, self._mid, msg_type, seq, sending_time, extra_header, body.lead, body.shared,
                      body.shared_sum)

    def frame_fields(self, msg_type: bytes, seq: int, sending_time: bytes, fields: Iterable[tuple[int, Any]]) -> bytes:
        """Return the frame for (tag, value) fields (header extras first, then body) via the codec's encoder.

        Same bytes as ``frame(msg_type, seq, sending_time, encode_body(fields))``; faster when the codec
        is compiled. Raises TypeError/ValueError for values the codec refuses (floats, NaN).
        """
        return encode(self._begin_string, msg_type, [self._sender, self._target, (34, seq), (52, sending_time), *fields])
