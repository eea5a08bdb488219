"""Coinbase Exchange feed: the authenticated ``user`` channel (our orders' ``full`` messages) and heartbeats.

The subscription is signed with the REST scheme over ``GET /users/self/verify`` and must be sent
within 5 seconds of connecting. The reply is ``{"type": "subscriptions", ...}`` or ``{"type":
"error", "message", "reason"}``. After it, every message goes to ``on_message``; the reconnecting
client (``venues/_common/ws.py``) does backoff, pings and the reconciliation hook after a reconnect.
A subscription refused for its timestamp measures the venue's clock again (``resync``) and asks once
more on the same connection, so a venue clock that jumped never keeps the feed down.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from websockets.asyncio.client import ClientConnection

from fixgw.errors import VenueAuthError, VenueError
from fixgw.logsafe import printable
from fixgw.jsonio import dumps, loads
from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.signing import coinbase_exchange_signature
from fixgw.venues._common.ws import ReconnectingWebSocket
from fixgw.venues.base import StreamState
from fixgw.venues.coinbase.config import CoinbaseConfig
from fixgw.venues.coinbase.http import timestamp_text

__all__ = ["subscribe_message", "CoinbaseFeed"]

log = logging.getLogger("fixgw.venues.coinbase")


def subscribe_message(config: CoinbaseConfig, product_ids: list[str], timestamp: str,
                      channels: tuple[str, ...] = ("user",)) -> dict:
    """Build a signed ``subscribe`` to the given channels of the given products."""
    return {
        "type": "subscribe",
        "product_ids": product_ids,
        "channels": list(channels),
        "signature": coinbase_exchange_signature(config.api_secret, timestamp, "GET", "/users/self/verify", ""),
        "key": config.api_key,
        "passphrase": config.passphrase,
        "timestamp": timestamp,
    }


class _StaleTimestamp(Exception):
    """The venue refused the subscription's timestamp (outside its 30 s window: its clock moved)."""


class CoinbaseFeed:
    """Keep the ``user`` channel of ``products()`` subscribed and hand each message to ``on_message``."""

    def __init__(self, config: CoinbaseConfig, server_clock: ServerClock, *,
                 products: Callable[[], list[str]],
                 on_message: Callable[[dict[str, Any]], Awaitable[None]],
                 on_reconnect: Callable[[], Awaitable[None]] | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None,
                 rng: random.Random | None = None,
                 resync: Callable[[], Awaitable[object]] | None = None) -> None:
        self._config = config
        self._resync = resync
        self._clock = server_clock
        self._products = products
        self._on_message = on_message
        self.last_message_ns: int | None = None
        self.ws = ReconnectingWebSocket(
            config.ws_url, on_connect=self._subscribe, on_message=self._handle, on_reconnect=on_reconnect,
            backoff_base_s=config.ws_backoff_base_s, backoff_cap_s=config.ws_backoff_cap_s,
            ping_interval_s=config.ws_ping_interval_s, ping_timeout_s=config.ws_ping_interval_s,
            sleep=sleep, rng=rng)

    @property
    def state(self) -> StreamState:
        return self.ws.state

    async def run(self) -> None:
        await self.ws.run()

    async def _subscribe(self, conn: ClientConnection) -> None:
        try:
            await self._subscribe_once(conn)
        except _StaleTimestamp as exc:
            if self._resync is None:
                raise VenueError(str(exc)) from None
            log.warning("%s; measuring the venue's clock again", printable(exc))
            await self._resync()
            try:
                await self._subscribe_once(conn)
            except _StaleTimestamp as again:
                raise VenueError(str(again)) from None

    async def _subscribe_once(self, conn: ClientConnection) -> None:
        products = self._products()
        msg = subscribe_message(self._config, products, timestamp_text(self._clock.now_ms()),
                                channels=("user", "heartbeat"))
        await conn.send(dumps(msg))
        with anyio.fail_after(self._config.request_timeout_s):
            while True:
                reply = loads(await conn.recv())
                if not isinstance(reply, dict):
                    continue
                if reply.get("type") == "subscriptions":
                    log.info("feed subscribed: %s", printable(reply.get("channels")))
                    return
                if reply.get("type") == "error":
                    text = f"feed subscription refused: {reply.get('message')}: {reply.get('reason')}"
                    reason = str(reply.get("reason", "")).lower()
                    if "timestamp" in reason:
                        raise _StaleTimestamp(text)
                    if "signature" in reason or "key" in reason or "passphrase" in reason:
                        raise VenueAuthError(text)
                    raise VenueError(text)
                await self._on_message(reply)  # cannot come before the reply, but never drop one

    async def _handle(self, text: str) -> None:
        msg = loads(text)
        if isinstance(msg, dict):
            self.last_message_ns = self._clock.local_ns()
            if msg.get("type") == "error":
                log.warning("feed error: %s: %s", printable(msg.get("message")), printable(msg.get("reason")))
                return
            await self._on_message(msg)
