"""``fixgw decode``: frames from raw bytes, wire logs (plain, named, JSON), with names, groups and checks."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw import decode
from fixgw.codec import encode
from fixgw.logsafe import printable_bytes
from fixgw.transport.wirelog import mask_secrets

HEADER = [(49, "FIXGW"), (56, "CLIENT44"), (34, 7), (52, "20261206-01:10:42.053")]


def _report(**extra: object) -> bytes:
    fields = [*HEADER, (37, "O1"), (11, "c1"), (17, "E1"), (150, "F"), (39, "2"), (55, "BTC/USDT"), (54, "1"),
              (151, "0"), (14, "0.01"), (6, "100")]
    fields += [(int(k[1:]), v) for k, v in extra.items()]
    return encode("FIX.4.4", "8", fields)


def _one(data: bytes) -> decode.Decoded:
    found = list(decode.decode_bytes(data))
    assert len(found) == 1, found
    return found[0]


def _render(d: decode.Decoded) -> str:
    return "\n".join(decode.render(d, decode._dictionary(d.begin_string, None)))


def test_decode_raw_frame_checks_pass_and_names_tags_and_enums() -> None:
    frame = _report()
    d = _one(frame)
    assert d.verified and d.raw == frame
    text = _render(d)
    assert "FIX.4.4 ExecutionReport (35=8)" in text
    assert f"BodyLength {d.body_length.declared} ok" in text and "valid" in text
    assert " 150 ExecType = F (Trade)" in text
    assert "  39 OrdStatus = 2 (Filled)" in text
    assert "  54 Side = 1 (Buy)" in text


def test_decode_fix42_frame_uses_the_42_dictionary() -> None:
    frame = encode("FIX.4.2", "8", [*HEADER, (37, "O"), (17, "E"), (20, "0"), (150, "2"), (39, "2"), (55, "X"),
                                    (54, "2"), (151, 0), (14, 1), (6, 5)])
    text = _render(_one(frame))
    assert "20 ExecTransType = 0 (New)" in text
    assert "150 ExecType = 2 (Fill)" in text


def test_decode_wire_log_line_with_prefix_and_escapes_restores_the_frame() -> None:
    frame = _report(t58="two\nlines \\ and \x7f")
    line = "2026-12-06T01:10:42.053Z FIX.4.4:FIXGW->CLIENT44 >> " + printable_bytes(frame)
    d = _one(line.encode())
    assert d.raw == frame and d.verified
    assert d.context == "2026-12-06T01:10:42.053Z FIX.4.4:FIXGW->CLIENT44 >>"
    text = _render(d)
    assert "58 Text = two\\x0alines \\\\ and \\x7f" in text  # shown escaped, one line
    assert text.splitlines()[0] == f"# {d.context}"


def test_decode_named_wire_log_strips_names_and_verifies() -> None:
    frame = _report(t58="x")
    dictionary = decode._dictionary("FIX.4.4", None)
    named = decode.name_tags(printable_bytes(frame), dictionary)
    assert named.startswith("BeginString(8)=FIX.4.4|BodyLength(9)=") and "|ExecType(150)=F|" in named
    d = _one(b"<< " + named.encode())
    assert d.raw == frame and d.verified


def test_decode_json_log_line_reads_its_message() -> None:
    frame = _report()
    record = {"ts": "2026-12-06T01:10:42.053123Z", "level": "INFO", "logger": "fixgw.wire.FIX_4_4:FIXGW->C",
              "message": ">> " + printable_bytes(frame), "session": "FIX.4.4:FIXGW->C", "direction": "out"}
    d = _one(json.dumps(record).encode())
    assert d.raw == frame and d.verified
    assert d.context == "2026-12-06T01:10:42.053123Z FIX.4.4:FIXGW->C >>"


def test_decode_wrong_checksum_is_reported_with_the_counted_sum() -> None:
    frame = _report()
    declared = int(frame[-4:-1])
    bad = frame[:-4] + b"%03d\x01" % ((declared + 1) % 256)
    d = _one(bad)
    assert not d.verified and d.checksum.counted == declared
    assert f"CheckSum {(declared + 1) % 256:03d} WRONG (counted {declared:03d})" in _render(d)


def test_decode_wrong_body_length_is_reported() -> None:
    frame = _report()
    d0 = _one(frame)
    n = d0.body_length.declared
    assert n is not None
    bad = frame.replace(b"\x019=%d\x01" % n, b"\x019=%d\x01" % (n + 5), 1)
    d = _one(bad)
    assert not d.verified
    assert f"BodyLength {n + 5} WRONG (counted {n})" in _render(d)


def test_decode_truncated_frame_is_reported_not_crashed() -> None:
    frame = _report()
    d = _one(frame[:40])
    assert not d.verified
    assert "truncated" in _render(d)


def test_decode_garbage_between_frames_is_context_and_every_frame_found() -> None:
    a, b = _report(t58="a"), _report(t58="b")
    found = list(decode.decode_bytes(b"noise " + a + b"more noise 58=FIX " + b))
    assert [d.raw for d in found] == [a, b]
    assert found[1].context == "more noise 58=FIX"
    assert all(d.verified for d in found)


def test_decode_masked_password_is_not_verifiable_but_not_wrong() -> None:
    logon = encode("FIX.4.4", "A", [*HEADER, (98, 0), (108, 30), (553, "demo"), (554, "s3cret")])
    line = printable_bytes(mask_secrets(logon))
    d = _one(line.encode())
    assert d.masked and d.verified
    text = _render(d)
    assert "not verifiable (secrets masked in the log)" in text and "s3cret" not in text


def test_decode_repeating_groups_are_indented_nested_and_counted() -> None:
    frame = encode("FIX.4.4", "D", [*HEADER, (11, "c1"), (453, 2), (448, "A"), (447, "D"), (452, 3),
                                    (802, 1), (523, "sub"), (803, 4),
                                    (448, "B"), (447, "D"), (21, 1), (55, "X"), (54, 1), (60, "20261206-01:10:42"),
                                    (38, 1), (40, 1)])
    lines = _render(_one(frame)).splitlines()
    assert " 453 NoPartyIDs = 2" in lines
    i = lines.index("    - 448 PartyID = A")
    assert lines[i + 1:i + 6] == [
        "      447 PartyIDSource = D (Proprietary)",
        "      452 PartyRole = 3 (Client Id)",
        "      802 NoPartySubIDs = 1",
        "        - 523 PartySubID = sub",
        "          803 PartySubIDType = 4 (Application)",
    ]
    assert "    - 448 PartyID = B" in lines
    assert "  21 HandlInst = 1 (Automated Execution No Intervention)" in lines


def test_decode_group_count_mismatch_is_noted() -> None:
    frame = encode("FIX.4.4", "D", [*HEADER, (11, "c1"), (453, 3), (448, "A"), (21, 1), (55, "X"), (54, 1),
                                    (60, "20261206-01:10:42"), (40, 1)])
    text = _render(_one(frame))
    assert "! NoPartyIDs says 3, 1 instance(s) follow" in text
    assert "INVALID" in text  # the dictionary says so too


def test_decode_data_field_holding_soh_is_taken_by_its_length() -> None:
    raw = b"a\x01b=c\x01"
    frame = encode("FIX.4.4", "A", [*HEADER, (98, 0), (108, 30), (95, len(raw)), (96, raw)])
    d = _one(frame)
    assert d.verified and (96, raw) in d.fields
    # The same through a wire log line: the SOH inside the data became '|' and comes back.
    assert _one(printable_bytes(frame).encode()).fields == d.fields


def test_decode_raw_frame_cut_by_a_newline_is_joined(tmp_path: Path) -> None:
    a, b = _report(t58="line one\nline two"), _report(t58="plain")
    path = tmp_path / "raw.fix"
    path.write_bytes(a + b"\n" + b + b"\n")
    with path.open("rb") as fh:
        found = list(decode.decode_lines(fh))
    assert [d.raw for d in found] == [a, b] and all(d.verified for d in found)


def test_decode_unknown_version_prints_tags_without_names() -> None:
    frame = encode("FIX.4.3", "0", HEADER)
    d = _one(frame)
    assert d.verified
    text = _render(d)
    assert "no dictionary for FIX.4.3" in text and "  49 ? = FIXGW" in text


_VALUE = st.binary(min_size=1, max_size=12).filter(lambda v: b"\x01" not in v and b"|" not in v)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([58, 11, 55, 1, 5001]), _VALUE), max_size=6), st.booleans())
def test_decode_any_frame_through_the_wire_log_round_trips(fields: list[tuple[int, bytes]], named: bool) -> None:
    frame = encode("FIX.4.4", "8", [*HEADER, *fields])
    text = printable_bytes(frame)
    if named:
        text = decode.name_tags(text, decode._dictionary("FIX.4.4", None))
    for data in (frame, ("<< " + text).encode()):
        d = _one(data)
        assert d.raw == frame and d.verified
        assert [f for f in d.fields if f[0] in (58, 11, 55, 1, 5001)] == fields


def _args(*files: str) -> argparse.Namespace:
    return argparse.Namespace(files=list(files) or ["-"], specs=None)


def test_decode_command_exit_status_follows_the_checks(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.log", tmp_path / "bad.log"
    good.write_text("x << " + printable_bytes(_report()) + "\n")
    bad.write_bytes(_report()[:-4] + b"000\x01\n")
    out, err = io.StringIO(), io.StringIO()
    assert decode.run(_args(str(good)), out, err) == 0
    assert "ExecType = F (Trade)" in out.getvalue() and err.getvalue() == ""
    assert decode.run(_args(str(good), str(bad)), io.StringIO(), err) == 1
    assert "1 of 2 message(s) failed" in err.getvalue()
    empty = tmp_path / "empty.log"
    empty.write_text("no fix here\n")
    err = io.StringIO()
    assert decode.run(_args(str(empty)), io.StringIO(), err) == 1
    assert "no FIX message found" in err.getvalue()
    err = io.StringIO()
    assert decode.run(_args(str(tmp_path)), io.StringIO(), err) == 2
    assert err.getvalue().count("\n") == 1 and "is a directory" in err.getvalue()


def test_decode_command_reads_stdin_in_a_real_process() -> None:
    proc = subprocess.run([sys.executable, "-m", "fixgw", "decode"], input=_report(), capture_output=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert b"150 ExecType = F (Trade)" in proc.stdout
