"""The hot path's JSON codec gives the values and text the standard library gives."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from fixgw import jsonio

_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@given(_values)
def test_jsonio_dumps_is_the_standard_librarys_compact_text_and_loads_reads_it_back(value: object) -> None:
    text = jsonio.dumps(value)
    assert isinstance(text, str)
    assert json.loads(text) == value
    assert jsonio.loads(text) == value
    assert jsonio.loads(text.encode()) == value
    assert text == json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def test_jsonio_integer_past_64_bits_still_encoded() -> None:
    assert jsonio.loads(jsonio.dumps({"n": 2**70})) == {"n": 2**70}


def test_jsonio_unreadable_text_is_a_value_error() -> None:
    for bad in ("{", "nope", '{"a":}'):
        try:
            jsonio.loads(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} decoded")
