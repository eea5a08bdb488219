"""Which implementation is in use, and that the compiled one really loaded."""

from __future__ import annotations

import os

import fixgw.codec
from fixgw.codec import _parser as spec

from codec_helpers import HEARTBEAT


def test_codec_compiled_extension_loaded_unless_disabled():
    if os.environ.get("FIXGW_NO_EXTENSIONS") == "1":
        assert fixgw.codec.IMPLEMENTATION == "pure"
        assert fixgw.codec.Parser is spec.Parser
    else:
        # A silently missing build would make every "compiled" test a skip: fail loudly instead.
        assert fixgw.codec.IMPLEMENTATION == "compiled", "fixgw_ext._codec did not import: run pip install -e ."
        import fixgw_ext._codec as ext

        assert fixgw.codec.Parser is ext.Parser and fixgw.codec.Message is ext.Message


def test_codec_public_names_shared_sentinel_and_garbled(codec):
    # Both twins hand out the same sentinel and Garbled class, so `is NEED_MORE` holds whichever is used.
    assert codec.NEED_MORE is fixgw.codec.NEED_MORE is spec.NEED_MORE
    assert codec.Garbled is fixgw.codec.Garbled is spec.Garbled
    assert repr(codec.NEED_MORE) == "NEED_MORE"


def test_codec_public_api_same_members(codec):
    names = {"get", "get_all", "get_int", "get_decimal", "get_str", "get_bool", "get_char", "get_utc_ns", "group",
             "fields", "raw", "msg_type", "begin_string"}
    assert names <= set(dir(codec.Message))
    assert {"feed", "next_event", "buffered"} <= set(dir(codec.Parser))


def test_codec_package_exports_work_end_to_end():
    p = fixgw.codec.Parser()
    p.feed(HEARTBEAT)
    msg = p.next_event()
    assert isinstance(msg, fixgw.codec.Message) and msg.msg_type == b"0"
    assert p.next_event() is fixgw.codec.NEED_MORE
    assert set(fixgw.codec.__all__) <= set(dir(fixgw.codec))
