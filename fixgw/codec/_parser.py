"""Pure-Python FIX tag=value framer and parser: the specification of ``fixgw_ext``.

Theory of operation
-------------------
Bytes arrive in arbitrary chunks and are appended to one buffer. ``_frame_at`` looks at the buffer from
``_pos``: a frame must start ``8=<BeginString>SOH9=<digits>SOH``; BodyLength tells where the body ends, and
exactly ``10=ddd SOH`` must follow. Only then are fields split (so an SOH inside a length-prefixed data
field cannot break framing: its length comes from the preceding *Len field). Anything that does not fit is
reported as ``Garbled`` and the parser resynchronises at the next ``8=FIX`` after the bad frame's start,
so no valid message that follows is lost. Every byte is examined a bounded number of times, so the cost
is linear in the input whatever the chunking; the consumed prefix is dropped once it passes half the
buffer.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Iterable, Iterator

from ..errors import FieldValueError

__all__ = ["Message", "Garbled", "Parser", "NEED_MORE", "DEFAULT_DATA_TAGS", "MAX_BODY_LENGTH"]

SOH = 1
EQUALS = 61
#: Length tag -> data tag, for every *Len/data pair of the FIX 4.2/4.4 dictionaries.
DEFAULT_DATA_TAGS: dict[int, int] = {
    90: 91,  # SecureDataLen / SecureData
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
_BEGIN = b"8=FIX"


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


class Message:
    """An ordered list of (tag, value) fields; repeated tags allowed; values stay ``bytes``.

    ``get`` returns the first occurrence in O(1). Typed getters decode on demand and raise
    ``FieldValueError`` (SessionRejectReason 6) on a malformed value.
    """

    __slots__ = ("fields", "raw", "_index")

    def __init__(self, fields: Iterable[tuple[int, bytes]], raw: bytes | None = None) -> None:
        self.fields: list[tuple[int, bytes]] = list(fields)
        self.raw = raw
        index: dict[int, int] = {}
        for i, (tag, _value) in enumerate(self.fields):
            if tag not in index:
                index[tag] = i
        self._index = index

    # -- access -------------------------------------------------------------------------------
    @property
    def begin_string(self) -> bytes | None:
        return self.get(8)

    @property
    def msg_type(self) -> bytes | None:
        return self.get(35)

    def get(self, tag: int, default: bytes | None = None) -> bytes | None:
        """Return the value of the first occurrence of ``tag``, or ``default``."""
        i = self._index.get(tag)
        return default if i is None else self.fields[i][1]

    def get_all(self, tag: int) -> list[bytes]:
        """Return every value of ``tag`` in order."""
        return [v for t, v in self.fields if t == tag]

    def __getitem__(self, tag: int) -> bytes:
        i = self._index.get(tag)
        if i is None:
            raise KeyError(tag)
        return self.fields[i][1]

    def __contains__(self, tag: object) -> bool:
        return tag in self._index

    def __len__(self) -> int:
        return len(self.fields)

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        return iter(self.fields)

    def __eq__(self, other: object) -> bool:
        if not hasattr(other, "fields"):
            return NotImplemented
        return list(self.fields) == list(other.fields)  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        body = "|".join(f"{t}={v.decode('latin-1')}" for t, v in self.fields)
        return f"Message({body})"

    # -- typed getters ------------------------------------------------------------------------
    def _required(self, tag: int) -> bytes:
        i = self._index.get(tag)
        if i is None:
            raise KeyError(tag)
        return self.fields[i][1]

    def get_int(self, tag: int) -> int:
        """Return the field as ``int`` (FIX int/SeqNum/Length/NumInGroup)."""
        v = self._required(tag)
        if not v or not (v.isdigit() or (v[:1] == b"-" and v[1:].isdigit())):
            raise FieldValueError(tag, v, "int")
        return int(v)

    def get_decimal(self, tag: int) -> Decimal:
        """Return the field as exact ``Decimal`` (FIX float/Qty/Price/Amt)."""
        v = self._required(tag)
        if not _is_fix_float(v):
            raise FieldValueError(tag, v, "decimal")
        try:
            return Decimal(v.decode("ascii"))
        except (InvalidOperation, UnicodeDecodeError):  # pragma: no cover - guarded above
            raise FieldValueError(tag, v, "decimal") from None

    def get_str(self, tag: int, encoding: str = "utf-8") -> str:
        """Return the field decoded as text."""
        v = self._required(tag)
        try:
            return v.decode(encoding)
        except UnicodeDecodeError:
            raise FieldValueError(tag, v, "string") from None

    def get_bool(self, tag: int) -> bool:
        """Return a FIX Boolean (``Y``/``N``)."""
        v = self._required(tag)
        if v == b"Y":
            return True
        if v == b"N":
            return False
        raise FieldValueError(tag, v, "boolean Y/N")

    def get_char(self, tag: int) -> str:
        """Return a single-character field (a char enum)."""
        v = self._required(tag)
        if len(v) != 1:
            raise FieldValueError(tag, v, "char")
        return chr(v[0])

    def get_utc_ns(self, tag: int) -> int:
        """Return a UTCTimestamp (``YYYYMMDD-HH:MM:SS[.sss[sss[sss]]]``) as UTC epoch nanoseconds."""
        from ._timefmt import parse_utc_timestamp

        v = self._required(tag)
        ns = parse_utc_timestamp(v)
        if ns is None:
            raise FieldValueError(tag, v, "UTCTimestamp")
        return ns

    def group(self, count_tag: int, dictionary: object = None, msg_type: bytes | None = None) -> list["Message"]:
        """Return the instances of the repeating group started by ``count_tag``.

        With a dictionary the group's member tags come from it; without one, an instance starts at each
        repeat of the first tag after the count (the FIX delimiter rule) and ends at the first tag that
        is neither the delimiter nor was seen in the first instance.
        """
        members: frozenset[int] | None = None
        if dictionary is not None:
            members = dictionary.group_members(msg_type or self.msg_type or b"", count_tag)  # type: ignore[attr-defined]
        start = self._index.get(count_tag)
        if start is None:
            return []
        fields = self.fields
        out: list[Message] = []
        i = start + 1
        if i >= len(fields):
            return []
        delim = fields[i][0]
        seen: set[int] = set() if members is None else set(members)
        current: list[tuple[int, bytes]] = []
        first_instance = True
        while i < len(fields):
            tag = fields[i][0]
            if tag == delim:
                if current:
                    out.append(Message(current))
                    first_instance = False
                current = [fields[i]]
            elif tag in seen or (members is None and first_instance and tag not in self._header_trailer):
                current.append(fields[i])
                if members is None:
                    seen.add(tag)
            else:
                break
            i += 1
        if current:
            out.append(Message(current))
        return out

    _header_trailer = frozenset({8, 9, 35, 10, 93, 89})


def _is_fix_float(v: bytes) -> bool:
    if not v:
        return False
    s = v[1:] if v[:1] == b"-" else v
    if not s:
        return False
    head, dot, tail = s.partition(b".")
    if not head and not tail:
        return False
    return (not head or head.isdigit()) and (not tail or tail.isdigit())


class Parser:
    """Streaming FIX framer: ``feed`` bytes, iterate to get ``Message`` and ``Garbled`` items."""

    def __init__(self, data_tags: dict[int, int] | None = None, max_body_length: int = MAX_BODY_LENGTH) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._data_tags = DEFAULT_DATA_TAGS if data_tags is None else data_tags
        self._max_body = max_body_length

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

    def __iter__(self) -> Iterator["Message | Garbled"]:
        while True:
            item = self._frame_at()
            if item is NEED_MORE:
                return
            yield item  # type: ignore[misc]

    def _garble(self, start: int, reason: str) -> Garbled:
        # Resynchronise at the next "8=FIX" after this frame's first byte.
        buf = self._buf
        nxt = buf.find(_BEGIN, start + 1)
        if nxt < 0:
            # Keep a tail that could be the start of "8=FIX" split across chunks.
            end = len(buf)
            keep = 0
            for k in range(min(len(_BEGIN) - 1, end - start - 1), 0, -1):
                if buf.endswith(_BEGIN[:k]):
                    keep = k
                    break
            nxt = end - keep
        data = bytes(buf[start:nxt])
        self._pos = nxt
        return Garbled(reason, data)

    def _frame_at(self) -> "Message | Garbled | _NeedMore":
        buf = self._buf
        n = len(buf)
        start = self._pos
        if start >= n:
            return NEED_MORE
        # Leading bytes that cannot start a frame are garbage.
        if buf[start] != 56:  # '8'
            return self._garble(start, "data before BeginString")
        # 8=...SOH
        if n - start < 2:
            return NEED_MORE
        if buf[start + 1] != EQUALS:
            return self._garble(start, "first field is not BeginString(8)")
        soh1 = buf.find(b"\x01", start + 2, start + 2 + 32)
        if soh1 < 0:
            if n - start >= 34:
                return self._garble(start, "BeginString(8) too long")
            if not _BEGIN.startswith(bytes(buf[start : start + 5])):
                return self._garble(start, "BeginString(8) is not FIX")
            return NEED_MORE
        if not bytes(buf[start + 2 : soh1]).startswith(b"FIX"):
            return self._garble(start, "BeginString(8) is not FIX")
        # 9=digits SOH
        p = soh1 + 1
        if n - p < 2:
            return NEED_MORE
        if buf[p] != 57 or buf[p + 1] != EQUALS:  # '9='
            return self._garble(start, "second field is not BodyLength(9)")
        soh2 = buf.find(b"\x01", p + 2, p + 2 + 8)
        if soh2 < 0:
            if n - p >= 10:
                return self._garble(start, "BodyLength(9) too long")
            if not bytes(buf[p + 2 : n]).isdigit() and n > p + 2:
                return self._garble(start, "BodyLength(9) is not a number")
            return NEED_MORE
        digits = bytes(buf[p + 2 : soh2])
        if not digits.isdigit():
            return self._garble(start, "BodyLength(9) is not a number")
        body_len = int(digits)
        if body_len > self._max_body:
            return self._garble(start, "BodyLength(9) too large")
        body_start = soh2 + 1
        body_end = body_start + body_len
        frame_end = body_end + 7
        if n < frame_end:
            # Fail early when the bytes already present show the body cannot end where announced.
            return NEED_MORE
        if buf[body_end : body_end + 3] != b"10=" or buf[frame_end - 1] != SOH:
            return self._garble(start, "BodyLength(9) does not end at CheckSum(10)")
        cks = bytes(buf[body_end + 3 : frame_end - 1])
        if not cks.isdigit():
            return self._garble(start, "CheckSum(10) is not three digits")
        if sum(buf[start:body_end]) & 0xFF != int(cks):
            return self._garble(start, "CheckSum(10) mismatch")
        raw = bytes(buf[start:frame_end])
        fields = _split_fields(raw, soh2 + 1 - start, body_end - start, self._data_tags)
        if isinstance(fields, str):
            return self._garble(start, fields)
        begin = raw[2 : soh1 - start]
        fields.insert(0, (9, digits))
        fields.insert(0, (8, begin))
        fields.append((10, cks))
        self._pos = frame_end
        return Message(fields, raw)


def _split_fields(raw: bytes, pos: int, end: int, data_tags: dict[int, int]) -> list[tuple[int, bytes]] | str:
    """Split ``raw[pos:end]`` into (tag, value) pairs; a ``str`` return is the garble reason."""
    out: list[tuple[int, bytes]] = []
    data_len: int | None = None
    data_tag = -1
    find = raw.find
    while pos < end:
        eq = find(b"=", pos, end)
        if eq < 0:
            return "field without '='"
        tag_bytes = raw[pos:eq]
        if not tag_bytes.isdigit() or tag_bytes[0] == 48:
            return "tag is not a positive number"
        tag = int(tag_bytes)
        if data_len is not None and tag == data_tag:
            vend = eq + 1 + data_len
            if vend >= end or raw[vend] != SOH:
                return "data field length does not match its length field"
            data_len = None
        else:
            data_len = None
            vend = find(b"\x01", eq + 1, end)
            if vend < 0:
                return "field not terminated by SOH"
        value = raw[eq + 1 : vend]
        out.append((tag, value))
        dtag = data_tags.get(tag)
        if dtag is not None and value.isdigit():
            data_len = int(value)
            data_tag = dtag
        pos = vend + 1
    if not out or out[0][0] != 35:
        return "third field is not MsgType(35)"
    return out
