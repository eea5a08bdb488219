"""The scripted counterparty and its comparison rules: field order, timestamps, texts, numbering."""

from __future__ import annotations

import pytest

from fixgw.codec import Message, Parser, encode
from fixgw.testing import ANY, Counterparty, Expect, ExpectDisconnect, Expected, Mismatch, Rules, Send, compare, one_of, play


def _msg(data: bytes) -> Message:
    p = Parser()
    p.feed(data)
    (m,) = list(p)
    assert isinstance(m, Message)
    return m


HB = _msg(encode("FIX.4.4", "0", [(49, "A"), (56, "B"), (34, 7), (52, "20240101-00:00:00.000"), (112, "x"),
                                  (58, "Hello There")]))


def test_compare_matching_expectation_no_difference() -> None:
    assert compare(Expected.of("0", {112: "x", 34: 7}), HB) is None


def test_compare_value_differs_names_tag_and_both_values() -> None:
    assert compare(Expected.of("0", {112: "y"}), HB) == "tag 112: expected y but was x"


def test_compare_timestamp_rules_format_by_default_exact_on_request() -> None:
    want = Expected.of("0", {52: "20991231-23:59:59"})
    assert compare(want, HB) is None
    assert compare(want, HB, Rules(timestamps="exact")) == (
        "tag 52: expected 20991231-23:59:59 but was 20240101-00:00:00.000")


def test_compare_text_ignored_contains_or_exact_as_the_rules_say() -> None:
    want = Expected.of("0", {58: "hello"})
    assert compare(want, HB) is None
    assert compare(want, HB, Rules(text="contains")) is None
    assert compare(want, HB, Rules(text="exact")) == "tag 58: expected hello but was Hello There"


def test_compare_header_field_after_body_fails_sections_rule() -> None:
    late = _msg(encode("FIX.4.4", "0", [(49, "A"), (56, "B"), (112, "x"), (34, 7), (52, "20240101-00:00:00")]))
    assert compare(Expected.of("0"), late) == "header tag 34 after body tag 112"
    assert compare(Expected.of("0"), late, Rules(field_order="any")) is None


def test_compare_strict_order_follows_the_expectation() -> None:
    want = Expected.of("0", [(56, ANY), (49, ANY)])
    assert compare(want, HB, Rules(field_order="strict")) == "fields in order [49, 56], expected [56, 49]"


def test_compare_one_of_reports_which_value_it_saw() -> None:
    notes: list[str] = []
    assert compare(Expected.of("0", {112: one_of("x", "z")}), HB, notes=notes) is None
    assert notes == ["112=x"]


def test_compare_absent_and_extra_fields() -> None:
    assert compare(Expected.of("0", absent=(58,)), HB) == "tag 58 should be absent but is Hello There"
    assert compare(Expected.of("0", {112: "x"}), HB, Rules(extra_fields=False)) == "extra field(s) 58"


def test_compare_wrong_checksum_received_is_a_difference() -> None:
    raw = HB.raw[:-4] + b"000\x01"
    assert compare(Expected.of("0"), Message(list(HB.fields), raw=raw)).startswith("CheckSum 000")


def test_rules_unknown_choice_is_refused() -> None:
    with pytest.raises(ValueError, match="Rules.text"):
        Rules(text="fuzzy")


def test_counterparty_script_against_fixgw_acceptor_passes_and_mismatch_names_the_field(acceptor_port: int) -> None:
    with Counterparty.connect("127.0.0.1", acceptor_port, "FIX.4.4", sender="CLIENT44", target="ECHO") as cp:
        play(cp, [Send("A", ((98, 0), (108, 30), (141, "Y")), options=(("seq", 1),)),
                  Expect("A", ((108, "30"), (141, "Y"))),
                  Send("1", ((112, "ping"),))])
        with pytest.raises(Mismatch) as caught:
            play(cp, [Expect("0", ((112, "pong"),))])
        assert caught.value.lines()[0] == "step 1 (Expect): tag 112: expected pong but was ping"
        assert caught.value.received.startswith("8=FIX.4.4|")
        play(cp, [Send("5"), Expect("5"), ExpectDisconnect()])


def test_counterparty_numbering_gap_from_the_engine_is_a_mismatch(acceptor_port: int) -> None:
    with Counterparty.connect("127.0.0.1", acceptor_port, "FIX.4.4", sender="CLIENT44", target="ECHO") as cp:
        cp.send("A", [(98, 0), (108, 30), (141, "Y")], seq=1)
        cp.expect("A")
        cp.expected_seq = 5  # as if we had missed the engine's messages 2..4
        cp.send("1", [(112, "ping")])
        with pytest.raises(Mismatch, match="MsgSeqNum 2 received, 5 expected"):
            cp.expect("0")
        cp.send("5")
        cp.finish()
