"""Test harness: the simulator over real loopback HTTP/WS, a shared warpable clock, a counterparty.

The simulator and the adapter share one ``WarpClock``: real time plus a jump that grows whenever the
adapter's rate limiter "sleeps", so waits for a new rate-limit window take no real time and both
sides still agree on the time (timestamps, receive windows, weight windows).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import anyio

from fixgw.clock import Clock
from fixgw.sim import DEMO_ACCOUNT, DEMO_API_KEY, DEMO_API_SECRET, ApiKey, LimitConfig, SimConfig, SimServer
from fixgw.venues.base import (
    VenueFilled,
    VenueOrderEvent,
)
from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.ratelimit import Bucket, RateLimiter
from fixgw.venues.binance import BinanceAdapter, BinanceConfig
from fixgw.venues.binance.http import WEIGHT_BUCKET, BinanceHttp

OTHER_KEY = "conformanceCounterpartyKey000000000000000000000000000000000000001"
OTHER_SECRET = "conformanceCounterpartySecret000000000000000000000000000000000001"


class WarpClock(Clock):
    """Real time plus a forward jump; ``sleep`` jumps instead of waiting."""

    def __init__(self) -> None:
        self._jump = 0
        self._lock = threading.Lock()
        self.slept = 0.0

    def now_ns(self) -> int:
        return time.time_ns() + self._jump

    async def sleep(self, seconds: float) -> None:
        # let requests already in flight land first (real time never jumps under them), then jump
        real = min(seconds, 0.2)
        await anyio.sleep(real)
        with self._lock:
            self._jump += int((seconds - real) * 1e9)
            self.slept += seconds


def start_sim(*, limits: LimitConfig | None = None, extra_keys: tuple[ApiKey, ...] = (), dialect: str = "binance",
              counterparty: tuple[str, str] = (OTHER_KEY, OTHER_SECRET)) -> tuple[SimServer, WarpClock]:
    """A simulator of ``dialect`` on loopback with the demo key and a ``counterparty`` (key, secret)."""
    warp = WarpClock()
    other_key, other_secret = counterparty
    cfg = SimConfig(
        dialect=dialect,
        maker_interval_s=None,
        api_keys=(
            ApiKey(api_key=DEMO_API_KEY, account_id=DEMO_ACCOUNT, secret=DEMO_API_SECRET),
            ApiKey(api_key=other_key, account_id="counterparty", secret=other_secret),
            *extra_keys,
        ),
        clock=warp,
        limits=limits or LimitConfig(),
    )
    return SimServer(cfg).start(), warp


@contextlib.contextmanager
def empty_sim() -> Iterator[SimServer]:
    """A fresh simulator with empty books (no market maker), the demo key and the counterparty's; its
    ``WarpClock`` as ``sim.warp``. Stopped on exit."""
    warp = WarpClock()
    server = SimServer(SimConfig(
        market_maker=None, clock=warp,
        api_keys=(ApiKey(api_key=DEMO_API_KEY, account_id=DEMO_ACCOUNT, secret=DEMO_API_SECRET),
                  ApiKey(api_key=OTHER_KEY, account_id="counterparty", secret=OTHER_SECRET)))).start()
    server.warp = warp
    try:
        yield server
    finally:
        server.stop()


DIALECT = "binance"
#: the venue's spelling of the engine's BTCUSDT
SYMBOL = "BTCUSDT"

#: How the adapters built here send orders ("ws" or "rest"); the conformance suite runs under both.
ORDER_ENTRY = "ws"


def config(sim: SimServer, **overrides) -> BinanceConfig:
    opts = dict(ws_backoff_base_s=0.05, ws_backoff_cap_s=0.2, unknown_poll_s=0.05, order_entry=ORDER_ENTRY)
    opts.update(overrides)
    return BinanceConfig(rest_url=sim.base_url, ws_api_url=sim.ws_api_url, api_key=DEMO_API_KEY,
                         api_secret=DEMO_API_SECRET, **opts)


@contextlib.asynccontextmanager
async def adapter(sim: SimServer, warp: WarpClock, **kw) -> AsyncIterator[BinanceAdapter]:
    stream_sleep = kw.pop("stream_sleep", None)
    ad = BinanceAdapter(config(sim, **kw), clock=warp, sleep=warp.sleep, stream_sleep=stream_sleep,
                        maintenance_interval_s=0.1)
    async with ad:
        yield ad


class Counterparty:
    """A second account trading against ours, through plain signed REST."""

    def __init__(self, sim: SimServer, warp: WarpClock) -> None:
        cfg = BinanceConfig(rest_url=sim.base_url, ws_api_url=sim.ws_api_url, api_key=OTHER_KEY,
                            api_secret=OTHER_SECRET)
        self.http = BinanceHttp(cfg, server_clock=ServerClock(warp),
                                limiter=RateLimiter([Bucket(WEIGHT_BUCKET, 6000, 60)], clock=warp, sleep=warp.sleep))

    async def order(self, symbol: str, side: str, qty: Decimal, price: Decimal, tif: str = "GTC") -> dict:
        return await self.http.request(
            "POST", "/api/v3/order",
            [("symbol", symbol), ("side", side), ("type", "LIMIT"), ("timeInForce", tif),
             ("quantity", qty), ("price", price), ("newOrderRespType", "FULL")], signed=True)

    async def aclose(self) -> None:
        await self.http.aclose()


async def book_top(ad: BinanceAdapter, venue_symbol: str) -> tuple[Decimal, Decimal]:
    depth = await ad.http.request("GET", "/api/v3/depth", [("symbol", venue_symbol), ("limit", 5)])
    return Decimal(depth["bids"][0][0]), Decimal(depth["asks"][0][0])


async def collect(ad: BinanceAdapter, *, until=None, quiet_s: float = 0.3, timeout_s: float = 5.0) -> list[VenueOrderEvent]:
    """Read events until ``until(events)`` holds (then ``quiet_s`` more), or until ``quiet_s`` of silence."""
    out: list[VenueOrderEvent] = []
    stream = ad.events()
    with anyio.fail_after(timeout_s):
        while True:
            if until is not None and not until(out):
                out.append(await stream.__anext__())
                continue
            with anyio.move_on_after(quiet_s) as scope:
                out.append(await stream.__anext__())
            if scope.cancelled_caught:
                return out


def fills_of(events, client_order_id: str) -> list[VenueFilled]:
    return [e for e in events if isinstance(e, VenueFilled) and e.client_order_id == client_order_id]
