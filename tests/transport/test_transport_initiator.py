"""The initiator against our acceptor over loopback: logon, sending from anywhere, reconnect with backoff."""

from __future__ import annotations

import socket
import ssl
import threading

import anyio
import pytest
import trustme

from fixgw.errors import TransportError
from fixgw.session import SessionConfig, SessionID
from fixgw.stores.memory import MemoryMessageStore
from fixgw.transport import (
    Acceptor,
    Application,
    Backoff,
    Initiator,
    body_fields,
    client_tls_context,
    server_tls_context,
)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SERVER = SessionID("FIX.4.4", "GATEWAY", "CLIENT")
CLIENT = SessionID("FIX.4.4", "CLIENT", "GATEWAY")


class Echo(Application):
    def on_message(self, session, message):
        session.send(message.get(35), body_fields(message))


class Recorder(Application):
    def __init__(self) -> None:
        self.logons = 0
        self.logouts = 0
        self.messages: list = []
        self.got = anyio.Event()

    def on_logon(self, session):
        self.logons += 1

    def on_logout(self, session):
        self.logouts += 1

    def on_message(self, session, message):
        self.messages.append(message)
        self.got.set()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_initiator(port, app, **kw):
    config = SessionConfig(CLIENT, role="initiator", heartbeat_interval=30)
    return Initiator(config, app, MemoryMessageStore(), host="127.0.0.1", port=port, **kw)


async def wait_until(predicate, timeout: float = 10.0) -> None:
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.005)


async def test_initiator_logs_on_and_receives_echo():
    acceptor = Acceptor([SessionConfig(SERVER)], Echo(), MemoryMessageStore())
    app = Recorder()
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        initiator = make_initiator(port, app)
        handle = await tg.start(initiator.run)
        await handle.wait_logged_on()
        seq = handle.send("C", [(148, "hi"), (33, 1), (58, "there")])
        assert seq == 2
        await app.got.wait()
        assert app.messages[0].get(148) == b"hi"
        await initiator.logout_and_stop("bye")
        assert app.logons == 1 and app.logouts == 1
        await acceptor.handles[SERVER].wait_disconnected()
        assert not acceptor.handles[SERVER].is_logged_on
        tg.cancel_scope.cancel()


async def test_initiator_acceptor_down_retries_with_backoff_then_logs_on():
    port = free_port()
    app = Recorder()
    backoff = Backoff(initial=0.01, maximum=0.05, jitter=0.0)
    async with anyio.create_task_group() as tg:
        initiator = make_initiator(port, app, backoff=backoff)
        handle = await tg.start(initiator.run)
        await wait_until(lambda: initiator.attempts >= 4)
        assert not handle.is_logged_on
        assert backoff.attempts >= 3
        acceptor = Acceptor([SessionConfig(SERVER)], Echo(), MemoryMessageStore(), port=port)
        await tg.start(acceptor.serve)
        await handle.wait_logged_on()
        assert app.logons == 1
        # The acceptor drops the connection: the initiator comes back by itself.
        acceptor.handles[SERVER].disconnect()
        await wait_until(lambda: app.logons == 2 and handle.is_logged_on)
        assert app.logouts == 1
        # A connection that logged on resets the backoff.
        assert backoff.attempts <= 1
        initiator.stop()
        tg.cancel_scope.cancel()


async def test_initiator_send_threadsafe_from_worker_thread_delivers():
    acceptor = Acceptor([SessionConfig(SERVER)], Echo(), MemoryMessageStore())
    app = Recorder()
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        initiator = make_initiator(port, app)
        handle = await tg.start(initiator.run)
        await handle.wait_logged_on()
        seqs: list[int] = []

        def worker() -> None:
            for n in range(5):
                seqs.append(handle.send_threadsafe("C", [(148, f"t{n}"), (33, 1), (58, "x")]))

        await anyio.to_thread.run_sync(worker)
        assert threading.current_thread() is threading.main_thread()
        await wait_until(lambda: len(app.messages) == 5)
        assert seqs == [2, 3, 4, 5, 6]
        assert [m.get(148) for m in app.messages] == [b"t0", b"t1", b"t2", b"t3", b"t4"]
        initiator.stop()
        tg.cancel_scope.cancel()


async def test_initiator_connect_refused_raises_transport_error():
    initiator = make_initiator(free_port(), Recorder())
    with pytest.raises(TransportError):
        await initiator.connect_once()


async def test_initiator_mutual_tls_logs_on(tmp_path):
    ca = trustme.CA()
    server_pem = tmp_path / "server.pem"
    ca.issue_cert("localhost").private_key_and_cert_chain_pem.write_to_path(str(server_pem))
    client_pem = tmp_path / "client.pem"
    ca.issue_cert("client.example").private_key_and_cert_chain_pem.write_to_path(str(client_pem))
    ca_pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    server_ctx = server_tls_context(server_pem, client_ca=ca_pem, require_client_cert=True)
    client_ctx = client_tls_context(cafile=ca_pem, certfile=client_pem)
    acceptor = Acceptor([SessionConfig(SERVER)], Echo(), MemoryMessageStore(), ssl_context=server_ctx)
    app = Recorder()
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        initiator = make_initiator(port, app, ssl_context=client_ctx, server_hostname="localhost")
        handle = await tg.start(initiator.run)
        await handle.wait_logged_on()
        handle.send("C", [(148, "secure"), (33, 1), (58, "x")])
        await app.got.wait()
        assert app.messages[0].get(148) == b"secure"
        # Without a client certificate the acceptor refuses the handshake.
        bare = make_initiator(port, Recorder(), ssl_context=client_tls_context(cafile=ca_pem),
                              server_hostname="localhost")
        refused = False
        try:
            reason = await bare.connect_once()
            refused = not bare.handle.last_connection_logged_on
            assert reason
        except TransportError:
            refused = True
        assert refused
        initiator.stop()
        tg.cancel_scope.cancel()


def test_backoff_delays_double_up_to_maximum_then_reset_restarts():
    b = Backoff(initial=0.5, maximum=4.0, factor=2.0, jitter=0.0)
    assert [b.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    b.reset()
    assert b.next_delay() == 0.5


def test_backoff_jitter_stays_within_fraction():
    b = Backoff(initial=1.0, maximum=100.0, jitter=0.25)
    for n in range(8):
        d = b.next_delay()
        base = min(100.0, 2.0**n)
        assert base * 0.75 <= d <= min(100.0, base * 1.25)


def test_backoff_invalid_settings_raise_value_error():
    with pytest.raises(ValueError):
        Backoff(initial=0)
    with pytest.raises(ValueError):
        Backoff(initial=2, maximum=1)


def test_tls_context_missing_file_raises_config_error(tmp_path):
    from fixgw.errors import ConfigError

    with pytest.raises(ConfigError):
        server_tls_context(tmp_path / "nope.pem")
    with pytest.raises(ConfigError):
        client_tls_context(cafile=tmp_path / "nope.pem")
    assert isinstance(client_tls_context(), ssl.SSLContext)
