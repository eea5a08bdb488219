"""Run one sans-I/O FIX ``Session`` over an anyio byte stream.

Theory of operation
-------------------
A ``SessionHandle`` owns one ``fixgw.session.Session`` for its whole life; each TCP/TLS connection is
one call of ``_run_connection``, which runs two tasks:

- the *reader* receives up to ``read_size`` bytes (one batch), feeds them to the session, drains every
  event to the application, then pulls ``data_to_send()`` (which commits the store first: one commit
  per batch) and writes it. Session events and timers are handled in this task only, so turns never
  interleave.
- the *writer* sends whatever the socket did not take at once, in one write whenever woken. A peer
  that stops reading blocks the writer, never the reader or the timers. It also pumps a big resend
  (below).

Durable before counted: between ``next_event()`` returning an ``ApplicationMessage`` and the
application's ``on_message`` there is no await, and with plain (not ``async def``) callbacks a whole
turn has none, so the event, what the application writes for it and the commit in ``data_to_send()``
happen in one step. Output is never pulled (so the store never committed by this handle) while a turn
is in progress. An ``async def`` callback runs synchronously up to its first await; another session
sharing the store may commit there, so it must write its effects (journal, replies) before its first
await.

Writing: on a plain TCP socket, when the writer is idle (nothing queued, no send in progress) the
reader hands the batch to the kernel itself with one non-blocking ``send`` and queues only what the
socket did not take; the writer is woken for that remainder alone. The order of bytes is safe because
an anyio stream's ``send`` returns only once the kernel holds every byte, so an idle writer means
nothing is buffered above the socket. TLS and other streams always go through the writer, which
writes at most ``WRITE_SLICE`` bytes per ``send`` so that the socket's progress is seen.

Pipelined commits: when the session's store commits on a thread of its own (its ``commit()`` does not
wait; PostgreSQL in the gateway), the pulled bytes are held (``_hold``) until the commit covering them has
landed, then written in the order pulled; held bytes count as a backlog (nothing overtakes them).

Resends: a ResendRequest is answered chunk by chunk (the session's ``resend_chunk_size``), paced by
the socket. After a pull that leaves the session with more to give, the next chunk is pulled only
when the backlog is empty: by the writer once the socket took the last byte, after a few passes of the
event loop (so the other sessions' turns run between two chunks), or by the reader's next turn if it
comes first. Meanwhile the reader keeps reading inbound messages with no deadline (the session says
"due now" until the resend is over; its timers run again then, and a peer that stops reading
meanwhile meets the stall rule below); the writer wakes it when the resend is over.

Timers: the reader receives inside one cancel scope whose deadline is the session's next deadline; the
scope is only replaced when it fires, when the writer or the application wakes the reader, or when a
turn brings the deadline earlier, so a steady stream of reads creates none. When it fires the reader
calls ``on_tick``. A peer that never pauses cannot starve the timers: the deadline also cuts a run of
reads short. An async callback runs shielded, so a timer never interrupts it half-way.

Backpressure: the backlog is the bytes pulled from the session and not yet taken by the socket. What
a pull adds to an empty backlog (the *head*: a resend chunk, a turn's answers) is what the peer is
due now; it is bounded by the session (``resend_chunk_size``) and the application, not here. The
connection is cut off (RST, nothing more is buffered) when either

- what waits *behind* the head passes ``max_backlog`` bytes: output piles up faster than the peer
  reads it (a resend never does this: its next chunk waits for an empty backlog); or
- data waits and the socket takes nothing for ``stall_timeout`` seconds (precisely: one write of at
  most ``WRITE_SLICE`` bytes is not taken in that time): the peer stopped reading, even if it is due
  little (a paused resend, a few heartbeats).

So memory per connection stays under one head plus ``max_backlog``. The session keeps every message
in its store, so the peer gets them by ResendRequest later.

The application sends from any task of the event loop through the handle: ``send`` stores and queues at
once; inside a callback the bytes leave with the rest of the turn (one commit, one write per batch),
otherwise the writer is woken to pull them (several sends in one loop tick still make one write). A
fan-out to many sessions sends with ``flush=False`` and then calls each handle's ``flush()``, which
pulls at once: one write per session, and no writer task to wake for each. From another thread use
``send_threadsafe``.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Callable, Iterable

import anyio
import anyio.from_thread
import anyio.lowlevel
from anyio.abc import ByteStream

from ..clock import Clock, SystemClock
from ..logsafe import printable
from ..errors import LocalProtocolError, TransportError
from ..session import (
    NEED_DATA,
    ApplicationMessage,
    Disconnected,
    LoggedOn,
    LoggedOut,
    LogonRefused,
    Session,
    SessionConfig,
    SessionID,
    SharedBody,
)
from ._errors import IO_ERRORS, describe
from ._connection import WRITE_SLICE
from ._connection import Connection as _Connection
from ._connection import fmt_addr as _fmt_addr
from ._connection import direct_socket as _direct_socket
from ._connection import reset_on_close as _reset_on_close
from ._connection import set_nodelay as _set_nodelay
from ._hold import Hold, hold_for
from .application import Application
from .wirelog import WireLog

__all__ = [
    "Application",
    "SessionHandle",
    "DEFAULT_MAX_BACKLOG",
    "DEFAULT_READ_SIZE",
    "DEFAULT_STALL_TIMEOUT",
    "WRITE_SLICE",
]

log = logging.getLogger("fixgw.session")

#: Unsent bytes tolerated behind the head of the backlog before a slow reader is cut off.
DEFAULT_MAX_BACKLOG = 4 << 20
#: Bytes asked from the socket per read: one batch per turn.
DEFAULT_READ_SIZE = 64 << 10
#: Seconds a write may wait for the socket, while data waits, before the peer counts as not reading.
DEFAULT_STALL_TIMEOUT = 30.0
#: Passes of the event loop the resend pump steps aside for between two chunks: another session's
#: answer takes a few (its socket is seen readable, its task wakes, it writes), so with one pass it would
#: wait for several chunks instead of about one.
RESEND_PAUSE_PASSES = 4


def _maybe_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn)


def _message_callback(app: Any) -> Callable[[Any, ApplicationMessage], Any]:
    """The application's ``on_application_message`` (an ``Application`` has one, handing the message to
    ``on_message``), or, for an application without it, a call of its ``on_message`` with the message."""
    deliver = getattr(app, "on_application_message", None)
    if deliver is not None:
        return deliver  # type: ignore[no-any-return]
    on_message = app.on_message
    return lambda session, event: on_message(session, event.message)


class SessionHandle:
    """One FIX session with its I/O driver: what the application holds to send, log out or disconnect.

    Created by ``Acceptor`` and ``Initiator``; one handle per session id, kept across reconnections.
    ``session`` is the underlying sans-I/O engine (read its state, do not drive it directly).
    """

    def __init__(
        self,
        session: Session,
        application: Application,
        *,
        clock: Clock | None = None,
        max_backlog: int = DEFAULT_MAX_BACKLOG,
        read_size: int = DEFAULT_READ_SIZE,
        close_timeout: float = 2.0,
        stall_timeout: float | None = DEFAULT_STALL_TIMEOUT,
    ) -> None:
        if max_backlog <= 0 or read_size <= 0:
            raise ValueError("max_backlog and read_size must be positive")
        if stall_timeout is not None and not stall_timeout > 0:
            raise ValueError("stall_timeout must be positive (or None: no stall rule)")
        #: Seconds the socket may take nothing while data waits before the connection is cut off
        #: (None: never); read when a write starts, so it may be changed between connections.
        self.stall_timeout = stall_timeout
        self.session = session
        self.application = application
        self.session_id: SessionID = session.config.session_id
        self._clock = clock or SystemClock()
        self._max_backlog = max_backlog
        self._read_size = read_size
        self._close_timeout = close_timeout
        self._wire = WireLog(self.session_id)
        self._conn: _Connection | None = None
        #: Pulled bytes waiting for their commit, when the store pipelines its commits (``_hold``).
        self._hold: Hold | None = None
        self._in_turn = False
        self._logged_on = False
        self._token: Any = None
        self._logon_waiters: list[anyio.Event] = []
        self._label = str(self.session_id)
        #: ``(application, its message callback)``: looked up once, not per turn.
        self._deliver: tuple[Any, Callable[[Any, ApplicationMessage], Any]] | None = None
        app = application
        self._async_cb = any(
            _maybe_async(getattr(app, name, None) or (lambda *a: None))
            for name in ("on_logon", "on_logout", "on_message", "on_application_message", "on_event")
        )
        self._last_peak = 0
        self._disconnected = anyio.Event()
        self._disconnected.set()
        #: Why the last connection ended ("" while none has ended).
        self.last_disconnect_reason = ""
        #: Whether the current (or last) connection reached logged-on.
        self.last_connection_logged_on = False
        #: Whether the last connection's Logon was refused for its credentials (``LogonRefused.credentials``).
        self.last_refusal_credentials = False

    @property
    def backlog(self) -> int:
        """Bytes queued for the peer above the socket (0 without a connection): how far behind it reads."""
        conn = self._conn
        return 0 if conn is None else conn.backlog

    def __repr__(self) -> str:
        return f"SessionHandle({self._label}, connected={self.is_connected}, logged_on={self._logged_on})"

    # -- public API --------------------------------------------------------------------------------
    @property
    def config(self) -> SessionConfig:
        return self.session.config

    @property
    def is_connected(self) -> bool:
        """A connection is attached (it may not be logged on yet)."""
        return self._conn is not None and not self._conn.closing

    @property
    def is_logged_on(self) -> bool:
        return self._logged_on

    @property
    def peak_backlog(self) -> int:
        """The largest backlog (unsent bytes above the socket) of the current or last connection."""
        conn = self._conn
        return conn.peak_backlog if conn is not None else self._last_peak

    @property
    def peer_address(self) -> Any:
        conn = self._conn
        return conn.peer_address if conn is not None else None

    def unique_tag(self) -> str:
        """``<store creation ms, hex>-<next outbound MsgSeqNum>``: the number the next message sent gets,
        with the store's creation time (new at every sequence reset), so no two messages of the store share
        it, across restarts too. An id source for the application (e.g. ExecIDs of reports about no order).
        """
        session = self.session
        return f"{session.store.creation_time_ns // 1_000_000:x}-{session.next_sender_seq}"

    def send(self, msg_type: bytes | str, body_fields: Iterable[tuple[int, Any]] | bytes | SharedBody, *,
             header_fields: Iterable[tuple[int, Any]] = (), flush: bool = True) -> int:
        """Send an application message; return its MsgSeqNum. Call from the event loop thread.

        The message is stored at once; while disconnected it waits in the store for a resend.
        ``body_fields`` may be ready ``tag=value SOH`` bytes, or a ``SharedBody`` (a body encoded once for
        many sessions).
        ``header_fields`` (e.g. DeliverTo 128/129/145) go into the header after SendingTime.
        ``flush`` False leaves the message queued in the session until ``flush()`` (or the next turn):
        a fan-out sends to every session, then flushes each once (one write per session).
        """
        if isinstance(msg_type, str):
            msg_type = msg_type.encode("ascii")
        seq = self.session.send(msg_type, body_fields, self._clock.now_ns(), header_fields=header_fields)
        if flush:
            self._after_external_action()
        return seq

    def flush(self) -> None:
        """Write what the session has queued, now and in one write: straight to the kernel when nothing
        waits above the socket, else behind the backlog. Inside this session's turn it does nothing (the
        turn writes its output when it ends)."""
        self._after_external_action(pull_now=True)

    def send_threadsafe(self, msg_type: bytes | str, body_fields: Iterable[tuple[int, Any]]) -> int:
        """Like ``send``, from a thread other than the event loop's (blocks until it is queued)."""
        if self._token is None:
            raise LocalProtocolError("the session's event loop is not running")
        fields = list(body_fields)
        return anyio.from_thread.run_sync(self.send, msg_type, fields, token=self._token)

    def logout(self, text: str = "") -> None:
        """Start a Logout; the connection closes when the peer answers or the logout times out."""
        self.session.logout(self._clock.now_ns(), text)
        self._after_external_action()

    def disconnect(self, reason: str = "disconnected by application") -> None:
        """Close the current connection now (no Logout); the initiator will reconnect."""
        conn = self._conn
        if conn is not None:
            self._abort(conn, reason, reset=False)

    async def wait_disconnected(self) -> None:
        """Return once no connection is attached."""
        if self._conn is None:
            return
        await self._disconnected.wait()

    async def wait_logged_on(self) -> None:
        """Return once the session is logged on."""
        if self._logged_on:
            return
        ev = anyio.Event()
        self._logon_waiters.append(ev)
        await ev.wait()

    # -- connection life ---------------------------------------------------------------------------
    async def _run_connection(self, stream: ByteStream, peer_address: Any = None, initial: bytes = b"") -> str:
        """Drive the session over ``stream`` until the connection ends; return why it ended."""
        if self._conn is not None:
            raise LocalProtocolError(f"{self._label} already has a connection")
        conn = _Connection(stream, peer_address)
        _set_nodelay(stream)
        conn.sock = _direct_socket(stream)
        self._conn = conn
        self._hold = hold_for(self.session.store)
        self._disconnected = anyio.Event()
        self.last_connection_logged_on = False
        self.last_refusal_credentials = False
        self._token = anyio.lowlevel.current_token()
        session = self.session
        log.info("%s connected (peer %s)", self._label, _fmt_addr(peer_address))
        try:
            async with anyio.create_task_group() as tg:
                conn.task_group = tg
                session.connection_made(self._clock.now_ns(), peer_address)
                if initial:
                    self._wire.inbound(initial)
                    session.receive_data(initial, self._clock.now_ns())
                await self._process(conn)
                tg.start_soon(self._writer, conn)
                await self._reader(conn)
                if not conn.aborted:
                    # Let the writer send what is left (e.g. our Logout answer) before closing.
                    with anyio.move_on_after(self._close_timeout):
                        if conn.pending or conn.writing or conn.flush_requested or self._held():
                            conn.wakeup.set()
                            await conn.drained.wait()
                tg.cancel_scope.cancel()
        finally:
            self._conn = None
            self._last_peak = conn.peak_backlog
            if not conn.reason:
                conn.reason = "connection closed"
            sock, conn.sock = conn.sock, None
            if sock is not None:
                sock.close()  # only a duplicate: the stream's own close below ends the connection
            with anyio.CancelScope(shield=True):
                await self._close_stream(conn)
            # Always report the close: it takes the engine from DISCONNECTING (or any connected
            # state) to DISCONNECTED, and is idempotent.
            try:
                session.connection_lost(self._clock.now_ns())
            except Exception:  # pragma: no cover - the engine must not fail here
                log.exception("%s: connection_lost failed", self._label)
            with anyio.CancelScope(shield=True):
                await self._process(conn, dispatch_only=True)
            if self._logged_on:
                self._logged_on = False
                with anyio.CancelScope(shield=True):
                    await self._callback("on_logout", self)
            self.last_disconnect_reason = conn.reason
            self._disconnected.set()
            log.info("%s disconnected: %s", self._label, printable(conn.reason))
        return conn.reason

    async def _reader(self, conn: _Connection) -> None:
        stream = conn.stream
        session = self.session
        now_ns = self._clock.now_ns
        read_size = self._read_size
        current_time = anyio.current_time
        wire = self._wire
        shield = self._async_cb
        woken = False
        while not conn.closing:
            if woken:
                # The deadline passed, or the writer or the application woke us: run the timers.
                session.on_tick(now_ns())
                await self._turn(conn, shield)
                if conn.closing:
                    return
            armed = self._wanted_deadline(conn)
            if armed is not None:
                conn.resume_when_drained = False
            with anyio.CancelScope() as scope:
                conn.recv_scope = scope
                conn.armed_ns = armed
                if armed is not None:
                    scope.deadline = current_time() + (armed - now_ns()) / 1e9
                while True:
                    try:
                        data = await stream.receive(read_size)
                    except anyio.EndOfStream:
                        data = b""
                    except IO_ERRORS as exc:
                        conn.recv_scope = None
                        conn.reason = f"receive failed: {describe(exc)}"
                        conn.aborted = True  # nothing more can be written either
                        conn.closing = True
                        return
                    now = now_ns()
                    if not data:
                        conn.recv_scope = None
                        conn.reason = "connection closed by peer"
                        session.receive_data(data, now)
                        # The engine saw EOF; whatever it says now, the stream is gone.
                        await self._turn(conn, shield)
                        conn.closing = True
                        return
                    wire.inbound(data)
                    session.receive_data(data, now)
                    if shield:
                        await self._turn(conn, shield)
                    else:
                        await self._process(conn)  # plain callbacks: no suspension point, nothing cuts in
                    if conn.closing:
                        break
                    wanted = self._wanted_deadline(conn)
                    if wanted is not None and (conn.armed_ns is None or wanted < conn.armed_ns):
                        # Due now (a peer that never pauses must not starve the timers) or brought
                        # earlier by this turn: re-arm through the outer loop.
                        break
            conn.recv_scope = None
            woken = True

    def _wanted_deadline(self, conn: _Connection) -> int | None:
        """The session's next deadline, or None while a resend streams (the writer paces it)."""
        if conn.more and self.session.has_data_to_send:
            # The session says "due now" until the resend is over; the writer pulls its chunks as the
            # socket takes them and wakes us at the end, so just read meanwhile.
            conn.resume_when_drained = True
            return None
        return self.session.next_deadline_ns()

    async def _turn(self, conn: _Connection, shield: bool) -> None:
        if shield:
            # An async callback must not be cut half-way by the reader's own timer deadline.
            with anyio.CancelScope(shield=True):
                await self._process(conn)
        else:
            await self._process(conn)  # plain callbacks: no suspension point, nothing can cut in

    async def _writer(self, conn: _Connection) -> None:
        pending = conn.pending
        while True:
            await conn.wakeup.wait()
            conn.wakeup = anyio.Event()
            if conn.flush_requested and not self._in_turn:
                conn.flush_requested = False
                self._pull(conn)
            while True:
                while pending:
                    data = pending[0] if len(pending) == 1 else b"".join(pending)
                    pending.clear()
                    failed = await conn.write(data, self.stall_timeout)
                    if failed is not None:
                        self._abort(conn, failed[0], reset=failed[1])
                        return
                if not conn.more or conn.closing or self._in_turn:
                    break  # a turn in progress pulls the next chunk itself when it ends
                # The socket took the whole chunk: let the other sessions' turns run, then pull the next.
                for _ in range(RESEND_PAUSE_PASSES):
                    await anyio.lowlevel.checkpoint()
                if self._in_turn or conn.pending or conn.writing or self._held():
                    break
                self._pull(conn)
            if conn.closing and not self._held():
                conn.drained.set()
            elif conn.resume_when_drained and not conn.more and not pending:
                # The resend is over: the reader re-arms the session's timers.
                conn.resume_when_drained = False
                scope = conn.recv_scope
                if scope is not None:
                    scope.cancel()

    # -- turn processing ---------------------------------------------------------------------------
    async def _process(self, conn: _Connection, dispatch_only: bool = False) -> None:
        """Drain every session event to the application, then pull the output into the backlog."""
        session = self.session
        next_event = session.next_event
        app = self.application
        self._in_turn = True
        try:
            if not self._async_cb:
                cached = self._deliver
                if cached is None or cached[0] is not app:
                    cached = self._deliver = (app, _message_callback(app))
                on_message = cached[1]
                while True:
                    ev = next_event()
                    if ev is NEED_DATA:
                        break
                    if type(ev) is ApplicationMessage:
                        try:
                            on_message(self, ev)
                        except Exception:
                            log.exception("%s: on_message failed", self._label)
                    else:
                        await self._dispatch_admin(conn, ev)
            else:
                while True:
                    ev = next_event()
                    if ev is NEED_DATA:
                        break
                    if type(ev) is ApplicationMessage:
                        if hasattr(app, "on_application_message"):
                            await self._callback("on_application_message", self, ev)
                        else:
                            await self._callback("on_message", self, ev.message)
                    else:
                        await self._dispatch_admin(conn, ev)
        finally:
            self._in_turn = False
        if dispatch_only:
            return
        self._pull(conn)
        if not conn.closing and session.wants_disconnect:
            conn.closing = True
            if not conn.reason:
                conn.reason = "session ended"

    async def _dispatch_admin(self, conn: _Connection, ev: Any) -> None:
        t = type(ev)
        if t is LoggedOn:
            self._logged_on = True
            self.last_connection_logged_on = True
            log.info("%s logged on", self._label)
            waiters, self._logon_waiters = self._logon_waiters, []
            for w in waiters:
                w.set()
            await self._callback("on_logon", self)
        elif t is LoggedOut:
            if self._logged_on:
                self._logged_on = False
                log.info("%s logged out", self._label)
                await self._callback("on_logout", self)
        elif t is Disconnected:
            conn.closing = True
            if not conn.reason:
                conn.reason = str(getattr(ev, "reason", "") or "disconnected by session")
        else:
            if t is LogonRefused:
                self.last_refusal_credentials = ev.credentials
            await self._callback("on_event", self, ev)

    async def _callback(self, name: str, *args: Any) -> None:
        fn = getattr(self.application, name, None)
        if fn is None:
            return
        try:
            result = fn(*args)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("%s: %s failed", self._label, name)

    def _pull(self, conn: _Connection) -> None:
        """Move the session's output to the socket or the backlog; cut the connection if the backlog
        overflows (see "Backpressure" in the module docstring)."""
        if conn.aborted:
            return
        hold = self._hold
        idle = not conn.pending and not conn.writing and not (hold is not None and hold.chunks)
        session = self.session
        if conn.more and not idle and session.has_data_to_send:
            return  # the next resend chunk waits for the socket to take the last one
        out = session.data_to_send()
        more = conn.more = session.has_data_to_send
        if more:
            conn.wakeup.set()  # the writer pulls the next chunk once the socket took this one
        if not out:
            return
        if hold is not None and hold.keep(out, lambda: self._release(conn)):
            return  # written by ``_release`` once the commit covering it has landed
        self._emit(conn, out, idle)

    def _held(self) -> bool:
        hold = self._hold
        return hold is not None and bool(hold.chunks)

    def _release(self, conn: _Connection) -> None:
        """The commit covering held bytes has landed: write them (see ``_hold``)."""
        hold = self._hold
        if conn is not self._conn or conn.aborted or hold is None:
            return
        out = hold.take()
        if out:
            self._emit(conn, out, not conn.pending and not conn.writing)
        if conn.closing or conn.more:
            conn.wakeup.set()  # the writer drains before closing, or pulls the next resend chunk

    def _emit(self, conn: _Connection, out: bytes, idle: bool) -> None:
        """Write ``out`` (committed) to the socket, or queue it behind the backlog."""
        self._wire.outbound(out)
        sock = conn.sock
        if sock is not None and idle:
            # The writer is idle, so nothing sits above the socket: hand the batch to the kernel now
            # and queue only what it did not take.
            try:
                sent = sock.send(out)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._abort(conn, f"send failed: {describe(exc)}", reset=False)
                return
            if sent == len(out):
                return
            out = out[sent:]
        behind = conn.queue(out, idle)
        if behind > self._max_backlog:
            self._abort(
                conn,
                f"peer is not reading: {behind} bytes unsent behind {conn.head} being written"
                f" (limit {self._max_backlog})",
                reset=True,
            )
            return
        conn.wakeup.set()

    def _after_external_action(self, pull_now: bool = False) -> None:
        """The application acted outside a turn: get the output moving and re-arm the timer.
        ``pull_now``: write at once instead of waking the writer (which would write at its next pass)."""
        conn = self._conn
        if conn is None or self._in_turn or conn.closing:
            return
        if conn.writing or pull_now:
            # The writer is blocked on a slow socket: pull now so the backlog bound is enforced. Or a
            # flush: pull now, sparing a wake-up of the writer task per session in a fan-out.
            self._pull(conn)
        else:
            conn.flush_requested = True
            conn.wakeup.set()
        scope = conn.recv_scope
        if scope is not None:
            deadline_ns = self._wanted_deadline(conn)
            if deadline_ns is not None and (conn.armed_ns is None or deadline_ns < conn.armed_ns):
                conn.armed_ns = deadline_ns
                scope.deadline = anyio.current_time() + (deadline_ns - self._clock.now_ns()) / 1e9
            if self.session.wants_disconnect:
                scope.cancel()

    def _abort(self, conn: _Connection, reason: str, *, reset: bool) -> None:
        if conn.aborted:
            return
        conn.aborted = True
        conn.closing = True
        conn.reason = reason
        conn.pending.clear()
        if self._hold is not None:
            self._hold.clear()
        if reset:
            _reset_on_close(conn.stream)
        log.warning("%s: closing connection: %s", self._label, printable(reason))
        if conn.task_group is not None:
            conn.task_group.cancel_scope.cancel()

    async def _close_stream(self, conn: _Connection) -> None:
        with anyio.move_on_after(self._close_timeout):
            try:
                await conn.stream.aclose()
            except IO_ERRORS + (TransportError,):
                pass
