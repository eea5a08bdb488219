"""A scripted FIX peer over a real socket, for transport tests (not the engine: every byte is chosen)."""

from __future__ import annotations

import ssl
import time
from typing import Any, Iterable

import anyio

from fixgw.codec import NEED_MORE, Garbled, Parser, encode, format_utc_timestamp

CLOSED = object()


class RawFixClient:
    """Send hand-built messages with our own sequence numbers; read and parse what comes back."""

    def __init__(self, stream: Any, begin_string: str, sender: str, target: str) -> None:
        self.stream = stream
        self.begin_string = begin_string
        self.sender = sender
        self.target = target
        self.seq = 1
        self.parser = Parser()
        self.received_bytes = 0

    @classmethod
    async def connect(
        cls,
        port: int,
        begin_string: str = "FIX.4.4",
        sender: str = "CLIENT",
        target: str = "GATEWAY",
        *,
        ssl_context: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
    ) -> RawFixClient:
        if ssl_context is not None:
            stream = await anyio.connect_tcp(
                host, port, ssl_context=ssl_context, tls_hostname="localhost", tls_standard_compatible=False
            )
        else:
            stream = await anyio.connect_tcp(host, port)
        return cls(stream, begin_string, sender, target)

    def build(self, msg_type: str, fields: Iterable[tuple[int, Any]] = (), *, seq: int | None = None,
              extra_header: Iterable[tuple[int, Any]] = ()) -> bytes:
        if seq is None:
            seq = self.seq
            self.seq += 1
        header = [(49, self.sender), (56, self.target), (34, seq), (52, format_utc_timestamp(time.time_ns()))]
        return encode(self.begin_string, msg_type, header + list(extra_header) + list(fields))

    async def send(self, msg_type: str, fields: Iterable[tuple[int, Any]] = (), **kw: Any) -> bytes:
        frame = self.build(msg_type, fields, **kw)
        await self.stream.send(frame)
        return frame

    async def logon(self, heartbeat: int = 30, *, reset: bool = False, timeout: float = 5.0) -> Any:
        fields: list[tuple[int, Any]] = [(98, 0), (108, heartbeat)]
        if reset:
            fields.append((141, "Y"))
        await self.send("A", fields)
        return await self.expect("A", timeout=timeout)

    async def receive(self, timeout: float = 5.0) -> Any:
        """Return the next message, or CLOSED when the peer closed the connection."""
        with anyio.fail_after(timeout):
            while True:
                item = self.parser.next_event()
                if item is not NEED_MORE:
                    assert not isinstance(item, Garbled), item
                    return item
                try:
                    chunk = await self.stream.receive(65536)
                except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                    return CLOSED
                self.received_bytes += len(chunk)
                self.parser.feed(chunk)

    async def expect(self, msg_type: str, timeout: float = 5.0, skip: Iterable[str] = ("0",)) -> Any:
        """Return the next message of ``msg_type``, skipping heartbeats; fail on anything else."""
        skipped = set(skip)
        while True:
            msg = await self.receive(timeout)
            assert msg is not CLOSED, f"connection closed while waiting for 35={msg_type}"
            mt = msg.get(35).decode()
            if mt == msg_type:
                return msg
            assert mt in skipped, f"expected 35={msg_type}, got {msg.fields}"

    async def read_until_closed(self, timeout: float = 5.0) -> list[Any]:
        """Return every message received until the peer closes."""
        got = []
        while True:
            msg = await self.receive(timeout)
            if msg is CLOSED:
                return got
            got.append(msg)

    async def aclose(self) -> None:
        try:
            await self.stream.aclose()
        except Exception:
            pass
