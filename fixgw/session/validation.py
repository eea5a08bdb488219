"""Header checks of inbound messages, as pure functions returning a ``SessionReject`` value or None.

Each check names the SessionRejectReason (373) and RefTagID (371) to answer with, and whether the
session must log out after the Reject (``fatal``). Nothing here touches session state.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..codec import parse_utc_timestamp

__all__ = [
    "SessionReject",
    "ADMIN_MSG_TYPES",
    "STANDARD_MSG_TYPES",
    "parse_sending_time",
    "check_comp_ids",
    "check_sending_time",
    "check_poss_dup",
    "check_msg_type",
    "int_or_none",
    "field_text",
]

NS = 1_000_000_000

# SessionRejectReason (373) codes used by the engine.
REQUIRED_TAG_MISSING = 1
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


def check_comp_ids(sender: bytes | None, target: bytes | None, peer: bytes, us: bytes) -> SessionReject | None:
    """2k: the peer's SenderCompID (49) must be our target, its TargetCompID (56) us."""
    if sender != peer:
        return SessionReject(COMP_ID_PROBLEM, 49, "CompID problem", True)
    if target != us:
        return SessionReject(COMP_ID_PROBLEM, 56, "CompID problem", True)
    return None


def check_sending_time(value: bytes | None, now_ns: int, tolerance_ns: int | None) -> tuple[int | None, SessionReject | None]:
    """2o: SendingTime (52) must be present, UTC and within ``tolerance_ns`` of now.

    Returns (sending time in ns or None, reject or None).
    """
    if value is None:
        return None, SessionReject(REQUIRED_TAG_MISSING, 52, "Required tag missing")
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

