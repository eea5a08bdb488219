"""Per-connection I/O state of the driver, and small socket helpers."""

from __future__ import annotations

import socket
import struct
from typing import Any

import anyio
from anyio.abc import ByteStream, SocketAttribute

__all__ = ["Connection", "reset_on_close", "fmt_addr"]

_LINGER_RESET = struct.pack("ii", 1, 0)


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
