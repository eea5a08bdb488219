"""Test harness of the Coinbase Exchange dialect: the simulator over real loopback HTTP/WS, a shared
warpable clock, the adapter with its feed connected, and a counterparty; shaped like ``simharness``.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal

from fixgw.sim import DEMO_API_KEY, DEMO_API_SECRET, ApiKey, LimitConfig, SimServer
from fixgw.sim.coinbase import DEMO_PASSPHRASE, feed_url
from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.ratelimit import Bucket, RateLimiter
from fixgw.venues.coinbase import CoinbaseConfig, CoinbaseExchangeAdapter
from fixgw.venues.coinbase.http import REQUEST_BUCKET, CoinbaseHttp

from . import simharness
from .simharness import WarpClock, collect, fills_of  # noqa: F401  (re-exported: same shape as simharness)

DIALECT = "coinbase"
#: the venue's spelling of the engine's BTCUSDT
SYMBOL = "BTC-USDT"
OTHER_KEY = "coinbaseCounterpartyKey0001"
OTHER_SECRET = base64.b64encode(b"coinbase counterparty secret, test only, 48 by.").decode()


def start_sim(*, limits: LimitConfig | None = None, extra_keys: tuple[ApiKey, ...] = ()) -> tuple[SimServer, WarpClock]:
    return simharness.start_sim(limits=limits, extra_keys=extra_keys, dialect=DIALECT,
                                counterparty=(OTHER_KEY, OTHER_SECRET))


def config(sim: SimServer, **overrides) -> CoinbaseConfig:
    opts = dict(rest_url=sim.base_url, ws_url=feed_url(sim.base_url), api_key=DEMO_API_KEY,
                api_secret=DEMO_API_SECRET, passphrase=DEMO_PASSPHRASE, ws_backoff_base_s=0.05,
                ws_backoff_cap_s=0.2, unknown_poll_s=0.05, gap_grace_s=0.3, requests_per_second=50,
                fills_per_second=20)
    opts.update(overrides)
    return CoinbaseConfig(**opts)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def adapter(sim: SimServer, warp: WarpClock, **kw) -> AsyncIterator[CoinbaseExchangeAdapter]:
    stream_sleep = kw.pop("stream_sleep", None)
    ad = CoinbaseExchangeAdapter(config(sim, **kw), clock=warp, sleep=warp.sleep, stream_sleep=stream_sleep,
                                 maintenance_interval_s=0.1)
    async with ad:
        yield ad


def product(symbol: str) -> str:
    """The product id of ``BTC-USDT``, ``BTC/USDT`` or the engine's ``BTCUSDT``."""
    if "-" in symbol:
        return symbol
    if "/" in symbol:
        return symbol.replace("/", "-")
    for quote in ("USDT", "USDC", "USD", "BTC", "EUR"):
        if symbol.endswith(quote):
            return f"{symbol[: -len(quote)]}-{quote}"
    raise ValueError(f"cannot tell the product of {symbol!r}")


class Counterparty:
    """A second account trading against ours, through plain signed REST."""

    def __init__(self, sim: SimServer, warp: WarpClock) -> None:
        cfg = CoinbaseConfig(rest_url=sim.base_url, api_key=OTHER_KEY, api_secret=OTHER_SECRET,
                             passphrase=DEMO_PASSPHRASE)
        self.http = CoinbaseHttp(cfg, server_clock=ServerClock(warp),
                                 limiter=RateLimiter([Bucket(REQUEST_BUCKET, 10, 1)], clock=warp, sleep=warp.sleep))

    async def order(self, symbol: str, side: str, qty: Decimal, price: Decimal, tif: str = "GTC") -> dict:
        """Place a limit order; the answer is the venue's, plus ``filled`` (True once it fully traded)."""
        answer = await self.http.request("POST", "/orders", {
            "product_id": product(symbol), "side": side.lower(), "type": "limit", "price": f"{price:f}",
            "size": f"{qty:f}", "time_in_force": tif})
        answer["filled"] = answer.get("done_reason") == "filled"
        return answer

    async def aclose(self) -> None:
        await self.http.aclose()


async def book_top(ad: CoinbaseExchangeAdapter, venue_symbol: str) -> tuple[Decimal, Decimal]:
    book = await ad.http.request("GET", f"/products/{product(venue_symbol)}/book", query=[("level", 1)],
                                 signed=False)
    return Decimal(book["bids"][0][0]), Decimal(book["asks"][0][0])
