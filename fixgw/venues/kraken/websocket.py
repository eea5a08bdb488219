"""Kraken spot private WebSocket v2: the ``executions`` channel, kept connected.

Theory of operation
-------------------
Each connection asks REST ``GetWebSocketsToken`` for a fresh token (a token is good for 15 minutes
until used), subscribes to ``executions`` with a snapshot of open orders, and reads its own answer;
then every data frame goes to ``on_entries`` (snapshot or update entries, amounts decoded straight to
``Decimal``). The reconnecting client (``venues/_common/ws.py``) runs the adapter's reconciliation
after every reconnect, once the new subscription is in place, so nothing falls between the two.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import anyio
from websockets.asyncio.client import ClientConnection

from fixgw.errors import FixgwError
from fixgw.logsafe import printable
from fixgw.venues._common.ws import ReconnectingWebSocket
from fixgw.venues.kraken.config import KrakenConfig
from fixgw.venues.kraken.parsing import ws_time_ns

__all__ = ["TOKEN_METHOD", "subscribe_executions", "KrakenFeed", "decode"]

log = logging.getLogger("fixgw.venues.kraken")

TOKEN_METHOD = "GetWebSocketsToken"


def subscribe_executions(token: str, req_id: int) -> dict:
    """Build the ``executions`` subscription (snapshot of open orders, then live updates)."""
    return {"method": "subscribe", "params": {"channel": "executions", "token": token, "snap_orders": True,
                                              "snap_trades": False}, "req_id": req_id}


def decode(text: str) -> Any:
    """JSON with every number with a fraction as ``Decimal`` (money never passes through a float)."""
    return json.loads(text, parse_float=Decimal)


class KrakenFeed:
    """The private ``executions`` feed."""

    def __init__(
        self,
        config: KrakenConfig,
        *,
        token: Callable[[], Awaitable[str]],
        on_entries: Callable[[str, list[dict[str, Any]]], None],
        on_reconnect: Callable[[], Awaitable[None]] | None = None,
        on_clock: Callable[[int, int, int], None] | None = None,
        local_ns: Callable[[], int] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._config = config
        self._token = token
        self._on_entries = on_entries
        self._on_clock = on_clock
        self._local_ns = local_ns or (lambda: 0)
        self._req_ids = itertools.count(1)
        self._pings: dict[int, tuple[int, anyio.Event]] = {}
        self.messages = 0
        self.ws = ReconnectingWebSocket(
            config.feed_url, on_connect=self._on_connect, on_message=self._on_message, on_reconnect=on_reconnect,
            backoff_base_s=config.ws_backoff_base_s, backoff_cap_s=config.ws_backoff_cap_s,
            open_timeout_s=config.request_timeout_s, sleep=sleep, rng=rng)

    @property
    def state(self) -> Any:
        return self.ws.state

    async def run(self) -> None:
        await self.ws.run()

    async def _on_connect(self, conn: ClientConnection) -> None:
        token = await self._token()
        req_id = next(self._req_ids)
        await conn.send(json.dumps(subscribe_executions(token, req_id)))
        with anyio.fail_after(self._config.request_timeout_s):
            while True:
                raw = await conn.recv()
                text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
                msg = decode(text)
                if isinstance(msg, dict) and msg.get("method") == "subscribe" and msg.get("req_id") == req_id:
                    if not msg.get("success"):
                        raise FixgwError(f"executions subscription refused: {printable(str(msg.get('error')))}")
                    break
                await self._on_message(text)
            # one ping: its pong's time_in / time_out read the venue's clock to the microsecond
            ping_id = next(self._req_ids)
            sent = self._local_ns()
            await conn.send(json.dumps({"method": "ping", "req_id": ping_id}))
            while True:
                raw = await conn.recv()
                text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
                msg = decode(text)
                if isinstance(msg, dict) and msg.get("method") == "pong" and msg.get("req_id") == ping_id:
                    self._clock_sample(sent, msg)
                    return
                await self._on_message(text)

    def _clock_sample(self, sent_ns: int, pong: dict[str, Any]) -> None:
        received = self._local_ns()
        t_in, t_out = ws_time_ns(pong.get("time_in")), ws_time_ns(pong.get("time_out"))
        if self._on_clock is not None and t_in and t_out:
            self._on_clock(sent_ns, (t_in + t_out) // 2_000_000, received)

    async def ping(self) -> bool:
        """Read the venue's clock over the feed (``on_clock``); False if the feed did not answer."""
        req_id = next(self._req_ids)
        done = anyio.Event()
        self._pings[req_id] = (self._local_ns(), done)
        try:
            await self.ws.send(json.dumps({"method": "ping", "req_id": req_id}))
            with anyio.move_on_after(self._config.request_timeout_s):
                await done.wait()
            return done.is_set()
        except ConnectionError:
            return False
        finally:
            self._pings.pop(req_id, None)

    async def _on_message(self, text: str) -> None:
        try:
            msg = decode(text)
        except ValueError:
            log.warning("unreadable frame on the executions feed: %s", printable(text[:200]))
            return
        if isinstance(msg, dict) and msg.get("method") == "pong":
            waiting = self._pings.get(msg.get("req_id"))  # type: ignore[arg-type]
            if waiting is not None:
                self._clock_sample(waiting[0], msg)
                waiting[1].set()
            return
        if not isinstance(msg, dict) or msg.get("channel") != "executions":
            return
        data = msg.get("data")
        if isinstance(data, list):
            self.messages += 1
            self._on_entries(str(msg.get("type")), [e for e in data if isinstance(e, dict)])
