"""The stream's order events written straight to the clients' sockets, once per event-loop turn.

Theory of operation
-------------------
Each ``/v1/stream`` client has its own queue on the ``EventFeed`` (``Subscriber``; the ids, resume with
``since`` and the slow-consumer cut-off live there). Served through the ASGI ``send``, an event costs,
per client: a wake of the client's task, several awaits through Starlette and uvicorn, a WebSocket frame
built by the protocol object and one system call; the clients' tasks run one after another, so the last
of 50 clients waits for the 49 before it.

``FanOut`` (one per feed) does the same work once per loop turn for every client: the first event of a
turn schedules one ``drain`` (``call_soon``); the drain flushes the store once (no event leaves before it
is durable), makes each event's frame once (a server's text frame is the same bytes for every client:
no mask, and the header depends only on the length) and writes, per client, the frames of that client's
events (its account filter and channels) joined, in one ``transport.write``. No client task wakes.

A client is *direct* only while its writer has nothing of its own to catch up with: its task sends the
replay (``since``) and the first states through the ASGI ``send``, then hands its queue to the fan-out.
The fan-out hands it back (``Reader.direct = False`` and a wake of the task) when the socket is not
writable (the transport's buffer is over its high-water mark: the task then waits for it), when the
queue overflowed, when the connection is closing, or when the store's flush fails (the task's own flush
raises it). A client whose queue overflows is cut off at once, even while its task waits for a socket
that does not drain: its close frame (4409 ``slow_consumer``) is queued behind what was written
(``DirectLine.close``) and the connection dropped if the client does not read up to it in
``CUT_OFF_GRACE`` seconds. Events are never written by both at once, so they stay in id order; other
messages (heartbeats, pongs, states, market data) go through the ASGI ``send``, whose write is
synchronous once the socket is writable, so frames never interleave.

Direct writes need the server's connection object: ``DirectLine.of`` accepts uvicorn's
``websockets-sansio`` protocol (the one ``server.py`` configures) and nothing else; under any other
server the stream keeps to the ASGI ``send`` (same messages, slower).
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any, Callable

__all__ = ["FanOut", "Reader", "DirectLine", "text_frame", "CUT_OFF_GRACE"]

_FIN_TEXT = 0x81


def text_frame(payload: bytes) -> bytes:
    """A final, unmasked text frame (RFC 6455 section 5.2) carrying ``payload``: what a server sends."""
    n = len(payload)
    if n < 126:
        return bytes((_FIN_TEXT, n)) + payload
    if n < 1 << 16:
        return struct.pack("!BBH", _FIN_TEXT, 126, n) + payload
    return struct.pack("!BBQ", _FIN_TEXT, 127, n) + payload


def _sansio_protocol() -> type | None:
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    except ImportError:  # pragma: no cover - uvicorn without it: the ASGI send only
        return None
    return WebSocketsSansIOProtocol


_PROTOCOL = _sansio_protocol()
try:
    from websockets.protocol import State as _State

    _OPEN: Any = _State.OPEN
except ImportError:  # pragma: no cover
    _OPEN = None


#: What ``DirectLine`` reads and sets on the server's connection object (checked before it is used).
_ATTRIBUTES = ("transport", "conn", "writable", "close_sent", "disconnected", "queue", "read_paused",
               "close_timer", "close_timeout", "loop")
#: Seconds a cut-off client has to read what was written before its close frame (then the socket goes).
CUT_OFF_GRACE = 10.0


class DirectLine:
    """One client's socket, written without the ASGI ``send`` (module docstring)."""

    __slots__ = ("_protocol", "_transport")

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol
        self._transport = protocol.transport

    @classmethod
    def of(cls, send: Any) -> "DirectLine | None":
        """The line under the server's ASGI ``send`` of an accepted WebSocket, or ``None`` when the
        server is not one whose connection this module knows."""
        protocol = getattr(send, "__self__", None)
        if _PROTOCOL is None or _OPEN is None or type(protocol) is not _PROTOCOL:
            return None
        if getattr(protocol, "transport", None) is None or not all(hasattr(protocol, a) for a in _ATTRIBUTES):
            return None
        return cls(protocol)

    def ready(self) -> bool:
        """Open, not closing, and the transport's buffer under its high-water mark."""
        p = self._protocol
        return (p.writable.is_set() and not p.close_sent and not p.disconnected and p.conn.state is _OPEN
                and not self._transport.is_closing())

    def write(self, data: bytes) -> None:
        self._transport.write(data)

    def close(self, code: int, reason: str) -> bool:
        """Queue a close frame behind what was written, without waiting for the socket (a slow consumer's
        socket may never drain): as the server's own close does, but the client gets ``CUT_OFF_GRACE``
        seconds to read up to it, then the connection is dropped. ``False`` when already closing."""
        p = self._protocol
        if p.close_sent or p.disconnected or p.conn.state is not _OPEN or self._transport.is_closing():
            return False
        p.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        p.conn.send_close(code, reason)
        self._transport.write(b"".join(p.conn.data_to_send()))
        p.close_sent = True
        if p.read_paused:  # the peer's close frame must be read
            p.read_paused = False
            self._transport.resume_reading()
        p.close_timer = p.loop.call_later(CUT_OFF_GRACE, self._transport.abort)
        return True


class Reader:
    """A stream client as the fan-out sees it: its feed queue, which events it wants, its line, and the
    wake of its own task (for what the fan-out hands back)."""

    __slots__ = ("sub", "wanted", "line", "wake_task", "direct", "marked", "_fanout")

    def __init__(self, fanout: "FanOut", sub: Any, wanted: Callable[[Any], bool], line: DirectLine,
                 wake_task: Callable[[], None]) -> None:
        self._fanout = fanout
        self.sub = sub
        self.wanted = wanted
        self.line = line
        self.wake_task = wake_task
        self.direct = False  # the task serves the queue until it has caught up
        self.marked = False

    def wake(self) -> None:
        """The feed's wake for this client's queue (``Subscriber.wake``)."""
        if self.direct:
            self._fanout.mark(self)
        else:
            self.wake_task()


class FanOut:
    """Writes the feed's events to every direct ``Reader``, once per loop turn (module docstring)."""

    def __init__(self, feed: Any) -> None:
        self.feed = feed
        self._dirty: list[Reader] = []
        self._scheduled = False
        #: Loop turns that wrote something, and the writes they made (for tests and the bench).
        self.drains = 0
        self.writes = 0

    def reader(self, sub: Any, wanted: Callable[[Any], bool], line: DirectLine,
               wake_task: Callable[[], None]) -> Reader:
        """A client of this fan-out: ``sub``, its feed queue; ``wake_task``, its own task's wake."""
        return Reader(self, sub, wanted, line, wake_task)

    def mark(self, reader: Reader) -> None:
        if reader.marked:
            return
        reader.marked = True
        self._dirty.append(reader)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._drain)

    def _drain(self) -> None:
        self._scheduled = False
        dirty, self._dirty = self._dirty, []
        for reader in dirty:
            reader.marked = False
        frames: dict[int, bytes] = {}
        flushed = False
        for reader in dirty:
            sub = reader.sub
            if not reader.direct or not sub.queue and not sub.overflowed:
                continue
            if not flushed and not sub.overflowed:
                try:
                    self.feed.flush()  # nothing leaves before it is durable
                    flushed = True
                except Exception:  # noqa: BLE001 - every task's own flush raises it and ends its stream
                    for r in dirty:
                        if r.direct:
                            r.direct = False
                            r.wake_task()
                    return
            if sub.overflowed or not reader.line.ready():
                reader.direct = False  # the task waits for the socket, or cuts the client off
                reader.wake_task()
                continue
            queue = sub.queue
            events = list(queue)
            queue.clear()
            wanted = reader.wanted
            parts = []
            for event in events:
                if wanted(event):
                    frame = frames.get(event.id)
                    if frame is None:
                        frame = frames[event.id] = text_frame(event.text().encode("utf-8"))
                    parts.append(frame)
            if parts:
                reader.line.write(parts[0] if len(parts) == 1 else b"".join(parts))
                self.writes += 1
        if frames:
            self.drains += 1
