"""Properties of Dictionary.validate over messages generated from the dictionaries themselves.

Valid messages (required fields, a random choice of optional fields and groups, nested groups, body in any
order) always pass; a mutated message either passes or raises ValidationError with a known 373 reason,
never anything else; targeted mutations raise exactly the expected reason and RefTagID.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixgw.codec import _parser as pure_parser
from fixgw.codec import encode, format_utc_timestamp
from fixgw.codec.dictionary import Dictionary, GroupDef, MemberDef, load_dictionary
from fixgw.errors import ValidationError

# Every test runs on the pure validator and on the compiled twin (tests/codec/conftest.py).
pytestmark = pytest.mark.usefixtures("validation_impl")

ALLOWED_REASONS = {0, 1, 2, 3, 4, 5, 6, 11, 13, 14, 15, 16}
VERSIONS = ("FIX.4.2", "FIX.4.4")
APP_TYPES = ("D", "F", "G", "H", "8", "9", "j", "A", "0", "1", "2", "3", "4", "5")
APP_TYPES_44 = APP_TYPES + ("q", "r", "AF")
TEXT = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./:", min_size=1, max_size=10)
PROFILE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Field = tuple[int, bytes]


def _excluded(d: Dictionary) -> set[int]:
    # Length-prefixed data fields are framed by the parser, not free text; the framer's own fields are
    # written by the encoder.
    return set(d.data_tags) | set(d.data_tags.values()) | {8, 9, 35, 10}


def draw_value(data: st.DataObject, d: Dictionary, tag: int) -> bytes:
    f = d.field(tag)
    assert f is not None
    enums = sorted(f.values)
    if enums:
        if f.is_multi_value:
            picked = data.draw(st.lists(st.sampled_from(enums), min_size=1, max_size=3, unique=True))
            return b" ".join(picked)
        return data.draw(st.sampled_from(enums))
    t = f.type
    if t == "INT":
        return b"%d" % data.draw(st.integers(-10**6, 10**6))
    if t in ("LENGTH", "NUMINGROUP", "SEQNUM"):
        return b"%d" % data.draw(st.integers(0, 10**6))
    if t == "DAYOFMONTH":
        return b"%d" % data.draw(st.integers(1, 31))
    if t in ("FLOAT", "QTY", "PRICE", "PRICEOFFSET", "AMT", "PERCENTAGE"):
        whole = data.draw(st.integers(-10**9, 10**9))
        frac = data.draw(st.sampled_from(["", "5", "25", "00000001"]))
        return (f"{whole}.{frac}" if frac else str(whole)).encode()
    if t == "CHAR":
        return data.draw(st.sampled_from([b"A", b"z", b"7"]))
    if t == "BOOLEAN":
        return data.draw(st.sampled_from([b"Y", b"N"]))
    if t == "UTCTIMESTAMP":
        ns = data.draw(st.integers(0, 4_102_444_800 * 10**9 - 1))
        return format_utc_timestamp(ns, data.draw(st.sampled_from([0, 3, 6, 9])))
    if t == "UTCTIMEONLY":
        return format_utc_timestamp(data.draw(st.integers(0, 86_399)) * 10**9, 0)[9:]
    if t in ("UTCDATE", "UTCDATEONLY", "LOCALMKTDATE"):
        return format_utc_timestamp(data.draw(st.integers(0, 4_102_444_799)) * 10**9, 0)[:8]
    if t == "MONTHYEAR":
        return format_utc_timestamp(data.draw(st.integers(0, 4_102_444_799)) * 10**9, 0)[:6]
    return data.draw(TEXT).encode()


def draw_members(data: st.DataObject, d: Dictionary, members: tuple[MemberDef, ...], depth: int) -> list[list[Field]]:
    """Return chunks: a plain field is one chunk, a group (count + instances) is one chunk."""
    excluded = _excluded(d)
    chunks: list[list[Field]] = []
    for m in members:
        if m.tag in excluded:
            continue
        if not m.required and not data.draw(st.booleans()):
            continue
        if m.group is not None:
            if depth >= 2 and not m.required:
                continue
            chunks.append(draw_group(data, d, m.group, depth + 1))
        else:
            chunks.append([(m.tag, draw_value(data, d, m.tag))])
    return chunks


def draw_group(data: st.DataObject, d: Dictionary, g: GroupDef, depth: int) -> list[Field]:
    n = data.draw(st.integers(0, 2))
    out: list[Field] = [(g.count_tag, b"%d" % n)]
    for _ in range(n):
        first, *rest = g.members
        out.append((first.tag, draw_value(data, d, first.tag)))
        for chunk in draw_members(data, d, tuple(rest), depth):
            out.extend(chunk)
    return out


def draw_message(data: st.DataObject) -> tuple[Dictionary, str, list[Field]]:
    version = data.draw(st.sampled_from(VERSIONS))
    d = load_dictionary(version)
    msg_type = data.draw(st.sampled_from(APP_TYPES_44 if version == "FIX.4.4" else APP_TYPES))
    header: list[Field] = [(49, b"CLIENT"), (56, b"FIXGW"), (34, b"%d" % data.draw(st.integers(1, 10**6))),
                           (52, draw_value(data, d, 52))]
    if data.draw(st.booleans()):
        header += [(43, b"Y"), (122, draw_value(data, d, 122))]
    chunks = draw_members(data, d, d.message_types[msg_type.encode()].members, 0)
    chunks = data.draw(st.permutations(chunks))
    body = [f for chunk in chunks for f in chunk]
    return d, msg_type, header + body


def frame(version: str, msg_type: str, fields: list[Field]) -> Any:
    p = pure_parser.Parser()
    p.feed(encode(version, msg_type, fields))
    items = list(p)
    assert len(items) == 1 and hasattr(items[0], "fields"), items
    return items[0]


def outcome(d: Dictionary, msg: Any) -> ValidationError | None:
    try:
        d.validate(msg)
    except ValidationError as err:
        assert err.reason in ALLOWED_REASONS, err
        assert err.text
        return err
    return None


@PROFILE
@given(st.data())
def test_validation_generated_valid_message_passes(data: st.DataObject) -> None:
    d, msg_type, fields = draw_message(data)
    d.validate(frame(d.begin_string, msg_type, fields))


@PROFILE
@given(st.data())
def test_validation_arbitrary_mutation_gives_validation_error_or_passes(data: st.DataObject) -> None:
    d, msg_type, fields = draw_message(data)
    excluded = _excluded(d)
    kind = data.draw(st.sampled_from(["value", "insert", "delete", "swap", "msgtype"]))
    if kind == "value" and fields:
        i = data.draw(st.integers(0, len(fields) - 1))
        junk = data.draw(st.binary(max_size=6).map(lambda b: b.replace(b"\x01", b"")))
        fields[i] = (fields[i][0], junk)
    elif kind == "insert":
        tag = data.draw(st.integers(1, 20000).filter(lambda t: t not in excluded))
        value = data.draw(st.one_of(TEXT.map(str.encode), st.just(b"")))
        fields.insert(data.draw(st.integers(0, len(fields))), (tag, value))
    elif kind == "delete" and fields:
        del fields[data.draw(st.integers(0, len(fields) - 1))]
    elif kind == "swap" and len(fields) > 1:
        i, j = data.draw(st.lists(st.integers(0, len(fields) - 1), min_size=2, max_size=2, unique=True))
        fields[i], fields[j] = fields[j], fields[i]
    elif kind == "msgtype":
        msg_type = data.draw(st.sampled_from(["D", "8", "A", "ZZ", "U1", "q"]))
    outcome(d, frame(d.begin_string, msg_type, fields))


@PROFILE
@given(st.data())
def test_validation_targeted_mutation_raises_expected_reason_and_ref_tag(data: st.DataObject) -> None:
    d, msg_type, fields = draw_message(data)
    top = d.message_types[msg_type.encode()].top
    top_positions = _top_level_positions(d, msg_type, fields)
    kind = data.draw(st.sampled_from(["drop_required", "duplicate", "empty", "unknown", "user_defined", "count"]))
    if kind == "drop_required":
        required = [i for i in top_positions if fields[i][0] in d.message_types[msg_type.encode()].required_all]
        i = data.draw(st.sampled_from(required))
        tag = fields[i][0]
        if top[tag][1] is not None:
            end = _group_end(d, msg_type, fields, i)
            del fields[i:end]
        else:
            del fields[i]
        expected = (1, tag)
    elif kind == "duplicate":
        plain = [i for i in top_positions if top[fields[i][0]][1] is None]
        i = data.draw(st.sampled_from(plain))
        fields.insert(i + 1, fields[i])
        expected = (13, fields[i][0])
    elif kind == "empty":
        i = data.draw(st.integers(0, len(fields) - 1))
        fields[i] = (fields[i][0], b"")
        expected = (4, fields[i][0])
    elif kind in ("unknown", "user_defined"):
        lo, hi = (1, 4999) if kind == "unknown" else (5000, 20000)
        tag = data.draw(st.integers(lo, hi).filter(lambda t: d.field(t) is None))
        # Between top-level fields: inside a group an unknown tag ends the group first (373=16).
        fields.insert(data.draw(st.sampled_from([*top_positions, len(fields)])), (tag, b"x"))
        expected = (0, tag)  # unknown, the user-defined range included (as QuickFIX answers)
    else:
        groups = [i for i in top_positions if top[fields[i][0]][1] is not None]
        if not groups:
            return
        i = data.draw(st.sampled_from(groups))
        n = int(fields[i][1])
        fields[i] = (fields[i][0], b"%d" % (n + data.draw(st.sampled_from([1, 2, 7]))))
        expected = (16, fields[i][0])
    err = outcome(d, frame(d.begin_string, msg_type, fields))
    assert err is not None, (kind, fields)
    assert (err.reason, err.ref_tag) == expected, (kind, err.text)


def _top_level_positions(d: Dictionary, msg_type: str, fields: list[Field]) -> list[int]:
    """Indexes of the fields that are not inside a group instance."""
    top = d.message_types[msg_type.encode()].top
    out = []
    i = 0
    while i < len(fields):
        out.append(i)
        i = _group_end(d, msg_type, fields, i) if top[fields[i][0]][1] is not None else i + 1
    return out


def _group_end(d: Dictionary, msg_type: str, fields: list[Field], i: int) -> int:
    members = d.group_members(msg_type.encode(), fields[i][0])
    j = i + 1
    while j < len(fields) and fields[j][0] in members:
        j += 1
    return j
