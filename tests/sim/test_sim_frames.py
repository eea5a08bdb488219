"""The simulator's WebSocket frame headers: the same bytes as the websockets library writes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode

from fixgw.sim.outbox import _frame_header, _text_frame


@settings(max_examples=80, deadline=None)
@given(st.one_of(st.integers(0, 300), st.sampled_from([125, 126, 127, 65535, 65536, 70000])))
def test_sim_frame_header_any_length_same_bytes_as_websockets(n: int) -> None:
    payload = bytes(i % 251 for i in range(n))
    expected = Frame(Opcode.TEXT, payload).serialize(mask=False)
    assert _frame_header(n) + payload == expected
    assert _text_frame(payload) == expected
