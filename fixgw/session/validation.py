"""Header checks of inbound messages, as pure functions returning a ``SessionReject`` value or None.

Each check names the SessionRejectReason (373) and RefTagID (371) to answer with, and whether the
session must log out after the Reject (``fatal``). Nothing here touches session state.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..codec import checksum, parse_utc_timestamp

__all__ = [
    "SessionReject",
    "ADMIN_MSG_TYPES",
    "STANDARD_MSG_TYPES",
    "parse_sending_time",
    "check_comp_ids",
    "check_sending_time",
    "check_poss_dup",
    "check_msg_type",
    "first_frame_problem",
    "invalid_field_reject",
    "int_or_none",
    "field_text",
]

NS = 1_000_000_000
#: The framer's own bound on a body (``fixgw.codec`` MAX_BODY_LENGTH): larger is garbled at once.
MAX_FIRST_BODY_LENGTH = 1 << 20

# SessionRejectReason (373) codes used by the engine.
INVALID_TAG_NUMBER = 0
REQUIRED_TAG_MISSING = 1
TAG_WITHOUT_VALUE = 4
VALUE_INCORRECT = 5
INCORRECT_DATA_FORMAT = 6
COMP_ID_PROBLEM = 9
SENDING_TIME_ACCURACY = 10
INVALID_MSG_TYPE = 11
# BusinessRejectReason (380)
UNSUPPORTED_MSG_TYPE = 3

ADMIN_MSG_TYPES = frozenset({b"0", b"1", b"2", b"3", b"4", b"5", b"A"})

#: Every MsgType of FIX 4.2 and FIX 4.4; user-defined types start with "U". Used for 2q (373=11) when
#: no dictionary is configured.
STANDARD_MSG_TYPES = frozenset(
    t.encode("ascii")
    for t in (
        "0 1 2 3 4 5 6 7 8 9 A B C D E F G H J K L M N P Q R S T V W X Y Z a b c d e f g h i j k l m n o"
        " p q r s t u v w x y z AA AB AC AD AE AF AG AH AI AJ AK AL AM AN AO AP AQ AR AS AT AU AV AW AX AY"
        " AZ BA BB BC BD BE BF BG BH"
    ).split()
)


@dataclass(frozen=True, slots=True)
class SessionReject:
    """A reason to reject an inbound message: 373 code, 371 tag, 58 text; ``fatal`` = log out after."""

    reason: int
    ref_tag: int | None
    text: str
    fatal: bool = False


def int_or_none(value: bytes | None) -> int | None:
    """Return a field's non-negative integer value, or None when absent or not all digits."""
    if value is None or not value.isdigit():
        return None
    return int(value)


def field_text(value: bytes | None) -> str:
    """Return a text field (58 and the like) as str; "" when absent."""
    return "" if value is None else value.decode("utf-8", "replace")


_cache_prefix = b""
_cache_sec = 0


def parse_sending_time(value: bytes) -> int | None:
    """Return a UTCTimestamp as epoch ns, or None; cheap when the second repeats (the common case)."""
    global _cache_prefix, _cache_sec
    prefix = value[:17]
    if prefix == _cache_prefix and len(prefix) == 17:
        rest = value[17:]
        if not rest:
            return _cache_sec
        digits = rest[1:]
        if rest[:1] == b"." and len(digits) in (3, 6, 9) and digits.isdigit():
            return _cache_sec + int(digits) * 10 ** (9 - len(digits))
        return None
    ns = parse_utc_timestamp(value)
    if ns is not None:
        sec_ns = ns - ns % NS
        # Leap second 60 folds onto the next minute: keep it out of the cache.
        if value[15:17] != b"60":
            _cache_prefix, _cache_sec = prefix, sec_ns
    return ns


def check_header_field(tag: int, value: bytes | None) -> SessionReject | None:
    """A required header field absent (373=1) or present without a value (373=4): reject, not fatal."""
    if value is None:
        return SessionReject(REQUIRED_TAG_MISSING, tag, "Required tag missing")
    if not value:
        return SessionReject(TAG_WITHOUT_VALUE, tag, "Tag specified without a value")
    return None


def check_comp_ids(sender: bytes | None, target: bytes | None, peer: bytes, us: bytes) -> SessionReject | None:
    """2k: the peer's SenderCompID (49) must be our target, its TargetCompID (56) us.

    Missing (373=1) or empty (373=4) comes before a wrong value: only a wrong value is a CompID problem
    (373=9), the one that ends the session (``fatal``).
    """
    for tag, value in ((49, sender), (56, target)):
        reject = check_header_field(tag, value)
        if reject is not None:
            return reject
    if sender != peer:
        return SessionReject(COMP_ID_PROBLEM, 49, "CompID problem", True)
    if target != us:
        return SessionReject(COMP_ID_PROBLEM, 56, "CompID problem", True)
    return None


def check_sending_time(value: bytes | None, now_ns: int, tolerance_ns: int | None) -> tuple[int | None, SessionReject | None]:
    """2o: SendingTime (52) must be present, UTC and within ``tolerance_ns`` of now.

    Returns (sending time in ns or None, reject or None).
    """
    if not value:
        return None, check_header_field(52, value)
    ns = parse_sending_time(value)
    if ns is None:
        return None, SessionReject(SENDING_TIME_ACCURACY, 52, "SendingTime accuracy problem", True)
    if tolerance_ns is not None and abs(now_ns - ns) > tolerance_ns:
        return ns, SessionReject(SENDING_TIME_ACCURACY, 52, "SendingTime accuracy problem", True)
    return ns, None


def check_poss_dup(orig_sending_time: bytes | None, sending_time_ns: int | None) -> SessionReject | None:
    """2f/2g: a PossDup message needs OrigSendingTime (122), not later than its SendingTime (52)."""
    if orig_sending_time is None:
        return SessionReject(REQUIRED_TAG_MISSING, 122, "Required tag missing")
    orig = parse_sending_time(orig_sending_time)
    if orig is None:
        return SessionReject(INCORRECT_DATA_FORMAT, 122, "Incorrect data format for value")
    if sending_time_ns is not None and orig > sending_time_ns:
        return SessionReject(SENDING_TIME_ACCURACY, 122, "SendingTime accuracy problem")
    return None


def check_msg_type(msg_type: bytes, dictionary: object | None) -> SessionReject | None:
    """2q: the MsgType must exist (in the dictionary when given, else in FIX 4.2/4.4 or user-defined)."""
    if dictionary is not None:
        known = dictionary.has_msg_type(msg_type)  # type: ignore[attr-defined]
    else:
        known = msg_type in STANDARD_MSG_TYPES or msg_type[:1] == b"U"
    if not known:
        return SessionReject(INVALID_MSG_TYPE, 35, "Invalid MsgType")
    return None



def invalid_field_reject(field: bytes) -> SessionReject:
    """A field the parser could not read (``b"0=x"``, ``b"AB=1"``, ``b"novalue"``): 373=0, 371 if numeric."""
    tag = field.partition(b"=")[0]
    ref_tag = int(tag) if tag.isdigit() and len(tag) <= 9 else None
    return SessionReject(INVALID_TAG_NUMBER, ref_tag, "Invalid tag number")


def first_frame_problem(data: bytes | bytearray) -> str | None:
    """Judge the first frame of a connection from its first bytes: the garble reason, or None.

    None means "fine so far": either the frame is complete and sound, or more bytes are needed. Checks
    what the framer checks (BeginString, BodyLength, CheckSum) without waiting for a next frame.
    """
    n = len(data)
    head = bytes(data[:5])
    if head != b"8=FIX"[: len(head)]:
        return "first field is not BeginString(8)=FIX"
    soh1 = data.find(b"\x01")
    if soh1 < 0:
        return "BeginString(8) too long" if n > 32 else None
    if n < soh1 + 3:
        return None
    if data[soh1 + 1 : soh1 + 3] != b"9=":
        return "second field is not BodyLength(9)"
    soh2 = data.find(b"\x01", soh1 + 3, soh1 + 12)
    if soh2 < 0:
        return "BodyLength(9) too long" if n >= soh1 + 12 else None
    digits = bytes(data[soh1 + 3 : soh2])
    if not digits.isdigit():
        return "BodyLength(9) is not a number"
    if int(digits) > MAX_FIRST_BODY_LENGTH:
        return "BodyLength(9) too large"
    body_end = soh2 + 1 + int(digits)
    if n < body_end + 7:
        return None
    if data[body_end : body_end + 3] != b"10=" or data[body_end + 6] != 1:
        return "BodyLength(9) does not end at CheckSum(10)"
    cks = bytes(data[body_end + 3 : body_end + 6])
    if not cks.isdigit() or int(cks) != checksum(bytes(data[:body_end])):
        return "CheckSum(10) mismatch"
    return None
