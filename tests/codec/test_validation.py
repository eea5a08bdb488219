"""Dictionary.validate: standard messages pass; each SessionRejectReason (373) is raised with its RefTagID."""

from __future__ import annotations

import importlib
import time
from typing import Any

import pytest

from fixgw.codec import _parser as pure_parser
from fixgw.codec import encode
from fixgw.codec.dictionary import load_dictionary
from fixgw.errors import ValidationError

# Every test runs on the pure validator and on the compiled twin (tests/codec/conftest.py).
pytestmark = pytest.mark.usefixtures("validation_impl")

TS = "20240305-14:30:15.123"


def _parsers() -> list[Any]:
    out = [pytest.param(pure_parser.Parser, id="pure")]
    try:
        compiled = importlib.import_module("fixgw_ext._codec")
    except ImportError:
        out.append(pytest.param(None, id="compiled", marks=pytest.mark.skip(reason="fixgw_ext not built")))
    else:
        out.append(pytest.param(compiled.Parser, id="compiled"))
    return out


@pytest.fixture(params=_parsers())
def parser_cls(request: pytest.FixtureRequest) -> Any:
    return request.param


def header(seq: int = 2) -> list[tuple[int, Any]]:
    return [(49, "CLIENT"), (56, "FIXGW"), (34, seq), (52, TS)]


def parse(raw: bytes, parser_cls: Any = pure_parser.Parser) -> Any:
    p = parser_cls()
    p.feed(raw)
    items = list(p)
    assert len(items) == 1 and hasattr(items[0], "fields"), items
    return items[0]


def build(version: str, msg_type: str, body: list[tuple[int, Any]], hdr: list[tuple[int, Any]] | None = None,
          parser_cls: Any = pure_parser.Parser) -> Any:
    return parse(encode(version, msg_type, (header() if hdr is None else hdr) + body), parser_cls)


class FieldsOnly:
    """A message given as a bare field list, for shapes the framer would never produce."""

    def __init__(self, fields: list[tuple[int, bytes]]) -> None:
        self.fields = fields


def nos44() -> list[tuple[int, Any]]:
    return [
        (11, "ord-1"),
        (453, 2),
        (448, "ACCT-7"), (447, "D"), (452, 3),
        (448, "TRADER-1"), (447, "D"), (452, 11), (802, 1), (523, "desk-a"), (803, 2),
        (55, "BTC-USDT"),
        (54, "1"),
        (60, TS),
        (38, "0.015"),
        (40, "2"),
        (44, "64250.5"),
        (59, "1"),
        (18, "6 E"),
    ]


def nos42() -> list[tuple[int, Any]]:
    return [
        (11, "ord-1"), (21, "1"), (55, "ETH-USD"), (54, "2"), (60, TS), (38, "3"), (40, "2"), (44, "3100.25"),
        (59, "0"),
    ]


def expect(reason: int, ref_tag: int | None, version: str, msg: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        load_dictionary(version).validate(msg)
    err = info.value
    assert (err.reason, err.ref_tag) == (reason, ref_tag), err.text
    assert err.text
    return err


# -- valid standard messages ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["FIX.4.2", "FIX.4.4"])
def test_validate_logon_and_heartbeat_both_versions_pass(version: str, parser_cls: Any) -> None:
    d = load_dictionary(version)
    d.validate(build(version, "A", [(98, 0), (108, 30), (141, "Y")], parser_cls=parser_cls))
    d.validate(build(version, "A", [(98, 0), (108, 30), (384, 2), (372, "D"), (385, "R"), (372, "8"), (385, "S")],
                     parser_cls=parser_cls))
    d.validate(build(version, "0", [], parser_cls=parser_cls))
    d.validate(build(version, "0", [(112, "ping-1")], parser_cls=parser_cls))
    d.validate(build(version, "5", [(58, "bye")], parser_cls=parser_cls))


def test_validate_new_order_single_44_with_nested_parties_passes(parser_cls: Any) -> None:
    load_dictionary("FIX.4.4").validate(build("FIX.4.4", "D", nos44(), parser_cls=parser_cls))


def test_validate_new_order_single_42_passes(parser_cls: Any) -> None:
    load_dictionary("FIX.4.2").validate(build("FIX.4.2", "D", nos42(), parser_cls=parser_cls))


def test_validate_execution_reports_both_versions_pass(parser_cls: Any) -> None:
    er42 = [(37, "V-1"), (11, "ord-1"), (17, "E-1"), (20, "0"), (150, "1"), (39, "1"), (55, "ETH-USD"),
            (54, "2"), (38, "3"), (32, "1"), (31, "3100.25"), (151, "2"), (14, "1"), (6, "3100.25"),
            (60, TS)]
    load_dictionary("FIX.4.2").validate(build("FIX.4.2", "8", er42, parser_cls=parser_cls))
    er44 = [(37, "V-1"), (11, "ord-1"), (17, "E-1"), (150, "F"), (39, "2"),
            (453, 1), (448, "ACCT-7"), (447, "D"), (452, 3),
            (55, "BTC-USDT"), (54, "1"), (38, "0.015"), (32, "0.015"), (31, "64250.5"),
            (151, "0"), (14, "0.015"), (6, "64250.5"), (60, TS),
            (136, 1), (137, "0.01"), (138, "USDT"), (139, "4")]
    load_dictionary("FIX.4.4").validate(build("FIX.4.4", "8", er44, parser_cls=parser_cls))


def test_validate_header_group_and_trailer_fields_pass() -> None:
    hdr = header() + [(43, "Y"), (122, TS), (627, 2), (628, "HUB-A"), (629, TS), (628, "HUB-B")]
    load_dictionary("FIX.4.4").validate(build("FIX.4.4", "0", [], hdr))


def test_validate_empty_group_with_zero_count_passes() -> None:
    body = [(11, "ord-1"), (453, 0), (55, "BTC-USDT"), (54, "1"), (60, TS), (38, "1"), (40, "1")]
    load_dictionary("FIX.4.4").validate(build("FIX.4.4", "D", body))


def test_validate_typical_new_order_single_is_fast() -> None:
    d = load_dictionary("FIX.4.4")
    msg = build("FIX.4.4", "D", nos44())
    start = time.perf_counter()
    for _ in range(2000):
        d.validate(msg)
    per_call_us = (time.perf_counter() - start) / 2000 * 1e6
    assert per_call_us < 500, per_call_us  # tens of microseconds expected; generous bound for slow CI


# -- one test per SessionRejectReason ------------------------------------------------------------------


def test_validate_nonpositive_tag_reason_0_invalid_tag_number() -> None:
    msg = build("FIX.4.4", "0", [])
    fields = list(msg.fields)
    fields.insert(-1, (0, b"x"))
    expect(0, 0, "FIX.4.4", FieldsOnly(fields))


def test_validate_tag_absent_from_dictionary_reason_0_invalid_tag_number() -> None:
    expect(0, 4999, "FIX.4.4", build("FIX.4.4", "0", [(4999, "x")]))


def test_validate_missing_body_field_reason_1_required_tag_missing() -> None:
    body = [f for f in nos42() if f[0] != 21]  # HandlInst is required in 4.2 only
    expect(1, 21, "FIX.4.2", build("FIX.4.2", "D", body))
    load_dictionary("FIX.4.4").validate(build("FIX.4.4", "D", body))


def test_validate_missing_header_field_reason_1_required_tag_missing() -> None:
    hdr = [(49, "CLIENT"), (56, "FIXGW"), (34, 2)]
    expect(1, 52, "FIX.4.4", build("FIX.4.4", "0", [], hdr))


def test_validate_missing_required_group_member_reason_1_required_tag_missing() -> None:
    # NoMDEntries(268) in 4.2 MarketDataSnapshotFullRefresh: each instance needs MDEntryPx(270).
    good = [(55, "BTC-USD"), (268, 2), (269, "0"), (270, "100"), (269, "1"), (270, "101")]
    load_dictionary("FIX.4.2").validate(build("FIX.4.2", "W", good))
    bad = [(55, "BTC-USD"), (268, 2), (269, "0"), (270, "100"), (269, "1"), (271, "5")]
    err = expect(1, 270, "FIX.4.2", build("FIX.4.2", "W", bad))
    assert "268" in err.text


def test_validate_field_of_another_message_reason_2_not_defined_for_message_type() -> None:
    expect(2, 44, "FIX.4.4", build("FIX.4.4", "0", [(44, "1.5")]))


def test_validate_group_member_outside_group_reason_2_not_defined_for_message_type() -> None:
    body = [(11, "ord-1"), (448, "ACCT-7"), (54, "1"), (60, TS), (38, "1"), (40, "1")]
    err = expect(2, 448, "FIX.4.4", build("FIX.4.4", "D", body))
    assert "group" in err.text


def test_validate_unknown_user_defined_tag_reason_0_invalid_tag_number() -> None:
    # As QuickFIX answers: an unknown tag is invalid whatever its range (373=3 is never raised).
    expect(0, 5001, "FIX.4.4", build("FIX.4.4", "0", [(5001, "x")]))


def test_validate_user_defined_fields_off_lets_tags_from_5000_through_unchecked() -> None:
    d = load_dictionary("FIX.4.4")
    d.validate(build("FIX.4.4", "0", [(5001, "x"), (9999, b"")]), validate_user_defined_fields=False)
    with pytest.raises(ValidationError) as info:  # below 5000 an unknown tag is still invalid
        d.validate(build("FIX.4.4", "0", [(5001, "x"), (4999, "x")]), validate_user_defined_fields=False)
    assert (info.value.reason, info.value.ref_tag) == (0, 4999)


def test_validate_allow_unknown_message_fields_lets_unknown_and_foreign_tags_through() -> None:
    d = load_dictionary("FIX.4.4")
    msg = build("FIX.4.4", "0", [(4999, "x"), (44, "1.5"), (5001, "y")])
    d.validate(msg, allow_unknown_message_fields=True)
    with pytest.raises(ValidationError) as info:  # a known field's value is still checked
        body = [(11, "ord-1"), (4999, "x"), (55, "BTC-USDT"), (54, "Z"), (60, TS), (38, "1"), (40, "1")]
        d.validate(build("FIX.4.4", "D", body), allow_unknown_message_fields=True)
    assert (info.value.reason, info.value.ref_tag) == (5, 54)
    with pytest.raises(ValidationError) as info:  # a group member outside its group stays 373=2
        body = [(11, "ord-1"), (448, "ACCT-7"), (54, "1"), (60, TS), (38, "1"), (40, "1")]
        d.validate(build("FIX.4.4", "D", body), allow_unknown_message_fields=True)
    assert (info.value.reason, info.value.ref_tag) == (2, 448)


def test_validate_empty_value_reason_4_tag_without_value() -> None:
    expect(4, 58, "FIX.4.4", build("FIX.4.4", "5", [(58, b"")]))


def test_validate_value_not_in_enum_reason_5_value_incorrect() -> None:
    body = [(11, "ord-1"), (55, "BTC-USDT"), (54, "Z"), (60, TS), (38, "1"), (40, "1")]
    expect(5, 54, "FIX.4.4", build("FIX.4.4", "D", body))


def test_validate_multiple_value_string_bad_token_reason_5_value_incorrect() -> None:
    body = [(11, "ord-1"), (55, "BTC-USDT"), (54, "1"), (60, TS), (38, "1"), (40, "1"), (18, "6 ~")]
    expect(5, 18, "FIX.4.4", build("FIX.4.4", "D", body))


@pytest.mark.parametrize(
    ("tag", "value", "msg_type", "base"),
    [
        (38, "1.2.3", "D", "nos"),  # QTY
        (44, "1e5", "D", "nos"),  # PRICE: no exponents in FIX
        (60, "2024-03-05 14:30:15", "D", "nos"),  # UTCTIMESTAMP
        (60, "20240230-14:30:15", "D", "nos"),  # no 30 February
        (60, "00000101-14:30:15", "D", "nos"),  # no year 0: a clear 373=6, not a crash
        (432, "2024030", "D", "nos"),  # LOCALMKTDATE
        (114, "yes", "D", "nos"),  # BOOLEAN
        (108, "thirty", "A", "logon"),  # INT
        (40, "22", "D", "nos"),  # CHAR with enums: wrong shape is a format error, not a range error
    ],
)
def test_validate_badly_formed_value_reason_6_incorrect_data_format(tag: int, value: str, msg_type: str,
                                                                    base: str) -> None:
    if base == "nos":
        body = [(11, "ord-1"), (55, "BTC-USDT"), (54, "1"), (60, TS), (38, "1"), (40, "2"), (44, "10")]
    else:
        body = [(98, 0), (108, 30)]
    body = [(t, value if t == tag else v) for t, v in body]
    if tag not in dict(body):
        body.append((tag, value))
    expect(6, tag, "FIX.4.4", build("FIX.4.4", msg_type, body))


def test_validate_non_numeric_group_count_reason_6_incorrect_data_format() -> None:
    body = [(11, "ord-1"), (453, "x"), (55, "BTC-USDT"), (54, "1"), (60, TS), (38, "1"), (40, "1")]
    expect(6, 453, "FIX.4.4", build("FIX.4.4", "D", body))


def test_validate_unknown_msg_type_reason_11_invalid_msg_type() -> None:
    expect(11, 35, "FIX.4.4", build("FIX.4.4", "ZZ", []))
    # OrderMassCancelRequest exists from FIX 4.3 on.
    expect(11, 35, "FIX.4.2", build("FIX.4.2", "q", [(11, "m-1"), (530, "7")]))


def test_validate_repeated_body_tag_reason_13_tag_appears_more_than_once() -> None:
    body = nos42() + [(55, "ETH-USD")]
    expect(13, 55, "FIX.4.2", build("FIX.4.2", "D", body))


def test_validate_repeated_member_in_one_instance_reason_13_tag_appears_more_than_once() -> None:
    body = [(11, "ord-1"), (453, 1), (448, "A"), (447, "D"), (447, "D"), (54, "1"), (60, TS), (38, "1"),
            (40, "1")]
    expect(13, 447, "FIX.4.4", build("FIX.4.4", "D", body))


def test_validate_header_field_after_body_reason_14_out_of_order() -> None:
    hdr = [(49, "CLIENT"), (56, "FIXGW"), (34, 2)]
    expect(14, 52, "FIX.4.4", build("FIX.4.4", "1", [(112, "t-1"), (52, TS)], hdr))


def test_validate_body_field_after_trailer_reason_14_out_of_order() -> None:
    msg = build("FIX.4.4", "1", [(93, 2), (89, "ab"), (112, "t-1")])
    expect(14, 112, "FIX.4.4", msg)


def test_validate_checksum_not_last_reason_14_out_of_order() -> None:
    msg = build("FIX.4.4", "0", [])
    fields = list(msg.fields)
    fields.insert(len(fields) - 1, fields[-1])
    fields[-1] = (112, b"late")
    expect(14, 10, "FIX.4.4", FieldsOnly(fields))


def test_validate_framing_fields_not_first_reason_14_or_1() -> None:
    fields = list(build("FIX.4.4", "0", []).fields)
    swapped = [fields[0], fields[2], fields[1], *fields[3:]]
    expect(14, 9, "FIX.4.4", FieldsOnly(swapped))
    expect(1, 35, "FIX.4.4", FieldsOnly([f for f in fields if f[0] != 35]))


def test_validate_dictionary_data_tags_frame_data_fields_in_parser() -> None:
    d = load_dictionary("FIX.4.4")
    raw = encode("FIX.4.4", "A", header() + [(98, 0), (108, 30), (95, 5), (96, b"a\x01b=c")])
    p = pure_parser.Parser(data_tags=d.data_tags)
    p.feed(raw)
    msg = next(iter(p))
    assert msg.get(96) == b"a\x01b=c"
    d.validate(msg)


def test_validate_group_instance_not_starting_with_delimiter_reason_15_out_of_order() -> None:
    body = [(11, "ord-1"), (453, 1), (447, "D"), (448, "A"), (54, "1"), (60, TS), (38, "1"), (40, "1")]
    expect(15, 447, "FIX.4.4", build("FIX.4.4", "D", body))


@pytest.mark.parametrize("count", [0, 1, 3])
def test_validate_group_count_differs_from_instances_reason_16_incorrect_num_in_group(count: int) -> None:
    body = [(11, "ord-1"), (453, count), (448, "A"), (452, 3), (448, "B"), (452, 1),
            (54, "1"), (60, TS), (38, "1"), (40, "1")]
    expect(16, 453, "FIX.4.4", build("FIX.4.4", "D", body))


def test_validate_nested_group_count_wrong_reason_16_names_nested_count_tag() -> None:
    body = [(11, "ord-1"), (453, 1), (448, "A"), (452, 3), (802, 2), (523, "x"), (803, 2),
            (54, "1"), (60, TS), (38, "1"), (40, "1")]
    expect(16, 802, "FIX.4.4", build("FIX.4.4", "D", body))


def test_validate_missing_group_after_count_reason_16_incorrect_num_in_group() -> None:
    body = [(11, "ord-1"), (453, 2), (54, "1"), (60, TS), (38, "1"), (40, "1")]
    expect(16, 453, "FIX.4.4", build("FIX.4.4", "D", body))
