"""The Logout of a Logon the acceptor refuses itself reaches the peer, over TCP and TLS, even when the
peer sent more after its Logon, and the peer sees the connection end soon after."""

from __future__ import annotations

import ssl
import time

import anyio
import pytest
import trustme

from fixgw.session import SessionConfig, SessionID
from fixgw.stores.memory import MemoryMessageStore
from fixgw.transport import Acceptor, Application, server_tls_context

from transport_fix_client import CLOSED, RawFixClient

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

GW = SessionID("FIX.4.4", "GATEWAY", "CLIENT")


def _acceptor(**kw) -> Acceptor:
    return Acceptor([SessionConfig(GW)], Application(), MemoryMessageStore(), logon_failure_delay=0, **kw)


async def test_acceptor_refusal_peer_pipelined_messages_still_gets_logout_then_close():
    acceptor = _acceptor()
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        client = await RawFixClient.connect(port, sender="STRANGER")
        # A Logon and, without waiting, a burst more: unread input must not turn our close into a
        # reset that destroys the Logout before the peer reads it.
        frames = client.build("A", [(98, 0), (108, 30)]) + b"".join(
            client.build("D", [(11, f"O{i}"), (58, "x" * 500)]) for i in range(40))
        await client.stream.send(frames)
        started = time.monotonic()
        logout = await client.expect("5")
        assert logout.get(58) == b"Logon rejected: unknown session FIX.4.4:STRANGER->GATEWAY"
        assert await client.receive() is CLOSED
        assert time.monotonic() - started < 2.0
        await client.aclose()
        tg.cancel_scope.cancel()


async def test_acceptor_refusal_peer_waiting_for_close_sees_it_without_linger():
    acceptor = _acceptor()
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        client = await RawFixClient.connect(port, sender="STRANGER")
        await client.send("A", [(98, 0), (108, 30)])
        started = time.monotonic()
        # A peer that waits for us to close (as many do after a Logout) is not kept waiting.
        got = await client.read_until_closed()
        assert [m.get(35) for m in got] == [b"5"]
        assert time.monotonic() - started < 0.5
        await client.aclose()
        tg.cancel_scope.cancel()


async def test_acceptor_refusal_over_tls_logout_with_text(tmp_path):
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    certfile = tmp_path / "server.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    acceptor = _acceptor(ssl_context=server_tls_context(certfile))
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        client = await RawFixClient.connect(port, "FIX.4.2", ssl_context=client_ctx)
        await client.send("A", [(98, 0), (108, 30)])
        logout = await client.expect("5")
        assert logout.get(58) == b"Logon rejected: wrong BeginString FIX.4.2 (expected FIX.4.4)"
        assert await client.receive() is CLOSED
        await client.aclose()
        await anyio.sleep(0.05)
        assert acceptor.pending_connections == 0
        tg.cancel_scope.cancel()


def test_acceptor_stall_timeout_reaches_every_session_handle():
    sids = [SessionID("FIX.4.4", "GW", f"C{i}") for i in range(2)]
    acceptor = Acceptor([SessionConfig(s) for s in sids], Application(), MemoryMessageStore(), stall_timeout=7.5)
    assert {h.stall_timeout for h in acceptor.handles.values()} == {7.5}
    off = Acceptor([SessionConfig(sids[0])], Application(), MemoryMessageStore(), stall_timeout=None)
    assert off.handles[sids[0]].stall_timeout is None
