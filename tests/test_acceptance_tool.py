"""tools/acceptance.py: building script messages, comparing answers, and one script played end to end."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path

import pytest

from fixgw.codec import encode

ROOT = Path(__file__).resolve().parents[1]
SOH = "\x01"


def _load_tool():
    spec = importlib.util.spec_from_file_location("acceptance_tool", ROOT / "tools" / "acceptance.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


acc = _load_tool()
NOW = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.timezone.utc)


def _fix(text: str) -> bytes:
    return text.replace("|", SOH).encode()


def test_acceptance_fill_times_shifts_each_placeholder():
    assert acc.fill_times("52=<TIME>|122=<TIME-121>|60=<TIME+10>", NOW) == (
        "52=20260304-05:06:07|122=20260304-05:04:06|60=20260304-05:06:17"
    )


def test_acceptance_frame_adds_right_body_length_and_checksum():
    framed = acc.frame(_fix("8=FIX.4.4|35=0|34=2|49=A|56=B|"))
    assert framed == encode("FIX.4.4", "0", [(34, 2), (49, "A"), (56, "B")])
    assert acc.frame_problem(framed) is None


def test_acceptance_frame_keeps_script_values_and_counts_soh_before_checksum():
    # A wrong CheckSum written in the script stays; the BodyLength it lacks is right for the body.
    framed = acc.frame(_fix("8=FIX.4.4|35=0|34=2|10=256|"))
    assert framed == _fix("8=FIX.4.4|9=10|35=0|34=2|10=256|")
    assert acc.frame(_fix("8=FIX.4.4|9=99|35=0|")).startswith(_fix("8=FIX.4.4|9=99|35=0|10="))
    assert acc.frame(_fix("35=0|8=FIX.4.4|")) == _fix("35=0|8=FIX.4.4|")  # not FIX first: as written


def test_acceptance_mismatch_ignores_field_order_outside_first_three_unless_strict():
    expected = acc.frame(_fix("8=FIX.4.2|35=3|34=2|49=S|52=00000000-00:00:00.000|56=T|45=2|58=x|373=1|"))
    received = encode("FIX.4.2", "3", [(49, "S"), (56, "T"), (34, 2), (52, "20260304-05:06:07.123"), (45, 2),
                                       (373, 1), (58, "x")])
    assert acc.mismatch(expected, received, False) is None
    assert "expected tag 34 but found tag 49" in acc.mismatch(expected, received, False, True)


def test_acceptance_mismatch_reports_values_missing_fields_and_bad_timestamps():
    expected = acc.frame(_fix("8=FIX.4.4|35=0|34=2|52=00000000-00:00:00|112=T|"))
    assert "expected T but was U" in acc.mismatch(expected, encode("FIX.4.4", "0", [(34, 2), (52, "20260304-05:06:07"), (112, "U")]), False)
    assert "missing field(s) 112" in acc.mismatch(expected, encode("FIX.4.4", "0", [(34, 2), (52, "20260304-05:06:07")]), False)
    assert "not a UTC timestamp" in acc.mismatch(expected, encode("FIX.4.4", "0", [(34, 2), (52, "yesterday"), (112, "T")]), False)


def test_acceptance_mismatch_checks_our_own_checksum_and_leaves_text_out_when_loose():
    expected = acc.frame(_fix("8=FIX.4.4|35=5|34=3|"))
    received = encode("FIX.4.4", "5", [(34, 3), (58, "why")])
    assert acc.mismatch(expected, received, False) == "extra field(s) 58"
    assert acc.mismatch(expected, received, True) is None
    corrupt = received[:-4] + b"%03d\x01" % ((int(received[-4:-1]) + 1) % 256)
    assert "CheckSum" in acc.mismatch(expected, corrupt, True)


OUR_SCRIPT = """\
# written for this test: logon, a TestRequest answered, an unsupported message type, logout
iCONNECT
I8=FIX.4.4|35=A|34=1|49=TW44|52=<TIME>|56=ISLD|98=0|108=30|
E8=FIX.4.4|35=A|34=1|49=ISLD|52=00000000-00:00:00.000|56=TW44|98=0|108=30|
I8=FIX.4.4|35=1|34=2|49=TW44|52=<TIME>|56=ISLD|112=PING|
E8=FIX.4.4|35=0|34=2|49=ISLD|52=00000000-00:00:00.000|56=TW44|112=PING|
I8=FIX.4.4|35=5|34=3|49=TW44|52=<TIME>|56=ISLD|
E8=FIX.4.4|35=5|34=3|49=ISLD|52=00000000-00:00:00.000|56=TW44|
eDISCONNECT
"""


@pytest.mark.slow
def test_acceptance_runner_plays_scripts_against_echo_acceptor(tmp_path, capsys):
    (tmp_path / "good.def").write_text(OUR_SCRIPT.replace("|", SOH), encoding="latin-1")
    (tmp_path / "bad.def").write_text(OUR_SCRIPT.replace(
        "56=TW44|112=PING|", "56=TW44|112=PONG|").replace("|", SOH), encoding="latin-1")
    assert acc.main([str(tmp_path), "--timeout", "5"]) == 1
    out = capsys.readouterr().out
    assert "PASS  " in out and "good.def" in out
    assert "FAIL  " in out and "tag 112: expected PONG but was PING" in out
    assert f"{tmp_path.name}: 1 passed, 1 failed of 2" in out
