"""What the simulator writes to one WebSocket connection.

Theory of operation: ``send`` never blocks and never writes at once. Messages sent during one turn of
the event loop (an order's answer, or its ``executionReport`` events and the balance update) wait in a
list; one callback at the end of the turn writes them all. On uvicorn's sans-I/O WebSocket protocol
(what ``fixgw sim``, ``SimServer`` and the benches serve with) every message still becomes its own
frame, but the frames leave in one ``transport.write``: one system call per connection and turn instead
of one per message. Anywhere else, or while the transport is paused because the peer reads slowly, a
writer task sends the messages one by one through the ASGI ``send`` and later messages queue behind
them, so the order on the wire is always the order of ``send`` and a slow reader never blocks a
request. ``drop`` cuts the connection and throws away what was not written yet.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from .jsonio import dumps

__all__ = ["Outbox"]

try:  # the server implementation whose frames can be batched; any other one takes the writer task
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol as _SansIO
    from websockets.exceptions import InvalidState as _InvalidState
    from websockets.protocol import OPEN as _OPEN
except ImportError:  # pragma: no cover - an older uvicorn
    _SansIO = None  # type: ignore[assignment,misc]
    _InvalidState = RuntimeError  # type: ignore[assignment,misc]
    _OPEN = None


def _text_frame(payload: bytes) -> bytes:
    """One unmasked, final text frame (RFC 6455 section 5.2), as a server sends it."""
    return _frame_header(len(payload)) + payload


_SHORT_HEADERS = [b"\x81" + bytes((n,)) for n in range(126)]


def _frame_header(n: int) -> bytes:
    """The header of an unmasked, final text frame of ``n`` payload bytes."""
    if n < 126:
        return _SHORT_HEADERS[n]
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big")
    return b"\x81\x7f" + n.to_bytes(8, "big")


def _server_protocol(websocket: Any) -> Any:
    """The server's protocol object behind a Starlette ``WebSocket``, or None."""
    receive = getattr(websocket, "_receive", None)
    return getattr(receive, "__self__", None)


class Outbox:
    """Messages waiting to be written to one WebSocket connection (see the module docstring)."""

    def __init__(self, websocket: Any) -> None:
        self.websocket = websocket
        self.closed = False
        self._protocol = _server_protocol(websocket)
        self._batchable = _SansIO is not None and isinstance(self._protocol, _SansIO)
        #: uvicorn's sans-I/O protocol object of the connection when that is the server, else None
        self.sansio_protocol = self._protocol if self._batchable else None
        self._loop = asyncio.get_running_loop()
        self._pending: list[bytes] = []  # sent this turn, not yet written (UTF-8 JSON)
        self._flush_scheduled = False
        self._backlog: deque[bytes] = deque()  # for the writer task, in order
        self._writing = False  # the writer task has a message in flight
        self._wake = asyncio.Event()
        self._stopping = False
        self._dropped = False

    # -- sending ----------------------------------------------------------------------------------
    def send(self, obj: Any) -> None:
        """Queue ``obj`` as one JSON text message."""
        if not self.closed:
            self.send_json(dumps(obj))

    def send_json(self, data: bytes) -> None:
        """Queue one text message already encoded as UTF-8 JSON (an event fanned out to several connections)."""
        if self.closed:
            return
        self._pending.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        texts, self._pending = self._pending, []
        if not texts or self._dropped:
            return
        if not self._backlog and not self._writing and self._write_now(texts):
            return
        self._backlog.extend(texts)
        self._wake.set()

    def _write_now(self, texts: list[bytes]) -> bool:
        """Write ``texts`` as frames in one go when the protocol is ready to take them; False if not."""
        proto = self._protocol
        if not self._batchable or not proto.writable.is_set() or proto.disconnected or proto.close_sent \
                or not proto.handshake_complete or proto.initial_response is not None:
            return False  # the writer task goes through ASGI send, which waits or reports the state
        conn = proto.conn
        if conn.state is _OPEN and not conn.extensions and not conn.expect_continuation_frame:
            # frames written here (what conn.send_text would write without extensions), after anything
            # the protocol queued itself (a pong)
            chunks = conn.data_to_send()
            for text in texts:  # header and payload side by side: the payload is copied once, by the join
                chunks.append(_frame_header(len(text)))
                chunks.append(text)
            proto.transport.write(b"".join(chunks))
            return True
        try:
            for text in texts:
                conn.send_text(text)
        except _InvalidState:  # the peer is closing: as ASGI send would, stop writing
            self.closed = True
            self._wake.set()
            return True
        proto.transport.write(b"".join(conn.data_to_send()))
        return True

    async def run(self) -> None:
        """The writer task: send what could not be written at once, until ``close``."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._backlog and not self._dropped:
                text = self._backlog.popleft()
                self._writing = True
                try:
                    await self.websocket.send_text(text.decode("utf-8"))
                except Exception:  # the peer went away; the reader notices too
                    self.closed = True
                    return
                finally:
                    self._writing = False
            if self._stopping or self._dropped or (self.closed and not self._backlog):
                return

    # -- ending -----------------------------------------------------------------------------------
    def close(self) -> None:
        """Write what is queued, then stop the writer task; later messages are ignored."""
        self.closed = True
        self._stopping = True
        self._flush()
        self._wake.set()

    def drop(self) -> None:
        """Cut the connection without a close frame (as a network fault would); nothing more is written."""
        self.closed = True
        self._dropped = True
        self._pending.clear()
        self._backlog.clear()
        self._wake.set()
        transport = getattr(self._protocol, "transport", None)
        if transport is not None:
            transport.abort()
