"""``get_decimal`` of the compiled ``Message`` reads a plain FIX float in place: it must give the pure
getter's value, or its error, for every field value (signs, dots, digits, junk, empty)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.codec import _encoder as pure_encoder
from fixgw.codec import _parser as pure_parser
from fixgw.errors import FixgwError

ext = pytest.importorskip("fixgw_ext._codec")

values = st.one_of(
    st.text(alphabet="-.0123456789", max_size=12),
    st.text(alphabet="-.+0123456789eExX ", max_size=8),
    st.sampled_from(["-", ".", "-.", "-.5", "5.", "0", "-0", "00.100", "1.2.3", "--1", "1-", "Infinity", "NaN"]),
)


def _frame(value: str) -> bytes:
    return pure_encoder.encode("FIX.4.4", "D", [(49, "A"), (56, "B"), (34, 1), (44, value.encode()), (38, "1")])


def _outcome(msg, tag):  # type: ignore[no-untyped-def]
    try:
        return ("ok", msg.get_decimal(tag))
    except (FixgwError, KeyError) as exc:
        return ("err", type(exc), str(exc))


@settings(max_examples=400, deadline=None)
@given(value=values)
def test_get_decimal_compiled_any_value_same_as_pure(value: str) -> None:
    raw = _frame(value)
    parser, spec = ext.Parser(), pure_parser.Parser()
    parser.feed(raw)
    spec.feed(raw)
    a, b = parser.next_event(), spec.next_event()
    assert isinstance(a, ext.Message) and isinstance(b, pure_parser.Message), (a, b)
    for tag in (44, 38, 300):
        got, want = _outcome(a, tag), _outcome(b, tag)
        assert got == want
        if got[0] == "ok":
            assert str(got[1]) == str(want[1])  # the same digits and exponent, not only an equal value
