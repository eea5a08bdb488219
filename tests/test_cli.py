"""The command line: help, errors, and the embedded demo driven by ``fixgw client`` in real processes."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from fixgw import cli


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """``cli.main`` configures logging as a process would: put it back after each test of this module."""
    root, wire = logging.getLogger(), logging.getLogger("fixgw.wire")
    saved = (root.level, list(root.handlers), wire.level, list(wire.handlers), wire.propagate)
    yield
    for logger, handlers in ((root, saved[1]), (wire, saved[3])):
        for h in list(logger.handlers):
            if h not in handlers:
                logger.removeHandler(h)
                h.close()
    root.setLevel(saved[0])
    wire.setLevel(saved[2])
    wire.propagate = saved[4]


def test_cli_help_lists_run_sim_client(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ei:
        cli.main(["--help"])
    assert ei.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "sim", "client", "decode"):
        assert command in out


def test_cli_no_command_prints_help_returns_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "usage: fixgw" in capsys.readouterr().out


def test_cli_run_bad_config_exits_2_naming_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "bad.toml"
    p.write_text('[[venues]]\nname = "v"\nkind = "binance"\nsimulated = true\n'
                 '[[sessions]]\nbegin_string = "FIX.4.4"\nsender_comp_id = "G"\ntarget_comp_id = "C"\n'
                 'venue = "v"\nheartbeat_interval = -5\n')
    assert cli.main(["run", "--config", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fixgw run: sessions[0].heartbeat_interval") and err.count("\n") == 1


@pytest.mark.parametrize("command", ["run", "client", "decode"])
def test_cli_help_documents_every_option_with_its_default(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ei:
        cli.main([command, "--help"])
    assert ei.value.code == 0
    out = capsys.readouterr().out
    options = cli.build_parser()._subparsers._group_actions[0].choices[command]._actions  # type: ignore[union-attr]
    for action in options:
        if action.dest == "help":
            continue
        assert action.help, f"{command} {action.option_strings or action.dest} has no help"
        assert "default" in action.help, f"{command} {action.option_strings or action.dest}: no default"
    assert "--wire-log" in out if command == "run" else True


def test_cli_sim_delegates_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    import fixgw.sim.cli

    monkeypatch.setattr(fixgw.sim.cli, "main", lambda argv: seen.append(list(argv)) or 0)
    assert cli.main(["sim", "--port", "0", "--seed", "3"]) == 0
    assert seen == [["--port", "0", "--seed", "3"]]


@pytest.mark.slow
def test_cli_run_demo_and_client_walkthrough_prints_reports() -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    run = subprocess.Popen([sys.executable, "-m", "fixgw", "run", "--port", "0", "--log-level", "WARNING"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        port = None
        deadline = time.monotonic() + 30
        lines = []
        assert run.stdout is not None
        while port is None and time.monotonic() < deadline:
            line = run.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
        assert port, "".join(lines)
        for fix in ("4.4", "4.2"):
            client = subprocess.run([sys.executable, "-m", "fixgw", "client", "--port", str(port), "--fix", fix],
                                    capture_output=True, text=True, timeout=60, env=env)
            assert client.returncode == 0, client.stdout + client.stderr
            out = client.stdout
            assert "OrdStatus=2 (Filled)" in out  # the market order filled
            assert ("ExecType=F (Trade)" if fix == "4.4" else "ExecType=2 (Fill)") in out
            assert "Side=1 (Buy)" in out
            assert "ExecType=5 (Replaced)" in out and "ExecType=4 (Canceled)" in out
            assert out.rstrip().endswith("done.")
    finally:
        run.send_signal(signal.SIGINT)
        try:
            run.wait(timeout=15)
        except subprocess.TimeoutExpired:
            run.kill()
            run.wait()
    assert run.returncode in (0, 130, -signal.SIGINT)


def test_cli_example_client_script_delegates_to_client_command() -> None:
    text = (Path(__file__).resolve().parents[1] / "examples" / "client.py").read_text()
    assert 'main(["client", *sys.argv[1:]])' in text


# ------------------------------------------------------------------------------------------------
# logging: formats, session/venue context, the wire log's own switch


def test_cli_json_log_lines_carry_ts_level_logger_and_context(restore_logging: None) -> None:
    from fixgw import logsetup

    err = io.StringIO()
    logsetup.configure("INFO", "json", stderr=err)
    logging.getLogger("fixgw.session").info("%s logged on", "FIX.4.4:FIXGW->CLIENT44")
    logging.getLogger("fixgw.gateway").warning("%s: submit %s: refused\nforged line", "CLIENT44_44", "o-1")
    logging.getLogger("fixgw.venues.binance").info("user-data stream connected")
    logging.getLogger("fixgw.gateway").info("venue %s: its events were not all applied", "main")
    logging.getLogger("fixgw.gateway").debug("not shown at INFO")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("fixgw.cli").exception("failed")
    lines = err.getvalue().splitlines()
    assert len(lines) == 5  # the newline inside a message stays inside its line
    records = [json.loads(line) for line in lines]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", records[0]["ts"])
    assert records[0]["level"] == "INFO" and records[0]["logger"] == "fixgw.session"
    assert records[0]["session"] == "FIX.4.4:FIXGW->CLIENT44" and "venue" not in records[0]
    assert records[1]["session"] == "CLIENT44_44" and records[1]["message"].endswith("refused\nforged line")
    assert records[2]["venue"] == "binance" and records[3]["venue"] == "main"
    assert "ValueError: boom" in records[4]["exc"]


def test_cli_text_log_lines_use_utc_iso_time(restore_logging: None) -> None:
    from fixgw import logsetup

    err = io.StringIO()
    logsetup.configure("WARNING", "text", stderr=err)
    logging.getLogger("fixgw.gateway").warning("hello")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z WARNING fixgw.gateway: hello\n", err.getvalue())


def _session_id() -> object:
    from fixgw.session import SessionID

    return SessionID("FIX.4.4", "FIXGW", "CLIENT44")


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("names", [False, True])
def test_cli_wire_log_goes_to_its_own_file_and_decodes(tmp_path: Path, restore_logging: None, fmt: str,
                                                       names: bool) -> None:
    from fixgw import decode, logsetup
    from fixgw.codec import encode
    from fixgw.transport.wirelog import WireLog

    err, wire_file = io.StringIO(), tmp_path / "wire.log"
    handlers = logsetup.configure("INFO", fmt, wire_log=wire_file, wire_names=names, stderr=err)
    frame = encode("FIX.4.4", "8", [(49, "FIXGW"), (56, "CLIENT44"), (34, 2), (52, "20261206-01:10:42.053"),
                                    (37, "O"), (17, "E"), (150, "F"), (39, "2"), (55, "X"), (54, "1"), (151, 0),
                                    (14, 1), (6, 5)])
    WireLog(_session_id()).outbound(frame)
    for h in handlers:
        h.flush()
    text = wire_file.read_text()
    assert err.getvalue() == ""  # not in the narrative log
    assert ("ExecType(150)=F" in text) is names and ("|150=F|" in text) is not names
    assert "FIX.4.4:FIXGW->CLIENT44" in text
    found = list(decode.decode_bytes(text.encode()))
    assert [d.raw for d in found] == [frame] and found[0].verified


def test_cli_wire_log_off_without_its_switch(restore_logging: None) -> None:
    from fixgw import logsetup
    from fixgw.transport.wirelog import WireLog

    logsetup.configure("INFO", "text", stderr=io.StringIO())
    assert not WireLog(_session_id()).logger.isEnabledFor(logging.INFO)
    logsetup.configure("DEBUG", "text", stderr=io.StringIO())
    assert WireLog(_session_id()).logger.isEnabledFor(logging.INFO)  # DEBUG shows everything, as before


def test_cli_sim_banner_shows_demo_key_and_secret() -> None:
    from fixgw.sim.config import DEMO_API_KEY, DEMO_API_SECRET

    env = {k: v for k, v in os.environ.items() if not k.startswith("FIXGW_SIM_")}
    sim = subprocess.Popen([sys.executable, "-m", "fixgw", "sim", "--port", "0", "--no-market-maker"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert sim.stderr is not None
        banner = ""
        deadline = time.monotonic() + 30
        while "API key" not in banner and time.monotonic() < deadline:
            line = sim.stderr.readline()
            if not line:
                break
            banner += line
        assert f"API key {DEMO_API_KEY} secret {DEMO_API_SECRET}" in banner, banner
    finally:
        sim.terminate()
        try:
            sim.wait(timeout=15)
        except subprocess.TimeoutExpired:
            sim.kill()
            sim.wait()


def test_cli_run_demo_arbitrage_banner_names_both_venues_and_the_example(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fixgw.bridge.launch import DemoKey
    from fixgw.config import demo_config

    config = demo_config("arbitrage", port=0)
    config = config.with_venue("alpha", rest_url="http://127.0.0.1:1").with_venue("beta", rest_url="http://127.0.0.1:2")
    keys = [DemoKey("demo-trade", ("read", "trade"), tmp_path / "demo-trade.secret")]
    cli._print_banner(config, 9999, demo=True, bridge={"keys": [object()], "demo_keys": keys, "port": 9881},
                      demo_name="arbitrage")
    out = capsys.readouterr().out
    assert "venue alpha (binance, simulated) at http://127.0.0.1:1" in out
    assert "venue beta (binance, simulated) at http://127.0.0.1:2" in out
    assert re.search(r"examples/arbitrage\.py --bridge http://127\.0\.0\.1:9881 --key demo-trade --secret-file "
                     + re.escape(str(tmp_path / "demo-trade.secret")), out)
    cli._print_banner(config, 9999, demo=True, bridge={"keys": [object()], "demo_keys": keys, "port": 9881})
    assert "examples/arbitrage.py" not in capsys.readouterr().out  # the basic demo does not name it


def test_cli_run_demo_unknown_name_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "--demo", "nope"])
    assert info.value.code == 2 and "--demo" in capsys.readouterr().err


def test_cli_reader_gone_early_ends_quietly_without_traceback():
    import subprocess
    import sys as _sys

    proc = subprocess.Popen([_sys.executable, "-m", "fixgw", "conformance", "--list"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before anything is written, as after `| head -0`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err
