"""The kit's hypothesis strategies draw what they promise: valid messages, typed values, garbled frames."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixgw.codec import Message, Parser, encode
from fixgw.codec._validate import FORMATS
from fixgw.codec.dictionary import load_dictionary
from fixgw.testing import strategies as fst
from fixgw.testing.compare import frame_problem

BOUNDED = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parse(data: bytes, data_tags=None) -> list:
    p = Parser(data_tags=data_tags)
    p.feed(data)
    return list(p)


@pytest.mark.parametrize("begin", ["FIX.4.2", "FIX.4.4"])
def test_strategies_messages_of_any_type_validate_against_their_dictionary(begin: str) -> None:
    d = load_dictionary(begin)

    @BOUNDED
    @given(fst.messages(begin))
    def check(m: fst.DrawnMessage) -> None:
        (msg,) = _parse(m.encode(seq=7), d.data_tags)
        assert isinstance(msg, Message)
        d.validate(msg)  # raises ValidationError when the strategy drew something invalid

    check()


@pytest.mark.parametrize("begin", ["FIX.4.2", "FIX.4.4"])
def test_strategies_messages_every_type_of_the_dictionary_drawn_valid(begin: str) -> None:
    d = load_dictionary(begin)
    seen: list[bytes] = []

    @settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data: st.DataObject) -> None:
        for mt in sorted(d.message_types):
            m = data.draw(fst.messages(begin, [mt], dictionary=d))
            (msg,) = _parse(m.encode(seq=7), d.data_tags)
            d.validate(msg)
            seen.append(m.msg_type)

    check()
    assert sorted(set(seen)) == sorted(d.message_types)


def test_strategies_messages_with_groups_draw_instances_and_data_fields() -> None:
    d = load_dictionary("FIX.4.4")

    @BOUNDED
    @given(fst.messages("FIX.4.4", ["D", "A", "V"]))
    def check(m: fst.DrawnMessage) -> None:
        (msg,) = _parse(m.encode(), d.data_tags)
        d.validate(msg)
        for count_tag in d.message_types[m.msg_type].groups:
            n = msg.get(count_tag)
            if n is not None and int(n) > 0:
                delimiter = next(g for g in _groups(d, m.msg_type) if g.count_tag == count_tag).delimiter
                assert msg.get_all(delimiter)[: int(n)]

    check()


def _groups(d, mt):
    from fixgw.codec.dictionary import _groups_of

    mdef = d.message_types[mt]
    return list(_groups_of(mdef.members))


@pytest.mark.parametrize("fix_type", sorted(FORMATS))
def test_strategies_values_of_type_pass_the_type_check(fix_type: str) -> None:
    fmt = FORMATS[fix_type]

    @settings(max_examples=60, deadline=None)
    @given(fst.values_of_type(fix_type))
    def check(value: bytes) -> None:
        assert fmt(value), value

    check()


@BOUNDED
@given(fst.garbled(fst.messages("FIX.4.4", ["0", "1", "D", "8"], optional=False).map(lambda m: m.encode())))
def test_strategies_garbled_kept_framing_parses_broken_framing_does_not(mutation: fst.Mutation) -> None:
    problem = frame_problem(mutation.data)
    if mutation.framing == "kept":
        assert problem is None
        items = _parse(mutation.data)
        assert len(items) == 1  # one frame, a Message (possibly with a bad field) or Garbled for a bad MsgType
    else:
        assert problem is not None, mutation
        items = _parse(mutation.data + b"8=FIX.4.4\x01")  # the next frame's start lets a garbled one out
        assert not any(isinstance(i, Message) and i.raw == mutation.data for i in items)


@settings(max_examples=40, deadline=None)
@given(fst.peer_steps(kinds=["send", "wait"]))
def test_strategies_peer_steps_keep_to_the_kinds_asked(steps: list) -> None:
    assert {s.kind for s in steps} <= {"send", "wait"}
    assert all(s.seconds > 0 for s in steps if s.kind == "wait")


def test_strategies_garbled_can_be_limited_to_one_framing() -> None:
    frames = st.just(encode("FIX.4.4", "0", [(49, "A"), (56, "B"), (34, 2), (52, "20240101-00:00:00")]))

    @settings(max_examples=30, deadline=None)
    @given(fst.garbled(frames, "broken"))
    def check(m: fst.Mutation) -> None:
        assert m.framing == "broken"

    check()
