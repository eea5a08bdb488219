"""Pure-Python FIX tag=value framer and parser: the specification of ``fixgw_ext``.

Theory of operation
-------------------
Bytes arrive in arbitrary chunks and are appended to one buffer. ``_frame_at`` looks at the buffer from
``_pos``: a frame must start ``8=FIX...SOH9=<digits>SOH``; BodyLength tells where the body ends, and exactly
``10=ddd SOH`` must follow. Only then are fields split, so an SOH inside a length-prefixed data field
cannot break framing: its length comes from the preceding *Len field.

A frame that does not fit is dropped and the parser resynchronises at the next ``8=FIX`` after the bad
frame's first byte, so no valid message that follows is lost, even one hidden inside a frame whose
BodyLength was corrupted. The ``Garbled`` item is reported once that resync point is in the buffer (or
``MAX_GARBLED`` bytes have passed without one): so the items never depend on how the stream was chunked.

A frame whose framing is right (BeginString, BodyLength, CheckSum, every field ended by SOH, MsgType
first) but which holds a malformed field -- a tag that is not a positive number of at most
``MAX_TAG_DIGITS`` digits without a leading zero (``0=x``, ``AB=1``, ``=x``, ``049=x``), or no ``=`` at
all (``novalue``) -- is still a ``Message``: the session must answer it with a Reject (373=0, Invalid tag
number), which consumes its MsgSeqNum, rather than drop it and ask for a resend. ``invalid_field`` holds
the raw bytes of the first such field (without its SOH); the malformed fields are left out of
``fields``, the others are parsed as usual. A malformed field is never a length or data field, so the
data field rule (its length from the field just before it) is unaffected.

Every decision looks only at bytes that no later chunk can change, each call does bounded work before
it returns ``NEED_MORE``, and the resync search resumes where it stopped: the cost is linear in the
input whatever the chunking. The consumed prefix is dropped once it passes half the buffer.

The compiled twin (``fixgw_ext/_codec.pyx``) shares ``Garbled``, ``NEED_MORE`` and the value helpers
(``_as_int`` ...) of this module, and must return the same items for every input.
"""

from __future__ import annotations

import re
import zlib
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Iterator

from ..errors import FieldValueError
from ._timefmt import parse_utc_timestamp

__all__ = [
    "Message",
    "Garbled",
    "Parser",
    "NEED_MORE",
    "DEFAULT_DATA_TAGS",
    "MAX_BODY_LENGTH",
    "MAX_GARBLED",
]

SOH = 1
#: Length tag -> data tag, for every *Len/data pair of the FIX 4.2/4.4 dictionaries.
DEFAULT_DATA_TAGS: dict[int, int] = {
    90: 91,  # SecureDataLen / SecureData
    93: 89,  # SignatureLength / Signature (trailer)
    95: 96,  # RawDataLength / RawData
    212: 213,  # XmlDataLen / XmlData
    348: 349,  # EncodedIssuerLen / EncodedIssuer
    350: 351,  # EncodedSecurityDescLen
    352: 353,  # EncodedListExecInstLen
    354: 355,  # EncodedTextLen / EncodedText
    356: 357,  # EncodedSubjectLen
    358: 359,  # EncodedHeadlineLen
    360: 361,  # EncodedAllocTextLen
    362: 363,  # EncodedUnderlyingIssuerLen
    364: 365,  # EncodedUnderlyingSecurityDescLen
    445: 446,  # EncodedListStatusTextLen
    618: 619,  # EncodedLegIssuerLen
    621: 622,  # EncodedLegSecurityDescLen
}
#: Frames announcing a larger body are garbled (a guard against a peer pinning memory).
MAX_BODY_LENGTH = 1 << 20
#: Garbage with no ``8=FIX`` in sight is reported in pieces of at most this many bytes.
MAX_GARBLED = 4096
#: Tags have at most this many digits (keeps them in 32 bits).
MAX_TAG_DIGITS = 9
_BEGIN = b"8=FIX"

# Garble reasons, shared word for word with the compiled twin.
R_DATA_BEFORE = "data before BeginString"
R_FIRST_NOT_8 = "first field is not BeginString(8)"
R_NOT_FIX = "BeginString(8) is not FIX"
R_BEGIN_LONG = "BeginString(8) too long"
R_SECOND_NOT_9 = "second field is not BodyLength(9)"
R_LEN_NAN = "BodyLength(9) is not a number"
R_LEN_LONG = "BodyLength(9) too long"
R_LEN_LARGE = "BodyLength(9) too large"
R_LEN_WRONG = "BodyLength(9) does not end at CheckSum(10)"
R_CKS_DIGITS = "CheckSum(10) is not three digits"
R_CKS_MISMATCH = "CheckSum(10) mismatch"
R_DATA_LEN = "data field length does not match its length field"
R_NO_SOH = "field not terminated by SOH"
R_THIRD_NOT_35 = "third field is not MsgType(35)"


class Garbled:
    """A frame that could not be read; ``reason`` says why, ``data`` holds the dropped bytes."""

    __slots__ = ("reason", "data")

    def __init__(self, reason: str, data: bytes) -> None:
        self.reason = reason
        self.data = data

    def __repr__(self) -> str:
        return f"Garbled({self.reason!r}, {len(self.data)} bytes)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Garbled) and other.reason == self.reason and other.data == self.data

    __hash__ = None  # type: ignore[assignment]


class _NeedMore:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_MORE"


NEED_MORE = _NeedMore()


# -- value decoding, shared with the compiled Message ---------------------------------------------
def _as_int(tag: int, v: Any) -> int:
    if not v or not (v.isdigit() or (v[:1] == b"-" and v[1:].isdigit())):
        raise FieldValueError(tag, v, "int")
    return int(v)


def _is_fix_float(v: bytes) -> bool:
    s = v[1:] if v[:1] == b"-" else v
    head, _dot, tail = s.partition(b".")
    if not head and not tail:
        return False
    return (not head or head.isdigit()) and (not tail or tail.isdigit())


def _as_decimal(tag: int, v: Any) -> Decimal:
    if type(v) is not bytes or not _is_fix_float(v):
        raise FieldValueError(tag, v, "decimal")
    try:
        return Decimal(v.decode("ascii"))
    except (InvalidOperation, UnicodeDecodeError):  # pragma: no cover - guarded above
        raise FieldValueError(tag, v, "decimal") from None


def _as_str(tag: int, v: Any, encoding: str) -> str:
    try:
        return v.decode(encoding)
    except (UnicodeDecodeError, AttributeError):
        raise FieldValueError(tag, v, "string") from None


def _as_bool(tag: int, v: Any) -> bool:
    if v == b"Y":
        return True
    if v == b"N":
        return False
    raise FieldValueError(tag, v, "boolean Y/N")


def _as_char(tag: int, v: Any) -> str:
    if type(v) is not bytes or len(v) != 1:
        raise FieldValueError(tag, v, "char")
    return chr(v[0])


def _as_utc_ns(tag: int, v: Any) -> int:
    ns = parse_utc_timestamp(v) if type(v) is bytes else None
    if ns is None:
        raise FieldValueError(tag, v, "UTCTimestamp")
    return ns


def _first_index(fields: list) -> dict:
    """Map each tag to the position of its first occurrence."""
    tags = [f[0] for f in fields]
    return dict(zip(reversed(tags), range(len(tags) - 1, -1, -1)))


def _repr(fields: list, invalid_field: bytes | None = None) -> str:
    body = "|".join(f"{t}={v.decode('latin-1') if isinstance(v, bytes) else v}" for t, v in fields)
    if invalid_field is not None:
        return f"Message({body}; invalid_field={invalid_field!r})"
    return f"Message({body})"


_HEADER_TRAILER = frozenset({8, 9, 35, 10, 93, 89})


def _group(fields: list, start: int, members: Any, factory: Callable[[list], Any]) -> list:
    """Split the repeating group whose count field is ``fields[start]`` (see ``Message.group``)."""
    count = fields[start][1]
    if isinstance(count, (bytes, str)) and count.isdigit() and int(count) == 0:
        return []
    i = start + 1
    if i >= len(fields):
        return []
    delim = fields[i][0]
    seen: set = set() if members is None else set(members)
    out: list = []
    current: list = []
    first_instance = True
    while i < len(fields):
        tag = fields[i][0]
        if tag == delim:
            if current:
                out.append(factory(current))
                first_instance = False
            current = [fields[i]]
        elif tag in seen or (members is None and first_instance and tag not in _HEADER_TRAILER):
            current.append(fields[i])
            if members is None:
                seen.add(tag)
        else:
            break
        i += 1
    if current:
        out.append(factory(current))
    return out


class Message:
    """An ordered list of (tag, value) fields; repeated tags allowed; values stay ``bytes``.

    ``get`` returns the first occurrence in O(1). Typed getters decode on demand and raise
    ``FieldValueError`` (SessionRejectReason 6) on a malformed value, ``KeyError`` on an absent tag.
    A message is read-only: ``fields``, ``raw`` and ``invalid_field`` are not to be changed.
    ``invalid_field`` (see the module docstring) is not part of equality, as ``raw`` is not.
    """

    __slots__ = ("_fields", "_raw", "_index", "_invalid")

    def __init__(
        self, fields: Iterable[tuple[int, bytes]], raw: bytes | None = None, invalid_field: bytes | None = None
    ) -> None:
        self._fields: list[tuple[int, bytes]] = list(fields)
        self._raw = raw
        self._index: dict[int, int] | None = None
        self._invalid = invalid_field

    @classmethod
    def _parsed(cls, fields: list[tuple[int, bytes]], raw: bytes, invalid_field: bytes | None) -> "Message":
        m = cls.__new__(cls)
        m._fields = fields
        m._raw = raw
        m._index = None
        m._invalid = invalid_field
        return m

    def __reduce__(self) -> tuple:
        return (type(self), (self._fields, self._raw, self._invalid))

    # -- access -------------------------------------------------------------------------------
    @property
    def fields(self) -> list[tuple[int, bytes]]:
        """Every field, 8, 9 and 35 first and 10 last for a parsed frame, in wire order."""
        return self._fields

    @property
    def raw(self) -> bytes | None:
        """The frame as received, or ``None`` for a message built in memory."""
        return self._raw

    @property
    def invalid_field(self) -> bytes | None:
        """The raw bytes of the first malformed field of a parsed frame (``b"0=x"``), else ``None``.

        Such a field has a tag that is not a positive number (``0=x``, ``AB=1``, ``=x``, a leading
        zero, more than nine digits) or no ``=`` (``novalue``; an empty field gives ``b""``). It is not
        in ``fields``; answer the message with a Reject, SessionRejectReason 0 (Invalid tag number).
        """
        return self._invalid

    def _idx(self) -> dict:
        idx = self._index
        if idx is None:
            idx = self._index = _first_index(self._fields)
        return idx

    @property
    def begin_string(self) -> bytes | None:
        return self.get(8)

    @property
    def msg_type(self) -> bytes | None:
        return self.get(35)

    def get(self, tag: int, default: bytes | None = None) -> bytes | None:
        """Return the value of the first occurrence of ``tag``, or ``default``."""
        i = self._idx().get(tag)
        return default if i is None else self._fields[i][1]

    def get_all(self, tag: int) -> list[bytes]:
        """Return every value of ``tag`` in order."""
        return [v for t, v in self._fields if t == tag]

    def __getitem__(self, tag: int) -> bytes:
        i = self._idx().get(tag)
        if i is None:
            raise KeyError(tag)
        return self._fields[i][1]

    def __contains__(self, tag: object) -> bool:
        return tag in self._idx()

    def __len__(self) -> int:
        return len(self._fields)

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        return iter(self._fields)

    def __eq__(self, other: object) -> bool:
        if not hasattr(other, "fields"):
            return NotImplemented
        return list(self._fields) == list(other.fields)  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return _repr(self._fields, self._invalid)

    # -- typed getters ------------------------------------------------------------------------
    def get_int(self, tag: int) -> int:
        """Return the field as ``int`` (FIX int/SeqNum/Length/NumInGroup)."""
        return _as_int(tag, self[tag])

    def get_decimal(self, tag: int) -> Decimal:
        """Return the field as exact ``Decimal`` (FIX float/Qty/Price/Amt)."""
        return _as_decimal(tag, self[tag])

    def get_str(self, tag: int, encoding: str = "utf-8") -> str:
        """Return the field decoded as text."""
        return _as_str(tag, self[tag], encoding)

    def get_bool(self, tag: int) -> bool:
        """Return a FIX Boolean (``Y``/``N``)."""
        return _as_bool(tag, self[tag])

    def get_char(self, tag: int) -> str:
        """Return a single-character field (a char enum)."""
        return _as_char(tag, self[tag])

    def get_utc_ns(self, tag: int) -> int:
        """Return a UTCTimestamp (``YYYYMMDD-HH:MM:SS[.sss[sss[sss]]]``) as UTC epoch nanoseconds."""
        return _as_utc_ns(tag, self[tag])

    def group(self, count_tag: int, dictionary: Any = None, msg_type: bytes | None = None) -> list["Message"]:
        """Return the instances of the repeating group started by the first ``count_tag``.

        A count of 0 gives no instance. With a dictionary the group's member tags come from it; without
        one, an instance starts at each repeat of the first tag after the count (the FIX delimiter rule)
        and the group ends at the first tag that is neither the delimiter nor was seen in the first
        instance. The count itself is not checked against the instances: that is validation's job.
        """
        members = None
        if dictionary is not None:
            members = dictionary.group_members(msg_type or self.msg_type or b"", count_tag)
        start = self._idx().get(count_tag)
        if start is None:
            return []
        return _group(self._fields, start, members, type(self))


# -- framing --------------------------------------------------------------------------------------
# A body with only plain fields (the common case) is split by two regex passes at C speed; anything
# else (a *Len tag present, a malformed field) goes through the field-by-field loop.
_PLAIN_BODY = re.compile(rb"(?:[1-9][0-9]{0,8}=[^\x01]*\x01)*")
_PLAIN_FIELD = re.compile(rb"([1-9][0-9]{0,8})=([^\x01]*)\x01")


def _byte_sum(raw: bytes, end: int) -> int:
    """Return ``sum(raw[:end])``; Adler-32's first half is that sum (plus 1) while it stays < 65521."""
    if end <= 256:
        return (zlib.adler32(memoryview(raw)[:end]) & 0xFFFF) - 1
    mv = memoryview(raw)
    total = 0
    for i in range(0, end, 256):
        total += (zlib.adler32(mv[i : min(end, i + 256)]) & 0xFFFF) - 1
    return total


def checksum(frame: bytes) -> int:
    """Return the FIX CheckSum(10) of ``frame`` (every byte before the ``10=`` field), mod 256."""
    return _byte_sum(frame, len(frame)) & 0xFF


def _check_data_tags(data_tags: dict[int, int]) -> dict[int, int]:
    out = dict(data_tags)
    for k, v in out.items():
        if type(k) is not int or type(v) is not int or k <= 0 or v <= 0:
            raise ValueError("data_tags must map positive int tags to positive int tags")
    return out


class Parser:
    """Streaming FIX framer: ``feed`` bytes, iterate to get ``Message`` and ``Garbled`` items.

    ``data_tags`` maps each length tag to the data tag it prefixes (default: every FIX 4.2/4.4 pair).
    Iterating stops when more bytes are needed; iterate again after the next ``feed``.
    """

    def __init__(self, data_tags: dict[int, int] | None = None, max_body_length: int = MAX_BODY_LENGTH) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._data_tags = _check_data_tags(DEFAULT_DATA_TAGS if data_tags is None else data_tags)
        self._max_body = max_body_length
        self._garbled: str | None = None  # reason for dropping the frame at _pos, until resync
        self._scan = 0  # offset from _pos where the search for the next "8=FIX" resumes
        keys = b"|".join(b"%d" % k for k in sorted(self._data_tags))
        self._has_len_tag = re.compile(rb"\x01(?:" + keys + rb")=").search if keys else None

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        if self._pos and self._pos * 2 >= len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    @property
    def buffered(self) -> int:
        """Bytes received but not yet framed."""
        return len(self._buf) - self._pos

    def next_event(self) -> "Message | Garbled | _NeedMore":
        """Return the next complete item, or ``NEED_MORE``."""
        return self._frame_at()

    def __iter__(self) -> "Parser":
        return self

    def __next__(self) -> "Message | Garbled":
        item = self._frame_at()
        if item is NEED_MORE:
            raise StopIteration
        return item  # type: ignore[return-value]

    def _garble(self, reason: str) -> "Garbled | _NeedMore":
        self._garbled = reason
        self._scan = 1
        return self._resync()

    def _resync(self) -> "Garbled | _NeedMore":
        buf = self._buf
        n = len(buf)
        start = self._pos
        limit = start + MAX_GARBLED
        cut = buf.find(_BEGIN, start + self._scan, min(n, limit + len(_BEGIN)))
        if cut < 0:
            if n < limit + len(_BEGIN):
                self._scan = max(self._scan, n - start - (len(_BEGIN) - 1))
                return NEED_MORE
            cut = limit
        reason = self._garbled
        self._garbled = None
        self._scan = 0
        self._pos = cut
        return Garbled(reason, bytes(buf[start:cut]))  # type: ignore[arg-type]

    def _frame_at(self) -> "Message | Garbled | _NeedMore":
        if self._garbled is not None:
            return self._resync()
        buf = self._buf
        n = len(buf)
        start = self._pos
        if start >= n:
            return NEED_MORE
        if buf[start] != 56:  # '8'
            return self._garble(R_DATA_BEFORE)
        if n - start < 2:
            return NEED_MORE
        if buf[start + 1] != 61:  # '='
            return self._garble(R_FIRST_NOT_8)
        soh1 = buf.find(b"\x01", start + 2, start + 34)
        if soh1 < 0:
            if not _BEGIN.startswith(buf[start : start + 5]):
                return self._garble(R_NOT_FIX)
            if n - start >= 34:
                return self._garble(R_BEGIN_LONG)
            return NEED_MORE
        if soh1 - start < 5 or buf[start + 2 : start + 5] != b"FIX":
            return self._garble(R_NOT_FIX)
        # 9=digits SOH
        p = soh1 + 1
        if n - p < 2:
            return NEED_MORE
        if buf[p] != 57 or buf[p + 1] != 61:  # '9='
            return self._garble(R_SECOND_NOT_9)
        soh2 = buf.find(b"\x01", p + 2, p + 10)
        if soh2 < 0:
            partial = buf[p + 2 : p + 10]
            if partial and not partial.isdigit():
                return self._garble(R_LEN_NAN)
            if n - p >= 10:
                return self._garble(R_LEN_LONG)
            return NEED_MORE
        digits = bytes(buf[p + 2 : soh2])
        if not digits.isdigit():
            return self._garble(R_LEN_NAN)
        body_len = int(digits)
        if body_len > self._max_body:
            return self._garble(R_LEN_LARGE)
        body_end = soh2 + 1 + body_len
        frame_end = body_end + 7
        if n < frame_end:
            return NEED_MORE
        if buf[body_end : body_end + 3] != b"10=" or buf[frame_end - 1] != SOH:
            return self._garble(R_LEN_WRONG)
        cks = bytes(buf[body_end + 3 : frame_end - 1])
        if not cks.isdigit():
            return self._garble(R_CKS_DIGITS)
        raw = bytes(buf[start:frame_end])
        if _byte_sum(raw, body_end - start) & 0xFF != int(cks):
            return self._garble(R_CKS_MISMATCH)
        split = self._split(raw, soh2 + 1 - start, body_end - start)
        if type(split) is str:
            return self._garble(split)
        fields, invalid = split
        fields[0:0] = ((8, raw[2 : soh1 - start]), (9, digits))
        fields.append((10, cks))
        self._pos = frame_end
        return Message._parsed(fields, raw, invalid)

    def _split(self, raw: bytes, pos: int, end: int) -> tuple[list[tuple[int, bytes]], bytes | None] | str:
        """Split the body ``raw[pos:end]``: (fields, first malformed field or None), or a garble reason."""
        has_len_tag = self._has_len_tag
        if _PLAIN_BODY.fullmatch(raw, pos, end) and (has_len_tag is None or not has_len_tag(raw, pos - 1, end)):
            pairs = _PLAIN_FIELD.findall(raw, pos, end)
            if not pairs or pairs[0][0] != b"35":
                return R_THIRD_NOT_35
            return [(int(t), v) for t, v in pairs], None
        return _split_fields(raw, pos, end, self._data_tags)


def _split_fields(
    raw: bytes, pos: int, end: int, data_tags: dict[int, int]
) -> tuple[list[tuple[int, bytes]], bytes | None] | str:
    """Split ``raw[pos:end]`` field by field, honouring length-prefixed data fields.

    A field with a malformed tag or no ``=`` is skipped up to its SOH; the first one is returned beside
    the fields. The checks run in this order, and the compiled twin keeps it: SOH missing, malformed
    field, data length, then (at the end) MsgType first.
    """
    out: list[tuple[int, bytes]] = []
    invalid: bytes | None = None
    first_bad = False
    body_start = pos
    data_len = -1
    data_tag = -1
    find = raw.find
    while pos < end:
        soh = find(b"\x01", pos, end)
        eq = find(b"=", pos, end if soh < 0 else soh)
        tag_bytes = raw[pos:eq] if eq >= 0 else b""
        if not (0 < len(tag_bytes) <= MAX_TAG_DIGITS and tag_bytes.isdigit() and tag_bytes[0] != 48):
            if soh < 0:
                return R_NO_SOH
            if invalid is None:
                invalid = raw[pos:soh]
                first_bad = pos == body_start
            data_len = -1
            pos = soh + 1
            continue
        tag = int(tag_bytes)
        if data_len >= 0 and tag == data_tag:
            vend = eq + 1 + data_len
            if vend >= end or raw[vend] != SOH:
                return R_DATA_LEN
        elif soh < 0:
            return R_NO_SOH
        else:
            vend = soh
        data_len = -1
        value = raw[eq + 1 : vend]
        out.append((tag, value))
        dtag = data_tags.get(tag)
        if dtag is not None and value.isdigit():
            data_len = int(value)
            data_tag = dtag
        pos = vend + 1
    if first_bad or not out or out[0][0] != 35:
        return R_THIRD_NOT_35
    return out, invalid
