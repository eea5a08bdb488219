"""Coinbase Exchange REST client: CB-ACCESS-* headers signed over timestamp + METHOD + path + body."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx

from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.ratelimit import RateLimiter
from fixgw.venues._common.rest import json_body, send
from fixgw.venues._common.signing import coinbase_exchange_signature
from fixgw.venues.coinbase.config import CoinbaseConfig
from fixgw.venues.coinbase.parsing import error_from_response

__all__ = ["CoinbaseHttp", "auth_headers"]


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
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._config = config
        self.server_clock = server_clock
        self.limiter = limiter
        self._client = httpx.AsyncClient(base_url=config.rest_url.rstrip("/"), transport=transport,
                                         timeout=httpx.Timeout(config.request_timeout_s))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def sync_time(self) -> int:
        sent = self.server_clock.local_ns()
        body = await self.request("GET", "/time", signed=False)
        epoch = Decimal(str(body["epoch"]))
        return self.server_clock.record(sent, int(epoch * 1000), self.server_clock.local_ns())

    async def request(self, method: str, path: str, body: Any = None, *, signed: bool = True) -> Any:
        await self.limiter.acquire({"REQUESTS:1S": 1})
        text = json.dumps(body, separators=(",", ":")) if body is not None else ""
        headers = {"Content-Type": "application/json"}
        if signed:
            ts = format(Decimal(self.server_clock.now_ms()) / 1000, "f")
            headers.update(auth_headers(self._config, ts, method, path, text))
        resp = await send(self._client, method, path, content=text or None, headers=headers)
        data = json_body(resp)
        err = error_from_response(resp.status_code, data)
        if err is not None:
            raise err
        return data
