"""A FIX acceptor: one TCP (or TLS) port serving many sessions, told apart by the Logon's CompIDs.

Theory of operation
-------------------
Accepting: one loop per listening socket. An ``accept`` that fails for want of descriptors or memory
(EMFILE, ENFILE, ENOBUFS, ENOMEM) is logged (rate-limited) and retried after a pause growing from 10 ms
to 1 s; one that concerns a single dying connection is skipped. Nothing an ``accept`` raises stops the
port. Each accepted connection is first counted as *pending* (see ``_admission``): past
``max_pending_connections`` in total or ``max_pending_per_address`` from one host it is closed at once,
without a byte, and a WARNING says so (rate-limited).

Every admitted connection is read until its first complete message, with a deadline (``logon_timeout``)
and a size cap. That message must be a Logon (35=A); its BeginString, TargetCompID (our SenderCompID)
and SenderCompID (our TargetCompID) name the session. A first message that is not a Logon, or bytes
that are not FIX, are closed without a reply. A Logon the acceptor refuses itself is answered with a
Logout whose Text says why, then closed: an unknown session, a known pair of CompIDs under another
BeginString, an address the session does not allow, a session that already has a connection, or any
Logon once ``refuse_logons`` (a shutdown) was called. That Logout carries MsgSeqNum 1 and is stored
nowhere: no session owns numbers on this connection, and the live connection of a session keeps its
own numbers untouched. It is sent only when the peer's BeginString and CompIDs are plain printable
text (otherwise the connection is closed silently).

Failed Logons slow their host down (``LogonThrottle``): after n failures in a row the next answer to
that host waits ``logon_failure_delay * 2**(n-1)`` seconds (capped at ``logon_failure_max_delay``),
so passwords cannot be guessed at wire speed. Failures are those refused here (except "already
connected") and those the session engine refuses (credentials, schedule, sequence numbers), seen as a
connection that ended without logging on. Every failed Logon is logged at WARNING with the peer address.

Otherwise the bytes read so far (the Logon and anything after it) go to that session's handle, which
drives the engine until the connection ends; the engine itself validates and answers the Logon, and
applies the session's ``reset_on_logon`` once that Logon is accepted (a refused Logon resets nothing).
The connection stops counting as pending when it is handed over: from then on it holds the session's
only connection slot, so at most one connection per configured session is beyond the caps.

Every value a peer chose (CompIDs, message types, texts) goes through ``fixgw.logsafe.printable``
before it reaches a log line, so a peer cannot forge log records.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any, Awaitable, Callable, Iterable

import anyio
import anyio.lowlevel
from anyio.abc import SocketAttribute, SocketStream, TaskGroup, TaskStatus
from anyio.streams.tls import TLSStream

from ..backoff import backoff_delay
from ..clock import Clock, SystemClock
from ..codec import NEED_MORE, Message, Parser
from ..errors import ConfigError, TransportError
from ..logsafe import printable
from ..session import Session, SessionConfig, SessionID
from ..session.validation import first_frame_problem
from ._admission import (LogLimiter, LogonThrottle, PendingConnections, open_file_limit, peer_host,
                         refusal_logout)
from ._errors import IO_ERRORS, RESOURCE_ERRNOS, TRANSIENT_ACCEPT_ERRNOS, describe, translate_io_errors
from ._connection import fmt_addr
from ._connection import reset_on_close as _reset_on_close
from .driver import DEFAULT_MAX_BACKLOG, DEFAULT_READ_SIZE, DEFAULT_STALL_TIMEOUT, Application, SessionHandle

__all__ = ["Acceptor", "MAX_FIRST_MESSAGE_BYTES", "DEFAULT_MAX_PENDING_CONNECTIONS",
           "DEFAULT_MAX_PENDING_PER_ADDRESS"]

log = logging.getLogger("fixgw.session")

#: Bytes read before the first message must be complete (a Logon is far smaller).
MAX_FIRST_MESSAGE_BYTES = 64 << 10
#: Connections waiting for their Logon, in total and from one host.
DEFAULT_MAX_PENDING_CONNECTIONS = 256
DEFAULT_MAX_PENDING_PER_ADDRESS = 16
#: Pause after an accept that failed for want of resources: doubles from the first to the last.
ACCEPT_BACKOFF_MIN = 0.01
ACCEPT_BACKOFF_MAX = 1.0
#: How long a refusal Logout waits for the peer to close after our FIN before we close (a close with
#: unread input resets the connection, and a reset may destroy the Logout before the peer read it).
REFUSAL_LINGER = 1.0
#: Descriptors the process needs beside the pending connections and the sessions (store, logs, venues).
_FD_HEADROOM = 64
_KeyT = tuple[str, str, str]


class Acceptor:
    """Serve ``sessions`` on one port.

    ``sessions`` holds ``SessionConfig`` values (role acceptor) or ready ``Session`` objects (to pass a
    dictionary or an authenticator). Each session's store comes from ``store.session_store(id)``.
    ``ssl_context`` (see ``fixgw.transport.tls.server_tls_context``) turns on TLS for the port.
    ``handles[session_id]`` is the ``SessionHandle`` of each session, live before ``serve`` starts.

    ``max_pending_connections`` and ``max_pending_per_address`` cap the connections not yet handed to
    a session (in total, and per peer host; the per-host cap is raised to the number of sessions, so one
    host can log every session on at once); ``logon_failure_delay`` (0 turns the brake off),
    ``logon_failure_max_delay`` and ``logon_failure_forget`` set the brake on failed Logons (seconds).
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
        stall_timeout: float | None = DEFAULT_STALL_TIMEOUT,
        logon_timeout: float = 10.0,
        tls_handshake_timeout: float = 10.0,
        max_pending_connections: int = DEFAULT_MAX_PENDING_CONNECTIONS,
        max_pending_per_address: int = DEFAULT_MAX_PENDING_PER_ADDRESS,
        logon_failure_delay: float = 0.5,
        logon_failure_max_delay: float = 30.0,
        logon_failure_forget: float = 300.0,
    ) -> None:
        self._clock = clock or SystemClock()
        self._host = host
        self._port = port
        self._ssl_context = ssl_context
        self._logon_timeout = logon_timeout
        self._tls_handshake_timeout = tls_handshake_timeout
        self._store = store
        sessions = list(sessions)
        try:
            # One host may open every configured session at once (a firm's engine logs all of its
            # sessions on together after a restart), so its cap is never below the number of sessions.
            per_address = max(max_pending_per_address, len(sessions)) if max_pending_per_address > 0 else 0
            self._pending = PendingConnections(max_pending_connections, per_address)
            self._throttle = LogonThrottle(logon_failure_delay, logon_failure_max_delay, logon_failure_forget)
        except ValueError as exc:
            raise ConfigError("gateway", str(exc)) from None
        self._log_limiter = LogLimiter()
        self.handles: dict[SessionID, SessionHandle] = {}
        self._by_key: dict[_KeyT, SessionHandle] = {}
        self._begins: dict[tuple[str, str], list[str]] = {}
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
                session, application, clock=self._clock, max_backlog=max_backlog, read_size=read_size,
                stall_timeout=stall_timeout,
            )
            self.handles[sid] = handle
            self._by_key[key] = handle
            self._begins.setdefault((sid.sender_comp_id, sid.target_comp_id), []).append(sid.begin_string)
        self._scope: anyio.CancelScope | None = None
        self._closing: str | None = None  # why every Logon is refused (set by ``refuse_logons``)
        #: ``await admit(handle)``: ``None`` accepts a routed Logon, a text refuses it with that Logout Text
        #: (a gateway cluster node: a session another node owns; ``fixgw.gateway._ownership``).
        self.admit: Callable[[SessionHandle], Awaitable[str | None]] | None = None
        self.port: int | None = None

    @property
    def pending_connections(self) -> int:
        """Connections accepted and not yet handed to a session."""
        return self._pending.total

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
        self._check_descriptor_limit()
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                async with listener, anyio.create_task_group() as tg:
                    for one in getattr(listener, "listeners", [listener]):
                        tg.start_soon(self._accept_loop, one, tg)
                    task_status.started(self.port)
        finally:
            self._scope = None
            log.info("acceptor on port %s stopped", self.port)

    async def aclose(self) -> None:
        """Stop listening and drop every connection (no Logout)."""
        if self._scope is not None:
            self._scope.cancel()

    def refuse_logons(self, text: str) -> None:
        """Answer every Logon from now on with a Logout whose Text is ``Logon rejected: <text>``."""
        self._closing = text

    async def shutdown(self, text: str = "", timeout: float = 5.0) -> list[SessionHandle]:
        """Refuse new Logons, log out every logged-on session (Text ``text``), wait up to ``timeout``
        for the connections to end, then stop listening and drop whatever is left.

        Return the handles still connected when the wait ended (those dropped without an answer).
        """
        self.refuse_logons(text or "acceptor shutting down")
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
        late = [h for h in handles if h._conn is not None]
        await self.aclose()
        return late

    def __getitem__(self, session_id: SessionID) -> SessionHandle:
        return self.handles[session_id]

    # -- accepting -----------------------------------------------------------------------------------
    async def _accept_loop(self, listener: Any, tg: TaskGroup) -> None:
        """Accept until the listener closes; no error of ``accept`` ends the loop."""
        failures = 0
        while True:
            try:
                stream = await listener.accept()
            except anyio.ClosedResourceError:
                return
            except OSError as exc:
                if exc.errno in TRANSIENT_ACCEPT_ERRNOS:
                    log.debug("accept on port %s: %s", self.port, describe(exc))
                    await anyio.lowlevel.checkpoint()
                    continue
                pause = backoff_delay(failures, ACCEPT_BACKOFF_MIN, ACCEPT_BACKOFF_MAX)
                failures += 1
                level = logging.WARNING if exc.errno in RESOURCE_ERRNOS else logging.ERROR
                self._log_limited(
                    "accept", level, "accept on port %s failed: %s (%d connections waiting for a Logon); "
                    "retrying in %.2fs", self.port, describe(exc), self._pending.total, pause,
                )
                await anyio.sleep(pause)
                continue
            except Exception:  # a bug must not close the port either
                pause = backoff_delay(failures, ACCEPT_BACKOFF_MIN, ACCEPT_BACKOFF_MAX)
                failures += 1
                if self._log_limiter.allow("accept-bug", anyio.current_time()) is not None:
                    log.exception("accept on port %s failed; retrying in %.2fs", self.port, pause)
                await anyio.sleep(pause)
                continue
            failures = 0
            peer = _peer(stream)
            host = peer_host(peer)
            refused = self._pending.admit(host)
            if refused is not None:
                self._log_limited(f"cap:{host}", logging.WARNING, "connection from %s refused: %s",
                                  fmt_addr(peer), refused)
                with anyio.move_on_after(1.0):
                    try:
                        await stream.aclose()
                    except IO_ERRORS:
                        pass
                continue
            tg.start_soon(self._serve_pending, stream, peer, host)

    async def _serve_pending(self, stream: SocketStream, peer: Any, host: str) -> None:
        counted = True

        def release() -> None:
            nonlocal counted
            if counted:
                counted = False
                self._pending.release(host)

        try:
            await self._handle_connection(stream, peer, host, release)
        finally:
            release()

    def _log_limited(self, key: str, level: int, fmt: str, *args: Any) -> None:
        held = self._log_limiter.allow(key, anyio.current_time())
        if held is None:
            return
        if held:
            fmt += " (%d similar lines suppressed)"
            args = (*args, held)
        log.log(level, fmt, *args)

    def _check_descriptor_limit(self) -> None:
        wanted = self._pending.max_total + len(self.handles) + _FD_HEADROOM
        limit = open_file_limit()
        if limit is not None and limit < wanted:
            log.warning("open-file limit %d is below the %d this acceptor may need (%d pending connections + %d "
                        "sessions + %d); raise the limit or lower max_pending_connections",
                        limit, wanted, self._pending.max_total, len(self.handles), _FD_HEADROOM)

    # -- per connection ------------------------------------------------------------------------------
    async def _handle_connection(self, stream: SocketStream, peer: Any, host: str, release: Any) -> None:
        byte_stream: Any = stream
        try:
            if self._ssl_context is not None:
                try:
                    with anyio.fail_after(self._tls_handshake_timeout):
                        byte_stream = await TLSStream.wrap(
                            stream, server_side=True, ssl_context=self._ssl_context, standard_compatible=False
                        )
                except (TimeoutError, *IO_ERRORS) as exc:
                    log.warning("TLS handshake with %s failed: %s", fmt_addr(peer), printable(describe(exc)))
                    return
            first = await self._read_logon(byte_stream, peer)
            if first is None:
                return
            logon, initial = first
            wait = self._throttle.reserve(host, anyio.current_time())
            if wait > 0:
                log.info("Logon from %s answered in %.1fs (earlier Logons failed)", fmt_addr(peer), wait)
                await anyio.sleep(wait)
            handle, text, counts = self._route(logon, peer)
            if handle is not None and self.admit is not None:  # a cluster node: owned, taken over, or refused
                refusal = await self.admit(handle)
                handle, text, counts = (None, refusal, False) if refusal else self._route(logon, peer)
            if handle is None:
                log.warning("Logon from %s for %s:%s->%s refused: %s", fmt_addr(peer), printable(logon.get(8)),
                            printable(logon.get(49)), printable(logon.get(56)), printable(text))
                if counts:
                    self._throttle.failed(host, anyio.current_time())
                await self._refuse(byte_stream, logon, text)
                return
            release()
            await handle._run_connection(byte_stream, peer, initial)
            if not handle.last_connection_logged_on:
                if handle.last_refusal_credentials:  # guessing passwords is what the brake slows down
                    self._throttle.failed(host, anyio.current_time())
                log.warning("%s: Logon from %s failed: %s", handle.session_id, fmt_addr(peer),
                            printable(handle.last_disconnect_reason))
        except TransportError as exc:
            log.warning("connection from %s: %s", fmt_addr(peer), printable(exc))
        except Exception:
            # A bug must cost one connection, not the listener and every other session.
            log.exception("connection from %s failed", fmt_addr(peer))
        finally:
            with anyio.move_on_after(2.0, shield=True):
                try:
                    await byte_stream.aclose()
                except IO_ERRORS:
                    pass

    async def _read_logon(self, stream: Any, peer: Any) -> tuple[Message, bytes] | None:
        """Read up to the first message; return it (a Logon) and the bytes read, or None to hang up."""
        parser = Parser()
        received: list[bytes] = []
        total = 0
        first: Any = NEED_MORE
        with anyio.move_on_after(self._logon_timeout) as scope:
            while first is NEED_MORE:
                try:
                    chunk = await stream.receive(MAX_FIRST_MESSAGE_BYTES)
                except IO_ERRORS as exc:
                    log.info("connection from %s closed before a Logon: %s", fmt_addr(peer), printable(describe(exc)))
                    return None
                received.append(chunk)
                total += len(chunk)
                parser.feed(chunk)
                first = parser.next_event()
                if first is NEED_MORE and first_frame_problem(b"".join(received)) is not None:
                    break  # 1S-d: a garbled first frame (e.g. a wrong BodyLength) is closed at once
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
            log.warning("connection from %s: first message is 35=%s, not a Logon; closed", fmt_addr(peer),
                        printable(first.get(35)))
            return None
        return first, b"".join(received)

    def _route(self, logon: Message, peer: Any) -> tuple[SessionHandle | None, str, bool]:
        """Return the Logon's handle, or None with the refusal text and whether it counts as a failure."""
        if self._closing is not None:
            return None, f"Logon rejected: {self._closing}", False
        begin, their_sender, their_target = _text(logon.get(8)), _text(logon.get(49)), _text(logon.get(56))
        handle = self._by_key.get((begin, their_target, their_sender))
        if handle is None:
            expected = self._begins.get((their_target, their_sender))
            if expected:
                return None, f"Logon rejected: wrong BeginString {begin} (expected {'/'.join(expected)})", False
            return None, f"Logon rejected: unknown session {begin}:{their_sender}->{their_target}", True
        if not handle.config.address_allowed(peer):
            return None, "Logon rejected: address not allowed", True
        if handle._conn is not None:
            log.info("%s: second connection from %s refused (already connected from %s)",
                        handle.session_id, fmt_addr(peer), fmt_addr(handle.peer_address))
            state = "logged on" if handle.is_logged_on else "connected"
            # Not a failed guess: a client reconnecting before its old connection was seen to die.
            return None, f"Logon rejected: session already {state}", False
        return handle, "", False

    async def _refuse(self, stream: Any, logon: Message, text: str) -> None:
        """Answer a refused Logon with a Logout saying why; on plain TCP, let the peer close first."""
        frame = refusal_logout(logon.get(8), logon.get(49), logon.get(56), text, self._clock.now_ns())
        if frame is None:
            return
        with anyio.move_on_after(REFUSAL_LINGER):
            try:
                await stream.send(frame)
                if not isinstance(stream, SocketStream):
                    return  # TLS: its close_notify would wait on the peer; the close follows at once
                await stream.send_eof()  # a FIN now: the peer sees the end without waiting for us
                while True:  # drop whatever else comes until the peer closes
                    await stream.receive(MAX_FIRST_MESSAGE_BYTES)
            except IO_ERRORS:
                pass


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
