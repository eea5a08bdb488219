"""``fixgw replay``: recorded wire logs fed into a sans-I/O session, differences from the log reported."""

from __future__ import annotations

import logging
from pathlib import Path

from fixgw.cli import main as cli_main
from fixgw.logsetup import ContextFilter, JsonFormatter
from fixgw.testing.conformance import Target, run_cases, select_cases
from fixgw.testing.replay import Replay, read_wire_log

from .conftest import running_acceptor

INCIDENT = Path(__file__).parent / "data" / "incident.wire.log"


def test_replay_recorded_incident_reproduces_every_frame(capsys) -> None:
    assert cli_main(["replay", str(INCIDENT)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "replaying 16 frame(s) as the acceptor FIX.4.4:ECHO->CLIENT44"
    assert any(line.endswith("event SequenceGap(begin=2, end=0)") for line in out)
    assert any(line.endswith("out  35=2 34=2 7=2 16=0") for line in out)
    assert any("event Disconnected(reason='MsgSeqNum too low, expecting 3 but received 2')" in line for line in out)
    assert sum(line.endswith("state ACTIVE -> DISCONNECTING") for line in out) == 2
    assert out[-1] == "0 difference(s) from the log"


def test_replay_log_that_lost_a_frame_reports_differs_exit_one(tmp_path: Path, capsys) -> None:
    lines = INCIDENT.read_text().splitlines()
    edited = [line for line in lines if "|35=2|" not in line]  # the recorded ResendRequest is gone
    assert len(edited) == len(lines) - 1
    log = tmp_path / "edited.log"
    log.write_text("\n".join(edited) + "\n")
    assert cli_main(["replay", str(log)]) == 1
    out = capsys.readouterr().out
    assert "out  35=2 34=2 7=2 16=0  DIFFERS: the log has 35=0 34=3" in out
    assert out.rstrip().endswith("difference(s) from the log") and "0 difference(s)" not in out


def test_replay_masked_password_frame_is_reframed_and_accepted(tmp_path: Path) -> None:
    lines = INCIDENT.read_text().splitlines()
    lines[0] = lines[0].replace("|141=Y|", "|141=Y|553=user|554=***|")  # as the wire log masks secrets
    log = tmp_path / "masked.log"
    log.write_text("\n".join(lines) + "\n")
    records = list(read_wire_log(log.open("rb")))
    assert records[0].masked
    replay = Replay(records)
    assert replay.run() == 0
    assert any("in   35=A 34=1  (secrets masked in the log)" in line for line in replay.lines)


def test_replay_live_json_wire_log_of_fixgw_acceptor_replays_exactly(tmp_path: Path) -> None:
    log_file = tmp_path / "wire.json"
    handler = logging.FileHandler(log_file)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    wire = logging.getLogger("fixgw.wire")
    old_level, old_propagate = wire.level, wire.propagate
    wire.setLevel(logging.INFO)
    wire.propagate = False
    wire.addHandler(handler)
    try:
        with running_acceptor() as port:
            results = run_cases(select_cases("FIX.4.2", patterns=["2-b", "8_ResendRequestWithApp", "14-e"]),
                                Target("FIX.4.2", "CLIENT42", "ECHO", port=port))
    finally:
        wire.removeHandler(handler)
        wire.setLevel(old_level)
        wire.propagate = old_propagate
        handler.close()
    assert all(r.passed for r in results)
    replay = Replay(list(read_wire_log(log_file.open("rb"))))
    assert replay.run() == 0, "\n".join(replay.lines)
    assert any("event Rejected(" in line for line in replay.lines)


def test_replay_file_without_frames_is_exit_two(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty.log"
    empty.write_text("nothing here\n")
    assert cli_main(["replay", str(empty)]) == 2
    assert "no FIX frame" in capsys.readouterr().err
    assert cli_main(["replay", str(tmp_path / "missing.log")]) == 2


def test_replay_tag_named_wire_log_reads_like_the_plain_one() -> None:
    from fixgw.logsetup import with_tag_names

    named = []
    for line in INCIDENT.read_text().splitlines():
        ts, session, message = line.split(" ", 2)
        named.append(f"{ts} {session} {with_tag_names(message)}".encode())
    assert b"MsgType(35)=A" in named[0]
    replay = Replay(list(read_wire_log(named)))
    assert replay.run() == 0
    assert len(replay.records) == 16
