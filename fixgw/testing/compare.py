"""Field-by-field comparison of an expected message with a received one, with the rules made explicit.

Theory of operation
-------------------
An expectation (``Expected``) names a MsgType, the fields that must be present (each with a value or a
matcher), the fields that must be absent, and optionally the whole field list in order. ``compare``
checks a received frame against it under ``Rules`` and returns ``None`` or the first difference, as
one line of text. What is compared, and how, is never implicit:

- **Framing**: BodyLength (9) and CheckSum (10) are never compared with expected values; they must be
  right for the bytes received.
- **Field order** (``Rules.field_order``): ``"sections"`` (default) checks that 8, 9, 35 come first and
  10 last, and that no header field comes after a body field (FIX fixes nothing else, except the order
  inside a repeating group); ``"strict"`` compares the received order with ``Expected.order``;
  ``"any"`` checks nothing about order.
- **Timestamps** (``Rules.timestamps``): the UTC timestamp tags (52, 60, 122, 42) named in an
  expectation are compared as ``"format"`` (well-formed only: the default, since they depend on when a
  message was sent) or ``"exact"``. With ``Rules.clock_tolerance`` set, a received SendingTime must also
  lie that many seconds or fewer from the local clock passed in.
- **Text** (58, and 354/355 EncodedText): ``"ignore"`` (default: free text, engines word their reasons
  differently), ``"contains"`` (the expected words appear, case-insensitive) or ``"exact"``.
- **Extra fields**: allowed unless ``Rules.extra_fields`` is False, which then compares the field set.

Matchers: a value (str, bytes, int) compares for equality; ``ANY`` wants the field present with any
value; ``one_of(a, b, ...)`` accepts any of the values and ``compare_notes`` reports which was seen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from ..codec import Message, encode_value, parse_utc_timestamp
from ..logsafe import printable

__all__ = [
    "ANY",
    "Rules",
    "Expected",
    "OneOf",
    "one_of",
    "compare",
    "frame_problem",
    "show",
    "HEADER_TAGS",
    "TIMESTAMP_TAGS",
    "TEXT_TAGS",
]

#: Standard header tags after BeginString, BodyLength and MsgType (FIX 4.2 and 4.4).
HEADER_TAGS = frozenset((34, 43, 49, 50, 52, 56, 57, 90, 91, 97, 115, 116, 122, 128, 129, 142, 143, 144, 145,
                         212, 213, 347, 369, 627, 628, 629, 630, 1128, 1129))
TIMESTAMP_TAGS = frozenset((42, 52, 60, 122))
TEXT_TAGS = frozenset((58, 354, 355))
_FRAME_HEAD = re.compile(rb"8=[^\x01]*\x019=(\d+)\x01")


class _Any:
    def __repr__(self) -> str:
        return "ANY"


#: Matcher: the field must be present, with any value.
ANY: Any = _Any()


@dataclass(frozen=True)
class OneOf:
    """Matcher: the field must hold one of ``values``."""

    values: tuple[bytes, ...]

    def __repr__(self) -> str:
        return "one of " + "/".join(show(v) for v in self.values)


def one_of(*values: Any) -> OneOf:
    """Return a matcher accepting any of ``values`` (str, bytes or int)."""
    return OneOf(tuple(encode_value(v) for v in values))


@dataclass(frozen=True)
class Rules:
    """How received messages are compared with expected ones (see the module docstring)."""

    field_order: str = "sections"  # "sections" | "strict" | "any"
    timestamps: str = "format"  # "format" | "exact"
    text: str = "ignore"  # "ignore" | "contains" | "exact"
    extra_fields: bool = True
    clock_tolerance: float | None = None  # seconds; None: SendingTime not compared with the local clock

    def __post_init__(self) -> None:
        for name, allowed in (("field_order", ("sections", "strict", "any")), ("timestamps", ("format", "exact")),
                              ("text", ("ignore", "contains", "exact"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"Rules.{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")


@dataclass(frozen=True)
class Expected:
    """What a received message must look like: its MsgType, fields (value or matcher) and absent tags."""

    msg_type: bytes
    fields: Mapping[int, Any] = field(default_factory=dict)
    absent: tuple[int, ...] = ()
    order: tuple[int, ...] = ()  # the tags in expected order, for Rules(field_order="strict")
    label: str = ""

    @classmethod
    def of(cls, msg_type: bytes | str, fields: Mapping[int, Any] | Iterable[tuple[int, Any]] = (),
           absent: Iterable[int] = (), label: str = "") -> "Expected":
        """Build an expectation; values may be str, bytes, int or matchers."""
        pairs = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
        norm = {tag: v if isinstance(v, (OneOf, _Any)) or callable(v) else encode_value(v) for tag, v in pairs}
        mt = msg_type.encode("ascii") if isinstance(msg_type, str) else msg_type
        return cls(mt, norm, tuple(absent), tuple(t for t, _ in pairs), label)

    def describe(self) -> str:
        parts = [f"35={show(self.msg_type)}"]
        for tag, v in self.fields.items():
            parts.append(f"{tag}={show(v) if isinstance(v, bytes) else repr(v)}")
        parts.extend(f"no {t}" for t in self.absent)
        return " ".join(parts)


def show(data: Any) -> str:
    """Bytes for a report line: SOH as ``|``, other control bytes escaped (``fixgw.logsafe``)."""
    return printable(data)


def frame_problem(raw: bytes) -> str | None:
    """Why a received frame's own BodyLength or CheckSum is wrong, or None."""
    head = _FRAME_HEAD.match(raw)
    if head is None:
        return "no BeginString/BodyLength at the start"
    body = len(raw) - head.end() - 7
    if body != int(head.group(1)):
        return f"BodyLength {int(head.group(1))} but the body has {body} bytes"
    if not raw[-7:-4] == b"10=" or not raw[-4:-1].isdigit() or int(raw[-4:-1]) != sum(raw[:-7]) % 256:
        return f"CheckSum {show(raw[-4:-1])} but the bytes sum to {sum(raw[:-7]) % 256:03d}"
    return None


def compare(expected: Expected, msg: Message, rules: Rules = Rules(), *, now_ns: int | None = None,
            notes: list[str] | None = None) -> str | None:
    """Return the first difference between ``expected`` and the received ``msg``, or None.

    ``notes`` (if given) receives one line per ``one_of`` matcher saying which value was seen.
    """
    raw = msg.raw
    if raw is not None:
        problem = frame_problem(raw)
        if problem is not None:
            return problem
    got_type = msg.get(35)
    if got_type != expected.msg_type:
        return f"expected MsgType {show(expected.msg_type)} but received {show(got_type)}"
    order_problem = _order_problem(msg.fields, expected, rules)
    if order_problem:
        return order_problem
    for tag, want in expected.fields.items():
        if tag in TEXT_TAGS and rules.text == "ignore":
            continue
        got = msg.get(tag)
        if got is None:
            return f"tag {tag} missing (expected {_want_text(want)})"
        problem = _value_problem(tag, want, got, rules, notes)
        if problem:
            return problem
    for tag in expected.absent:
        if tag in msg:
            return f"tag {tag} should be absent but is {show(msg.get(tag))}"
    if not rules.extra_fields:
        named = set(expected.fields) | {8, 9, 35, 10, 34, 49, 52, 56}
        extra = sorted({t for t, _ in msg.fields} - named)
        if extra:
            return "extra field(s) " + ",".join(map(str, extra))
    if rules.clock_tolerance is not None and now_ns is not None:
        sent = msg.get(52)
        at = parse_utc_timestamp(sent) if sent else None
        if at is None:
            return f"tag 52: {show(sent)} is not a UTC timestamp"
        if abs(at - now_ns) > rules.clock_tolerance * 1e9:
            return f"tag 52: SendingTime {show(sent)} is {abs(at - now_ns) / 1e9:.1f}s from the local clock"
    return None


def _want_text(want: Any) -> str:
    return show(want) if isinstance(want, bytes) else repr(want)


def _value_problem(tag: int, want: Any, got: bytes, rules: Rules, notes: list[str] | None) -> str | None:
    if isinstance(want, _Any):
        return None
    if isinstance(want, OneOf):
        if got not in want.values:
            return f"tag {tag}: expected {want!r} but was {show(got)}"
        if notes is not None and len(want.values) > 1:
            notes.append(f"{tag}={show(got)}")
        return None
    if callable(want):
        verdict = want(got)
        return None if verdict in (True, None) else f"tag {tag}: {show(got)} {verdict or 'does not match'}"
    if tag in TIMESTAMP_TAGS and rules.timestamps == "format":
        return None if parse_utc_timestamp(got) is not None else f"tag {tag}: {show(got)} is not a UTC timestamp"
    if tag in TEXT_TAGS and rules.text == "contains":
        return None if want.lower() in got.lower() else f"tag {tag}: {show(got)} does not contain {show(want)}"
    if got != want:
        return f"tag {tag}: expected {show(want)} but was {show(got)}"
    return None


def _order_problem(fields: Sequence[tuple[int, bytes]], expected: Expected, rules: Rules) -> str | None:
    if rules.field_order == "any":
        return None
    tags = [t for t, _ in fields]
    if tags[:3] != [8, 9, 35] or tags[-1:] != [10]:
        return f"the frame starts {tags[:3]} and ends {tags[-1:]}: FIX wants 8, 9, 35 first and 10 last"
    if rules.field_order == "sections":
        in_body = None
        for tag in tags[3:-1]:
            if tag not in HEADER_TAGS:
                in_body = in_body or tag
            elif in_body is not None:
                return f"header tag {tag} after body tag {in_body}"
        return None
    wanted = [t for t in expected.order if t not in (8, 9, 35, 10)]
    got = [t for t in tags[3:-1] if t in set(wanted)]
    if got != wanted:
        return f"fields in order {got}, expected {wanted}"
    return None


