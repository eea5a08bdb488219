"""A FIX acceptor: one TCP (or TLS) port serving many sessions, told apart by the Logon's CompIDs.

Theory of operation
-------------------
Every accepted connection is read until its first complete message, with a deadline (``logon_timeout``)
and a size cap. That message must be a Logon (35=A); its BeginString, TargetCompID (our SenderCompID)
and SenderCompID (our TargetCompID) name the session. The connection is closed *without a reply* when
the first message is not a Logon, names no configured session, comes from an address the session does
not allow, or names a session that already has a connection: answering a stranger would tell them what
exists, and answering the second connection would disturb the live one's sequence numbers.

Otherwise the bytes read so far (the Logon and anything after it) go to that session's handle, which
drives the engine until the connection ends; the engine itself validates and answers the Logon, and
applies the session's ``reset_on_logon`` once that Logon is accepted (a refused Logon resets nothing).
"""

from __future__ import annotations

import logging
import ssl
from typing import Any, Iterable

import anyio
import anyio.lowlevel
from anyio.abc import SocketAttribute, SocketStream, TaskStatus
from anyio.streams.tls import TLSStream

from ..clock import Clock, SystemClock
from ..codec import NEED_MORE, Message, Parser
from ..errors import ConfigError, TransportError
from ..session import Session, SessionConfig, SessionID
from ._errors import IO_ERRORS, describe, translate_io_errors
from ._connection import fmt_addr
from ._connection import reset_on_close as _reset_on_close
from .driver import DEFAULT_MAX_BACKLOG, DEFAULT_READ_SIZE, Application, SessionHandle

__all__ = ["Acceptor", "MAX_FIRST_MESSAGE_BYTES"]

log = logging.getLogger("fixgw.session")

#: Bytes read before the first message must be complete (a Logon is far smaller).
MAX_FIRST_MESSAGE_BYTES = 64 << 10
_KeyT = tuple[str, str, str]


class Acceptor:
    """Serve ``sessions`` on one port.

    ``sessions`` holds ``SessionConfig`` values (role acceptor) or ready ``Session`` objects (to pass a
    dictionary or an authenticator). Each session's store comes from ``store.session_store(id)``.
    ``ssl_context`` (see ``fixgw.transport.tls.server_tls_context``) turns on TLS for the port.
    ``handles[session_id]`` is the ``SessionHandle`` of each session, live before ``serve`` starts.
    """

    def __init__(
        self,
        sessions: Iterable[SessionConfig | Session],
        application: Application,
        store: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        clock: Clock | None = None,
        dictionaries: Any = None,
        max_backlog: int = DEFAULT_MAX_BACKLOG,
        read_size: int = DEFAULT_READ_SIZE,
        logon_timeout: float = 10.0,
        tls_handshake_timeout: float = 10.0,
    ) -> None:
        self._clock = clock or SystemClock()
        self._host = host
        self._port = port
        self._ssl_context = ssl_context
        self._logon_timeout = logon_timeout
        self._tls_handshake_timeout = tls_handshake_timeout
        self._store = store
        self.handles: dict[SessionID, SessionHandle] = {}
        self._by_key: dict[_KeyT, SessionHandle] = {}
        for item in sessions:
            if isinstance(item, SessionConfig):
                dictionary = _pick_dictionary(dictionaries, item.session_id.begin_string)
                session = Session(item, store.session_store(item.session_id), dictionary=dictionary)
            else:
                session = item
            sid = session.config.session_id
            if session.config.is_initiator:
                raise ConfigError(f"sessions.{sid}", "an acceptor serves acceptor sessions only")
            key = (sid.begin_string, sid.sender_comp_id, sid.target_comp_id)
            if key in self._by_key:
                raise ConfigError(f"sessions.{sid}", "configured twice")
            handle = SessionHandle(
                session, application, clock=self._clock, max_backlog=max_backlog, read_size=read_size
            )
            self.handles[sid] = handle
            self._by_key[key] = handle
        self._scope: anyio.CancelScope | None = None
        self.port: int | None = None

    async def serve(self, *, task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen and serve until cancelled or ``aclose``; ``task_status.started`` gets the bound port.

        Raises ``TransportError`` when the port cannot be opened.
        """
        with translate_io_errors(f"cannot listen on {self._host}:{self._port}"):
            listener = await anyio.create_tcp_listener(local_host=self._host, local_port=self._port)
        token = anyio.lowlevel.current_token()
        for handle in self.handles.values():
            handle._token = token
        self.port = listener.extra(SocketAttribute.local_port)
        log.info("acceptor listening on %s:%s%s", self._host, self.port, " (TLS)" if self._ssl_context else "")
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                async with listener:
                    task_status.started(self.port)
                    await listener.serve(self._handle_connection)
        finally:
            self._scope = None
            log.info("acceptor on port %s stopped", self.port)

    async def aclose(self) -> None:
        """Stop listening and drop every connection (no Logout)."""
        if self._scope is not None:
            self._scope.cancel()

    async def shutdown(self, text: str = "", timeout: float = 5.0) -> None:
        """Log out every logged-on session, wait up to ``timeout`` for the connections to end, then
        stop listening and drop whatever is left."""
        handles = [h for h in self.handles.values() if h.is_connected]
        for handle in handles:
            try:
                if handle.is_logged_on:
                    handle.logout(text)
                else:
                    handle.disconnect("acceptor shutting down")
            except Exception:  # a session that cannot log out now is dropped below
                log.exception("%s: logout failed", handle.session_id)
        with anyio.move_on_after(timeout):
            for handle in handles:
                await handle.wait_disconnected()
        await self.aclose()

    def __getitem__(self, session_id: SessionID) -> SessionHandle:
        return self.handles[session_id]

    # -- per connection ------------------------------------------------------------------------------
    async def _handle_connection(self, stream: SocketStream) -> None:
        peer = _peer(stream)
        byte_stream: Any = stream
        try:
            if self._ssl_context is not None:
                try:
                    with anyio.fail_after(self._tls_handshake_timeout):
                        byte_stream = await TLSStream.wrap(
                            stream, server_side=True, ssl_context=self._ssl_context, standard_compatible=False
                        )
                except (TimeoutError, *IO_ERRORS) as exc:
                    log.warning("TLS handshake with %s failed: %s", fmt_addr(peer), describe(exc))
                    return
            routed = await self._read_logon(byte_stream, peer)
            if routed is None:
                return
            handle, initial = routed
            if handle._conn is not None:
                log.warning(
                    "%s: second connection from %s refused (already connected from %s)",
                    handle.session_id,
                    fmt_addr(peer),
                    fmt_addr(handle.peer_address),
                )
                return
            await handle._run_connection(byte_stream, peer, initial)
        except TransportError as exc:
            log.warning("connection from %s: %s", fmt_addr(peer), exc)
        except Exception:
            # A bug must cost one connection, not the listener and every other session.
            log.exception("connection from %s failed", fmt_addr(peer))
        finally:
            with anyio.move_on_after(2.0, shield=True):
                try:
                    await byte_stream.aclose()
                except IO_ERRORS:
                    pass

    async def _read_logon(self, stream: Any, peer: Any) -> tuple[SessionHandle, bytes] | None:
        """Read up to the first message; return its handle and the bytes read, or None to hang up."""
        parser = Parser()
        received: list[bytes] = []
        total = 0
        first: Any = NEED_MORE
        with anyio.move_on_after(self._logon_timeout) as scope:
            while first is NEED_MORE:
                try:
                    chunk = await stream.receive(MAX_FIRST_MESSAGE_BYTES)
                except IO_ERRORS as exc:
                    log.info("connection from %s closed before a Logon: %s", fmt_addr(peer), describe(exc))
                    return None
                received.append(chunk)
                total += len(chunk)
                parser.feed(chunk)
                first = parser.next_event()
                if first is NEED_MORE and total > MAX_FIRST_MESSAGE_BYTES:
                    break
        if scope.cancelled_caught:
            log.warning("connection from %s: no Logon within %.1fs; closed", fmt_addr(peer), self._logon_timeout)
            return None
        if not isinstance(first, Message):
            log.warning("connection from %s: first bytes are not a FIX message; closed", fmt_addr(peer))
            _reset_on_close(stream)
            return None
        if first.get(35) != b"A":
            log.warning("connection from %s: first message is %r, not a Logon; closed", fmt_addr(peer), first.get(35))
            return None
        key = (
            _text(first.get(8)),
            _text(first.get(56)),  # their TargetCompID is our SenderCompID
            _text(first.get(49)),  # their SenderCompID is our TargetCompID
        )
        handle = self._by_key.get(key)
        if handle is None:
            log.warning("connection from %s: Logon for unknown session %s:%s->%s; closed", fmt_addr(peer), *key)
            return None
        if not handle.config.address_allowed(peer):
            log.warning("%s: Logon from %s refused: address not allowed", handle.session_id, fmt_addr(peer))
            return None
        return handle, b"".join(received)


def _pick_dictionary(dictionaries: Any, begin_string: str) -> Any:
    if dictionaries is None:
        return None
    if isinstance(dictionaries, dict):
        return dictionaries.get(begin_string)
    return dictionaries(begin_string)


def _text(value: bytes | None) -> str:
    return value.decode("ascii", "replace") if value is not None else ""


def _peer(stream: Any) -> Any:
    try:
        return stream.extra(SocketAttribute.remote_address)
    except Exception:
        return None
