"""Kraken spot REST client: API-Key / API-Sign over path + SHA256(nonce + body), form-encoded."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx

from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.ratelimit import RateLimiter
from fixgw.venues._common.rest import json_body, send
from fixgw.venues._common.signing import kraken_signature
from fixgw.venues.kraken.config import KrakenConfig
from fixgw.venues.kraken.parsing import error_from_envelope

__all__ = ["KrakenHttp", "sign_private", "NonceSource"]


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


class KrakenHttp:
    def __init__(self, config: KrakenConfig, *, server_clock: ServerClock, limiter: RateLimiter,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._config = config
        self.server_clock = server_clock
        self.limiter = limiter
        self.nonces = NonceSource()
        self._client = httpx.AsyncClient(base_url=config.rest_url.rstrip("/"), transport=transport,
                                         timeout=httpx.Timeout(config.request_timeout_s),
                                         headers={"User-Agent": "fixgw"})

    async def aclose(self) -> None:
        await self._client.aclose()

    async def sync_time(self) -> int:
        sent = self.server_clock.local_ns()
        result = await self.public("/0/public/Time")
        return self.server_clock.record(sent, int(result["unixtime"]) * 1000, self.server_clock.local_ns())

    async def public(self, path: str) -> Any:
        return await self._send("GET", path, None, {})

    async def private(self, method: str, fields: list[tuple[str, str]]) -> Any:
        await self.limiter.acquire({"COUNTER": 1})
        path = f"/0/private/{method}"
        params = [("nonce", str(self.nonces.next(self.server_clock.now_ms())))] + fields
        postdata, headers = sign_private(self._config, path, params)
        return await self._send("POST", path, postdata, headers)

    async def _send(self, method: str, path: str, body: str | None, headers: dict[str, str]) -> Any:
        resp = await send(self._client, method, path, content=body, headers=headers)
        data = json_body(resp, {})
        err = error_from_envelope(resp.status_code, data)
        if err is not None:
            raise err
        return data.get("result")
