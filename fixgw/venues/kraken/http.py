"""Kraken spot REST client: API-Key / API-Sign over path + SHA256(nonce + body), form-encoded.

Theory of operation
-------------------
Every private call takes a nonce from one ``NonceSource`` (milliseconds, always increasing) and is
signed over the exact body sent. Calls are held by a local model of the venue's counters
(``RateLimiter``: the REST counter per key, the trading counter per pair, each approximated by a
fixed window of ``limit / decay`` seconds). A call the venue refused for its rate limit, or for a
nonce that arrived after a larger one (concurrent calls may overtake each other on the way), was
not executed, so it is sent again after a backoff, up to ``max_retries`` times; a lockout is a ban.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx

from fixgw.errors import VenueAuthError, VenueBanned, VenueRateLimited
from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.ratelimit import RateLimiter
from fixgw.venues._common.rest import json_body, send
from fixgw.venues._common.signing import kraken_signature
from fixgw.venues.kraken.config import KrakenConfig
from fixgw.venues.kraken.parsing import error_from_envelope

__all__ = ["KrakenHttp", "sign_private", "NonceSource", "REST_BUCKET", "TRADE_BUCKET", "LOCKOUT_S"]

REST_BUCKET = "COUNTER"
TRADE_BUCKET = "TRADING"
LOCKOUT_S = 900.0  # a lockout lasts about 15 minutes (the venue does not say when it ends)
_HEAVY = frozenset({"TradesHistory", "ClosedOrders", "QueryTrades", "Ledgers", "QueryLedgers"})
_TRADING = frozenset({"AddOrder", "AddOrderBatch", "AmendOrder", "CancelOrder", "CancelAll", "CancelOrderBatch"})


class NonceSource:
    """Always-increasing nonce (ms since epoch, bumped if the clock repeats)."""

    def __init__(self) -> None:
        self._last = 0

    def next(self, now_ms: int) -> int:
        self._last = max(self._last + 1, now_ms)
        return self._last


def sign_private(config: KrakenConfig, uri_path: str, params: list[tuple[str, str]]) -> tuple[str, dict[str, str]]:
    """Return (postdata, headers) for a private call; ``params`` must start with the nonce."""
    if not params or params[0][0] != "nonce":
        raise ValueError("the nonce must be the first field")
    postdata = urlencode(params)
    headers = {
        "API-Key": config.api_key,
        "API-Sign": kraken_signature(config.api_secret, uri_path, params[0][1], postdata),
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
    }
    return postdata, headers


def costs_of(method: str, trading_cost: int = 1) -> dict[str, int]:
    """The local counters a call charges: order entry the pair's trading counter (``trading_cost``:
    a batch of n orders costs n/2 there, rounded up here), every other call the key's REST counter."""
    if method in _TRADING:
        return {TRADE_BUCKET: trading_cost}
    return {REST_BUCKET: 2 if method in _HEAVY else 1}


class KrakenHttp:
    def __init__(self, config: KrakenConfig, *, server_clock: ServerClock, limiter: RateLimiter,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._config = config
        self.server_clock = server_clock
        self.limiter = limiter
        self.nonces = NonceSource()
        self.sent = 0  # requests sent, for health and tests
        self._client = httpx.AsyncClient(base_url=config.rest_url.rstrip("/"), transport=transport,
                                         timeout=httpx.Timeout(config.request_timeout_s),
                                         headers={"User-Agent": "fixgw"})

    async def aclose(self) -> None:
        await self._client.aclose()

    async def sync_time(self) -> int:
        sent = self.server_clock.local_ns()
        result = await self.public("/0/public/Time")
        # whole seconds: the middle of the second is the best guess, and the sample is given a round
        # trip one second longer, so that any finer reading (the feed's pong) is preferred to it
        half = 500_000_000
        return self.server_clock.record(sent - half, int(result["unixtime"]) * 1000 + 500,
                                        self.server_clock.local_ns() + half)

    async def public(self, path: str, params: list[tuple[str, str]] | None = None) -> Any:
        query = f"?{urlencode(params)}" if params else ""
        attempt = 0
        while True:
            await self.limiter.acquire({})  # public calls count on no key's counter, but wait out a backoff
            try:
                return await self._send("GET", path + query, None, {})
            except VenueRateLimited:
                attempt += 1
                if attempt > self._config.max_retries:
                    raise
                self.limiter.on_rate_limited(None)

    async def private(self, method: str, fields: list[tuple[str, str]], *, urgent: bool = False,
                      json_fields: dict[str, Any] | None = None, trading_cost: int = 1) -> Any:
        """Call ``/0/private/<method>``; refusals for rate or nonce order are retried (never executed).

        ``json_fields`` sends a JSON body instead of the form (the batch methods take lists);
        ``trading_cost``: what an order-entry call adds to the local trading counter."""
        costs = costs_of(method, trading_cost)
        path = f"/0/private/{method}"
        attempt = 0
        while True:
            await self.limiter.acquire(costs, urgent=urgent)
            try:
                nonce = str(self.nonces.next(self.server_clock.local_ns() // 1_000_000))
                if json_fields is not None:
                    postdata = json.dumps({"nonce": nonce, **json_fields}, separators=(",", ":"))
                    headers = {"API-Key": self._config.api_key, "Content-Type": "application/json",
                               "API-Sign": kraken_signature(self._config.api_secret, path, nonce, postdata)}
                else:
                    postdata, headers = sign_private(self._config, path, [("nonce", nonce), *fields])
                result = await self._send("POST", path, postdata, headers)
            except VenueRateLimited:
                attempt += 1
                if attempt > self._config.max_retries:
                    raise
                self.limiter.on_rate_limited(None)
                continue
            except VenueAuthError as exc:
                attempt += 1
                if "Invalid nonce" not in str(exc) or attempt > self._config.max_retries:
                    raise
                continue
            except VenueBanned:
                until = self.limiter.on_banned(LOCKOUT_S)
                raise VenueBanned("EGeneral:Temporary lockout", until_ns=until) from None
            finally:
                self.limiter.release(costs)
            self.limiter.on_success()
            return result

    async def _send(self, method: str, path: str, body: str | None, headers: dict[str, str]) -> Any:
        self.sent += 1
        resp = await send(self._client, method, path, content=body, headers=headers)
        data = json_body(resp, {})
        err = error_from_envelope(resp.status_code, data)
        if err is not None:
            raise err
        return data.get("result") if isinstance(data, dict) else None
