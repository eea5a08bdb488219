"""The acceptor over real loopback TCP and TLS: routing by CompIDs, refusals, echo, logout, backpressure."""

from __future__ import annotations

import logging
import ssl

import anyio
import pytest
import trustme

from fixgw.errors import TransportError
from fixgw.session import SessionConfig, SessionID
from fixgw.stores.memory import MemoryMessageStore
from fixgw.transport import Acceptor, Application, body_fields, server_tls_context

from transport_fix_client import CLOSED, RawFixClient

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

GW = SessionID("FIX.4.4", "GATEWAY", "CLIENT")


class Echo(Application):
    def __init__(self) -> None:
        self.logons: list[SessionID] = []
        self.logouts: list[SessionID] = []
        self.messages: list[tuple[SessionID, bytes]] = []

    def on_logon(self, session):
        self.logons.append(session.session_id)

    def on_logout(self, session):
        self.logouts.append(session.session_id)

    def on_message(self, session, message):
        self.messages.append((session.session_id, message.get(35)))
        session.send(message.get(35), body_fields(message))


def acceptor_for(ids, app=None, store=None, **kw):
    configs = [s if isinstance(s, SessionConfig) else SessionConfig(s) for s in ids]
    return Acceptor(configs, app or Echo(), store or MemoryMessageStore(), **kw)


async def start(tg, acceptor) -> int:
    return await tg.start(acceptor.serve)


async def test_acceptor_logon_echo_logout_completes_round_trip():
    app = Echo()
    acceptor = acceptor_for([GW], app)
    async with anyio.create_task_group() as tg:
        port = await start(tg, acceptor)
        client = await RawFixClient.connect(port)
        reply = await client.logon()
        assert reply.get(49) == b"GATEWAY" and reply.get(56) == b"CLIENT" and reply.get(34) == b"1"
        await client.send("D", [(11, "ORD-1"), (55, "BTC/USDT"), (54, 1), (60, "20260101-00:00:00"), (38, "1.5"), (40, 1)])
        echo = await client.expect("D")
        assert echo.get(11) == b"ORD-1" and echo.get(38) == b"1.5" and echo.get(34) == b"2"
        await client.send("5")
        await client.expect("5")
        assert await client.receive() is CLOSED
        await client.aclose()
        await acceptor.handles[GW].wait_disconnected()
        assert app.logons == [GW] and app.logouts == [GW]
        assert app.messages == [(GW, b"D")]
        tg.cancel_scope.cancel()


async def test_acceptor_many_sessions_one_port_each_routed_by_comp_ids():
    ids = [SessionID(b, "GATEWAY", f"C{i}") for i, b in enumerate(["FIX.4.4", "FIX.4.2"] * 4)]
    app = Echo()
    acceptor = acceptor_for(ids, app)
    async with anyio.create_task_group() as tg:
        port = await start(tg, acceptor)

        async def one(sid: SessionID) -> None:
            client = await RawFixClient.connect(port, sid.begin_string, sid.target_comp_id, sid.sender_comp_id)
            await client.logon()
            for n in range(20):
                await client.send("C", [(148, f"{sid.target_comp_id}-{n}"), (33, 1), (58, "hello")])
            for n in range(20):
                msg = await client.expect("C")
                assert msg.get(148) == f"{sid.target_comp_id}-{n}".encode()
                assert msg.get(56) == sid.target_comp_id.encode() and msg.get(8) == sid.begin_string.encode()
            await client.aclose()

        async with anyio.create_task_group() as clients:
            for sid in ids:
                clients.start_soon(one, sid)
        assert sorted(app.logons, key=str) == sorted(ids, key=str)
        assert len(app.messages) == 20 * len(ids)
        tg.cancel_scope.cancel()


async def test_acceptor_unknown_comp_ids_answered_with_logout_text():
    acceptor = acceptor_for([GW], logon_failure_delay=0)
    async with anyio.create_task_group() as tg:
        port = await start(tg, acceptor)
        for sender, target in [("STRANGER", "GATEWAY"), ("CLIENT", "SOMEONE")]:
            client = await RawFixClient.connect(port, "FIX.4.4", sender, target)
            await client.send("A", [(98, 0), (108, 30)])
            logout = await client.expect("5")
            assert logout.get(58) == f"Logon rejected: unknown session FIX.4.4:{sender}->{target}".encode()
            assert (logout.get(49), logout.get(56), logout.get(34)) == (target.encode(), sender.encode(), b"1")
            assert await client.receive() is CLOSED
            await client.aclose()
        # A known pair of CompIDs under another version is told which version it should speak.
        client = await RawFixClient.connect(port, "FIX.4.2", "CLIENT", "GATEWAY")
        await client.send("A", [(98, 0), (108, 30)])
        logout = await client.expect("5")
        assert logout.get(8) == b"FIX.4.2"
        assert logout.get(58) == b"Logon rejected: wrong BeginString FIX.4.2 (expected FIX.4.4)"
        assert await client.receive() is CLOSED
        await client.aclose()
        tg.cancel_scope.cancel()


async def test_acceptor_first_message_not_logon_closed_without_reply():
    acceptor = acceptor_for([GW])
    async with anyio.create_task_group() as tg:
        port = await start(tg, acceptor)
        client = await RawFixClient.connect(port)
        await client.send("D", [(11, "X")])
        assert await client.receive() is CLOSED and client.received_bytes == 0
        await client.aclose()
        client = await RawFixClient.connect(port)
        await client.stream.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"x" * 70000)
        assert await client.receive() is CLOSED and client.received_bytes == 0
        await client.aclose()
        tg.cancel_scope.cancel()


async def test_acceptor_second_connection_for_live_session_answered_with_unstored_logout():
    store = MemoryMessageStore()
    acceptor = acceptor_for([GW], store=store)
    async with anyio.create_task_group() as tg:
        port = await start(tg, acceptor)
        first = await RawFixClient.connect(port)
        await first.logon()
        second = await RawFixClient.connect(port)
        await second.send("A", [(98, 0), (108, 30)])
        logout = await second.expect("5")
        assert (logout.get(34), logout.get(58)) == (b"1", b"Logon rejected: session already logged on")
        assert await second.receive() is CLOSED
        await second.aclose()
        # The refusal is stored nowhere: the live session's next outbound number is still 2.
        assert acceptor.handles[GW].session.next_sender_seq == 2
        # The first connection is untouched: its numbers go on.
        await first.send("C", [(148, "still here"), (33, 1), (58, "x")])
        echo = await first.expect("C")
        assert echo.get(34) == b"2"
        await first.aclose()
        tg.cancel_scope.cancel()


async def test_acceptor_address_not_allowed_answered_with_logout_text():
    config = SessionConfig(GW, allowed_addresses=frozenset({"10.1.2.0/24"}))
    allowed = SessionConfig(SessionID("FIX.4.4", "GATEWAY", "LOCAL"), allowed_addresses=frozenset({"127.0.0.1"}))
    acceptor = acceptor_for([config, allowed])
    async with anyio.create_task_group() as tg:
        port = await start(tg, acceptor)
        client = await RawFixClient.connect(port)
        await client.send("A", [(98, 0), (108, 30)])
        logout = await client.expect("5")
        assert logout.get(58) == b"Logon rejected: address not allowed"
        assert await client.receive() is CLOSED
        await client.aclose()
        local = await RawFixClient.connect(port, sender="LOCAL")
        assert (await local.logon()).get(35) == b"A"
        await local.aclose()
        tg.cancel_scope.cancel()


async def test_acceptor_reset_on_logon_applied_by_engine_only_when_logon_accepted():
    from fixgw.session import Session

    store = MemoryMessageStore()
    config = SessionConfig(GW, reset_on_logon=True)
    allowed = {"ok": False}
    session = Session(config, store.session_store(GW), authenticator=lambda *a: allowed["ok"])
    session.store.set_next_sender_seq(10)
    session.store.set_next_target_seq(7)
    acceptor = Acceptor([session], Echo(), store)
    async with anyio.create_task_group() as tg:
        port = await start(tg, acceptor)
        refused = await RawFixClient.connect(port)
        refused.seq = 7
        await refused.send("A", [(98, 0), (108, 30)])
        # Refused by the engine: at most a Logout (saying why), then the close.
        answers = await refused.read_until_closed()
        assert [m.get(35) for m in answers] in ([], [b"5"])
        await refused.aclose()
        await acceptor.handles[GW].wait_disconnected()
        # A refused Logon must not wipe the session's numbers (a Logout it answered with takes one).
        assert (session.next_sender_seq, session.next_target_seq) == (10 + len(answers), 7)
        allowed["ok"] = True
        client = await RawFixClient.connect(port)
        client.seq = 7
        reply = await client.logon()
        # reset_on_logon resets both directions silently: Logon 34=1 without 141, then a ResendRequest
        # for the client's numbers from 1.
        assert (reply.get(34), reply.get(141)) == (b"1", None)
        request = await client.expect("2")
        assert (request.get(34), request.get(7), request.get(16)) == (b"2", b"1", b"0")
        assert (session.next_sender_seq, session.next_target_seq) == (3, 1)
        await client.aclose()
        tg.cancel_scope.cancel()


async def test_acceptor_port_in_use_raises_transport_error():
    first = acceptor_for([GW])
    async with anyio.create_task_group() as tg:
        port = await start(tg, first)
        with pytest.raises(TransportError):
            await acceptor_for([GW], port=port).serve()
        tg.cancel_scope.cancel()


async def test_acceptor_wire_log_records_each_message_in_and_out(caplog):
    caplog.set_level(logging.INFO, logger="fixgw.wire")
    caplog.set_level(logging.INFO, logger="fixgw.session")
    acceptor = acceptor_for([GW])
    async with anyio.create_task_group() as tg:
        port = await start(tg, acceptor)
        client = await RawFixClient.connect(port)
        await client.logon()
        await client.send("C", [(148, "x"), (33, 1), (58, "y")])
        await client.expect("C")
        await client.aclose()
        await acceptor.handles[GW].wait_disconnected()
        tg.cancel_scope.cancel()
    wire = [r for r in caplog.records if r.name == "fixgw.wire.FIX_4_4:GATEWAY->CLIENT"]
    inbound = [r.getMessage() for r in wire if r.direction == "in"]
    outbound = [r.getMessage() for r in wire if r.direction == "out"]
    assert len(inbound) == 2 and "35=A|" in inbound[0] and "35=C|" in inbound[1]
    assert len(outbound) == 2 and "35=A|" in outbound[0] and "35=C|" in outbound[1]
    assert any(r.name == "fixgw.session" and "logged on" in r.getMessage() for r in caplog.records)


class Flood(Application):
    """Sends large messages from a background task as soon as the session logs on."""

    def __init__(self, tg) -> None:
        self.tg = tg
        self.sent = 0

    def on_logon(self, session):
        self.tg.start_soon(self._flood, session)

    async def _flood(self, session):
        text = "x" * 4000
        while session.is_connected:
            session.send("C", [(148, "flood"), (33, 1), (58, text)])
            self.sent += 1
            if self.sent % 16 == 0:
                await anyio.sleep(0)


async def test_acceptor_peer_not_reading_disconnected_past_backlog_bound():
    store = MemoryMessageStore()
    async with anyio.create_task_group() as tg:
        app = Flood(tg)
        acceptor = acceptor_for([GW], app, store, max_backlog=256 << 10)
        port = await start(tg, acceptor)
        client = await RawFixClient.connect(port)
        await client.logon()
        # Never read again: the gateway must cut us off instead of buffering without end.
        with anyio.fail_after(30):
            await acceptor.handles[GW].wait_disconnected()
        reason = acceptor.handles[GW].last_disconnect_reason
        assert "not reading" in reason
        # Everything sent is in the store for a later resend.
        assert store.session_store(GW).next_sender_seq == app.sent + 2
        await client.aclose()
        tg.cancel_scope.cancel()


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture(scope="module")
def server_cert(ca):
    return ca.issue_cert("localhost", "127.0.0.1")


def _server_ctx(tmp_path, ca, cert, *, mutual: bool) -> ssl.SSLContext:
    certfile = tmp_path / "server.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return server_tls_context(certfile, client_ca=ca_file if mutual else None, require_client_cert=mutual)


async def test_acceptor_tls_logon_echo_over_tls(tmp_path, ca, server_cert):
    acceptor = acceptor_for([GW], ssl_context=_server_ctx(tmp_path, ca, server_cert, mutual=False))
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    async with anyio.create_task_group() as tg:
        port = await start(tg, acceptor)
        client = await RawFixClient.connect(port, ssl_context=client_ctx)
        await client.logon()
        await client.send("d", [(320, "REQ1"), (322, "RESP1"), (323, 1)])
        echo = await client.expect("d")
        assert echo.get(320) == b"REQ1"
        await client.aclose()
        tg.cancel_scope.cancel()


async def test_acceptor_tls_client_certificate_required_refuses_anonymous(tmp_path, ca, server_cert):
    acceptor = acceptor_for([GW], ssl_context=_server_ctx(tmp_path, ca, server_cert, mutual=True))
    anonymous = ssl.create_default_context()
    ca.configure_trust(anonymous)
    with_cert = ssl.create_default_context()
    ca.configure_trust(with_cert)
    ca.issue_cert("client.example").configure_cert(with_cert)
    async with anyio.create_task_group() as tg:
        port = await start(tg, acceptor)
        # Mutual TLS: a client with a certificate from the CA gets in.
        client = await RawFixClient.connect(port, ssl_context=with_cert)
        await client.logon()
        await client.aclose()
        # Without one the handshake (or the first read under TLS 1.3) fails; no FIX byte comes back.
        failed = False
        try:
            anon = await RawFixClient.connect(port, ssl_context=anonymous)
            await anon.send("A", [(98, 0), (108, 30)])
            failed = await anon.receive() is CLOSED and anon.received_bytes == 0
            await anon.aclose()
        except (ssl.SSLError, anyio.BrokenResourceError, OSError):
            failed = True
        assert failed
        tg.cancel_scope.cancel()
