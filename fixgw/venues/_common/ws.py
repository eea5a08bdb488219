"""A reconnecting WebSocket client.

Theory of operation
-------------------
``run()`` loops for ever: connect, call ``on_connect(conn)`` (which authenticates and subscribes,
reading its own replies), then, on every connection after the first, call ``on_reconnect()`` —
the reconciliation hook, run *after* resubscribing so that nothing can fall between the
reconciliation snapshot and the live stream (duplicates are the tracker's job, gaps would be
ours). Then every text frame goes to ``on_message`` (a plain function, or a coroutine function: its
answer is awaited when it gives one; the order path's handlers are plain, no coroutine per
message). When the connection drops, wait with exponential backoff and jitter (50-100 %,
``fixgw.backoff``), and start again. Pings from the server are answered by the websockets library;
we also ping the server and drop a connection whose pongs stop coming.

Sending on the order path is ``send_soon``: frames queued during one event-loop turn are written
together at its end (one system call, and the venue reads them in one go). With ``inbox=True`` the
connection is an ``InboxConnection``: each complete message is queued as it is read, and the messages of
one read are handed to ``on_message`` in one go, without the library's future per message. Once the
reader runs (after ``on_connect``), a plain handler gets them in the read's own callback, so a read costs
no wake-up of the reading task and no event-loop turn; what a handler's work should do once the whole
read is handled (apply the events it published) asks ``after_read``. A handler that answers an
awaitable hands the rest back to the reading task, in order.

Runs on asyncio (the websockets library's asyncio client), under anyio.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedOK, WebSocketException
from websockets.frames import CloseCode, Opcode
from websockets.protocol import CLOSED as _CLOSED
from websockets.protocol import OPEN as _OPEN

from fixgw.backoff import EQUAL_JITTER, backoff_delay
from fixgw.errors import FixgwError
from fixgw.venues.base import StreamState

__all__ = ["ReconnectingWebSocket", "InboxConnection", "after_read", "write_at_once"]

log = logging.getLogger("fixgw.venues.ws")

_TEXT, _BINARY, _CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONT


class _Reading(threading.local):
    #: While an ``InboxConnection`` hands the messages of one read to its handler: what runs after them.
    after: list[Callable[[], None]] | None = None
    #: The next ``send_soon`` writes at once (``write_at_once``).
    at_once: bool = False


_reading = _Reading()


def write_at_once(flag: bool) -> None:
    """Whether the next ``send_soon`` on this thread writes at once, with every frame queued before it,
    instead of at the next turn. A caller that knows nothing more will be queued this turn (the last
    venue call of the turn) saves the turn; a flag left unused only makes some later frame leave sooner."""
    _reading.at_once = flag


def after_read(callback: Callable[[], None]) -> bool:
    """Run ``callback`` once the messages of the read being handled now are all handled, in the same
    event-loop turn, and return ``True``; return ``False`` (nothing registered) outside such a read.
    What the messages of one read published is then applied together, without waiting for a turn."""
    after = _reading.after
    if after is None:
        return False
    after.append(callback)
    return True


class InboxConnection(ClientConnection):
    """A client connection that queues each complete data message in ``inbox`` as it is read.

    The library's own path hands each message over through an assembler and a future per message;
    here the messages of one network read are queued at once and ``ReconnectingWebSocket`` handles
    them in one go (``recv`` still works, for a reply read during ``on_connect``). Control frames,
    the handshake, pings and closing stay the library's. Text must be valid UTF-8, binary messages
    are read as UTF-8 text: anything else fails the connection (close code 1007), as ``recv`` does.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inbox: deque[str] = deque()
        self._fragments: list[bytes] = []
        self._waiter: asyncio.Future[None] | None = None
        #: While set (by the reader, once it reads), the plain handler each message is handed to as it is
        #: read, in the read's own callback: no wake-up of the reading task, no event-loop turn.
        self.direct: Callable[[str], Awaitable[None] | None] | None = None
        #: What a direct handler left for the reader: the awaitable it answered (awaited before any later
        #: message is handled), or a failed future holding the exception it raised.
        self.pending: Awaitable[None] | None = None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.direct is not None and self.inbox:
            self._dispatch()

    def _dispatch(self) -> None:
        """Hand the messages just read to ``direct``, in order; then run what asked to go after them
        (``after_read``). A handler that answers an awaitable or raises stops direct delivery: the
        reader awaits (or raises) it and handles what follows, as it would have."""
        inbox, handler = self.inbox, self.direct
        assert handler is not None
        after: list[Callable[[], None]] = []
        outer = _reading.after
        _reading.after = after
        try:
            while inbox:
                try:
                    pending = handler(inbox.popleft())
                except Exception as exc:
                    failed = asyncio.get_running_loop().create_future()
                    failed.set_exception(exc)
                    pending = failed
                if pending is not None:
                    self.direct, self.pending = None, pending
                    self._wake()
                    break
        finally:
            _reading.after = outer
            for callback in after:
                try:
                    callback()
                except Exception as exc:  # as the loop treats a failing callback: reported, the rest run
                    asyncio.get_running_loop().call_exception_handler(
                        {"message": "after_read callback failed", "exception": exc, "protocol": self})

    def process_event(self, event: Any) -> None:
        opcode = getattr(event, "opcode", None)
        if self.response is None or opcode not in (_TEXT, _BINARY, _CONT):
            super().process_event(event)  # the handshake answer, control frames
            return
        if opcode is _CONT or not event.fin:  # a fragmented message: joined at its last frame
            self._fragments.append(bytes(event.data))
            if not event.fin:
                return
            data, self._fragments = b"".join(self._fragments), []
        else:
            data = event.data
        try:
            text = str(data, "utf-8")
        except UnicodeDecodeError as exc:
            self.set_connection_exc(exc)
            try:
                self.protocol.fail(CloseCode.INVALID_DATA, f"{exc.reason} at position {exc.start}")
                self.send_data()
            except Exception:  # no closing handshake possible: cut the connection
                self.transport.abort()
            self._wake()
            return
        self.inbox.append(text)
        if self.direct is None:
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._wake()

    async def wait_inbox(self) -> bool:
        """Wait until a message is queued (``True``) or the connection is closed with nothing left
        (``False``; ``close_exc`` says how it ended)."""
        while not self.inbox and self.pending is None:
            if self.protocol.state is _CLOSED:
                return False
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return True

    async def recv(self, decode: bool | None = None) -> Any:
        if await self.wait_inbox():
            return self.inbox.popleft()
        await asyncio.shield(self.connection_lost_waiter)
        raise self.close_exc


class ReconnectingWebSocket:
    """Keep one WebSocket connection alive, resubscribing and reconciling after each reconnect."""

    def __init__(
        self,
        url: str,
        *,
        on_connect: Callable[[ClientConnection], Awaitable[None]],
        on_message: Callable[[str], Awaitable[None] | None],
        on_reconnect: Callable[[], Awaitable[None]] | None = None,
        on_state: Callable[[StreamState], None] | None = None,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        ping_interval_s: float | None = 20.0,
        ping_timeout_s: float | None = 20.0,
        open_timeout_s: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
        inbox: bool | type[InboxConnection] = False,
    ) -> None:
        self.url = url
        self._on_connect = on_connect
        self._on_message = on_message
        self._on_reconnect = on_reconnect
        self._on_state = on_state
        self._base = backoff_base_s
        self._cap = backoff_cap_s
        self._ping_interval = ping_interval_s
        self._ping_timeout = ping_timeout_s
        self._open_timeout = open_timeout_s
        #: Read messages through ``InboxConnection`` (the order path: no per-message future), or through
        #: the ``InboxConnection`` subclass given.
        self._inbox = inbox
        self._sleep = sleep or anyio.sleep
        self._rng = rng or random.Random()
        self._conn: ClientConnection | None = None
        self._flush_scheduled = False
        self._connected_once = False
        self.state = StreamState.DISCONNECTED
        self.reconnects = 0
        self.connects = 0
        self.subscribed = anyio.Event()

    def _set_state(self, state: StreamState) -> None:
        self.state = state
        if state is not StreamState.SUBSCRIBED:
            self.subscribed = anyio.Event() if self.subscribed.is_set() else self.subscribed
        if self._on_state is not None:
            self._on_state(state)

    async def send(self, text: str) -> None:
        """Send a text frame on the current connection (raises if there is none)."""
        if self._conn is None:
            raise ConnectionError("not connected")
        await self._conn.send(text)

    def send_soon(self, text: str) -> None:
        """Queue a text frame on the current connection; it is written at the end of this event-loop
        turn together with every other frame queued in the turn (one write, one system call).

        Raise ``ConnectionError`` if there is no open connection: then nothing was queued. Once queued,
        the frame leaves unless the connection drops first, which its reader sees (the state leaves
        ``SUBSCRIBED``), so a caller waiting for an answer learns that its request may not have left.
        Requests wait for their answers, so what is queued stays bounded by the requests in flight.
        """
        conn = self._conn
        if conn is None or conn.protocol.state is not _OPEN:
            raise ConnectionError("not connected")
        conn.protocol.send_text(text.encode("utf-8"))
        if _reading.at_once:  # the last frame of the turn: no turn to wait for (``write_at_once``)
            _reading.at_once = False
            self._flush(conn)
            return
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush, conn)

    def _flush(self, conn: ClientConnection) -> None:
        """Write the frames ``send_soon`` queued this turn in one go (what ``send_data`` would write
        frame by frame); anything else the protocol has to send (an end of stream) goes its own way."""
        self._flush_scheduled = False
        chunks = conn.protocol.data_to_send()
        if not chunks:
            return  # already written (the connection writes what is pending after each read)
        data = b"".join(chunks)
        if data:
            conn.transport.write(data)
        if not all(chunks):  # an empty chunk is the end of the stream (the connection is closing)
            if conn.transport.can_write_eof():
                with contextlib.suppress(Exception):
                    conn.transport.write_eof()
            else:  # pragma: no cover - TLS
                conn.transport.close()

    async def _read_inbox(self, conn: InboxConnection) -> None:
        """Hand every queued message to ``on_message``, in order, until the connection ends: return if
        it closed normally, raise ``ConnectionClosedError`` if not (as iterating the connection does)."""
        inbox, on_message = conn.inbox, self._on_message
        try:
            while True:
                pending, conn.pending = conn.pending, None
                if pending is not None:  # what a direct handler answered (or raised)
                    await pending
                while inbox:
                    pending = on_message(inbox.popleft())
                    if pending is not None:
                        await pending
                # from now on each message is handled in the callback that reads it (no turn per read);
                # this task wakes only for what a handler hands back, or the end of the connection
                conn.direct = on_message
                if not await conn.wait_inbox():
                    break
                conn.direct = None
        finally:
            conn.direct = None
        await asyncio.shield(conn.connection_lost_waiter)
        exc = conn.close_exc
        if not isinstance(exc, ConnectionClosedOK):
            raise exc

    async def drop(self) -> None:
        """Close the current connection abruptly (the loop reconnects); for tests and operators."""
        self.abort()

    def abort(self) -> None:
        """``drop``, from a plain function (a message handler)."""
        conn = self._conn
        if conn is not None:
            conn.transport.abort()

    async def run(self) -> None:
        """Connect and reconnect until cancelled."""
        attempt = 0
        try:
            while True:
                self._set_state(StreamState.CONNECTING)
                try:
                    async with connect(
                        self.url,
                        open_timeout=self._open_timeout,
                        ping_interval=self._ping_interval,
                        ping_timeout=self._ping_timeout,
                        close_timeout=2,
                        max_size=2**22,
                        # small JSON frames, latency first: deflate would cost CPU on both ends
                        compression=None,
                        create_connection=(self._inbox if isinstance(self._inbox, type)
                                           else InboxConnection if self._inbox else None),
                    ) as conn:
                        self._conn = conn
                        self.connects += 1
                        await self._on_connect(conn)
                        self._set_state(StreamState.SUBSCRIBED)
                        self.subscribed.set()
                        attempt = 0
                        if self._connected_once:
                            self.reconnects += 1
                            if self._on_reconnect is not None:
                                await self._on_reconnect()
                        self._connected_once = True
                        if isinstance(conn, InboxConnection):
                            await self._read_inbox(conn)
                        else:
                            async for message in conn:
                                if isinstance(message, bytes):
                                    message = message.decode("utf-8")
                                pending = self._on_message(message)
                                if pending is not None:
                                    await pending
                        log.info("stream %s closed by peer", self.url)
                except (OSError, TimeoutError, WebSocketException, FixgwError, ConnectionError) as exc:
                    log.warning("stream %s lost: %r", self.url, exc)
                finally:
                    self._conn = None
                    self._set_state(StreamState.DISCONNECTED)
                delay = backoff_delay(attempt, self._base, self._cap, jitter=EQUAL_JITTER, rng=self._rng)
                attempt += 1
                await self._sleep(delay)
        finally:
            self._conn = None
