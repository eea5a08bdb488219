"""The two processes of a crash run: the simulated exchange (never killed) and the gateway (killed -9).

``SimProcess`` runs ``simproc.py`` and talks to it over its stdin/stdout. ``GatewayProcess`` writes a
TOML configuration (a fixed port, a SQLite store file, secrets named by ``*_env``) and runs
``python -m fixgw run --config`` on it; ``kill()`` sends SIGKILL, ``start()`` runs it again on the
same store file, ``stop()`` ends it with SIGINT so it closes its store as an operator's Ctrl-C would.
Each start appends to one log file with a marker line, so a failure report shows what every run said.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import fixgw
from fixgw.sim.config import DEMO_API_KEY, DEMO_API_SECRET

__all__ = ["SimProcess", "GatewayProcess", "free_port", "CLIENT_USERNAME", "SYMBOLS"]

SIMPROC = Path(__file__).with_name("simproc.py")
#: The checkout whose ``fixgw`` this process imported: the children run the same code.
ROOT = Path(fixgw.__file__).resolve().parents[1]
CLIENT_USERNAME = "crash"
#: Client spelling of the traded symbols (the gateway's symbol_format is {base}/{quote}).
SYMBOLS = ("BTC/USDT", "ETH/USDT")


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: ours, with ``ROOT`` first on its path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


def free_port() -> int:
    """A loopback port nobody listens on now (the gateway keeps it across its restarts)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SimProcess:
    """The simulator in a child process; ``dump()`` returns the demo account's orders and fills."""

    def __init__(self, seed: int, workdir: Path, *, maker_interval: float = 0.2) -> None:
        self.log_path = workdir / "sim.log"
        self._log: IO[bytes] = open(self.log_path, "ab")
        # The simulator's admin routes take a bearer token from here; the suite knows it, nobody else.
        self.token = secrets.token_hex(16)
        env = child_env(FIXGW_SIM_TOKEN=self.token)
        env.pop("FIXGW_SIM_API_KEY", None)
        env.pop("FIXGW_SIM_API_SECRET", None)
        self.proc = subprocess.Popen(
            [sys.executable, str(SIMPROC), "--seed", str(seed), "--maker-interval", str(maker_interval)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True, env=env, cwd=ROOT,
        )
        line = self._readline()
        urls = json.loads(line)
        self.rest_url: str = urls["rest"]
        self.ws_url: str = urls["ws"]

    def _readline(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"simulator exited ({self.proc.poll()}); see {self.log_path}")
        return line

    def dump(self) -> dict[str, Any]:
        """The venue's truth: every order and fill of the demo account."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("dump\n")
        self.proc.stdin.flush()
        return dict(json.loads(self._readline()))

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


class GatewayProcess:
    """``fixgw run`` on a fixed port and store file, started again after every kill."""

    def __init__(self, workdir: Path, sim: SimProcess, *, log_level: str | None = None,
                 pg_dsn: str | None = None) -> None:
        self.port = free_port()
        self.store_path = workdir / "gateway.db"
        #: The PostgreSQL store's connection string (None: the SQLite file ``store_path``).
        self.pg_dsn = pg_dsn
        self.config_path = workdir / "gateway.toml"
        self.log_path = workdir / "gateway.log"
        self.password = secrets.token_hex(12)
        # WARNING by default: at INFO the wire log writes every message before the gateway acts on it,
        # which slows it so much that a kill lands before any work (FIXGW_CRASH_LOG_LEVEL=INFO to see it).
        self.log_level = log_level or os.environ.get("FIXGW_CRASH_LOG_LEVEL", "WARNING")
        self.starts = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.config_path.write_text(_config_toml(self.port, None if pg_dsn else self.store_path, sim.rest_url,
                                                 sim.ws_url))
        self._env = child_env(FIXGW_CRASH_API_KEY=DEMO_API_KEY, FIXGW_CRASH_API_SECRET=DEMO_API_SECRET,
                              FIXGW_CRASH_PASSWORD=self.password, FIXGW_CRASH_PG_DSN=pg_dsn or "")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "the gateway is still running"
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== crash suite: gateway start {self.starts} =====\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "fixgw", "run", "--config", str(self.config_path),
                 "--log-level", self.log_level],
                stdout=log, stderr=subprocess.STDOUT, env=self._env, cwd=ROOT,
            )

    def kill(self) -> None:
        """SIGKILL now: no handler runs, nothing is flushed or committed."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)

    def wait(self, timeout: float = 10.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """Ctrl-C: the gateway stops serving and closes its store."""
        if not self.alive():
            return
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])


def _config_toml(port: int, store: Path | None, rest_url: str, ws_url: str) -> str:
    allowed = ", ".join(f'"{s}"' for s in SYMBOLS)
    return f"""\
# Written by the crash suite (tests/crash): one gateway, one FIX 4.4 session, the simulated venue.
[gateway]
host = "127.0.0.1"
port = {port}
{f"store_path = {json.dumps(str(store))}" if store is not None else ""}
symbol_format = "{{base}}/{{quote}}"

[[venues]]
name = "sim"
kind = "binance"
rest_url = {json.dumps(rest_url)}
ws_url = {json.dumps(ws_url)}
api_key_env = "FIXGW_CRASH_API_KEY"
api_secret_env = "FIXGW_CRASH_API_SECRET"
order_entry = "ws"
orders_per_10s = 1000000
weight_per_minute = 1000000

[[sessions]]
begin_string = "FIX.4.4"
sender_comp_id = "FIXGW"
target_comp_id = "CLIENT44"
heartbeat_interval = 30
username = "{CLIENT_USERNAME}"
password_env = "FIXGW_CRASH_PASSWORD"
allowed_addresses = ["127.0.0.0/8"]
venue = "sim"
account = "demo"

[sessions.limits]
max_order_qty = "1000"
max_notional = "100000000"
max_open_orders = 100000
allowed_symbols = [{allowed}]
price_band_pct = "50"
""" + ("" if store is not None else '\n[store]\nkind = "postgres"\ndsn_env = "FIXGW_CRASH_PG_DSN"\n')
