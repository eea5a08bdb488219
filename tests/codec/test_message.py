"""Message access: lookups, typed getters and their errors, groups, equality."""

from __future__ import annotations

import pickle
from decimal import Decimal

import pytest

from fixgw.codec import format_utc_timestamp
from fixgw.errors import FieldValueError, FixgwError

from codec_helpers import body, frame, pure_codec


def parse_one(codec, fields):
    p = codec.Parser()
    p.feed(frame(body((35, b"D"), *fields)))
    msg = p.next_event()
    assert isinstance(msg, codec.Message), msg
    return msg


@pytest.fixture(params=["parsed", "built"])
def make(request, codec):
    """Build a message from body fields either by parsing a frame or with the constructor."""

    def build(*fields):
        if request.param == "parsed":
            return parse_one(codec, fields)
        return codec.Message([(8, b"FIX.4.4"), (9, b"0"), (35, b"D"), *fields, (10, b"000")])

    return build


def test_message_get_first_occurrence_and_default(make):
    m = make((58, b"a"), (58, b"b"), (500, b"x"), (500, b"y"))
    assert m.get(58) == b"a" and m.get(500) == b"x"
    assert m.get(59) is None and m.get(59, b"d") == b"d"
    assert m.get_all(58) == [b"a", b"b"] and m.get_all(500) == [b"x", b"y"] and m.get_all(1) == []
    assert m[35] == b"D" and m.msg_type == b"D" and m.begin_string == b"FIX.4.4"
    assert 58 in m and 500 in m and 59 not in m


def test_message_missing_tag_key_error(make):
    m = make((58, b"a"))
    with pytest.raises(KeyError):
        m[59]
    for getter in ("get_int", "get_decimal", "get_str", "get_bool", "get_char", "get_utc_ns"):
        with pytest.raises(KeyError):
            getattr(m, getter)(59)


def test_message_odd_keys_behave_like_a_dict(codec):
    pure = parse_one(pure_codec(), [(58, b"a"), (1, b"Y")])
    m = parse_one(codec, [(58, b"a"), (1, b"Y")])
    for key in (58, 58.0, True, "58", -1, 0, 2**70, 300, 10**9, None):
        assert (key in m) == (key in pure)
        assert m.get(key) == pure.get(key)
        assert m.get_all(key) == pure.get_all(key)


def test_message_many_fields_lookup_beyond_index_table(make):
    filler = [(5000 + i, b"%d" % i) for i in range(300)]
    m = make(*filler, (58, b"late"), (7, b"x"), (58, b"later"))
    assert m.get(58) == b"late" and m.get(7) == b"x" and m.get(5299) == b"299"
    assert m.get_all(58) == [b"late", b"later"]
    assert len(m) == 3 + 300 + 3 + 1


@pytest.mark.parametrize(
    "raw,value", [(b"0", 0), (b"123", 123), (b"-5", -5), (b"007", 7), (b"-0", 0), (b"9" * 30, int("9" * 30))]
)
def test_message_get_int_valid_value(make, raw, value):
    assert make((34, raw)).get_int(34) == value


@pytest.mark.parametrize("raw", [b"", b"-", b"1.5", b"abc", b" 1", b"1_0", b"+1", b"--1", b"\xd9\xa3"])
def test_message_get_int_malformed_field_value_error(make, raw):
    with pytest.raises(FieldValueError) as e:
        make((34, raw)).get_int(34)
    assert e.value.tag == 34 and e.value.value == raw and e.value.reject_reason == 6
    assert isinstance(e.value, FixgwError)


@pytest.mark.parametrize(
    "raw,value",
    [(b"1.50", Decimal("1.50")), (b"-0.001", Decimal("-0.001")), (b"5.", Decimal("5")), (b".5", Decimal("0.5")),
     (b"-.5", Decimal("-0.5")), (b"97123.45", Decimal("97123.45")), (b"00012", Decimal("12"))],
)
def test_message_get_decimal_valid_value_exact(make, raw, value):
    got = make((44, raw)).get_decimal(44)
    assert got == value and isinstance(got, Decimal)


@pytest.mark.parametrize("raw", [b"", b".", b"-", b"1e5", b"NaN", b"Infinity", b"1.2.3", b"1,5", b"+1", b" 1"])
def test_message_get_decimal_malformed_field_value_error(make, raw):
    with pytest.raises(FieldValueError) as e:
        make((44, raw)).get_decimal(44)
    assert e.value.tag == 44 and e.value.reject_reason == 6


def test_message_get_str_decodes_utf8_and_rejects_bad_bytes(make):
    m = make((58, "café".encode()), (59, b"\xff\xfe"))
    assert m.get_str(58) == "café"
    assert m.get_str(59, "latin-1") == "\xff\xfe"
    with pytest.raises(FieldValueError):
        m.get_str(59)


def test_message_get_bool_y_n_only(make):
    m = make((1, b"Y"), (2, b"N"), (3, b"y"), (4, b""), (5, b"YES"))
    assert m.get_bool(1) is True and m.get_bool(2) is False
    for tag in (3, 4, 5):
        with pytest.raises(FieldValueError):
            m.get_bool(tag)


def test_message_get_char_single_byte_only(make):
    m = make((54, b"1"), (40, b""), (59, b"12"))
    assert m.get_char(54) == "1"
    for tag in (40, 59):
        with pytest.raises(FieldValueError):
            m.get_char(tag)


@pytest.mark.parametrize("precision", [0, 3, 6, 9])
def test_message_get_utc_ns_every_precision_round_trips(make, precision):
    ns = 1_732_500_000_123_456_789
    truncated = ns - ns % 10 ** (9 - precision)
    m = make((52, format_utc_timestamp(ns, precision)))
    assert m.get_utc_ns(52) == truncated


@pytest.mark.parametrize(
    "raw",
    [b"", b"20240102-03:04:05.6", b"20240102-03:04:05.67", b"20240102-03:04:05.6789", b"20241302-03:04:05",
     b"20240230-03:04:05", b"20240102-24:00:00", b"20240102-03:60:00", b"20240102 03:04:05", b"2024010-03:04:05",
     b"20240102-03:04:05.abc", b"20240102-03:04:05Z"],
)
def test_message_get_utc_ns_malformed_field_value_error(make, raw):
    with pytest.raises(FieldValueError):
        make((52, raw)).get_utc_ns(52)


def test_message_get_utc_ns_leap_second_accepted(make):
    assert make((52, b"20161231-23:59:60")).get_utc_ns(52) == 1_483_228_800 * 10**9


PARTIES = [(453, b"2"), (448, b"A"), (447, b"D"), (452, b"1"), (448, b"B"), (447, b"D"), (452, b"3")]


def test_message_group_without_dictionary_split_at_delimiter(make):
    m = make((11, b"X"), *PARTIES)
    groups = m.group(453)
    assert [g.fields for g in groups] == [[(448, b"A"), (447, b"D"), (452, b"1")], [(448, b"B"), (447, b"D"), (452, b"3")]]
    assert groups[1].get(452) == b"3" and groups[0].raw is None


def test_message_group_ends_at_unknown_tag_after_first_instance(make):
    m = make(*PARTIES, (38, b"5"))
    assert [len(g) for g in m.group(453)] == [3, 3]


class FakeDictionary:
    def __init__(self, members):
        self.members = members
        self.asked = None

    def group_members(self, msg_type, count_tag):
        self.asked = (msg_type, count_tag)
        return self.members


def test_message_group_with_dictionary_members_stop_at_non_member(make):
    d = FakeDictionary(frozenset({448, 447, 452}))
    m = make((453, b"1"), (448, b"A"), (447, b"D"), (38, b"5"), (452, b"1"))
    groups = m.group(453, d)
    assert [g.fields for g in groups] == [[(448, b"A"), (447, b"D")]]
    assert d.asked == (b"D", 453)
    m.group(453, d, msg_type=b"8")
    assert d.asked == (b"8", 453)


def test_message_group_zero_count_or_absent_no_instances(make):
    assert make((453, b"0"), (38, b"5")).group(453) == []
    assert make((38, b"5")).group(453) == []


def test_message_equality_by_fields_across_kinds(codec, make):
    a = make((58, b"x"))
    b = codec.Message(list(a.fields))
    assert a == b and not (a != b)
    assert a != make((58, b"y"))
    assert a != "not a message" and not (a == 5)
    with pytest.raises(TypeError):
        hash(a)


def test_message_equal_across_implementations(codec):
    fields = [(58, b"x"), (95, b"2"), (96, b"\x01\x01")]
    assert parse_one(codec, fields) == parse_one(pure_codec(), fields)
    assert parse_one(pure_codec(), fields) == parse_one(codec, fields)


def test_message_iter_len_repr(make):
    m = make((58, b"x"))
    assert list(m) == m.fields and len(m) == len(m.fields)
    assert repr(m).startswith("Message(8=FIX.4.4|9=") and "58=x" in repr(m)


def test_message_pickle_round_trip(make):
    m = make((58, b"x"), (95, b"1"), (96, b"\x01"))
    back = pickle.loads(pickle.dumps(m))
    assert back == m and back.raw == m.raw and type(back) is type(m)


def test_message_fields_and_raw_read_only(make):
    m = make((58, b"x"))
    with pytest.raises(AttributeError):
        m.fields = []
    with pytest.raises(AttributeError):
        m.raw = b""


def test_message_constructor_takes_any_iterable(codec):
    m = codec.Message(iter([(35, b"0"), (58, b"x")]), raw=b"raw")
    assert m.fields == [(35, b"0"), (58, b"x")] and m.raw == b"raw" and m.get(58) == b"x"
