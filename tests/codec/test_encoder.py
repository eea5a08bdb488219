"""Encoder: 8/9/35 first, BodyLength, CheckSum, value types, timestamps."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from fixgw.codec import format_decimal, format_utc_timestamp, parse_utc_timestamp


def split(frame: bytes) -> list[tuple[bytes, bytes]]:
    return [tuple(f.split(b"=", 1)) for f in frame.split(b"\x01")[:-1]]


def test_encode_header_fields_first_then_given_order(codec):
    out = codec.encode(b"FIX.4.4", b"D", [(49, b"A"), (56, "B"), (34, 12), (11, b"X")])
    tags = [t for t, _ in split(out)]
    assert tags == [b"8", b"9", b"35", b"49", b"56", b"34", b"11", b"10"]
    assert out.startswith(b"8=FIX.4.4\x019=")


def test_encode_body_length_counts_from_35_to_before_10(codec):
    out = codec.encode("FIX.4.2", "8", [(58, b"x" * 3000), (55, b"BTC")])
    m = re.match(rb"8=FIX\.4\.2\x019=(\d+)\x01", out)
    assert m is not None
    body_start = m.end()
    body_end = out.rindex(b"10=")
    assert int(m.group(1)) == body_end - body_start


def test_encode_checksum_sum_mod_256_three_digits(codec):
    for n in range(40):
        out = codec.encode(b"FIX.4.4", b"0", [(112, b"x" * n)])
        assert out[-7:-4] == b"10=" and out[-1:] == b"\x01"
        assert int(out[-4:-1]) == sum(out[:-7]) % 256


def test_encode_tags_8_9_35_10_in_fields_ignored(codec):
    out = codec.encode(b"FIX.4.4", b"0", [(8, b"X"), (9, b"1"), (35, b"Z"), (10, b"123"), (58, b"ok")])
    assert [t for t, _ in split(out)] == [b"8", b"9", b"35", b"58", b"10"]
    assert b"35=0\x01" in out


@pytest.mark.parametrize(
    "value,wire",
    [
        (b"raw", b"raw"),
        ("caf\u00e9", "caf\u00e9".encode()),
        (42, b"42"),
        (-7, b"-7"),
        (2**80, b"%d" % 2**80),
        (True, b"Y"),
        (False, b"N"),
        (bytearray(b"ba"), b"ba"),
        (Decimal("1.50"), b"1.50"),
        (Decimal("0.1"), b"0.1"),
        (Decimal("1E+2"), b"100"),
        (Decimal("1.2E-7"), b"0.00000012"),
        (Decimal("0E-9"), b"0.000000000"),
        (Decimal("-0"), b"0"),
        (Decimal("-0.00"), b"-0.00"),
        (Decimal("97123.450"), b"97123.450"),
        (Decimal("-12345678901234567890.123"), b"-12345678901234567890.123"),
    ],
)
def test_encode_value_types_plain_wire_form(codec, value, wire):
    out = codec.encode(b"FIX.4.4", b"0", [(58, value)])
    assert b"\x0158=" + wire + b"\x0110=" in out


@pytest.mark.parametrize("value", [1.5, 0.1, float("nan")])
def test_encode_float_value_type_error(codec, value):
    with pytest.raises(TypeError):
        codec.encode(b"FIX.4.4", b"0", [(44, value)])


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("sNaN")])
def test_encode_non_finite_decimal_value_error(codec, value):
    with pytest.raises(ValueError):
        codec.encode(b"FIX.4.4", b"0", [(44, value)])


@pytest.mark.parametrize("value", [None, object(), [1]])
def test_encode_unknown_value_type_error(codec, value):
    with pytest.raises(TypeError):
        codec.encode(b"FIX.4.4", b"0", [(44, value)])


def test_encode_subclasses_like_their_base(codec):
    class MyDecimal(Decimal):
        pass

    class MyStr(str):
        pass

    class MyInt(int):
        pass

    out = codec.encode(b"FIX.4.4", b"0", [(44, MyDecimal("1E+1")), (58, MyStr("s")), (38, MyInt(3))])
    assert b"44=10\x0158=s\x0138=3\x01" in out


def test_encode_large_message_beyond_stack_buffer(codec):
    fields = [(5000 + i, b"v" * 50) for i in range(200)]
    out = codec.encode(b"FIX.4.4", b"0", fields)
    assert len(out) > 10_000
    assert split(out)[3:-1] == [(b"%d" % t, v) for t, v in fields]


def test_encode_generator_fields_consumed_once(codec):
    out = codec.encode(b"FIX.4.4", b"0", ((t, b"x") for t in (58, 59)))
    assert b"58=x\x0159=x\x01" in out


def test_encode_bad_field_shape_error(codec):
    with pytest.raises((TypeError, ValueError)):
        codec.encode(b"FIX.4.4", b"0", [(58,)])


@pytest.mark.parametrize(
    "precision,text",
    [(0, b"20241125-02:00:00"), (3, b"20241125-02:00:00.123"), (6, b"20241125-02:00:00.123456"),
     (9, b"20241125-02:00:00.123456789")],
)
def test_format_utc_timestamp_precisions_truncate(precision, text):
    ns = 1_732_500_000_123_456_789
    assert format_utc_timestamp(ns, precision) == text
    assert parse_utc_timestamp(text) == ns - ns % 10 ** (9 - precision)


def test_format_utc_timestamp_bad_precision_value_error():
    with pytest.raises(ValueError):
        format_utc_timestamp(0, 2)


def test_format_decimal_plain_notation():
    assert format_decimal(Decimal("1E+3")) == b"1000"
    assert format_decimal(Decimal("5E-10")) == b"0.0000000005"


def test_checksum_long_frame_equals_byte_sum_mod_256() -> None:
    from fixgw.codec import checksum

    for n in (0, 1, 255, 256, 257, 5000, 70000):
        data = bytes((i * 7 + 3) % 256 for i in range(n))
        assert checksum(data) == sum(data) % 256
