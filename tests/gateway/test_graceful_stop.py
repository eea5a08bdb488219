"""Graceful stop: SIGINT and SIGTERM log every session out, wait a bounded time, flush, exit 0.

The process tests run ``python -m fixgw run`` (the embedded demo) as a real process, log a FIX client on
over loopback and send the process real signals. The in-process test drives ``Gateway.shutdown``.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import anyio
import pytest

from fixgw.codec import Message
from fixgw.sim import SimServer

from .conftest import gateway_config, running_gateway
from .fixclient import FixClient

pytestmark = pytest.mark.anyio

#: The log lines of a graceful stop, in the order the steps happen.
STEPS = (
    r"{sig} received: shutting down",
    r"shutdown: logging out 1 session\(s\) \(FIX\.4\.4:FIXGW->CLIENT44\) with Text 'gateway shutting down \({sig}\)'",
    r"shutdown: 1 of 1 session\(s\) logged out in",
    r"acceptor on port \d+ stopped",
    r"shutdown: venue streams closed \(sim\)",
    r"shutdown: store flushed and closed",
    r"gateway stopped \(exit status 0\)",
)


class GatewayProcess:
    """``python -m fixgw run`` in a child process; its output is read by a thread so it never blocks."""

    def __init__(self, *args: str) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fixgw", "run", "--port", "0", "--log-level", "INFO", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )
        self.lines: list[str] = []
        self._port: int | None = None
        self._seen = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._seen:
                self.lines.append(line)
                m = re.search(r"gateway ready on port (\d+)", line)
                if m and self._port is None:
                    self._port = int(m.group(1))
                self._seen.notify_all()

    @property
    def output(self) -> str:
        with self._seen:
            return "".join(self.lines)

    def port(self, timeout: float = 30.0) -> int:
        with self._seen:
            self._seen.wait_for(lambda: self._port is not None or self.proc.poll() is not None, timeout)
            assert self._port is not None, "".join(self.lines)
            return self._port

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    async def exit_status(self, timeout: float) -> int:
        """Wait for the process to end (at most ``timeout`` seconds) and its output to be read."""
        with anyio.fail_after(timeout):
            while self.proc.poll() is None:
                await anyio.sleep(0.02)
        self._reader.join(5)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def assert_steps_in_order(output: str, sig: str) -> None:
    at = 0
    for step in STEPS:
        m = re.compile(step.format(sig=sig)).search(output, at)
        assert m is not None, f"no line {step!r} after offset {at} in:\n{output}"
        at = m.end()


async def logout_from_gateway(client: FixClient, timeout: float = 10.0) -> Message:
    return await client._read_until(lambda m: m.msg_type == b"5", timeout)


async def closed_by_gateway(client: FixClient, timeout: float = 10.0) -> bool:
    """Read until the gateway closes the connection; return True if it did within ``timeout``."""
    with anyio.move_on_after(timeout):
        try:
            while True:
                await client._next_frame()
        except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError):
            return True
    return False


# -- a real process and a real signal -----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_graceful_stop_signal_logs_client_out_and_exits_zero(sig: signal.Signals) -> None:
    gw = GatewayProcess()
    try:
        client = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await client.connect(gw.port(), reset=True)
        gw.signal(sig)
        logout = await logout_from_gateway(client)
        assert logout.get(58) == f"gateway shutting down ({sig.name})".encode()
        await client.send_raw("5", [])  # the answer ends the wait at once
        assert await closed_by_gateway(client)
        started = time.monotonic()
        assert await gw.exit_status(15) == 0, gw.output
        assert time.monotonic() - started < 4.0  # no waiting for the 5 s bound once the client answered
        assert_steps_in_order(gw.output, sig.name)
        assert "Traceback" not in gw.output
    finally:
        gw.kill()


@pytest.mark.slow
async def test_graceful_stop_sqlite_store_restart_continues_sequence_numbers(tmp_path: Path) -> None:
    store = tmp_path / "state.db"
    client = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
    frames: list[Message] = []
    read_frame = client._next_frame

    async def recording_next_frame() -> Message:
        m = await read_frame()
        frames.append(m)
        return m

    client._next_frame = recording_next_frame  # type: ignore[method-assign]

    gw = GatewayProcess("--store", str(store))
    try:
        await client.connect(gw.port(), reset=True)
        cl = client.new_id()
        await client.new_order(cl, "1", "0.01")  # a market buy: fills against the simulator's book
        await client.wait_for(lambda m: m.get(11) == cl.encode() and m.get(39) == b"2")
        gw.signal(signal.SIGTERM)
        await logout_from_gateway(client)
        await client.send_raw("5", [])
        assert await closed_by_gateway(client)
        await client.close()
        assert await gw.exit_status(15) == 0, gw.output
        assert "shutdown: store flushed and closed (" + str(store) + ")" in gw.output
    finally:
        gw.kill()

    expected_in, sent_out = client.next_in, client.next_out
    assert expected_in > 3 and sent_out > 2
    frames.clear()
    gw = GatewayProcess("--store", str(store))
    try:
        logon = await client.connect(gw.port())  # no reset: both sides continue where they stopped
        assert int(logon[34]) == expected_in  # the gateway's numbers continue, nothing lost or skipped
        # The order survived the stop: its status comes from the journal, not the (new) simulator.
        await client.send_raw("H", [(11, cl), (55, "BTC/USDT"), (54, "1")])
        status = await client._read_until(lambda m: m.msg_type == b"8" and m.get(11) == cl.encode(), 10)
        assert status.get(39) == b"2"
        # The gateway expected our next number too: it asked for no resend and refused nothing.
        assert [m.msg_type for m in frames if m.msg_type in (b"2", b"3", b"5")] == []
        gw.signal(signal.SIGTERM)
        await logout_from_gateway(client)
        await client.send_raw("5", [])
        assert await gw.exit_status(15) == 0, gw.output
    finally:
        gw.kill()


@pytest.mark.slow
async def test_graceful_stop_second_signal_during_wait_stops_at_once_with_status_130() -> None:
    gw = GatewayProcess()
    try:
        client = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await client.connect(gw.port(), reset=True)
        gw.signal(signal.SIGTERM)
        await logout_from_gateway(client)  # not answered: the gateway would wait 5 s for us
        gw.signal(signal.SIGINT)
        started = time.monotonic()
        assert await gw.exit_status(10) == 128 + signal.SIGINT, gw.output
        assert time.monotonic() - started < 2.5, gw.output
        assert "SIGINT received again: stopping at once" in gw.output
        assert "gateway stopped (exit status 130)" in gw.output
        assert "Traceback" not in gw.output
    finally:
        gw.kill()


# -- in process: the bounded wait and Logons during a stop ------------------------------------------


async def test_gateway_shutdown_unanswered_logout_waits_bounded_and_refuses_new_logons(
        sim: SimServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="fixgw.gateway")
    async with running_gateway(gateway_config(sim)) as gw:
        assert gw.port is not None
        silent = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await silent.connect(gw.port, reset=True)
        took: list[float] = []

        async def stop() -> None:
            started = anyio.current_time()
            await gw.shutdown("maintenance window", timeout=1.0)
            took.append(anyio.current_time() - started)

        async with anyio.create_task_group() as tg:
            tg.start_soon(stop)
            logout = await logout_from_gateway(silent)
            assert logout.get(58) == b"maintenance window"
            late = FixClient("FIX.4.2", "CLIENT42", "FIXGW")
            with pytest.raises(ConnectionError, match="Logon rejected: maintenance window"):
                await late.connect(gw.port, reset=True)
            await late.close()
            assert await closed_by_gateway(silent, timeout=5.0)  # dropped once the bound passed
        assert 0.9 <= took[0] < 3.0
    assert "shutdown: 0 of 1 session(s) logged out" in caplog.text
    assert "dropped without an answer: FIX.4.4:FIXGW->CLIENT44" in caplog.text
