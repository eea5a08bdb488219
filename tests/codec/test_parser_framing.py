"""Framing: chunking, BodyLength, CheckSum, field order, data fields, garbled frames and resync."""

from __future__ import annotations

import pytest

from fixgw.codec import _parser as spec

from codec_helpers import HEARTBEAT, ORDER, body, by_size, feed_all, frame, norm

DATA_FRAME = frame(body((35, b"B"), (148, b"news"), (95, b"5"), (96, b"a\x01b=\x01"), (58, b"t")))


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 4096, 65536])
def test_parser_any_chunk_size_same_messages(codec, size):
    stream = (HEARTBEAT + ORDER + DATA_FRAME) * 5
    whole = feed_all(codec.Parser(), [stream])
    assert feed_all(codec.Parser(), by_size(stream, size)) == whole
    assert [k for k, *_ in whole] == ["M"] * 15


def test_parser_complete_frame_fields_in_wire_order(codec):
    p = codec.Parser()
    p.feed(ORDER)
    msg = p.next_event()
    body_len = len(ORDER) - ORDER.index(b"\x0135=") - 1 - len(b"10=000\x01")
    assert msg.fields[:3] == [(8, b"FIX.4.4"), (9, b"%d" % body_len), (35, b"D")]
    assert msg.fields[-1][0] == 10 and msg.raw == ORDER
    assert p.next_event() is codec.NEED_MORE
    assert p.buffered == 0


def test_parser_partial_frame_need_more_then_message(codec):
    p = codec.Parser()
    p.feed(ORDER[:-1])
    assert p.next_event() is codec.NEED_MORE
    assert list(p) == []
    assert p.buffered == len(ORDER) - 1
    p.feed(ORDER[-1:])
    assert [norm(m) for m in p] == [norm(_one(codec, ORDER))]


def _one(codec, data):
    p = codec.Parser()
    p.feed(data)
    return p.next_event()


def test_parser_iteration_resumes_after_feed(codec):
    p = codec.Parser()
    it = iter(p)
    p.feed(HEARTBEAT)
    assert len(list(it)) == 1
    p.feed(HEARTBEAT)
    assert next(it).msg_type == b"0"


def test_parser_frames_by_body_length_not_by_soh_10(codec):
    # A text value containing "10=" must not end the frame early.
    f = frame(body((35, b"0"), (58, b"x\x0110=123"), (49, b"A")))
    # "58=x" ends at the SOH; "10=123" is then an ordinary body field.
    (item,) = feed_all(codec.Parser(), [f])
    assert item[0] == "M" and item[1][3:6] == [(58, b"x"), (10, b"123"), (49, b"A")]


def test_parser_data_field_with_soh_and_equals_read_by_length(codec):
    (item,) = feed_all(codec.Parser(), [DATA_FRAME])
    assert (96, b"a\x01b=\x01") in item[1]
    assert item[1][-2] == (58, b"t")


@pytest.mark.parametrize("length_tag,data_tag", sorted(spec.DEFAULT_DATA_TAGS.items()))
def test_parser_every_default_data_pair_read_by_length(codec, length_tag, data_tag):
    value = b"\x01=\x01x"
    f = frame(body((35, b"0"), (length_tag, b"4"), (data_tag, value)))
    (item,) = feed_all(codec.Parser(), [f])
    assert item[1][-2] == (data_tag, value)


def test_parser_custom_data_tags_read_by_length(codec):
    f = frame(body((35, b"0"), (5001, b"3"), (5002, b"a\x01b"), (7, b"1"), (8000, b"2"), (8001, b"\x01\x01")))
    p = codec.Parser(data_tags={5001: 5002, 7: 8001, 8000: 8001})
    (item,) = feed_all(p, [f])
    assert item[1][3:8] == [(5001, b"3"), (5002, b"a\x01b"), (7, b"1"), (8000, b"2"), (8001, b"\x01\x01")]


def test_parser_length_tag_not_followed_by_its_data_tag_plain_fields(codec):
    f = frame(body((35, b"0"), (95, b"3"), (58, b"abcdef"), (96, b"xy")))
    (item,) = feed_all(codec.Parser(), [f])
    assert item[1][3:6] == [(95, b"3"), (58, b"abcdef"), (96, b"xy")]


def test_parser_non_numeric_length_field_data_read_to_soh(codec):
    f = frame(body((35, b"0"), (95, b"x"), (96, b"ab")))
    (item,) = feed_all(codec.Parser(), [f])
    assert item[1][4] == (96, b"ab")


def test_parser_invalid_data_tags_argument_value_error(codec):
    with pytest.raises(ValueError):
        codec.Parser(data_tags={95: "96"})
    with pytest.raises(ValueError):
        codec.Parser(data_tags={0: 96})


def test_parser_empty_value_kept_as_empty_bytes(codec):
    (item,) = feed_all(codec.Parser(), [frame(body((35, b"0"), (58, b"")))])
    assert item[1][3] == (58, b"")


def test_parser_begin_string_fixt_accepted(codec):
    (item,) = feed_all(codec.Parser(), [frame(body((35, b"0")), begin=b"FIXT.1.1")])
    assert item[1][0] == (8, b"FIXT.1.1")


# -- garbled frames: every reason, each followed by a valid message that must survive -------------
BAD_FRAMES = {
    "data before BeginString": b"hello\r\n",
    "first field is not BeginString(8)": b"80=FIX.4.4\x019=5\x0135=0\x0110=000\x01",
    "BeginString(8) is not FIX": frame(body((35, b"0")), begin=b"FOO.4.4"),
    "BeginString(8) too long": b"8=FIX" + b"A" * 40,
    "second field is not BodyLength(9)": b"8=FIX.4.4\x0135=0\x019=5\x0110=000\x01",
    "BodyLength(9) is not a number": frame(body((35, b"0")), body_length=b"1x"),
    "BodyLength(9) too long": frame(body((35, b"0")), body_length=b"000000005"),
    "BodyLength(9) does not end at CheckSum(10)": frame(body((35, b"0"), (49, b"A")), body_length=b"7"),
    "CheckSum(10) is not three digits": frame(body((35, b"0")), checksum=b"1x3"),
    "CheckSum(10) mismatch": frame(body((35, b"0")), checksum=b"999"),
    "data field length does not match its length field": frame(body((35, b"0"), (95, b"5"), (96, b"abc"))),
    "field not terminated by SOH": frame(body((35, b"0")) + b"49=A"),
    "third field is not MsgType(35)": frame(body((49, b"A"), (35, b"0"))),
}
# Frames that still garble though they hold a malformed field: the framing or the MsgType rule fails.
BAD_FRAMES_WITH_MALFORMED_FIELD = {
    "malformed last field without SOH": ("field not terminated by SOH", frame(body((35, b"0")) + b"4x=A")),
    "no '=' and no SOH": ("field not terminated by SOH", frame(body((35, b"0")) + b"49A")),
    "malformed first body field": ("third field is not MsgType(35)", frame(b"3x=0\x01" + body((35, b"0")))),
    "field without '=' first": ("third field is not MsgType(35)", frame(b"novalue\x01" + body((35, b"0")))),
    "malformed then bad data length": (
        "data field length does not match its length field",
        frame(body((35, b"0"), (0, b"x"), (95, b"5"), (96, b"abc"))),
    ),
    "malformed then bad checksum": ("CheckSum(10) mismatch", frame(body((35, b"0"), (0, b"x")), checksum=b"999")),
}


@pytest.mark.parametrize("reason", sorted(BAD_FRAMES))
def test_parser_garbled_frame_reported_then_next_message_kept(codec, reason):
    bad = BAD_FRAMES[reason]
    items = feed_all(codec.Parser(), [bad + HEARTBEAT])
    assert items == [("G", reason, bad), norm(_one(codec, HEARTBEAT))]


@pytest.mark.parametrize("reason", sorted(BAD_FRAMES))
def test_parser_garbled_frame_byte_by_byte_same_items(codec, reason):
    stream = BAD_FRAMES[reason] + HEARTBEAT
    assert feed_all(codec.Parser(), by_size(stream, 1)) == feed_all(codec.Parser(), [stream])


@pytest.mark.parametrize(
    "bad",
    [
        frame(body((35, b"0"), (95, b"3"), (96, b"abcd"))),  # data longer than announced
        frame(body((35, b"0"), (95, b"99999999999999999999"), (96, b"ab"))),  # absurd length
        frame(body((35, b"0"), (95, b"2"), (96, b"ab"))[:-1]),  # data runs into CheckSum
    ],
)
def test_parser_data_length_mismatch_garbled(codec, bad):
    items = feed_all(codec.Parser(), [bad + HEARTBEAT])
    assert items[0] == ("G", "data field length does not match its length field", bad)


@pytest.mark.parametrize("case", sorted(BAD_FRAMES_WITH_MALFORMED_FIELD))
def test_parser_malformed_field_in_bad_frame_still_garbled(codec, case):
    reason, bad = BAD_FRAMES_WITH_MALFORMED_FIELD[case]
    items = feed_all(codec.Parser(), [bad + HEARTBEAT])
    assert items == [("G", reason, bad), norm(_one(codec, HEARTBEAT))]
    assert feed_all(codec.Parser(), by_size(bad + HEARTBEAT, 1)) == items


def test_parser_body_length_short_and_long_both_garbled(codec):
    good_body = body((35, b"0"), (49, b"A"))
    short = frame(good_body, body_length=b"%d" % (len(good_body) - 2))
    long = frame(good_body, body_length=b"%d" % (len(good_body) + 3))
    for bad in (short, long):
        items = feed_all(codec.Parser(), [bad + HEARTBEAT + HEARTBEAT])
        assert items[0] == ("G", "BodyLength(9) does not end at CheckSum(10)", bad)
        assert [k for k, *_ in items[1:]] == ["M", "M"]


def test_parser_body_length_over_limit_garbled_at_once(codec):
    p = codec.Parser(max_body_length=100)
    big = frame(body((35, b"0"), (58, b"x" * 200)))
    assert feed_all(p, [big + HEARTBEAT]) == [("G", "BodyLength(9) too large", big), norm(_one(codec, HEARTBEAT))]


def test_parser_body_length_covering_next_message_recovers_it(codec):
    # The corrupt BodyLength swallows the next frame; resync from the bad frame's start finds it.
    good_body = body((35, b"0"))
    bad = frame(good_body, body_length=b"%d" % (len(good_body) + len(HEARTBEAT) + 5))
    items = feed_all(codec.Parser(), [bad + HEARTBEAT + HEARTBEAT])
    assert items[0][:2] == ("G", "BodyLength(9) does not end at CheckSum(10)")
    assert items[0][2] == bad
    assert [k for k, *_ in items[1:]] == ["M", "M"]


def test_parser_frame_inside_garbage_found(codec):
    stream = b"xx8=FI" + b"garbage8=FIX" + HEARTBEAT + b"8=FIX.4.4\x01" + b"\x00" * 3 + ORDER
    items = feed_all(codec.Parser(), [stream])
    assert [i[0] for i in items if i[0] == "M"] == ["M", "M"]
    assert b"".join(i[2] for i in items) == stream


def test_parser_long_garbage_reported_in_bounded_pieces(codec):
    junk = b"\x00" * (spec.MAX_GARBLED * 3 + 17)
    items = feed_all(codec.Parser(), by_size(junk + HEARTBEAT, 1000))
    garbled = [i for i in items if i[0] == "G"]
    assert [len(g[2]) for g in garbled] == [spec.MAX_GARBLED] * 3 + [17]
    assert items[-1][0] == "M"


def test_parser_trailing_garbage_held_until_resync_point(codec):
    p = codec.Parser()
    p.feed(b"junk")
    assert p.next_event() is codec.NEED_MORE
    p.feed(b"8=FI")
    assert p.next_event() is codec.NEED_MORE
    p.feed(HEARTBEAT[4:])
    assert [norm(i) for i in p] == [("G", "data before BeginString", b"junk"), norm(_one(codec, HEARTBEAT))]


def test_parser_garbled_item_type_and_equality(codec):
    p = codec.Parser()
    p.feed(b"zz" + HEARTBEAT)
    g = p.next_event()
    assert isinstance(g, codec.Garbled)
    assert g == codec.Garbled("data before BeginString", b"zz")
    assert g != codec.Garbled("data before BeginString", b"z")
    assert "data before BeginString" in repr(g)


def test_parser_feed_accepts_bytes_like(codec):
    p = codec.Parser()
    p.feed(bytearray(HEARTBEAT[:10]))
    p.feed(memoryview(HEARTBEAT)[10:])
    assert [norm(i) for i in p] == [norm(_one(codec, HEARTBEAT))]


def test_parser_feed_str_type_error(codec):
    with pytest.raises(TypeError):
        codec.Parser().feed("8=FIX.4.4")


def test_parser_byte_at_a_time_large_stream_completes_with_bounded_buffer(codec):
    # Structural linearity check: the buffer never holds more than one frame plus a byte.
    stream = (HEARTBEAT + ORDER + DATA_FRAME) * 100
    p = codec.Parser()
    count = 0
    peak = 0
    for i in range(len(stream)):
        p.feed(stream[i : i + 1])
        for _ in p:
            count += 1
        peak = max(peak, p.buffered)
    assert count == 300
    assert peak <= max(len(HEARTBEAT), len(ORDER), len(DATA_FRAME))


def test_parser_byte_at_a_time_garbage_bounded_buffer(codec):
    junk = bytes(range(256)).replace(b"8", b"9") * 40  # ~10 KiB, no "8" at all
    p = codec.Parser()
    peak = 0
    dropped = 0
    for i in range(len(junk)):
        p.feed(junk[i : i + 1])
        for item in p:
            dropped += len(item.data)
        peak = max(peak, p.buffered)
    assert peak <= spec.MAX_GARBLED + len(b"8=FIX")
    assert dropped + p.buffered == len(junk)
