"""examples/echo_acceptor.py: echo D/C/d, drop PossResend duplicates, 380=3 for others, validation."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from fixgw.stores.sqlite import SqliteMessageStore

from transport_fix_client import RawFixClient

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "echo_acceptor.py"
EMAIL = [(164, "T1"), (94, 0), (147, "subject"), (33, 1), (58, "body")]
ORDER = [(21, 1), (55, "BTC/USDT"), (54, 1), (60, "20260101-00:00:00"), (38, "2"), (40, 1)]


def _load_example():
    spec = importlib.util.spec_from_file_location("echo_acceptor_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


echo = _load_example()


async def _serve(tg, tmp_path, *extra: str):
    args = echo.build_parser().parse_args(
        ["--port", "0", "--store", str(tmp_path / "echo.db"),
         "--session", "FIX.4.4:ECHO:C44", "--session", "FIX.4.2:ECHO:C42", *extra]
    )
    store = SqliteMessageStore(args.store)
    acceptor = echo.build_acceptor(args, store)
    port = await tg.start(acceptor.serve)
    return port, store, acceptor


async def test_echo_example_echoes_order_email_and_security_definition(tmp_path):
    async with anyio.create_task_group() as tg:
        port, store, acceptor = await _serve(tg, tmp_path)
        for begin, comp in (("FIX.4.4", "C44"), ("FIX.4.2", "C42")):
            client = await RawFixClient.connect(port, begin, comp, "ECHO")
            await client.logon()
            await client.send("D", [(11, "O1")] + ORDER)
            assert (await client.expect("D")).get(11) == b"O1"
            await client.send("C", EMAIL)
            assert (await client.expect("C")).get(147) == b"subject"
            total = [(393, 1)] if begin == "FIX.4.2" else []  # TotalNumSecurities: required in 4.2 only
            await client.send("d", [(320, "R1"), (322, "S1"), (323, 1)] + total + [(55, "BTC/USDT")])
            assert (await client.expect("d")).get(320) == b"R1"
            await client.aclose()
        tg.cancel_scope.cancel()
    store.close()


async def test_echo_example_poss_resend_seen_cl_ord_id_dropped(tmp_path):
    async with anyio.create_task_group() as tg:
        port, store, acceptor = await _serve(tg, tmp_path)
        client = await RawFixClient.connect(port, "FIX.4.4", "C44", "ECHO")
        await client.logon()
        await client.send("D", [(11, "DUP")] + ORDER)
        first = await client.expect("D")
        assert (first.get(11), first.get(97)) == (b"DUP", None)
        # Same ClOrdID with PossResend: dropped. A new ClOrdID with PossResend: echoed.
        await client.send("D", [(11, "DUP")] + ORDER, extra_header=[(97, "Y")])
        await client.send("D", [(11, "NEW")] + ORDER, extra_header=[(97, "Y")])
        echoed = await client.expect("D")
        assert (echoed.get(11), echoed.get(97)) == (b"NEW", b"Y")  # echoed as a PossResend too
        # The dropped order still consumed its number: a heartbeat-free TestRequest round trip proves
        # the session is in sequence and nothing else is queued.
        await client.send("1", [(112, "PING")])
        pong = await client.receive()
        assert pong.get(35) == b"0" and pong.get(112) == b"PING"
        await client.aclose()
        tg.cancel_scope.cancel()
    store.close()


async def test_echo_example_other_app_message_answered_business_reject_380_3(tmp_path):
    async with anyio.create_task_group() as tg:
        port, store, acceptor = await _serve(tg, tmp_path)
        client = await RawFixClient.connect(port, "FIX.4.4", "C44", "ECHO")
        await client.logon()
        sent = await client.send("F", [(41, "O1"), (11, "O2"), (55, "BTC/USDT"), (54, 1), (60, "20260101-00:00:00")])
        reject = await client.expect("j")
        assert reject.get(380) == b"3" and reject.get(372) == b"F"
        assert reject.get(45) == sent.split(b"\x0134=")[1].split(b"\x01")[0]
        await client.aclose()
        tg.cancel_scope.cancel()
    store.close()


async def test_echo_example_invalid_order_rejected_by_dictionary(tmp_path):
    async with anyio.create_task_group() as tg:
        port, store, acceptor = await _serve(tg, tmp_path)
        client = await RawFixClient.connect(port, "FIX.4.4", "C44", "ECHO")
        await client.logon()
        # Side (54) missing: required by the FIX 4.4 dictionary.
        await client.send("D", [(11, "BAD"), (55, "BTC/USDT"), (60, "20260101-00:00:00"), (38, "1"), (40, 1)])
        reject = await client.expect("3")
        assert reject.get(373) == b"1" and reject.get(371) == b"54"
        await client.aclose()
        tg.cancel_scope.cancel()
    store.close()


async def test_echo_example_reset_on_logon_restarts_numbers(tmp_path):
    async with anyio.create_task_group() as tg:
        port, store, acceptor = await _serve(tg, tmp_path, "--reset-on-logon")
        client = await RawFixClient.connect(port, "FIX.4.4", "C44", "ECHO")
        await client.logon()
        await client.send("C", EMAIL)
        assert (await client.expect("C")).get(34) == b"2"
        await client.aclose()
        # A new connection starting again at 1 is accepted and answered from 1.
        await acceptor.handles[echo.SessionID("FIX.4.4", "ECHO", "C44")].wait_disconnected()
        again = await RawFixClient.connect(port, "FIX.4.4", "C44", "ECHO")
        reply = await again.logon()
        assert reply.get(34) == b"1"
        await again.aclose()
        tg.cancel_scope.cancel()
    store.close()


def test_echo_example_help_documents_options():
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), "--help"], capture_output=True, text=True, cwd=str(ROOT), check=True
    ).stdout
    for option in ("--port", "--session", "--reset-on-logon", "--store"):
        assert option in out


def test_echo_example_bad_session_spec_rejected():
    with pytest.raises(SystemExit):
        echo.build_parser().parse_args(["--session", "FIX.4.4:ONLYTWO"])
    with pytest.raises(SystemExit):
        echo.build_parser().parse_args(["--session", "FIX.5.0:A:B"])


async def test_echo_example_sigterm_logs_out_sessions_and_exits(tmp_path):
    import os
    import signal

    def start():
        proc = subprocess.Popen(
            [sys.executable, str(EXAMPLE), "--port", "0", "--print-port", "--store", str(tmp_path / "e.db"),
             "--session", "FIX.4.4:ECHO:C44"],
            stdout=subprocess.PIPE, text=True, cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        return proc, int(proc.stdout.readline().split()[1])

    proc, port = await anyio.to_thread.run_sync(start)
    try:
        client = await RawFixClient.connect(port, "FIX.4.4", "C44", "ECHO")
        await client.logon()
        proc.send_signal(signal.SIGTERM)
        logout = await client.expect("5", timeout=10)
        assert logout.get(58) == b"Server shutting down"
        await client.send("5")
        await client.read_until_closed(timeout=10)
        await client.aclose()
        assert await anyio.to_thread.run_sync(proc.wait) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_echo_example_garbled_logon_closed_at_once_not_after_logon_timeout(tmp_path):
    # 1S-d (the acceptance scripts' 1d_InvalidLogonLengthInvalid): BodyLength too short for the Logon.
    garbled = b"8=FIX.4.4\x019=40\x0135=A\x0134=1\x0149=C44\x0152=20260101-00:00:00\x0156=ECHO\x0198=0\x01108=30\x01"
    async with anyio.create_task_group() as tg:
        port, store, acceptor = await _serve(tg, tmp_path)
        client = await RawFixClient.connect(port, "FIX.4.4", "C44", "ECHO")
        await client.stream.send(garbled + b"10=000\x01")
        with anyio.fail_after(3):  # the logon timeout is 10 s
            assert await client.read_until_closed(timeout=3) == [] and client.received_bytes == 0
        await client.aclose()
        tg.cancel_scope.cancel()
    store.close()


async def test_echo_example_logon_failure_delay_zero_answers_failed_logons_at_once(tmp_path):
    async with anyio.create_task_group() as tg:
        port, store, acceptor = await _serve(tg, tmp_path, "--logon-failure-delay", "0")
        with anyio.fail_after(3):  # with the default 0.5 s, doubling: 0.5 + 1 + 2 + 4 s
            for _ in range(5):
                client = await RawFixClient.connect(port, "FIX.4.4", "STRANGER", "ECHO")
                await client.send("A", [(98, 0), (108, 30)])
                assert (await client.expect("5")).get(58).startswith(b"Logon rejected: unknown session")
                await client.aclose()
        tg.cancel_scope.cancel()
    store.close()


@pytest.mark.parametrize("value", ["99999", "-1", "http"])
def test_echo_example_bad_port_one_line_usage_error(value):
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "echo_acceptor.py"), "--port", value],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].endswith(f"'{value}' is not a TCP port (0-65535)")
