"""The command line: help, errors, and the embedded demo driven by ``fixgw client`` in real processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixgw import cli


def test_cli_help_lists_run_sim_client(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ei:
        cli.main(["--help"])
    assert ei.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "sim", "client"):
        assert command in out


def test_cli_no_command_prints_help_returns_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "usage: fixgw" in capsys.readouterr().out


def test_cli_run_bad_config_exits_1_naming_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "bad.toml"
    p.write_text('[[venues]]\nname = "v"\nkind = "binance"\nsimulated = true\n'
                 '[[sessions]]\nbegin_string = "FIX.4.4"\nsender_comp_id = "G"\ntarget_comp_id = "C"\n'
                 'venue = "v"\nheartbeat_interval = -5\n')
    assert cli.main(["run", "--config", str(p)]) == 1
    assert "sessions[0].heartbeat_interval" in capsys.readouterr().err


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
            assert "OrdStatus=2" in out  # the market order filled
            assert "ExecType=5" in out and "ExecType=4" in out  # replaced, then canceled
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
