"""The compiled validator (``fixgw_ext._validate``) accepts exactly the messages the pure walker accepts.

``Validator.passes(msg, skip_from, allow)`` must be True if and only if the pure ``Dictionary.validate``
raises nothing, and ``validate`` must give the pure verdict (reason, RefTagID, text) either way: over
generated and mutated messages, random values of every FIX type, both options, and the three shapes a
message comes in (pure ``Message``, compiled ``Message`` read through its spans, compiled ``Message`` whose
``fields`` were built).
"""

from __future__ import annotations

import calendar
import functools
import os
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixgw.codec import _parser as pure_parser
from fixgw.codec import encode, parse_utc_timestamp
from fixgw.codec.dictionary import Dictionary, _read_json, default_specs_dir, load_dictionary
from fixgw.errors import ValidationError
from test_validation_properties import TEXT, _excluded, draw_message, draw_value

ext_codec = pytest.importorskip("fixgw_ext._codec")
pytest.importorskip("fixgw_ext._validate")
if load_dictionary("FIX.4.4").validation != "compiled":  # FIXGW_NO_EXTENSIONS=1: nothing to compare
    pytest.skip("the compiled validator is switched off", allow_module_level=True)

PROFILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TS = b"20240305-14:30:15.123"
OPTIONS = [(0, False), (5000, False), (0, True), (5000, True)]  # (skip_from, allow_unknown)
Verdict = "tuple[int, int | None, str] | None"


@functools.lru_cache(maxsize=None)
def pure_dictionary(version: str) -> Dictionary:
    """A private copy of the shipped dictionary with the compiled twin switched off."""
    folder = default_specs_dir()
    names = {"FIX.4.2": "FIX42.json", "FIX.4.4": "FIX44.json"}
    d = Dictionary(_read_json(folder / names[version]), _read_json(folder / "extensions.json"))
    d._fast = None
    return d


def verdict(d: Dictionary, msg: Any, skip_from: int, allow: bool) -> Any:
    try:
        d.validate(msg, validate_user_defined_fields=not skip_from, allow_unknown_message_fields=allow)
    except ValidationError as err:
        return (err.reason, err.ref_tag, err.text)
    return None


def shapes(raw: bytes) -> list[tuple[str, Any]]:
    """The same frame as a pure Message, a compiled one read by spans, and a compiled one with fields."""
    out = []
    for name, parser_cls in (("pure", pure_parser.Parser), ("spans", ext_codec.Parser), ("fields", ext_codec.Parser)):
        p = parser_cls()
        p.feed(raw)
        items = list(p)
        assert len(items) == 1 and hasattr(items[0], "fields"), items
        if name == "fields":
            items[0].fields
        out.append((name, items[0]))
    return out


def assert_twin_agrees(version: str, raw: bytes, skip_from: int = 0, allow: bool = False) -> bool:
    """Check every shape of ``raw`` under the given options; return whether the pure walker accepts it."""
    compiled = load_dictionary(version)
    expected = verdict(pure_dictionary(version), shapes(raw)[0][1], skip_from, allow)
    for name, msg in shapes(raw):
        fast = compiled._fast.passes(msg, skip_from, allow)
        assert fast == (expected is None), (name, expected, msg)
        assert verdict(compiled, msg, skip_from, allow) == expected, name
    return expected is None


# -- properties -------------------------------------------------------------------------------------------


@PROFILE
@given(st.data())
def test_twin_generated_and_mutated_messages_same_verdict_as_pure(data: st.DataObject) -> None:
    d, msg_type, fields = draw_message(data)
    excluded = _excluded(d)
    for _ in range(data.draw(st.integers(0, 3))):
        kind = data.draw(st.sampled_from(["value", "insert", "delete", "swap", "duplicate", "count", "msgtype"]))
        if kind == "value" and fields:
            i = data.draw(st.integers(0, len(fields) - 1))
            junk = data.draw(st.one_of(st.binary(max_size=8), st.text("0123456789-.:wYN ", max_size=12).map(str.encode)))
            fields[i] = (fields[i][0], junk.replace(b"\x01", b""))
        elif kind == "insert":
            known = sorted(t for t in d.fields if t not in excluded)
            tag = data.draw(st.one_of(st.sampled_from(known), st.integers(1, 20000).filter(lambda t: t not in excluded)))
            value = draw_value(data, d, tag) if d.field(tag) else data.draw(TEXT).encode()
            fields.insert(data.draw(st.integers(0, len(fields))), (tag, value))
        elif kind == "delete" and fields:
            del fields[data.draw(st.integers(0, len(fields) - 1))]
        elif kind == "swap" and len(fields) > 1:
            i, j = data.draw(st.lists(st.integers(0, len(fields) - 1), min_size=2, max_size=2, unique=True))
            fields[i], fields[j] = fields[j], fields[i]
        elif kind == "duplicate" and fields:
            i = data.draw(st.integers(0, len(fields) - 1))
            fields.insert(data.draw(st.integers(0, len(fields))), fields[i])
        elif kind == "count":
            counts = [i for i, (t, v) in enumerate(fields) if v.isdigit() and d.field(t) and d.field(t).type == "NUMINGROUP"]
            if counts:
                i = data.draw(st.sampled_from(counts))
                fields[i] = (fields[i][0], data.draw(st.sampled_from([b"0", b"1", b"2", b"3", b"007", b"99999999999999999999"])))
        elif kind == "msgtype":
            msg_type = data.draw(st.sampled_from(["D", "8", "A", "0", "ZZ", "U1", "q", "AE"]))
    skip_from, allow = data.draw(st.sampled_from(OPTIONS))
    assert_twin_agrees(d.begin_string, encode(d.begin_string, msg_type, fields), skip_from, allow)


def _typed_slots() -> list[tuple[str, str, int, str, int]]:
    """(version, msg_type, tag, FIX type, count tag or 0): one body tag per FIX type and enum-ness.

    A top-level body tag where there is one, else a member of a top-level group whose instances need
    nothing but their delimiter (then the message carries one instance: count, delimiter, the tag).
    """
    slots: dict[tuple[str, str, bool], tuple[str, str, int, str, int]] = {}
    for version in ("FIX.4.2", "FIX.4.4"):
        d = load_dictionary(version)
        excluded = _excluded(d)
        inner: list[tuple[str, str, int, str, int]] = []
        for mt, mdef in sorted(d.message_types.items()):
            for tag, (section, group) in sorted(mdef.top.items()):
                f = d.field(tag)
                if section != 1 or f is None or tag in excluded:
                    continue
                if group is None:
                    slots.setdefault((version, f.type, bool(f.values)), (version, mt.decode(), tag, f.type, 0))
                elif set(group.required) == {group.delimiter}:
                    for member, nested in sorted(group.fields.items()):
                        g = d.field(member)
                        if nested is None and g is not None and member != group.delimiter and member not in excluded:
                            inner.append((version, mt.decode(), member, g.type, tag))
        for slot in inner:
            f = d.field(slot[2])
            assert f is not None
            slots.setdefault((version, f.type, bool(f.values)), slot)
    return sorted(slots.values())


TYPED_SLOTS = _typed_slots()


def _valid(d: Dictionary, tag: int) -> bytes:
    f = d.field(tag)
    if f is not None and f.values:
        return sorted(f.values)[0]
    return _SAMPLE.get(f.type if f else "STRING", b"x")


def _minimal(d: Dictionary, msg_type: str, tag: int = 0, value: bytes = b"", count_tag: int = 0) -> list[Any]:
    """Header, the message's required top-level fields (required groups empty) and ``tag=value``."""
    mdef = d.message_types[msg_type.encode()]
    out: list[tuple[int, bytes]] = [(49, b"CLIENT"), (56, b"FIXGW"), (34, b"2"), (52, TS)]
    for t in mdef.required:
        if t in (tag, count_tag):
            continue
        out.append((t, b"0" if mdef.top[t][1] is not None else _valid(d, t)))
    if count_tag:
        group = mdef.top[count_tag][1]
        assert group is not None
        out += [(count_tag, b"1"), (group.delimiter, _valid(d, group.delimiter))]
    if tag:
        out.append((tag, value))
    return out


_SAMPLE = {"INT": b"1", "LENGTH": b"1", "NUMINGROUP": b"0", "SEQNUM": b"1", "DAYOFMONTH": b"1", "FLOAT": b"1",
           "QTY": b"1", "PRICE": b"1", "PRICEOFFSET": b"1", "AMT": b"1", "PERCENTAGE": b"1", "CHAR": b"A",
           "BOOLEAN": b"Y", "UTCTIMESTAMP": TS, "UTCTIMEONLY": b"14:30:15", "UTCDATE": b"20240305",
           "UTCDATEONLY": b"20240305", "LOCALMKTDATE": b"20240305", "MONTHYEAR": b"202403"}

#: Shapes near every format's edges: signs, dots, separators, week codes, leap days, leading zeros.
EDGES = [
    b"-", b".", b"-.5", b"1.", b"-0", b"--1", b"0.0.0", b"1e5", b"+1", b"0", b"00", b"01", b"31", b"32", b"1 ",
    b" 1", b"A B", b"1  2", b"Y", b"N", b"y", b"\xff",
    b"20240229", b"20230229", b"00000229", b"19000229", b"20000229", b"20240331", b"20240431",
    b"202413", b"202400", b"202403w5", b"202403w6", b"202403w", b"202403w0",
    b"23:59:60", b"24:00:00", b"23:60:00", b"23:59:61", b"12:00:00.123", b"12:00:00.1234", b"12:00:00.",
    b"00000101-00:00:00", b"00010101-00:00:00", b"20240305-14:30:60.123456789", b"20240305-14:30:15.12",
    b"20240305-14:30:15.123", b"20240305-24:30:15",
]
TRICKY = st.one_of(
    st.text("0123456789-.:wYN ", max_size=24).map(str.encode), st.binary(max_size=6), st.sampled_from(EDGES)
)


@PROFILE
@given(st.data())
def test_twin_value_checks_every_type_same_verdict_as_pure(data: st.DataObject) -> None:
    version, msg_type, tag, _, count_tag = data.draw(st.sampled_from(TYPED_SLOTS))
    d = load_dictionary(version)
    f = d.field(tag)
    assert f is not None
    choices = [TRICKY, st.just(b"")]
    if f.values:
        enums = sorted(f.values)
        choices.append(st.lists(st.sampled_from(enums), min_size=1, max_size=3).map(b" ".join))
        choices.append(st.sampled_from(enums).map(lambda e: e + b"x"))
    value = data.draw(st.one_of(choices)).replace(b"\x01", b"")
    assert_twin_agrees(version, encode(version, msg_type, _minimal(d, msg_type, tag, value, count_tag)))


def _near_timestamps() -> st.SearchStrategy[bytes]:
    def spoil(ts: bytes, i: int, c: bytes) -> bytes:
        return ts[: i % (len(ts) + 1)] + c + ts[i % (len(ts) + 1) + 1 :]

    valid = st.builds(
        lambda y, mo, d, h, mi, s, frac: b"%04d%02d%02d-%02d:%02d:%02d%s" % (y, mo, d, h, mi, s, frac),
        st.sampled_from([0, 1, 1900, 2000, 2023, 2024, 9999]), st.sampled_from([0, 1, 2, 4, 12, 13]),
        st.sampled_from([0, 1, 28, 29, 30, 31, 32]), st.sampled_from([0, 9, 19, 20, 23, 24, 29, 30]),
        st.sampled_from([0, 59, 60]), st.sampled_from([0, 59, 60, 61]),
        st.sampled_from([b"", b".1", b".123", b".123456", b".123456789", b".1234", b"."]),
    )
    return st.one_of(
        valid,
        st.builds(spoil, valid, st.integers(0, 30), st.sampled_from([b"", b"0", b"9", b"-", b":", b".", b"x"])),
        st.text("0123456789-:.", max_size=28).map(str.encode),
    )


@settings(max_examples=400, deadline=None)
@given(_near_timestamps())
def test_twin_pure_timestamp_check_matches_the_timestamp_reader(value: bytes) -> None:
    from fixgw.codec import _validate as pure

    assert pure._is_utc_timestamp(value) == (parse_utc_timestamp(value) is not None)
    v = value[:8]
    by_calendar = (len(v) == 8 and v.isdigit() and 1 <= int(v[4:6]) <= 12
                   and 1 <= int(v[6:8]) <= calendar.monthrange(int(v[:4]), int(v[4:6]))[1])
    assert pure._is_date(v) == by_calendar


# -- examples ---------------------------------------------------------------------------------------------


def test_twin_every_typed_slot_minimal_message_passes() -> None:
    # The bases the value property mutates are themselves valid, so its "same verdict" is not vacuous.
    assert {s[3] for s in TYPED_SLOTS} >= {"UTCTIMEONLY", "UTCDATE", "DAYOFMONTH", "MONTHYEAR", "MULTIPLEVALUESTRING"}
    for version, msg_type, tag, _, count_tag in TYPED_SLOTS:
        d = load_dictionary(version)
        fields = _minimal(d, msg_type, tag, _valid(d, tag), count_tag)
        assert assert_twin_agrees(version, encode(version, msg_type, fields)), (version, msg_type, tag)


def test_twin_every_typed_slot_edge_values_same_verdict_as_pure() -> None:
    for version, msg_type, tag, _, count_tag in TYPED_SLOTS:
        d = load_dictionary(version)
        for value in EDGES + [e + b" " + e for e in sorted(d.field(tag).values)[:3]]:  # type: ignore[union-attr]
            assert_twin_agrees(version, encode(version, msg_type, _minimal(d, msg_type, tag, value, count_tag)))


def test_twin_year_zero_timestamp_is_not_a_timestamp() -> None:
    assert parse_utc_timestamp(b"00000101-00:00:00") is None
    assert parse_utc_timestamp(b"00010101-00:00:00") is not None


def test_twin_message_longer_than_stack_buffer_same_verdict_as_pure() -> None:
    parties = [f for k in range(80) for f in ((448, b"P-%d" % k), (447, b"D"), (452, b"3"))]
    body = [(11, b"ord-1"), (453, b"80"), *parties, (55, b"BTC-USDT"), (54, b"1"), (60, TS), (38, b"1"), (40, b"1")]
    head = [(49, b"CLIENT"), (56, b"FIXGW"), (34, b"2"), (52, TS)]
    assert assert_twin_agrees("FIX.4.4", encode("FIX.4.4", "D", head + body))
    body[1] = (453, b"79")
    assert not assert_twin_agrees("FIX.4.4", encode("FIX.4.4", "D", head + body))


def test_twin_stamps_near_wrap_around_still_detect_repeats() -> None:
    d = load_dictionary("FIX.4.4")
    head = [(49, b"CLIENT"), (56, b"FIXGW"), (34, b"2"), (52, TS)]
    good = head + [(11, b"o"), (453, b"2"), (448, b"A"), (447, b"D"), (448, b"B"), (447, b"D"), (54, b"1"),
                   (60, TS), (38, b"1"), (40, b"1")]
    repeat_in_instance = good[:8] + [(447, b"D")] + good[8:]
    repeat_on_top = good + [(38, b"2")]
    for start in (0xFFFFFFF0 - 40, 0xFFFFFFFF - 3, 0xFFFFFFFF):
        for fields, ok in ((good, True), (repeat_in_instance, False), (repeat_on_top, False)):
            d._fast._stamp = start
            p = ext_codec.Parser()
            p.feed(encode("FIX.4.4", "D", fields))
            assert d._fast.passes(next(iter(p))) is ok, (hex(start), fields)


def test_twin_fresh_validator_near_wrap_around_still_finds_missing_required_tag() -> None:
    # A fresh validator's stamp rows are all 0: a stamp that wrapped to 0 would see every tag as present.
    from fixgw_ext._validate import Validator

    d = load_dictionary("FIX.4.4")
    head = [(49, b"CLIENT"), (56, b"FIXGW"), (34, b"2"), (52, TS)]
    no_side = encode("FIX.4.4", "D", head + [(11, b"o"), (60, TS), (38, b"1"), (40, b"1")])
    for start in (0xFFFFFFFF - 3, 0xFFFFFFFF):
        v = Validator(d)
        p = ext_codec.Parser()
        p.feed(no_side + no_side)
        first, second = list(p)
        assert v.passes(first) is False  # marks the tags present, with low stamps; Side(54) stays 0
        v._stamp = start
        assert v.passes(second) is False


def test_twin_checksum_before_trailer_fields_left_to_pure() -> None:
    class FieldsOnly:
        def __init__(self, fields: list[Any]) -> None:
            self.fields = fields

    d = load_dictionary("FIX.4.4")
    msg = FieldsOnly([(8, b"FIX.4.4"), (9, b"5"), (35, b"0"), (49, b"C"), (56, b"F"), (34, b"2"), (52, TS),
                      (10, b"000"), (93, b"3"), (89, b"abc")])
    assert d._fast.passes(msg) is False
    assert verdict(d, msg, 0, False) == verdict(pure_dictionary("FIX.4.4"), msg, 0, False)
    assert verdict(d, msg, 0, False)[:2] == (14, 10)  # type: ignore[index]


def test_twin_required_user_defined_tag_counts_as_present_when_unchecked() -> None:
    # Only a custom dictionary can require a tag >= 5000; with user-defined fields unchecked it is
    # present without being looked at, in both walkers.
    folder = default_specs_dir()
    spec = _read_json(folder / "FIX44.json")
    spec["fields"].append({"number": 5001, "name": "DeskCode", "type": "INT"})
    for m in spec["messages"]:
        if m["msgtype"] == "0":
            m["members"].append({"tag": 5001, "required": True})
    d = Dictionary(spec, _read_json(folder / "extensions.json"))
    head = [(49, b"CLIENT"), (56, b"FIXGW"), (34, b"2"), (52, TS)]
    for body, ok_unchecked in (([(5001, b"x")], True), ([], False)):
        p = ext_codec.Parser()
        p.feed(encode("FIX.4.4", "0", head + body))
        msg = next(iter(p))
        assert d._fast.passes(msg, 5000, False) is ok_unchecked
        assert d._fast.passes(msg) is False  # checked: "x" is no INT, or 5001 is missing


def test_twin_unusual_field_lists_left_to_pure() -> None:
    class FieldsOnly:
        def __init__(self, fields: list[Any]) -> None:
            self.fields = fields

    d = load_dictionary("FIX.4.4")
    base = [(8, b"FIX.4.4"), (9, b"5"), (35, b"0"), (49, b"C"), (56, b"F"), (34, b"2"), (52, TS), (10, b"000")]
    assert d._fast.passes(FieldsOnly(base)) is True
    assert d._fast.passes(FieldsOnly(tuple(base))) is True
    odd = [base[:3] + [(49, "C")] + base[4:], base[:3] + [(True, b"C")] + base[4:], 
           base[:3] + [(2**40, b"C")] + base[4:], base[:3] + [(-1, b"C")] + base[4:], base[:2]]
    for fields in odd:
        assert d._fast.passes(FieldsOnly(fields)) is False  # left to the pure walker, whatever it says
        assert verdict(d, FieldsOnly(fields), 0, False) == verdict(pure_dictionary("FIX.4.4"), FieldsOnly(fields), 0, False)


def test_twin_compiled_message_validated_without_building_fields() -> None:
    head = [(49, b"CLIENT"), (56, b"FIXGW"), (34, b"2"), (52, TS)]
    p = ext_codec.Parser()
    p.feed(encode("FIX.4.4", "D", head + [(11, b"o"), (54, b"1"), (60, TS), (38, b"1"), (40, b"1")]))
    msg = next(iter(p))
    load_dictionary("FIX.4.4").validate(msg)
    assert msg._span_table() is not None  # None once ``fields`` is built
    msg.fields
    assert msg._span_table() is None


def test_twin_switched_off_without_extensions() -> None:
    code = "from fixgw.codec.dictionary import load_dictionary as l; print(l('FIX.4.4').validation)"
    env = {**os.environ, "FIXGW_NO_EXTENSIONS": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "pure"
    assert load_dictionary("FIX.4.4").validation == "compiled"
