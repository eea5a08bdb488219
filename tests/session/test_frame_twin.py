"""The outbound frame builder: the compiled twin gives the bytes of the pure one (the specification),
every frame is well formed, and a shared body framed per session equals the whole body framed."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.codec import Parser, checksum, format_utc_timestamp
from fixgw.session import messages
from fixgw.session.messages import FrameWriter, SharedBody, build_frame

try:
    from fixgw_ext._frame import build_frame as compiled_build_frame
except ImportError:  # pragma: no cover - the build is missing; the test below says so
    compiled_build_frame = None

needs_compiled = pytest.mark.skipif(compiled_build_frame is None, reason="fixgw_ext._frame is not built")

comp_id = st.text(st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="="), min_size=1,
                  max_size=12)
value = st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"\x01", b"x").replace(b"=", b"y"))
field = st.tuples(st.integers(1, 9999), value).map(lambda f: b"%d=%s\x01" % f)
body = st.lists(field, max_size=30).map(b"".join)
msg_type = st.sampled_from([b"X", b"W", b"8", b"AE", b"0"])
seq = st.integers(1, 2**31 - 1)
now_ns = st.integers(0, 4_102_444_800 * 10**9)


def test_frame_compiled_builder_loaded_unless_disabled() -> None:
    if os.environ.get("FIXGW_NO_EXTENSIONS") == "1":
        assert messages.FRAME_IMPLEMENTATION == "pure"
    else:
        # A missing build would leave every session on the slow path without a word: fail loudly.
        assert messages.FRAME_IMPLEMENTATION == "compiled", "fixgw_ext._frame did not import: run pip install -e ."


@needs_compiled
@settings(max_examples=300, deadline=None)
@given(begin=st.sampled_from(["FIX.4.2", "FIX.4.4", "FIXT.1.1"]), sender=comp_id, target=comp_id, mt=msg_type,
       n=st.integers(-(2**40), 2**40), ts=now_ns, extra=body, lead=body, shared=body,
       bias=st.integers(-1000, 1000))
def test_frame_compiled_and_pure_builders_same_bytes(begin, sender, target, mt, n, ts, extra, lead, shared,
                                                     bias) -> None:
    w = FrameWriter(begin, sender, target)
    sending_time = format_utc_timestamp(ts, 3)
    # any shared_sum, not only the true one: both must add it the same way
    shared_sum = checksum(shared) + bias * 256 + (bias % 7)
    args = (w._begin, w._mid, mt, n, sending_time, extra, lead, shared, shared_sum)
    assert compiled_build_frame(*args) == build_frame(*args)


@settings(max_examples=200, deadline=None)
@given(sender=comp_id, target=comp_id, mt=msg_type, n=seq, ts=now_ns, extra=body, lead=body, shared=body)
def test_frame_shared_body_same_bytes_as_whole_body_and_well_formed(sender, target, mt, n, ts, extra, lead,
                                                                    shared) -> None:
    w = FrameWriter("FIX.4.4", sender, target)
    sending_time = w.timestamp(ts)
    shared_frame = w.frame_shared(mt, n, sending_time, SharedBody.of(shared).led_by(lead), extra)
    assert shared_frame == w.frame(mt, n, sending_time, lead + shared, extra)
    p = Parser()
    p.feed(shared_frame)
    m = p.next_event()
    assert getattr(m, "msg_type", None) == mt, m  # framed by BodyLength, CheckSum checked
    assert m.get(34) == b"%d" % n and m.get(49) == sender.encode() and m.get(56) == target.encode()
    assert m.get(52) == format_utc_timestamp(ts, 3)


@pytest.mark.parametrize("precision", [0, 3, 6, 9])
def test_frame_timestamp_cache_interleaved_precisions_each_exact(precision: int) -> None:
    # One cache serves every writer: writers of other precisions and other instants in between must
    # never get each other's text.
    writers = {p: FrameWriter("FIX.4.4", "A", "B", p) for p in (0, 3, 6, 9)}
    instants = [1_700_000_000_123_456_789, 1_700_000_000_123_456_790, 1_700_000_000_123_999_999,
                1_700_000_000_124_000_000, 1_700_000_001_000_000_000, 1_700_000_000_123_456_789]
    for t in instants:
        for p, w in writers.items():
            assert w.timestamp(t) == format_utc_timestamp(t, p)
        assert writers[precision].timestamp(t) == format_utc_timestamp(t, precision)
