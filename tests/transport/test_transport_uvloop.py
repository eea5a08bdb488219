"""The driver on uvloop's event loop (``fixgw run``'s default when uvloop is installed): direct writes to
a plain TCP socket, the writer's takeover and TLS keep every byte in order; and the ``--event-loop``
switch (``fixgw.cli.event_loop_options``)."""

from __future__ import annotations

import asyncio
import importlib.util
import ssl
import sys

import anyio
import pytest
import trustme

from fixgw.cli import event_loop_options, main
from fixgw.errors import ConfigError
from fixgw.session import SessionConfig, SessionID
from fixgw.stores.memory import MemoryMessageStore
from fixgw.transport import Acceptor, server_tls_context

from echo_scenarios import Echo, echoes_across_writer_takeover
from transport_fix_client import RawFixClient

#: The tests that run uvloop's loop; the ``--event-loop`` switch is tested with or without it.
needs_uvloop = pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop is not installed")

GW = SessionID("FIX.4.4", "GATEWAY", "CLIENT")


@pytest.fixture
def anyio_backend():
    return ("asyncio", {"use_uvloop": True})


@needs_uvloop
@pytest.mark.anyio
async def test_uvloop_backend_option_runs_uvloops_loop():
    import uvloop

    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)


@needs_uvloop
@pytest.mark.anyio
@pytest.mark.slow
async def test_uvloop_plain_tcp_direct_writes_and_writer_keep_every_echo_in_order():
    await echoes_across_writer_takeover(60, answered_within=20)


@needs_uvloop
@pytest.mark.anyio
async def test_uvloop_tls_session_echoes_every_message_in_order(tmp_path):
    ca = trustme.CA()
    certfile = tmp_path / "server.pem"
    ca.issue_cert("localhost", "127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(certfile))
    app = Echo()
    acceptor = Acceptor([SessionConfig(GW)], app, MemoryMessageStore(), ssl_context=server_tls_context(certfile))
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    count = 50
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        client = await RawFixClient.connect(port, ssl_context=client_ctx)
        await client.logon()
        conn = acceptor.handles[GW]._conn
        assert conn is not None and conn.sock is None  # TLS: every byte goes through the stream
        for i in range(count):
            await client.send("C", [(148, f"t{i}"), (33, 1), (58, "y" * 500)])
        got = [await client.expect("C", timeout=10) for _ in range(count)]
        assert [int(m.get(34)) for m in got] == list(range(2, count + 2))
        assert [m.get(148) for m in got] == [f"t{i}".encode() for i in range(count)]
        await client.aclose()
        tg.cancel_scope.cancel()


@needs_uvloop
def test_event_loop_options_auto_with_uvloop_installed_picks_uvloop():
    assert event_loop_options("auto") == {"use_uvloop": True}
    assert event_loop_options("uvloop") == {"use_uvloop": True}


def test_event_loop_options_asyncio_asks_for_the_standard_loop():
    assert event_loop_options("asyncio") == {}


def test_event_loop_options_without_uvloop_auto_falls_back_and_uvloop_is_refused(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvloop", None)  # ``import uvloop`` now fails as if not installed
    assert event_loop_options("auto") == {}
    with pytest.raises(ConfigError, match="uvloop is not installed"):
        event_loop_options("uvloop")


def test_event_loop_options_unknown_name_is_refused():
    with pytest.raises(ConfigError, match="unknown: 'tokio'"):
        event_loop_options("tokio")


def test_cli_run_event_loop_from_environment_unknown_exits_2_with_one_line(monkeypatch, capsys):
    monkeypatch.setenv("FIXGW_EVENT_LOOP", "tokio")
    assert main(["run", "--port", "0", "--no-bridge", "--log-level", "ERROR"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["fixgw run: event loop: unknown: 'tokio' (one of auto, uvloop, asyncio)"]


def test_cli_run_event_loop_uvloop_missing_exits_2(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvloop", None)
    assert main(["run", "--event-loop", "uvloop", "--port", "0", "--no-bridge", "--log-level", "ERROR"]) == 2
    assert "uvloop is not installed" in capsys.readouterr().err
