"""Binance order entry over the WebSocket API: ``order.place``, ``order.cancel``, ``order.cancelReplace``,
``order.amend.keepPriority`` on one long-lived connection.

Theory of operation
-------------------
A REST call costs the gateway an HTTP request and response (and their parsing) per order; the
WebSocket API carries the same request as one JSON text frame each way on a connection that stays
open. Requests are ``{"id", "method", "params"}``, signed with the WebSocket API rule (every
parameter but ``signature``, ``apiKey`` included, sorted by name, raw UTF-8); answers
``{"id", "status", "result" | "error", "rateLimits"}`` are matched to their request by ``id``.

The parameters are the REST ones (``parsing.py`` builds both), so a call is named by its REST
method and path and ``WS_API_METHODS`` gives the WebSocket API method. Statuses and error codes
are REST's too, and every call runs through the REST client's policy (``http.call_venue``): weight
acquired first, 429 retried, -1021 resynced once. Each answer's ``rateLimits`` counts correct the
limiter, as REST's used-weight headers do.

Outcomes:
* the connection is down before the request is written: ``WsApiUnavailable`` (nothing was sent),
  so the caller can send it over REST instead;
* no answer within ``request_timeout_s``, or the connection drops while the request is
  outstanding: ``VenueUnknownOutcome`` — the request may have been executed, exactly as a REST
  timeout; the adapter resolves it by client order id and never sends it twice;
* 5XX or -1007: ``VenueUnknownOutcome``, as over REST.

The connection is a ``ReconnectingWebSocket`` (backoff, pings); nothing is subscribed on it.

Cost per request: the frame is queued with ``send_soon`` (the requests of one event-loop turn leave in
one write, at once when the gateway's last venue call of the turn sends), the answer is a plain future
resolved by ``id`` in the callback that read it (no reader task in between), and one timer serves every request's
timeout: every request gets the same ``request_timeout_s``, so the deadlines come in the order the
requests were sent and the timer only ever looks at the oldest still waiting.
"""

from __future__ import annotations

import asyncio
import itertools
from functools import partial
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection

from fixgw.jsonio import dumps, loads
from fixgw.errors import FixgwError, TransportError, VenueUnknownOutcome
from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.ratelimit import RateLimiter
from fixgw.venues.base import StreamState
from fixgw.venues.binance.auth import ws_api_request
from fixgw.venues.binance.config import BinanceConfig
from fixgw.venues.binance.enums import WS_API_METHODS
from fixgw.venues.binance.http import Params, call_venue, request_costs
from fixgw.venues.binance.parsing import error_from_ws_api, rate_limit_counts
from fixgw.venues.binance.websocket import ws_api_connection

__all__ = ["BinanceWsApi", "WsApiUnavailable"]

log = logging.getLogger("fixgw.venues.binance")


class WsApiUnavailable(TransportError):
    """The WebSocket API connection is not up: the request was not sent (send it over REST)."""


#: What a request's future holds when its answer did not come within ``request_timeout_s``.
_TIMED_OUT: Any = object()


@dataclass(slots=True)
class _Waiter:
    #: The answer (a dict); ``None`` once the connection was lost, ``_TIMED_OUT`` after the timeout.
    answer: asyncio.Future[Any]
    deadline: float  # event-loop time


class BinanceWsApi:
    """Signed, rate-limited order requests over one WebSocket API connection."""

    def __init__(
        self,
        config: BinanceConfig,
        *,
        server_clock: ServerClock,
        limiter: RateLimiter,
        resync: Callable[[], Awaitable[object]],
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._config = config
        self._server_clock = server_clock
        self._limiter = limiter
        self._resync = resync
        self._ids = itertools.count(1)
        self._waiting: dict[str, _Waiter] = {}  # in the order sent
        self._timer: asyncio.TimerHandle | None = None  # the timeout sweep (``_expire``), while armed
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self.requests = 0  # sent over this connection, for health and tests
        self.ws = ws_api_connection(config, on_connect=self._on_connect, on_message=self._on_message,
                                    on_state=self._on_state, sleep=sleep, rng=rng)

    @property
    def available(self) -> bool:
        """True while the connection is up (a request sent now is answered on it)."""
        return self.ws.state is StreamState.SUBSCRIBED

    async def run(self) -> None:
        await self.ws.run()

    async def request(self, method: str, path: str, params: Params, *, urgent: bool = False) -> Any:
        """Send the WebSocket API twin of REST ``method path``; return its ``result``.

        Raise ``WsApiUnavailable`` if the connection is down (nothing sent), ``VenueUnknownOutcome``
        if the answer is lost, or the typed error the venue answered.
        """
        ws_method = WS_API_METHODS[(method, path)]
        # ``_send_once`` itself is the attempt (no wrapping coroutine: one frame less per request)
        return await call_venue(
            self._limiter, ws_method, request_costs(method, path, params), partial(self._send_once, ws_method, params),
            urgent=urgent, max_429_retries=self._config.max_429_retries, resync=self._resync,
        )

    async def _send_once(self, ws_method: str, params: Params) -> tuple[int, Any, FixgwError | None]:
        cfg = self._config
        rid = f"o{next(self._ids)}"
        text = dumps(ws_api_request(
            rid, ws_method, params, api_key=cfg.api_key, api_secret=cfg.api_secret,
            timestamp_ms=self._server_clock.now_ms(), recv_window_ms=cfg.recv_window_ms,
            ed25519_private_key_pem=cfg.ed25519_private_key_pem,
        ))
        if not self.available:
            raise WsApiUnavailable(f"{ws_method}: WebSocket API connection down")
        try:
            self.ws.send_soon(text)  # written with the other requests of this event-loop turn
        except ConnectionError as exc:  # no open connection: the frame was not queued
            raise WsApiUnavailable(f"{ws_method}: {exc}") from exc
        except Exception as exc:  # the connection failed while queueing: treat it as possibly sent
            raise VenueUnknownOutcome(f"{ws_method}: connection lost while sending ({exc!r})") from exc
        self.requests += 1
        loop = asyncio.get_running_loop()
        waiter = _Waiter(loop.create_future(), loop.time() + cfg.request_timeout_s)
        self._waiting[rid] = waiter
        if self._timer is None or self._timer_loop is not loop:
            self._timer, self._timer_loop = loop.call_at(waiter.deadline, self._expire), loop
        try:
            answer = await waiter.answer
        finally:
            del self._waiting[rid]
        if answer is _TIMED_OUT:
            raise VenueUnknownOutcome(f"{ws_method}: no answer within {cfg.request_timeout_s} s")
        if answer is None:
            raise VenueUnknownOutcome(f"{ws_method}: connection lost before the answer")
        status = int(answer.get("status") or 0)
        if status == 200 and "error" not in answer:  # what ``error_from_ws_api`` finds for every success
            return status, answer.get("result"), None
        # venue time: ``retryAfter`` is a venue timestamp, and the limiter runs on the venue's clock
        error = error_from_ws_api(status, answer.get("error"), self._server_clock.now_ns())
        return status, answer.get("error") if error is not None else answer.get("result"), error

    def _expire(self) -> None:
        """The one timeout timer: end the requests whose time is up, then wait for the next deadline.

        Every request gets the same timeout, so deadlines grow in the order requests were sent (the
        order of ``_waiting``): the sweep stops at the first one still running.
        """
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        for waiter in self._waiting.values():
            if waiter.answer.done():
                continue
            if waiter.deadline > now:
                self._timer = loop.call_at(waiter.deadline, self._expire)
                return
            waiter.answer.set_result(_TIMED_OUT)

    # -- the connection ----------------------------------------------------------------------------

    async def _on_connect(self, conn: ClientConnection) -> None:
        log.info("WebSocket API order entry connected to %s", self._config.ws_api_url)

    def _on_message(self, text: str) -> None:
        try:
            msg = loads(text)
        except ValueError:
            log.warning("unreadable WebSocket API frame skipped: %.200r", text)
            return
        if not isinstance(msg, dict):
            return
        counts = rate_limit_counts(msg.get("rateLimits"))
        if counts:
            self._limiter.observe_counts(counts)  # late answers count too
        waiter = self._waiting.get(msg.get("id"))  # type: ignore[arg-type]
        if waiter is not None and not waiter.answer.done():
            waiter.answer.set_result(msg)

    def _on_state(self, state: StreamState) -> None:
        if state is StreamState.SUBSCRIBED:
            return
        for waiter in self._waiting.values():  # their answers can no longer arrive
            if not waiter.answer.done():
                waiter.answer.set_result(None)
