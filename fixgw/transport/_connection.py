"""Per-connection I/O state of the driver, and small socket helpers."""

from __future__ import annotations

import os
import socket
import struct
from typing import Any

import anyio
from anyio.abc import ByteStream, SocketAttribute, SocketStream

from ._errors import IO_ERRORS, describe

__all__ = ["Connection", "WRITE_SLICE", "direct_socket", "set_nodelay", "reset_on_close", "fmt_addr"]

_LINGER_RESET = struct.pack("ii", 1, 0)

#: Most bytes handed to the stream per ``send``: the unit in which the socket's progress is seen.
WRITE_SLICE = 64 << 10


class Connection:
    """Per-connection I/O state; lives for one ``_run_connection`` call."""

    __slots__ = (
        "stream",
        "peer_address",
        "pending",
        "backlog",
        "wakeup",
        "flush_requested",
        "writing",
        "closing",
        "aborted",
        "reason",
        "recv_scope",
        "task_group",
        "drained",
        "resume_when_drained",
        "sock",
        "armed_ns",
        "more",
        "head",
        "peak_backlog",
    )

    def __init__(self, stream: ByteStream, peer_address: Any) -> None:
        self.stream = stream
        self.peer_address = peer_address
        self.pending: list[bytes] = []
        self.backlog = 0
        self.wakeup = anyio.Event()
        self.flush_requested = False
        self.writing = False
        self.closing = False
        self.aborted = False
        self.reason = ""
        self.recv_scope: anyio.CancelScope | None = None
        self.task_group: Any = None
        self.drained = anyio.Event()
        self.resume_when_drained = False
        #: A socket the driver may write to directly (plain TCP only; see ``direct_socket``), else None.
        self.sock: socket.socket | None = None
        #: The deadline (epoch ns) the receive scope is armed with; None when unarmed.
        self.armed_ns: int | None = None
        #: The session had more to give after the last pull: a resend in progress, produced chunk by chunk.
        self.more = False
        #: Unsent bytes at the front of the backlog that were pulled while it was empty: what the peer is
        #: due now, not what it failed to read; the backlog bound counts only what waits behind them.
        self.head = 0
        #: The largest backlog of this connection, in bytes.
        self.peak_backlog = 0

    def queue(self, data: bytes, idle: bool) -> int:
        """Add ``data`` to the backlog (``idle``: it was empty); return the bytes waiting behind the head."""
        n = len(data)
        self.pending.append(data)
        backlog = self.backlog = self.backlog + n
        if idle:
            self.head = n
        if backlog > self.peak_backlog:
            self.peak_backlog = backlog
        return backlog - self.head

    async def write(self, data: bytes, stall_timeout: float | None) -> tuple[str, bool] | None:
        """Send ``data`` (taken from ``pending``) in slices of at most ``WRITE_SLICE`` bytes.

        Return None once the socket took it all, else why the connection must be cut and whether with
        a reset: when a slice is not taken within ``stall_timeout`` seconds, or the send fails.
        """
        stream = self.stream
        size = len(data)
        self.writing = True
        try:
            for start in range(0, size, WRITE_SLICE):
                piece = data[start : start + WRITE_SLICE] if size > WRITE_SLICE else data
                if stall_timeout is None:
                    await stream.send(piece)
                else:
                    with anyio.move_on_after(stall_timeout) as scope:
                        await stream.send(piece)
                    if scope.cancelled_caught:
                        return (
                            f"peer is not reading: the socket did not take {len(piece)} bytes in"
                            f" {stall_timeout:g}s ({self.backlog} bytes unsent)",
                            True,
                        )
                n = len(piece)
                self.backlog -= n
                self.head = max(0, self.head - n)
        except IO_ERRORS as exc:
            return f"send failed: {describe(exc)}", False
        finally:
            self.writing = False
        return None


def direct_socket(stream: ByteStream) -> socket.socket | None:
    """Return a socket to write straight under a plain (not TLS) socket stream, else None.

    It is a duplicate of the stream's descriptor, owned by the caller (close it before the stream):
    the backend may close and reuse its own descriptor number on a connection error, and a write
    must then fail rather than reach whatever opened that number next. Bytes may be written to it
    only while no ``stream.send`` is in progress: anyio's ``send`` returns once the kernel holds every
    byte, so nothing is then buffered above the socket.
    """
    if not isinstance(stream, SocketStream):
        return None
    raw = stream.extra(SocketAttribute.raw_socket, None)
    if raw is None:
        return None
    try:
        fd = raw.fileno()
        if fd < 0 or os.get_blocking(fd):
            return None
        sock = socket.socket(raw.family, raw.type, raw.proto, fileno=os.dup(fd))
    except OSError:
        return None
    sock.setblocking(False)
    return sock


def set_nodelay(stream: ByteStream) -> None:
    """Turn Nagle's algorithm off on a TCP stream: FIX messages are small and must leave at once."""
    sock = stream.extra(SocketAttribute.raw_socket, None)
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass


def reset_on_close(stream: ByteStream) -> None:
    """Make the coming close send RST and drop unsent data instead of lingering in the kernel."""
    sock = stream.extra(SocketAttribute.raw_socket, None)
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    except OSError:
        pass


def fmt_addr(addr: Any) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return str(addr) if addr is not None else "unknown"
