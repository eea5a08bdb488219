"""Binance spot REST client: signing, server-clock timestamps, weight limiting, typed errors.

Every request acquires its weight from the limiter before it leaves. Signed requests carry
``timestamp`` from the server clock and ``recvWindow``; all parameters travel in the query string
(also for POST/PUT/DELETE), so the signed payload is exactly the query that is sent.

Outcomes: 429 is retried after the limiter's back-off (a 429 was refused before processing, so a
retry cannot duplicate); -1021 resyncs the clock and retries once; 418 raises ``VenueBanned`` and
blocks further requests until the ban ends; 5XX, -1007 and timeouts after the request may have
been sent raise ``VenueUnknownOutcome``; no ``httpx`` exception escapes.

``call_venue`` is that policy on its own (acquire, send once, release, retry on 429 / -1021): the
WebSocket API order entry (``wsapi.py``) runs its requests through it too.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

import anyio
import httpx

from fixgw.clock import Clock
from fixgw.errors import (
    FixgwError,
    TransportError,
    VenueBanned,
    VenueRateLimited,
    VenueRejected,
    VenueUnknownOutcome,
)
from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.ratelimit import RateLimiter
from fixgw.venues._common.rest import json_body
from fixgw.venues._common.signing import binance_rest_payload
from fixgw.venues.binance.auth import sign_payload
from fixgw.venues.binance.config import BinanceConfig
from fixgw.venues.binance.enums import ORDER_COUNTED, WEIGHTS
from fixgw.venues.binance.parsing import error_from_response, used_weight_headers

__all__ = ["BinanceHttp", "weight_of", "request_costs", "call_venue", "WEIGHT_BUCKET", "ORDER_BUCKET"]

log = logging.getLogger("fixgw.venues.binance")

WEIGHT_BUCKET = "REQUEST_WEIGHT:1M"
ORDER_BUCKET = "ORDERS:10S"

Params = list[tuple[str, object]]


def weight_of(method: str, path: str, params: Params) -> int:
    """Request weight of one call (rest-api.md)."""
    if method == "GET":  # the two calls whose weight depends on their parameters
        if path == "/api/v3/openOrders" and all(k != "symbol" for k, _ in params):
            return 80
        if path == "/api/v3/myTrades" and any(k == "orderId" for k, _ in params):
            return 5
    return WEIGHTS.get((method, path), 1)


def request_costs(method: str, path: str, params: Params) -> dict[str, int]:
    """What one call takes from the limiter's buckets (the same over REST and the WebSocket API)."""
    costs = {WEIGHT_BUCKET: weight_of(method, path, params)}
    orders = ORDER_COUNTED.get((method, path))
    if orders:
        costs[ORDER_BUCKET] = orders
    return costs


#: One send of a request: its status (HTTP, or the WebSocket API's ``status``), decoded answer and the
#: typed error it carries (``None``: success).
Attempt = Callable[[], Awaitable[tuple[int, Any, "FixgwError | None"]]]


async def call_venue(
    limiter: RateLimiter,
    label: str,
    costs: Mapping[str, int],
    attempt: Attempt,
    *,
    urgent: bool = False,
    max_429_retries: int = 5,
    resync: Callable[[], Awaitable[object]] | None = None,
) -> Any:
    """Run ``attempt`` under the limiter; retry after a 429 (refused unprocessed) and, once, after
    -1021 with ``resync`` (signed requests only); raise every other error.

    ``attempt`` translates its transport's failures itself (``TransportError`` when the request
    cannot have left, ``VenueUnknownOutcome`` when it may have).
    """
    resynced = False
    rate_limited = 0
    while True:
        await limiter.acquire(costs, urgent=urgent)
        try:
            status, body, err = await attempt()
        finally:
            limiter.release(costs)  # answered or failed: it no longer straddles windows
        if err is None:
            limiter.on_success()
            return body
        if isinstance(err, VenueBanned):
            limiter.on_banned(until_ns=err.until_ns)
            raise err
        if isinstance(err, VenueRateLimited) and status == 429:
            delay = limiter.on_rate_limited(err.retry_after)
            rate_limited += 1
            used, limit = limiter.usage(WEIGHT_BUCKET)
            log.warning("429 on %s (local count %d/%d); holding requests %.1f s", label, used, limit, delay)
            if rate_limited > max_429_retries:
                raise err
            continue
        if isinstance(err, VenueRejected):
            err.payload = body  # type: ignore[attr-defined]  # cancelReplace puts sub-results here
        if isinstance(err, VenueRejected) and err.code == -1021 and resync is not None and not resynced:
            resynced = True
            await resync()
            continue
        raise err


class BinanceHttp:
    """Signed, rate-limited REST calls to a Binance-spot-compatible server."""

    def __init__(
        self,
        config: BinanceConfig,
        *,
        server_clock: ServerClock,
        limiter: RateLimiter,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._config = config
        self.server_clock = server_clock
        self.limiter = limiter
        self._sleep = sleep or anyio.sleep
        self._client = httpx.AsyncClient(
            base_url=config.rest_url.rstrip("/"),
            timeout=httpx.Timeout(config.request_timeout_s),
            transport=transport,
            headers={"User-Agent": "fixgw"},
        )

    @property
    def clock(self) -> Clock:
        return self.server_clock.clock

    async def aclose(self) -> None:
        await self._client.aclose()

    async def sync_time(self) -> int:
        """Read the venue's time and update the offset; return the offset in ns."""
        stamps: list[int] = []
        body = await self.request("GET", "/api/v3/time", _sent_at=stamps)
        received = self.clock.now_ns()
        # the round trip starts when the request leaves, not when it queued at the limiter
        return self.server_clock.record(stamps[-1], int(body["serverTime"]), received)

    async def request(
        self,
        method: str,
        path: str,
        params: Params | None = None,
        *,
        signed: bool = False,
        urgent: bool = False,
        _sent_at: list[int] | None = None,
    ) -> Any:
        """Send one request and return the decoded JSON body; raise a typed ``VenueError``."""
        params = list(params or [])

        async def attempt() -> tuple[int, Any, FixgwError | None]:
            query, headers = self._prepare(params, signed)
            url = path + ("?" + query if query else "")
            if _sent_at is not None:
                _sent_at.append(self.clock.now_ns())
            try:
                resp = await self._client.request(method, url, headers=headers)
            except httpx.ConnectError as exc:
                raise TransportError(f"cannot reach {self._config.rest_url}: {exc}") from exc
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                if method == "GET":
                    raise TransportError(f"{method} {path}: {exc!r}") from exc
                raise VenueUnknownOutcome(f"{method} {path}: {exc!r}") from exc
            except httpx.HTTPError as exc:
                raise TransportError(f"{method} {path}: {exc!r}") from exc
            for name, used in used_weight_headers(resp.headers):
                self.limiter.observe_used(name, used)
            body = json_body(resp)
            # venue time: a ban's end (Retry-After or the "banned until" stamp) is on the venue's clock,
            # and so is the limiter that enforces it
            return resp.status_code, body, error_from_response(
                resp.status_code, body, resp.headers, self.server_clock.now_ns())

        return await call_venue(
            self.limiter, f"{method} {path}", request_costs(method, path, params), attempt, urgent=urgent,
            max_429_retries=self._config.max_429_retries, resync=self.resync_time if signed else None,
        )

    async def resync_time(self) -> None:
        """Forget the clock offset and measure it again (after the venue refused a stale timestamp)."""
        self.server_clock.reset()
        await self.sync_time()

    def _prepare(self, params: Params, signed: bool) -> tuple[str, dict[str, str]]:
        headers: dict[str, str] = {}
        if not signed:
            return binance_rest_payload(params), headers
        full = params + [
            ("recvWindow", self._config.recv_window_ms),
            ("timestamp", self.server_clock.now_ms()),
        ]
        query = binance_rest_payload(full)
        signature = sign_payload(query, self._config.api_secret, self._config.ed25519_private_key_pem)
        query += "&signature=" + quote(signature, safe="")  # an Ed25519 signature is base64: "+", "/", "="
        headers["X-MBX-APIKEY"] = self._config.api_key
        return query, headers
