"""A reconnecting WebSocket client.

Theory of operation
-------------------
``run()`` loops for ever: connect, call ``on_connect(conn)`` (which authenticates and subscribes,
reading its own replies), then, on every connection after the first, call ``on_reconnect()`` —
the reconciliation hook, run *after* resubscribing so that nothing can fall between the
reconciliation snapshot and the live stream (duplicates are the tracker's job, gaps would be
ours). Then every text frame goes to ``on_message``. When the connection drops, wait with
exponential backoff and jitter (50-100 %, ``fixgw.backoff``), and start again. Pings from the server are answered by the
websockets library; we also ping the server and drop a connection whose pongs stop coming.

Runs on asyncio (the websockets library's asyncio client), under anyio.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable

import anyio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from fixgw.backoff import EQUAL_JITTER, backoff_delay
from fixgw.errors import FixgwError
from fixgw.venues.base import StreamState

__all__ = ["ReconnectingWebSocket"]

log = logging.getLogger("fixgw.venues.ws")


class ReconnectingWebSocket:
    """Keep one WebSocket connection alive, resubscribing and reconciling after each reconnect."""

    def __init__(
        self,
        url: str,
        *,
        on_connect: Callable[[ClientConnection], Awaitable[None]],
        on_message: Callable[[str], Awaitable[None]],
        on_reconnect: Callable[[], Awaitable[None]] | None = None,
        on_state: Callable[[StreamState], None] | None = None,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        ping_interval_s: float | None = 20.0,
        ping_timeout_s: float | None = 20.0,
        open_timeout_s: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
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
        self._sleep = sleep or anyio.sleep
        self._rng = rng or random.Random()
        self._conn: ClientConnection | None = None
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

    async def drop(self) -> None:
        """Close the current connection abruptly (the loop reconnects); for tests and operators."""
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
                        async for message in conn:
                            if isinstance(message, bytes):
                                message = message.decode("utf-8")
                            await self._on_message(message)
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
