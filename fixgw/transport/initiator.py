"""A FIX initiator: connect (TCP or TLS), drive the session, reconnect with exponential backoff.

Theory of operation
-------------------
``run`` loops: connect, hand the stream to the session's handle (the engine queues our Logon on
``connection_made``), and when the connection ends wait ``backoff.next_delay()`` before the next
attempt. A connection that reached logged-on resets the backoff, so a long healthy session that drops
reconnects at once-ish, while an acceptor that keeps refusing us is tried less and less often (up to
``backoff.maximum``). ``stop()`` (or cancelling ``run``) ends the loop; ``logout_and_stop()`` logs out
first.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

import anyio
import anyio.lowlevel
from anyio.abc import SocketAttribute, TaskStatus

from ..clock import Clock
from ..errors import ConfigError, TransportError
from ..logsafe import printable
from ..session import Session, SessionConfig
from ._errors import IO_ERRORS, translate_io_errors
from ..backoff import Backoff
from .driver import DEFAULT_MAX_BACKLOG, DEFAULT_READ_SIZE, DEFAULT_STALL_TIMEOUT, Application, SessionHandle

__all__ = ["Initiator"]

log = logging.getLogger("fixgw.session")


class Initiator:
    """Keep one initiator session connected to ``host:port``.

    ``session`` is a ``SessionConfig`` (role initiator) or a ready ``Session``. With ``ssl_context``
    (see ``fixgw.transport.tls.client_tls_context``) the connection is TLS; ``server_hostname``
    defaults to ``host``. ``handle`` is the ``SessionHandle`` the application sends through.
    """

    def __init__(
        self,
        session: SessionConfig | Session,
        application: Application,
        store: Any,
        *,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        backoff: Backoff | None = None,
        clock: Clock | None = None,
        dictionary: Any = None,
        connect_timeout: float = 10.0,
        max_backlog: int = DEFAULT_MAX_BACKLOG,
        read_size: int = DEFAULT_READ_SIZE,
        stall_timeout: float | None = DEFAULT_STALL_TIMEOUT,
    ) -> None:
        if isinstance(session, SessionConfig):
            session = Session(session, store.session_store(session.session_id), dictionary=dictionary)
        if not session.config.is_initiator:
            raise ConfigError(f"sessions.{session.config.session_id}", "an initiator needs role='initiator'")
        self.host = host
        self.port = port
        self._ssl_context = ssl_context
        self._server_hostname = server_hostname or host
        self.backoff = backoff or Backoff()
        self._connect_timeout = connect_timeout
        self.handle = SessionHandle(
            session,
            application,
            clock=clock,
            max_backlog=max_backlog,
            read_size=read_size,
            stall_timeout=stall_timeout,
        )
        self._scope: anyio.CancelScope | None = None
        self._stopping = False
        #: Connection attempts made so far (successful or not).
        self.attempts = 0
        #: Seconds between looks at the schedule while outside the session's hours.
        self.schedule_poll_interval = 1.0

    async def connect_once(self) -> str:
        """Connect, run the session until the connection ends and return why it ended.

        Raises ``TransportError`` when the connection (or the TLS handshake) cannot be made.
        """
        self.attempts += 1
        where = f"{self.host}:{self.port}"
        with translate_io_errors(f"cannot connect to {where}"):
            try:
                with anyio.fail_after(self._connect_timeout):
                    if self._ssl_context is not None:
                        stream: Any = await anyio.connect_tcp(
                            self.host,
                            self.port,
                            ssl_context=self._ssl_context,
                            tls_hostname=self._server_hostname,
                            tls_standard_compatible=False,
                        )
                    else:
                        stream = await anyio.connect_tcp(self.host, self.port)
            except TimeoutError as exc:
                raise TransportError(f"cannot connect to {where}: timed out") from exc
        try:
            peer = stream.extra(SocketAttribute.remote_address, (self.host, self.port))
            return await self.handle._run_connection(stream, peer)
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await stream.aclose()
                except IO_ERRORS:
                    pass

    async def run(self, *, task_status: TaskStatus[SessionHandle] = anyio.TASK_STATUS_IGNORED) -> None:
        """Connect and reconnect until ``stop()``; ``task_status.started`` gets the handle at once."""
        label = str(self.handle.session_id)
        self.handle._token = anyio.lowlevel.current_token()
        with anyio.CancelScope() as scope:
            self._scope = scope
            task_status.started(self.handle)
            while not self._stopping:
                if not self.handle.session.in_schedule(self.handle._clock.now_ns()):
                    # Outside the session's hours the engine would refuse to log on: wait.
                    await anyio.sleep(self.schedule_poll_interval)
                    continue
                try:
                    reason = await self.connect_once()
                    log.info("%s: connection to %s:%s ended: %s", label, self.host, self.port, printable(reason))
                except TransportError as exc:
                    log.warning("%s: %s", label, printable(exc))
                except Exception:
                    log.exception("%s: connection failed", label)
                if self._stopping:
                    break
                if self.handle.last_connection_logged_on:
                    self.backoff.reset()
                delay = self.backoff.next_delay()
                log.info("%s: reconnecting in %.2fs (attempt %d)", label, delay, self.attempts + 1)
                await anyio.sleep(delay)
        self._scope = None

    def stop(self) -> None:
        """Stop reconnecting and close the connection now."""
        self._stopping = True
        if self._scope is not None:
            self._scope.cancel()

    async def logout_and_stop(self, text: str = "", timeout: float = 5.0) -> None:
        """Log out, wait (up to ``timeout``) for the connection to end, then stop."""
        self._stopping = True
        handle = self.handle
        if handle.is_connected:
            handle.logout(text)
            with anyio.move_on_after(timeout):
                await handle.wait_disconnected()
        self.stop()
