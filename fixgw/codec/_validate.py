"""Message validation against a FIX dictionary: value checkers and the field walker.

Theory of operation
-------------------
``fixgw.codec.dictionary`` compiles each message definition into a flat table, ``top``: tag -> (section,
group), where section is 0 header, 1 body, 2 trailer and group is the ``GroupDef`` that tag counts (or
``None``). ``walk`` then reads the message's fields once, left to right:

* a field's section may only grow (header, body, trailer): a step back is 373=14;
* each top-level tag is recorded in one ``seen`` set: a repeat is 373=13;
* a group count tag hands over to ``_walk_group``, which consumes the instances that follow (each must start
  with the delimiter and holds each member at most once) and returns where the group ended; the number of
  instances must equal the count (373=16). Nested groups recurse the same way;
* each value is checked by the per-tag checker the dictionary built from the field's type and enums
  (373=4, 5, 6);
* required tags are checked per group instance when it ends and for the whole message at the end (373=1).

Every field is visited once and every lookup is a dict or set probe, so the cost is linear in the number
of fields. The first problem found in wire order is the one reported.
"""

from __future__ import annotations

import calendar
import re
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from ..errors import ValidationError
from ..logsafe import printable

if TYPE_CHECKING:  # pragma: no cover
    from .dictionary import GroupDef

__all__ = [
    "Checker",
    "make_checker",
    "walk",
    "INVALID_TAG_NUMBER",
    "REQUIRED_TAG_MISSING",
    "TAG_NOT_DEFINED_FOR_MESSAGE",
    "UNDEFINED_TAG",
    "TAG_WITHOUT_VALUE",
    "VALUE_INCORRECT",
    "INCORRECT_DATA_FORMAT",
    "INVALID_MSG_TYPE",
    "TAG_REPEATED",
    "TAG_OUT_OF_ORDER",
    "GROUP_FIELDS_OUT_OF_ORDER",
    "INCORRECT_NUM_IN_GROUP",
    "USER_DEFINED_TAG_MIN",
]

# SessionRejectReason (373) values this module raises.
INVALID_TAG_NUMBER = 0
REQUIRED_TAG_MISSING = 1
TAG_NOT_DEFINED_FOR_MESSAGE = 2
UNDEFINED_TAG = 3
TAG_WITHOUT_VALUE = 4
VALUE_INCORRECT = 5
INCORRECT_DATA_FORMAT = 6
INVALID_MSG_TYPE = 11
TAG_REPEATED = 13
TAG_OUT_OF_ORDER = 14
GROUP_FIELDS_OUT_OF_ORDER = 15
INCORRECT_NUM_IN_GROUP = 16

#: Tags from here up are the user-defined range; an unknown one is "invalid" (0) like any other unknown
#: tag (what QuickFIX answers), unless validation of user-defined fields is switched off.
USER_DEFINED_TAG_MIN = 5000

#: A checker returns 0 when the value is acceptable, else the 373 reason.
Checker = Callable[[bytes], int]

# -- format predicates ------------------------------------------------------------------------------------

_FLOAT = re.compile(rb"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)").fullmatch
_TIME = re.compile(rb"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{3}|\.[0-9]{6}|\.[0-9]{9})?").fullmatch
# The shape of a UTCTimestamp that ``_timefmt.parse_utc_timestamp`` reads: year, month 01-12, day (checked
# against the month below), hours to 23, minutes to 59, seconds to 60, and 0, 3, 6 or 9 fraction digits.
_TIMESTAMP = re.compile(
    rb"([0-9]{4})(0[1-9]|1[0-2])([0-9]{2})-([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)"
    rb"(\.[0-9]{3}|\.[0-9]{6}|\.[0-9]{9})?"
).fullmatch
_MONTH_DAYS = calendar.mdays  # [0, 31, 28, 31, ...]


def _days_in(year: int, month: int) -> int:
    return 29 if month == 2 and calendar.isleap(year) else _MONTH_DAYS[month]


def _is_int(v: bytes) -> bool:
    return v.isdigit() or (v[:1] == b"-" and v[1:].isdigit())


def _is_unsigned(v: bytes) -> bool:
    return v.isdigit()


def _is_float(v: bytes) -> bool:
    return _FLOAT(v) is not None


def _is_char(v: bytes) -> bool:
    return len(v) == 1


def _is_bool(v: bytes) -> bool:
    return v == b"Y" or v == b"N"


def _is_date(v: bytes) -> bool:
    if len(v) != 8 or not v.isdigit():
        return False
    y, m, d = int(v[:4]), int(v[4:6]), int(v[6:8])
    return 1 <= m <= 12 and 1 <= d <= _days_in(y, m)


def _is_month_year(v: bytes) -> bool:
    # YYYYMM, YYYYMMDD or YYYYMMwN (week N of the month).
    if len(v) < 6 or not v[:6].isdigit() or not 1 <= int(v[4:6]) <= 12:
        return False
    rest = v[6:]
    if not rest:
        return True
    if len(rest) == 2 and rest[:1] == b"w":
        return rest[1:] in (b"1", b"2", b"3", b"4", b"5")
    return _is_date(v)


def _is_day_of_month(v: bytes) -> bool:
    return v.isdigit() and len(v) <= 2 and 1 <= int(v) <= 31


def _is_utc_timestamp(v: bytes) -> bool:
    # Exactly ``parse_utc_timestamp(v) is not None`` (a test holds them together), without the epoch sum.
    m = _TIMESTAMP(v)
    if m is None:
        return False
    year = int(m[1])
    return year >= 1 and 1 <= int(m[3]) <= _days_in(year, int(m[2]))


def _is_time(v: bytes) -> bool:
    return _TIME(v) is not None


#: FIX type -> format predicate; types absent here (STRING, CURRENCY, EXCHANGE, COUNTRY, DATA, ...) accept
#: any non-empty value.
FORMATS: dict[str, Callable[[bytes], bool]] = {
    "INT": _is_int,
    "LENGTH": _is_unsigned,
    "NUMINGROUP": _is_unsigned,
    "SEQNUM": _is_unsigned,
    "DAYOFMONTH": _is_day_of_month,
    "FLOAT": _is_float,
    "QTY": _is_float,
    "PRICE": _is_float,
    "PRICEOFFSET": _is_float,
    "AMT": _is_float,
    "PERCENTAGE": _is_float,
    "CHAR": _is_char,
    "BOOLEAN": _is_bool,
    "UTCTIMESTAMP": _is_utc_timestamp,
    "UTCTIMEONLY": _is_time,
    "UTCDATE": _is_date,
    "UTCDATEONLY": _is_date,
    "LOCALMKTDATE": _is_date,
    "MONTHYEAR": _is_month_year,
}

_MULTI_VALUE_TYPES = frozenset({"MULTIPLEVALUESTRING", "MULTIPLECHARVALUE", "MULTIPLESTRINGVALUE"})


def make_checker(fix_type: str, enums: frozenset[bytes]) -> Checker | None:
    """Return the value checker for a field of ``fix_type`` with enum values ``enums`` (may be empty).

    ``None`` means any non-empty value is acceptable, which lets the walker skip the call.
    """
    fmt = FORMATS.get(fix_type)
    if fix_type in _MULTI_VALUE_TYPES and enums:

        def check_multi(v: bytes) -> int:
            if v in enums:
                return 0
            for token in v.split(b" "):
                if token not in enums:
                    return VALUE_INCORRECT
            return 0

        return check_multi
    if enums:
        if fmt is None:

            def check_enum(v: bytes) -> int:
                return 0 if v in enums else VALUE_INCORRECT

            return check_enum

        def check_typed_enum(v: bytes) -> int:
            if v in enums:
                return 0
            return VALUE_INCORRECT if fmt(v) else INCORRECT_DATA_FORMAT

        return check_typed_enum
    if fmt is None:
        return None

    def check_format(v: bytes) -> int:
        return 0 if fmt(v) else INCORRECT_DATA_FORMAT

    return check_format


# -- the walker -------------------------------------------------------------------------------------------

_TEXT = {
    INVALID_TAG_NUMBER: "Invalid tag number",
    REQUIRED_TAG_MISSING: "Required tag missing",
    TAG_NOT_DEFINED_FOR_MESSAGE: "Tag not defined for this message type",
    UNDEFINED_TAG: "Undefined tag",
    TAG_WITHOUT_VALUE: "Tag specified without a value",
    VALUE_INCORRECT: "Value is incorrect (out of range) for this tag",
    INCORRECT_DATA_FORMAT: "Incorrect data format for value",
    INVALID_MSG_TYPE: "Invalid MsgType",
    TAG_REPEATED: "Tag appears more than once",
    TAG_OUT_OF_ORDER: "Tag specified out of required order",
    GROUP_FIELDS_OUT_OF_ORDER: "Repeating group fields out of order",
    INCORRECT_NUM_IN_GROUP: "Incorrect NumInGroup count for repeating group",
}


def reject(reason: int, tag: int | None, names: Mapping[int, str], detail: str = "") -> ValidationError:
    """Build the ``ValidationError`` for ``reason`` about ``tag``, with a readable text."""
    text = _TEXT.get(reason, f"Reject reason {reason}")
    if tag is not None:
        name = names.get(tag)
        text = f"{text}: {name}({tag})" if name else f"{text}: tag {tag}"
    if detail:
        text = f"{text}, {detail}"
    return ValidationError(reason, tag, text)


def walk(
    fields: Sequence[tuple[int, bytes]],
    top: Mapping[int, tuple[int, "GroupDef | None"]],
    required: Sequence[int],
    checks: Mapping[int, Checker | None],
    names: Mapping[int, str],
    unknown: Callable[[int], ValidationError | None],
    skip_from: int = 0,
) -> None:
    """Validate ``fields`` (from index 3, after 8, 9 and 35) against one message's ``top`` table.

    ``unknown(tag)`` gives the error for a tag ``top`` lacks, or None to let it through; tags from
    ``skip_from`` up (when not 0) are not checked at all, only counted as present.
    """
    n = len(fields)
    seen = {8, 9, 35}
    phase = 0
    i = 3
    while i < n:
        tag, value = fields[i]
        if skip_from and tag >= skip_from:
            seen.add(tag)
            i += 1
            continue
        entry = top.get(tag)
        if entry is None:
            error = unknown(tag)
            if error is not None:
                raise error
            i += 1
            continue
        section, group = entry
        if section != phase:
            if section < phase:
                where = "header field after the body" if section == 0 else "body field after the trailer"
                raise reject(TAG_OUT_OF_ORDER, tag, names, where)
            phase = section
        if tag in seen:
            raise reject(TAG_REPEATED, tag, names)
        seen.add(tag)
        if not value:
            raise reject(TAG_WITHOUT_VALUE, tag, names)
        check = checks.get(tag)
        if check is not None:
            reason = check(value)
            if reason:
                raise reject(reason, tag, names, f"value {printable(value[:32])}")
        if group is not None:
            i = _walk_group(fields, i, n, group, checks, names)
            continue
        if tag == 10 and i != n - 1:
            raise reject(TAG_OUT_OF_ORDER, 10, names, "CheckSum is not the last field")
        i += 1
    for tag in required:
        if tag not in seen:
            raise reject(REQUIRED_TAG_MISSING, tag, names)


def _walk_group(
    fields: Sequence[tuple[int, bytes]],
    i: int,
    n: int,
    group: "GroupDef",
    checks: Mapping[int, Checker | None],
    names: Mapping[int, str],
) -> int:
    """Consume the instances of ``group`` whose count field is ``fields[i]``; return the next index."""
    count_tag, count_value = fields[i]
    if not count_value.isdigit():
        raise reject(INCORRECT_DATA_FORMAT, count_tag, names, f"value {printable(count_value[:32])}")
    count = int(count_value)
    members = group.fields
    delimiter = group.delimiter
    required = group.required
    instances = 0
    seen: set[int] = set()
    i += 1
    while i < n:
        tag, value = fields[i]
        if tag not in members:
            break
        if tag == delimiter:
            if instances:
                _check_required(required, seen, count_tag, names)
            instances += 1
            seen = set()
        elif not instances:
            if count == 0:
                break  # an empty group; the field belongs to the enclosing level
            raise reject(
                GROUP_FIELDS_OUT_OF_ORDER, tag, names, f"instance of {count_tag} must start with {delimiter}"
            )
        if tag in seen:
            raise reject(TAG_REPEATED, tag, names, f"within one instance of group {count_tag}")
        seen.add(tag)
        if not value:
            raise reject(TAG_WITHOUT_VALUE, tag, names)
        check = checks.get(tag)
        if check is not None:
            reason = check(value)
            if reason:
                raise reject(reason, tag, names, f"value {printable(value[:32])}")
        nested = members[tag]
        if nested is not None:
            i = _walk_group(fields, i, n, nested, checks, names)
        else:
            i += 1
    if instances:
        _check_required(required, seen, count_tag, names)
    if instances != count:
        raise reject(INCORRECT_NUM_IN_GROUP, count_tag, names, f"count {count}, {instances} instance(s) found")
    return i


def _check_required(required: Sequence[int], seen: set[int], count_tag: int, names: Mapping[int, str]) -> None:
    for tag in required:
        if tag not in seen:
            raise reject(REQUIRED_TAG_MISSING, tag, names, f"in an instance of group {count_tag}")
