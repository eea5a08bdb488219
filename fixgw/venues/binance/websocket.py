"""Binance user-data stream through the WebSocket API subscription.

The listenKey streams were retired (2026-02-20); the current mechanism is a WebSocket API
connection on which ``userDataStream.subscribe.signature`` (any key type, HMAC included) starts a
subscription. Events then arrive wrapped as ``{"subscriptionId": N, "event": {...}}``. The request
is signed with the WebSocket API rule: parameters sorted by name, raw UTF-8, ``apiKey`` included.

On ``eventStreamTerminated`` the connection is dropped so the reconnect path resubscribes and
reconciles; the reconnecting client does the backoff. A subscription refused with -1021 (our
timestamp outside the venue's window: its clock moved) measures the clock offset again through
``resync`` and asks once more on the same connection, so a venue clock that jumped never keeps the
stream down until some order happens to resync it.

Event kinds the owner never reads (``skip_events``, e.g. the balance events every order brings) are
dropped by a look at the frame's text, before it is decoded: the venue's JSON is compact and a
string value never holds an unescaped quote, so ``"e":"<kind>"`` in a frame is that event's kind.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from websockets.asyncio.client import ClientConnection

from fixgw.jsonio import dumps, loads
from fixgw.logsafe import printable
from fixgw.errors import VenueAuthError, VenueError
from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.ws import ReconnectingWebSocket
from fixgw.venues.base import StreamState
from fixgw.venues.binance.auth import ws_api_request
from fixgw.venues.binance.config import BinanceConfig

__all__ = ["BinanceUserStream", "subscribe_request", "ws_api_connection"]

log = logging.getLogger("fixgw.venues.binance")


class _StaleTimestamp(Exception):
    """The venue refused the subscription's timestamp (-1021)."""


def subscribe_request(request_id: str, api_key: str, api_secret: str, timestamp_ms: int, recv_window_ms: int,
                      *, ed25519_private_key_pem: str = "") -> dict:
    """Build the signed ``userDataStream.subscribe.signature`` request (Ed25519 if a key is given)."""
    return ws_api_request(request_id, "userDataStream.subscribe.signature", (), api_key=api_key,
                          api_secret=api_secret, timestamp_ms=timestamp_ms, recv_window_ms=recv_window_ms,
                          ed25519_private_key_pem=ed25519_private_key_pem)


def ws_api_connection(config: BinanceConfig, **hooks: Any) -> ReconnectingWebSocket:
    """A reconnecting connection to the WebSocket API with the config's backoff and pings.

    ``hooks`` are ``ReconnectingWebSocket``'s ``on_connect``, ``on_message``, ``on_reconnect``,
    ``on_state``, ``sleep`` and ``rng``.
    """
    return ReconnectingWebSocket(
        config.ws_api_url,
        backoff_base_s=config.ws_backoff_base_s,
        backoff_cap_s=config.ws_backoff_cap_s,
        ping_interval_s=config.ws_ping_interval_s,
        ping_timeout_s=config.ws_ping_interval_s,
        inbox=True,  # order answers and events: the cheaper read path
        **hooks,
    )


class BinanceUserStream:
    """Subscribe to the account's order events and hand each bare event to ``on_event`` (a plain
    function: called as each frame is read, no coroutine per event)."""

    def __init__(
        self,
        config: BinanceConfig,
        server_clock: ServerClock,
        *,
        on_event: Callable[[dict[str, Any]], None],
        on_reconnect: Callable[[], Awaitable[None]] | None = None,
        on_state: Callable[[StreamState], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
        resync: Callable[[], Awaitable[object]] | None = None,
        skip_events: tuple[str, ...] = (),
    ) -> None:
        self._config = config
        self._server_clock = server_clock
        self._on_event = on_event
        self._resync = resync
        #: ``"e":"<kind>"`` of the event kinds dropped without decoding
        self._skip = tuple(f'"e":"{kind}"' for kind in skip_events)
        self._ids = itertools.count(1)
        self.subscription_id: int | None = None
        self.ws = ws_api_connection(config, on_connect=self._subscribe, on_message=self._handle,
                                    on_reconnect=on_reconnect, on_state=on_state, sleep=sleep, rng=rng)

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
            log.warning("%s; measuring the venue's clock again", exc)
            await self._resync()
            try:
                await self._subscribe_once(conn)
            except _StaleTimestamp as again:
                raise VenueError(str(again)) from None

    async def _subscribe_once(self, conn: ClientConnection) -> None:
        rid = f"sub-{next(self._ids)}"
        req = subscribe_request(
            rid, self._config.api_key, self._config.api_secret,
            self._server_clock.now_ms(), self._config.recv_window_ms,
            ed25519_private_key_pem=self._config.ed25519_private_key_pem,
        )
        await conn.send(dumps(req))
        with anyio.fail_after(self._config.request_timeout_s):
            while True:
                raw = await conn.recv()
                msg = loads(raw)
                if msg.get("id") != rid:
                    if "event" in msg:  # cannot happen before the reply, but never drop an event
                        self._handle(raw if isinstance(raw, str) else raw.decode())
                    continue
                status = msg.get("status")
                if status != 200:
                    err = msg.get("error") or {}
                    text = f"subscribe failed: {status} {err.get('code')} {err.get('msg')}"
                    if err.get("code") in (-1022, -2014, -2015, -1002):
                        raise VenueAuthError(text)
                    if err.get("code") == -1021:
                        raise _StaleTimestamp(text)
                    raise VenueError(text)
                result = msg.get("result") or {}
                self.subscription_id = result.get("subscriptionId")
                log.info("user-data subscription %s on %s", self.subscription_id, self._config.ws_api_url)
                return

    def _handle(self, text: str) -> None:
        for skipped in self._skip:
            if skipped in text:
                return
        try:
            msg = loads(text)
        except ValueError:  # one unreadable frame must not take the stream down
            log.warning("unreadable user-data frame skipped: %s", printable(text[:200]))
            return
        if not isinstance(msg, dict):
            return
        if "event" in msg and isinstance(msg["event"], dict):
            event = msg["event"]
        elif "e" in msg:  # legacy bare event shape
            event = msg
        else:
            return  # replies to requests
        if event.get("e") == "eventStreamTerminated":
            log.warning("user-data stream terminated by the venue; reconnecting")
            self.ws.abort()
            return
        self._on_event(event)
