"""Every operator mistake is one line on standard error, never a traceback: each case in a real process."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONUNBUFFERED="1")


def _fixgw(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fixgw", *args], capture_output=True, text=True, timeout=timeout,
                          env=env or ENV, cwd=ROOT)


def _one_line(proc: subprocess.CompletedProcess[str], rc: int, *needles: str) -> str:
    err = proc.stderr
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert proc.returncode == rc, (proc.returncode, err, proc.stdout)
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_cli_errors_config_directory_is_one_line_exit_2(tmp_path: Path) -> None:
    _one_line(_fixgw("run", "--config", str(tmp_path)), 2, str(tmp_path), "is a directory")


def test_cli_errors_missing_config_is_one_line_exit_2(tmp_path: Path) -> None:
    _one_line(_fixgw("run", "--config", str(tmp_path / "nope.toml")), 2, "no such file")


def test_cli_errors_port_out_of_range_is_one_line_exit_2() -> None:
    _one_line(_fixgw("run", "--port", "99999"), 2, "--port", "99999 is not a port")
    _one_line(_fixgw("client", "--port", "-1"), 2, "--port", "-1 is not a port")


def test_cli_errors_unknown_log_level_is_one_line_exit_2() -> None:
    _one_line(_fixgw("run", "--log-level", "LOUD"), 2, "--log-level", "'LOUD'", "DEBUG")


def test_cli_errors_log_file_directory_is_one_line_exit_2(tmp_path: Path) -> None:
    _one_line(_fixgw("run", "--log-file", str(tmp_path)), 2, "--log-file", "is a directory")


def test_cli_errors_wire_log_unwritable_is_one_line_exit_2(tmp_path: Path) -> None:
    _one_line(_fixgw("run", "--wire-log", str(tmp_path / "no" / "such" / "dir.log")), 2, "--wire-log",
              "cannot write")


def test_cli_errors_password_in_toml_hints_password_env(tmp_path: Path) -> None:
    p = tmp_path / "gw.toml"
    p.write_text('[[venues]]\nname = "v"\nkind = "binance"\nsimulated = true\n'
                 '[[sessions]]\nbegin_string = "FIX.4.4"\nsender_comp_id = "G"\ntarget_comp_id = "C"\n'
                 'venue = "v"\nusername = "u"\npassword = "hunter2"\n')
    line = _one_line(_fixgw("run", "--config", str(p)), 2, "sessions[0].password", "unknown key",
                     "never goes in the file", "with password_env")
    assert "hunter2" not in line


def test_cli_errors_run_port_in_use_is_one_line_exit_2(busy_port: int) -> None:
    _one_line(_fixgw("run", "--port", str(busy_port), "--log-level", "WARNING"), 2, f":{busy_port}",
              "in use")


def test_cli_errors_echo_acceptor_port_in_use_is_one_line_exit_2(busy_port: int) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "echo_acceptor.py"), "--port", str(busy_port),
                           "--store", ":memory:"], capture_output=True, text=True, timeout=60, env=ENV)
    _one_line(proc, 2, f":{busy_port}", "in use")


def test_cli_errors_client_connection_refused_is_one_line_exit_1() -> None:
    with socket.socket() as s:  # a port nobody listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        _one_line(_fixgw("client", "--port", str(port), "--timeout", "5"), 1, "connection refused",
                  f"127.0.0.1:{port}")


def test_cli_errors_client_no_logon_answer_times_out_in_one_line(busy_port: int) -> None:
    start = time.monotonic()
    _one_line(_fixgw("client", "--port", str(busy_port), "--timeout", "1"), 1, "no Logon answer", "within 1 s")
    assert time.monotonic() - start < 30


def test_cli_errors_client_password_env_unset_is_one_line(busy_port: int) -> None:
    env = {k: v for k, v in ENV.items() if k != "FIXGW_TEST_NO_SUCH_VAR"}
    _one_line(_fixgw("client", "--port", str(busy_port), "--password-env", "FIXGW_TEST_NO_SUCH_VAR", env=env), 1,
              "FIXGW_TEST_NO_SUCH_VAR is not set")


def test_cli_errors_decode_missing_file_is_one_line_exit_2(tmp_path: Path) -> None:
    _one_line(_fixgw("decode", str(tmp_path / "none.log")), 2, "cannot read", "none.log")


@pytest.fixture(scope="module")
def demo_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    wire = tmp_path_factory.mktemp("wire") / "wire.log"
    run = subprocess.Popen([sys.executable, "-m", "fixgw", "run", "--port", "0", "--log-level", "WARNING",
                            "--wire-log", str(wire)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env=ENV)
    try:
        port = None
        deadline = time.monotonic() + 30
        assert run.stdout is not None
        lines = []
        while port is None and time.monotonic() < deadline:
            line = run.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            port = int(m.group(1)) if m else None
        assert port, "".join(lines)
        yield port, wire
    finally:
        run.send_signal(signal.SIGINT)
        try:
            run.wait(timeout=15)
        except subprocess.TimeoutExpired:
            run.kill()
            run.wait()


@pytest.mark.slow
def test_cli_errors_client_wrong_password_is_rejected_once_with_the_reason(demo_gateway: tuple[int, Path]) -> None:
    port, wire = demo_gateway
    env = dict(ENV, FIXGW_TEST_PW="wrong")
    before = wire.read_text().count("35=A|49=CLIENT44") if wire.exists() else 0
    _one_line(_fixgw("client", "--port", str(port), "--password-env", "FIXGW_TEST_PW", env=env), 1,
              "logon rejected", "invalid password")
    logons = wire.read_text().count("35=A|49=CLIENT44") - before
    assert logons == 1  # no retry after an authentication failure


@pytest.mark.slow
def test_cli_errors_client_unknown_session_is_rejected_with_the_reason(demo_gateway: tuple[int, Path]) -> None:
    port, _ = demo_gateway
    _one_line(_fixgw("client", "--port", str(port), "--target", "NOBODY"), 1, "logon rejected", "unknown session")
