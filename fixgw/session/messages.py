"""Outbound frames: the standard header written from precomputed bytes, and the admin message bodies.

The header of every message we send is ``8 9 35 49 56 34 52`` (then 43/122 when resending). Everything
but 9, 35, 34, 52 and 10 is fixed for a session, so it is built once; a frame costs one join, one
``sum`` for the CheckSum and the SendingTime (formatted from a per-second cache in the codec).
"""

from __future__ import annotations

from typing import Any, Iterable
from zlib import adler32

from ..codec import checksum, encode, encode_value, format_utc_timestamp

__all__ = [
    "FrameWriter",
    "SharedBody",
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
        return format_utc_timestamp(now_ns, self.precision)

    def frame(self, msg_type: bytes, seq: int, sending_time: bytes, body: bytes, extra_header: bytes = b"") -> bytes:
        """Return the frame; ``body`` and ``extra_header`` are ready ``tag=value SOH`` bytes."""
        inner = b"35=%s%s%d\x0152=%s\x01%s%s" % (msg_type, self._mid, seq, sending_time, extra_header, body)
        head = b"%s%d\x01" % (self._begin, len(inner))
        frame = head + inner
        return b"%s10=%03d\x01" % (frame, checksum(frame))

    def frame_shared(self, msg_type: bytes, seq: int, sending_time: bytes, body: SharedBody,
                     extra_header: bytes = b"") -> bytes:
        """Return the frame of ``body`` (same bytes as ``frame`` of ``body.lead + body.shared``)."""
        shared = body.shared
        inner = b"35=%s%s%d\x0152=%s\x01%s%s" % (msg_type, self._mid, seq, sending_time, extra_header, body.lead)
        start = b"%s%d\x01%s" % (self._begin, len(inner) + len(shared), inner)
        # Adler-32's low half is 1 + the byte sum while that stays below 65521 (so up to 256 bytes).
        head_sum = (adler32(start) & 0xFFFF) - 1 if len(start) <= 256 else checksum(start)
        return b"%s%s10=%03d\x01" % (start, shared, (head_sum + body.shared_sum) & 0xFF)

    def frame_fields(self, msg_type: bytes, seq: int, sending_time: bytes, fields: Iterable[tuple[int, Any]]) -> bytes:
        """Return the frame for (tag, value) fields (header extras first, then body) via the codec's encoder.

        Same bytes as ``frame(msg_type, seq, sending_time, encode_body(fields))``; faster when the codec
        is compiled. Raises TypeError/ValueError for values the codec refuses (floats, NaN).
        """
        return encode(self._begin_string, msg_type, [self._sender, self._target, (34, seq), (52, sending_time), *fields])
