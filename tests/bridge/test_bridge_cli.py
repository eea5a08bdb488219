"""``fixgw run`` starts the bridge beside the acceptor, in one process: banner, demo keys, --no-bridge, errors."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fixgw.bridge import BridgeClient

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))


def _start(cwd: Path, *args: str) -> tuple[subprocess.Popen[str], list[str]]:
    run = subprocess.Popen([sys.executable, "-m", "fixgw", "run", "--port", "0", "--log-level", "WARNING", *args],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV, cwd=cwd)
    lines: list[str] = []
    deadline = time.monotonic() + 60
    assert run.stdout is not None
    while time.monotonic() < deadline:
        line = run.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Stop with Ctrl-C."):
            return run, lines
    run.kill()
    raise AssertionError("no banner:\n" + "".join(lines))


def _stop(run: subprocess.Popen[str]) -> int:
    run.send_signal(signal.SIGINT)
    try:
        return run.wait(timeout=20)
    except subprocess.TimeoutExpired:
        run.kill()
        raise


@pytest.mark.slow
def test_cli_run_demo_bridge_in_banner_demo_keys_work(tmp_path: Path) -> None:
    run, lines = _start(tmp_path)
    try:
        banner = "".join(lines)
        m = re.search(r"bridge \(REST/WebSocket\) at http://127\.0\.0\.1:(\d+)", banner)
        assert m, banner
        url = f"http://127.0.0.1:{m.group(1)}"
        files = dict(re.findall(r"key (demo-\w+) \([^)]*\): secret in (\S+)", banner))
        assert set(files) == {"demo-read", "demo-trade", "demo-admin"}
        secrets = {}
        for key_id, name in files.items():
            path = tmp_path / name
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            secrets[key_id] = path.read_text().strip()
            assert secrets[key_id] not in banner  # paths are printed, never secrets
        assert httpx.get(url + "/healthz").json() == {"status": "ok"}
        assert f"web console at {url}/console" in banner and httpx.get(url + "/console").status_code == 200
        # Run as ``python -m fixgw``: the banner's next command is runnable as shown, no venv activation assumed.
        assert f"{os.path.relpath(sys.executable, tmp_path)} -m fixgw client --port " in banner, banner
        with BridgeClient(url, "demo-read", secrets["demo-read"]) as c:
            assert c.get("/v1/orders") == {"orders": [], "next_cursor": None}
        with BridgeClient(url, "demo-admin", secrets["demo-admin"]) as c:
            assert [s["target_comp_id"] for s in c.get("/v1/sessions")["sessions"]] == ["CLIENT44", "CLIENT42"]
    finally:
        assert _stop(run) == 0


@pytest.mark.slow
def test_cli_run_no_bridge_starts_none(tmp_path: Path) -> None:
    run, lines = _start(tmp_path, "--no-bridge")
    try:
        assert "bridge" not in "".join(lines)
        assert not (tmp_path / "var").exists()
    finally:
        assert _stop(run) == 0


def test_cli_run_bad_bridge_key_one_line_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "gw.toml"
    cfg.write_text('[bridge]\n[[bridge.keys]]\nid = "oms"\nsecret_env = "FIXGW_TEST_UNSET_SECRET"\n'
                   'permissions = ["read"]\n[[venues]]\nname = "v"\nkind = "binance"\nsimulated = true\n'
                   '[[sessions]]\nbegin_string = "FIX.4.4"\nsender_comp_id = "GW"\ntarget_comp_id = "C"\n'
                   'venue = "v"\n')
    out = subprocess.run([sys.executable, "-m", "fixgw", "run", "--config", str(cfg)], capture_output=True,
                         text=True, timeout=60, env=ENV, cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert "bridge.keys[0].secret_env" in out.stderr and "FIXGW_TEST_UNSET_SECRET is not set" in out.stderr


def test_cli_run_bad_bridge_window_one_line_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "gw.toml"
    cfg.write_text('[bridge]\nwindow = 60\n[[venues]]\nname = "v"\nkind = "binance"\nsimulated = true\n'
                   '[[sessions]]\nbegin_string = "FIX.4.4"\nsender_comp_id = "GW"\ntarget_comp_id = "C"\n'
                   'venue = "v"\n')
    out = subprocess.run([sys.executable, "-m", "fixgw", "run", "--config", str(cfg)], capture_output=True,
                         text=True, timeout=60, env=ENV, cwd=tmp_path)
    assert (out.returncode, out.stderr.strip().count("\n")) == (2, 0)
    assert "bridge.window" in out.stderr and "from 5 to 30" in out.stderr


def test_cli_run_bridge_port_busy_one_line_exit_2(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "fixgw", "run", "--port", "0", "--bridge-port", str(port),
                              "--log-level", "WARNING"],
                             capture_output=True, text=True, timeout=60, env=ENV, cwd=tmp_path)
    assert (out.returncode, out.stderr.strip().count("\n")) == (2, 0), out.stderr
    assert f"bridge: cannot listen on 127.0.0.1:{port}" in out.stderr
