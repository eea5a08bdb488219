"""Properties: round trips, chunking, robustness, and agreement of pure, compiled and simplefix."""

from __future__ import annotations

from decimal import Decimal

import pytest
import simplefix
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixgw.codec import _encoder as pure_encoder
from fixgw.codec import _parser as spec
from fixgw.codec import format_utc_timestamp, parse_utc_timestamp
from fixgw.errors import FixgwError

from codec_helpers import HEARTBEAT, ORDER, body, feed_all, frame, pure_codec, split_at

PROPS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_RESERVED = {8, 9, 35, 10} | set(spec.DEFAULT_DATA_TAGS) | set(spec.DEFAULT_DATA_TAGS.values())
_RESERVED |= set(simplefix.parser.RAW_LEN_TAGS) | set(simplefix.parser.RAW_DATA_TAGS)

tags = st.one_of(
    st.sampled_from([11, 34, 38, 44, 49, 52, 54, 55, 56, 58, 150, 151, 448, 453, 5000]),
    st.integers(1, 999_999_999),
).filter(lambda t: t not in _RESERVED)
plain_bytes = st.binary(max_size=24).map(lambda b: b.replace(b"\x01", b""))
decimals = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=None),
    st.builds(
        lambda sign, digits, exp: Decimal((sign, tuple(digits), exp)),
        st.integers(0, 1),
        st.lists(st.integers(0, 9), min_size=1, max_size=25),
        st.integers(-30, 30),
    ),
)
values = st.one_of(
    plain_bytes,
    st.text(max_size=12).filter(lambda s: "\x01" not in s),
    st.integers(-(2**70), 2**70),
    st.booleans(),
    decimals,
)
data_values = st.binary(max_size=20)


@st.composite
def messages(draw, value_strategy=values, data_strategy=data_values):
    """(begin_string, msg_type, fields) of a valid message; maybe with a 95/96 data pair."""
    begin = draw(st.sampled_from([b"FIX.4.2", b"FIX.4.4", b"FIXT.1.1"]))
    msg_type = draw(st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZab", min_size=1, max_size=2)).encode()
    fields = draw(st.lists(st.tuples(tags, value_strategy), max_size=12))
    if draw(st.booleans()):
        data = draw(data_strategy)
        at = draw(st.integers(0, len(fields)))
        fields[at:at] = [(95, len(data)), (96, data)]
    return begin, msg_type, fields


def wire_fields(begin, msg_type, fields, frame_bytes):
    head, _, rest = frame_bytes.partition(b"\x019=")
    length = rest.split(b"\x01", 1)[0]
    enc = [(t, pure_encoder.encode_value(v)) for t, v in fields]
    return [(8, begin), (9, length), (35, msg_type), *enc, (10, frame_bytes[-4:-1])]


def parse_all(parser_cls, data, **kw):
    p = parser_cls(**kw)
    p.feed(data)
    out = []
    for item in p:
        out.append(item)
        assert len(out) <= len(data) + 1, "parser produced more items than bytes"
    return out


# -- round trips ---------------------------------------------------------------------------------
@PROPS
@given(msg=messages())
def test_codec_encode_then_parse_identity(codec, msg):
    begin, msg_type, fields = msg
    out = codec.encode(begin, msg_type, fields)
    (item,) = parse_all(codec.Parser, out)
    assert isinstance(item, codec.Message)
    assert item.raw == out
    assert item.fields == wire_fields(begin, msg_type, fields, out)


@PROPS
@given(msg=messages(), data=st.data())
def test_codec_compiled_and_pure_encode_same_bytes(codec, msg, data):
    begin, msg_type, fields = msg
    assert codec.encode(begin, msg_type, fields) == pure_encoder.encode(begin, msg_type, fields)


@settings(max_examples=200, deadline=None)
@given(ns=st.integers(0, 253_402_300_799 * 10**9 + 999_999_999), precision=st.sampled_from([0, 3, 6, 9]))
def test_codec_utc_timestamp_format_parse_truncates(ns, precision):
    text = format_utc_timestamp(ns, precision)
    assert len(text) == 17 + (precision + 1 if precision else 0)
    assert parse_utc_timestamp(text) == ns - ns % 10 ** (9 - precision)


# -- streams: chunking and robustness -----------------------------------------------------------
fragments = st.one_of(
    st.binary(max_size=16),
    st.sampled_from(
        [b"8=FIX.4.4\x01", b"8=FIX", b"9=", b"9=12\x01", b"10=", b"10=000\x01", b"\x01", b"35=0\x01", b"=",
         b"95=3\x0196=", b"8=", HEARTBEAT, ORDER, HEARTBEAT[:30], ORDER[25:]]
    ),
)


@st.composite
def mutated(draw, frame_bytes):
    """``frame_bytes`` with 1-3 random byte replacements, insertions or deletions."""
    out = bytearray(frame_bytes)
    for _ in range(draw(st.integers(1, 3))):
        if not out:
            break
        i = draw(st.integers(0, len(out) - 1))
        kind = draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = draw(st.sampled_from([0x01, ord("="), ord("8"), ord("0"), ord("9"), ord("A"), 0xFF]))
        if kind == "replace":
            out[i] = byte
        elif kind == "insert":
            out.insert(i, byte)
        else:
            del out[i]
    return bytes(out)


@st.composite
def streams(draw):
    """A byte stream mixing valid frames, garbage fragments and mutated frames."""
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["valid", "junk", "mutated"]))
        if kind == "junk":
            parts.append(b"".join(draw(st.lists(fragments, max_size=5))))
        else:
            begin, msg_type, fields = draw(messages())
            f = pure_encoder.encode(begin, msg_type, fields)
            parts.append(f if kind == "valid" else draw(mutated(f)))
    return b"".join(parts)


@PROPS
@given(stream=streams(), data=st.data())
def test_codec_any_chunking_same_items_as_one_chunk(codec, stream, data):
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12))
    whole = feed_all(codec.Parser(), [stream])
    assert feed_all(codec.Parser(), split_at(stream, cuts)) == whole


@PROPS
@given(stream=streams(), data=st.data())
def test_codec_pure_and_compiled_agree_on_any_stream(codec, stream, data):
    pure = pure_codec()
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=8))
    expected = feed_all(pure.Parser(), [stream])
    assert feed_all(codec.Parser(), split_at(stream, cuts)) == expected
    assert feed_all(codec.Parser(max_body_length=64), [stream]) == feed_all(pure.Parser(max_body_length=64), [stream])


GETTERS = ("get_int", "get_decimal", "get_str", "get_bool", "get_char", "get_utc_ns")


def _outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except FixgwError as e:
        return ("err", type(e), str(e))


@PROPS
@given(stream=streams())
def test_codec_pure_and_compiled_getters_agree(codec, stream):
    ours = [i for i in parse_all(codec.Parser, stream) if isinstance(i, codec.Message)]
    theirs = [i for i in parse_all(pure_codec().Parser, stream) if hasattr(i, "fields")]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        for tag in {t for t, _ in b.fields} | {1, 300}:
            assert a.get(tag) == b.get(tag) and a.get_all(tag) == b.get_all(tag) and (tag in a) == (tag in b)
            if tag in b:
                for g in GETTERS:
                    assert _outcome(getattr(a, g), tag) == _outcome(getattr(b, g), tag)


@PROPS
@given(data=st.binary(max_size=400))
def test_codec_random_bytes_no_exception_and_bounded_items(codec, data):
    # Anything but a FixgwError escaping, or an unbounded item stream, fails the test.
    try:
        items = parse_all(codec.Parser, data)
    except FixgwError:
        return
    consumed = sum(len(i.data) if isinstance(i, codec.Garbled) else len(i.raw) for i in items)
    assert consumed <= len(data)


SENTINEL = frame(body((35, b"0"), (58, b"sentinel-message")))
PADDING = HEARTBEAT * 6  # more than a whole frame allowed by max_body_length below


@PROPS
@given(prefix=st.one_of(streams(), st.binary(max_size=200)), data=st.data())
def test_codec_valid_message_after_garbage_never_lost(codec, prefix, data):
    stream = prefix + SENTINEL + PADDING
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=6))
    items = feed_all(codec.Parser(max_body_length=256), split_at(stream, cuts))
    raws = [i[2] for i in items if i[0] == "M"]
    # Either the sentinel comes out on its own, or the bytes before it happened to form a valid frame
    # that encloses it (a corrupted BodyLength that still checks out): then it is not "following".
    assert SENTINEL in raws or any(SENTINEL in r and r != SENTINEL for r in raws)


@PROPS
@given(msg=messages(), data=st.data())
def test_codec_mutated_frame_never_raises_and_next_frame_survives(codec, msg, data):
    f = pure_encoder.encode(*msg)
    bad = data.draw(mutated(f))
    items = feed_all(codec.Parser(max_body_length=256), [bad + SENTINEL + PADDING])
    raws = [i[2] for i in items if i[0] == "M"]
    assert SENTINEL in raws or any(SENTINEL in r and r != SENTINEL for r in raws)


# -- agreement with simplefix on valid input ------------------------------------------------------
@PROPS
@given(msg=messages(value_strategy=plain_bytes.filter(bool), data_strategy=st.binary(min_size=1, max_size=20)))
def test_codec_agrees_with_simplefix_on_valid_messages(codec, msg):
    begin, msg_type, fields = msg
    out = pure_encoder.encode(begin, msg_type, fields)
    sp = simplefix.FixParser()
    sp.append_buffer(out)
    theirs = sp.get_message()
    (ours,) = parse_all(codec.Parser, out)
    assert [(int(t), v) for t, v in theirs.pairs] == ours.fields
