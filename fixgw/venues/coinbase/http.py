"""Coinbase Exchange REST client: CB-ACCESS-* signing, server-clock timestamps, request limits, typed errors.

Every request takes a token from the limiter first (``REQUESTS:1S``, and ``FILLS:1S`` for ``/fills``,
under the venue's per-profile limits). A 429 is retried after the limiter's back-off, never shorter
than ``Retry-After`` (the venue refused it unprocessed, so a retry cannot duplicate); an expired
timestamp measures the clock again and retries once; 5XX and timeouts after a request may have left
are ``VenueUnknownOutcome``; no ``httpx`` exception escapes. The query string is signed with the path.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import anyio
import httpx

from fixgw.errors import TransportError, VenueRateLimited, VenueRejected, VenueUnknownOutcome
from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.ratelimit import RateLimiter
from fixgw.venues._common.rest import json_body
from fixgw.venues._common.signing import coinbase_exchange_signature
from fixgw.venues.coinbase.config import CoinbaseConfig
from fixgw.venues.coinbase.parsing import error_from_response

__all__ = ["CoinbaseHttp", "auth_headers", "REQUEST_BUCKET", "FILLS_BUCKET", "timestamp_text"]

log = logging.getLogger("fixgw.venues.coinbase")

REQUEST_BUCKET = "REQUESTS:1S"
FILLS_BUCKET = "FILLS:1S"

Query = list[tuple[str, object]]


def timestamp_text(ms: int) -> str:
    """Seconds since the epoch with milliseconds, as CB-ACCESS-TIMESTAMP wants it."""
    return format(Decimal(ms) / 1000, "f")


def auth_headers(config: CoinbaseConfig, timestamp: str, method: str, request_path: str, body: str) -> dict[str, str]:
    """Return the four CB-ACCESS headers (``request_path`` includes the query string)."""
    return {
        "CB-ACCESS-KEY": config.api_key,
        "CB-ACCESS-SIGN": coinbase_exchange_signature(config.api_secret, timestamp, method, request_path, body),
        "CB-ACCESS-TIMESTAMP": timestamp,
        "CB-ACCESS-PASSPHRASE": config.passphrase,
    }


class CoinbaseHttp:
    def __init__(self, config: CoinbaseConfig, *, server_clock: ServerClock, limiter: RateLimiter,
                 transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None) -> None:
        self._config = config
        self.server_clock = server_clock
        self.limiter = limiter
        self._sleep = sleep or anyio.sleep
        self.requests = 0
        self._client = httpx.AsyncClient(base_url=config.rest_url.rstrip("/"), transport=transport,
                                         timeout=httpx.Timeout(config.request_timeout_s),
                                         headers={"User-Agent": "fixgw"})

    async def aclose(self) -> None:
        await self._client.aclose()

    async def sync_time(self) -> int:
        """Read the venue's ``/time`` and update the clock offset; return the offset in ns."""
        sent: list[int] = []
        body = await self.request("GET", "/time", signed=False, _sent_at=sent)
        epoch = Decimal(str(body["epoch"]))
        return self.server_clock.record(sent[-1], int(epoch * 1000), self.server_clock.local_ns())

    async def resync_time(self) -> None:
        self.server_clock.reset()
        await self.sync_time()

    async def request(self, method: str, path: str, body: Any = None, *, query: Query | None = None,
                      signed: bool = True, urgent: bool = False, _sent_at: list[int] | None = None) -> Any:
        """Send one request; return the decoded JSON answer or raise a typed ``VenueError``."""
        text = json.dumps(body, separators=(",", ":")) if body is not None else ""
        if query:
            path = path + "?" + urlencode([(k, str(v)) for k, v in query])
        costs = {REQUEST_BUCKET: 1}
        if path.startswith("/fills"):
            costs[FILLS_BUCKET] = 1
        resynced = False
        rate_limited = 0
        while True:
            await self.limiter.acquire(costs, urgent=urgent)
            try:
                status, data, err = await self._attempt(method, path, text, signed, _sent_at)
            finally:
                self.limiter.release(costs)
            if err is None:
                self.limiter.on_success()
                return data
            if isinstance(err, VenueRateLimited):
                delay = self.limiter.on_rate_limited(err.retry_after)
                rate_limited += 1
                log.warning("429 on %s %s; holding requests %.1f s", method, path, delay)
                if rate_limited > self._config.max_429_retries:
                    raise err
                continue
            if isinstance(err, VenueRejected) and err.reason == "stale_timestamp" and signed and not resynced:
                resynced = True
                await self.resync_time()
                continue
            raise err

    async def _attempt(self, method: str, path: str, text: str, signed: bool,
                       sent_at: list[int] | None) -> tuple[int, Any, Exception | None]:
        headers = {"Content-Type": "application/json"} if text else {}
        if signed:
            headers.update(auth_headers(self._config, timestamp_text(self.server_clock.now_ms()), method, path, text))
        if sent_at is not None:
            sent_at.append(self.server_clock.local_ns())
        self.requests += 1
        try:
            resp = await self._client.request(method, path, content=text or None, headers=headers)
        except httpx.ConnectError as exc:
            raise TransportError(f"cannot reach {self._config.rest_url}: {exc}") from exc
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            if method == "GET":
                raise TransportError(f"{method} {path}: {exc!r}") from exc
            raise VenueUnknownOutcome(f"{method} {path}: {exc!r}") from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"{method} {path}: {exc!r}") from exc
        data = json_body(resp)
        return resp.status_code, data, error_from_response(resp.status_code, data, resp.headers.get("retry-after"))
