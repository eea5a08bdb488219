"""Malformed fields in a well-framed frame: a Message with ``invalid_field``, not a Garbled item.

FIX answers such a message with a Reject (373=0, Invalid tag number) that consumes its MsgSeqNum; dropping
it as garbled would make the next message look like a gap and trigger a needless ResendRequest.
"""

from __future__ import annotations

import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codec_helpers import HEARTBEAT, body, by_size, feed_all, frame, norm, pure_codec

PROPS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

HEAD = body((35, b"D"), (49, b"A"), (56, b"B"), (34, b"7"))
TAIL = body((11, b"ORD-1"), (55, b"BTCUSDT"))
GOOD_FIELDS = [(35, b"D"), (49, b"A"), (56, b"B"), (34, b"7"), (11, b"ORD-1"), (55, b"BTCUSDT")]

MALFORMED = [
    b"0=x",  # tag zero
    b"AB=1",  # letters
    b"4x=1",  # digits then a letter
    b"novalue",  # no '='
    b"=x",  # empty tag
    b"049=A",  # leading zero
    b"-5=A",  # sign
    b"4 9=A",  # space inside
    b"1234567890=A",  # ten digits: past MAX_TAG_DIGITS
    b"",  # empty field (two SOH in a row)
    b"x=a=b",  # '=' inside the value does not matter, the tag does
]


def _parse(codec, data):
    p = codec.Parser()
    p.feed(data)
    return list(p)


@pytest.mark.parametrize("bad", MALFORMED)
def test_parser_malformed_field_message_with_invalid_field(codec, bad):
    f = frame(HEAD + bad + b"\x01" + TAIL)
    (msg,) = _parse(codec, f)
    assert isinstance(msg, codec.Message)
    assert msg.invalid_field == bad
    assert msg.raw == f
    # The malformed field is left out; every other field is parsed as usual, in wire order.
    assert [fv for fv in msg.fields if fv[0] not in (8, 9, 10)] == GOOD_FIELDS
    assert msg.get(34) == b"7" and msg.get_int(34) == 7 and msg.msg_type == b"D"


def test_parser_good_message_invalid_field_none(codec):
    (msg,) = _parse(codec, HEARTBEAT)
    assert msg.invalid_field is None


def test_parser_several_malformed_fields_first_reported(codec):
    f = frame(HEAD + b"AB=1\x01" + TAIL + b"0=x\x01novalue\x01" + body((58, b"t")))
    (msg,) = _parse(codec, f)
    assert msg.invalid_field == b"AB=1"
    assert msg.fields[-2:] == [(58, b"t"), (10, f[-4:-1])]
    assert len(msg) == len(GOOD_FIELDS) + 4


def test_parser_malformed_field_right_after_length_field_data_read_to_soh(codec):
    # A malformed field between a length field and its data field breaks the pair: the data tag that
    # follows is read up to its SOH, like any field not preceded by its length field.
    f = frame(HEAD + body((95, b"3")) + b"9x=1\x01" + body((96, b"abc"), (58, b"t")))
    (msg,) = _parse(codec, f)
    assert msg.invalid_field == b"9x=1"
    assert msg.get(95) == b"3" and msg.get(96) == b"abc" and msg.get(58) == b"t"


def test_parser_data_field_with_soh_and_bad_looking_bytes_not_malformed(codec):
    # Bytes inside a length-prefixed data field that look like a bad field are data, not a field.
    data = b"x\x010=y\x01AB"
    f = frame(HEAD + body((95, b"%d" % len(data)), (96, data), (58, b"t")))
    (msg,) = _parse(codec, f)
    assert msg.invalid_field is None
    assert msg.get(96) == data


def test_parser_malformed_field_after_data_field_reported(codec):
    f = frame(HEAD + body((95, b"3"), (96, b"a\x01b")) + b"0=x\x01" + TAIL)
    (msg,) = _parse(codec, f)
    assert msg.invalid_field == b"0=x"
    assert msg.get(96) == b"a\x01b" and msg.get(55) == b"BTCUSDT"


def test_parser_malformed_field_in_header_still_message(codec):
    f = frame(body((35, b"0")) + b"4x=A\x01" + body((34, b"9")))
    (msg,) = _parse(codec, f)
    assert msg.invalid_field == b"4x=A"
    assert msg.get_int(34) == 9


def test_parser_malformed_field_message_then_next_message_kept(codec):
    bad = frame(HEAD + b"0=x\x01" + TAIL)
    stream = bad + HEARTBEAT + bad
    items = feed_all(codec.Parser(), [stream])
    assert [(i[0], i[3]) for i in items] == [("M", b"0=x"), ("M", None), ("M", b"0=x")]
    assert feed_all(codec.Parser(), by_size(stream, 1)) == items


def test_message_invalid_field_kept_by_pickle_and_shown_in_repr(codec):
    (msg,) = _parse(codec, frame(HEAD + b"0=x\x01" + TAIL))
    copy = pickle.loads(pickle.dumps(msg))
    assert copy.invalid_field == b"0=x" and copy.fields == msg.fields
    assert "invalid_field=b'0=x'" in repr(msg)
    assert "invalid_field" not in repr(_parse(codec, HEARTBEAT)[0])


def test_message_built_in_memory_invalid_field_default_none(codec):
    m = codec.Message([(35, b"0")])
    assert m.invalid_field is None
    assert codec.Message([(35, b"0")], None, b"0=x").invalid_field == b"0=x"


# -- both implementations agree on bodies built from good and malformed fields ---------------------
good_field = st.builds(
    lambda t, v: b"%d=%s" % (t, v),
    st.sampled_from([11, 34, 49, 55, 58, 95, 96, 354, 355, 999999999]),
    st.binary(max_size=6).map(lambda b: b.replace(b"\x01", b"")),
)
bad_field = st.one_of(
    st.sampled_from(MALFORMED),
    st.binary(max_size=8).map(lambda b: b.replace(b"\x01", b"")),
)
data_pair = st.binary(max_size=6).map(lambda d: b"95=%d\x0196=%s" % (len(d), d))


@PROPS
@given(parts=st.lists(st.one_of(good_field, bad_field, data_pair), max_size=10), data=st.data())
def test_parser_malformed_fields_pure_and_compiled_agree(codec, parts, data):
    f = frame(b"35=D\x01" + b"".join(p + b"\x01" for p in parts))
    stream = f + HEARTBEAT
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=6))
    expected = feed_all(pure_codec().Parser(), [stream])
    pieces = [stream[a:b] for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(stream)])]
    assert feed_all(codec.Parser(), pieces) == expected
    assert expected[-1] == norm(_parse(codec, HEARTBEAT)[0])
    first = expected[0]
    if first[0] == "M" and first[3] is not None:
        # Whatever was reported is one of the pieces put in, verbatim.
        assert any(first[3] == p or first[3] in p for p in parts)
