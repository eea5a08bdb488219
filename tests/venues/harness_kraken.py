"""Test harness for the Kraken dialect: the simulator speaking Kraken over real loopback HTTP/WS, the
shared warpable clock, a counterparty; the same shape as ``simharness`` (the Binance one).

``SYMBOL`` is the venue's spelling of the engine's BTCUSDT (the REST pair altname ``XBTUSDT``;
WebSocket v2 calls it ``BTC/USDT``, the normalised symbol). ``venue_symbol`` spells any engine symbol.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from fixgw.sim import DEMO_API_KEY, DEMO_API_SECRET, ApiKey, LimitConfig, SimServer
from fixgw.sim.kraken.limits import KrakenLimits
from fixgw.sim.kraken.names import PairTable
from fixgw.sim.kraken.venue import venue_of
from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.ratelimit import Bucket, RateLimiter
from fixgw.venues.kraken import KrakenAdapter, KrakenConfig
from fixgw.venues.kraken.http import REST_BUCKET, TRADE_BUCKET, KrakenHttp

from . import simharness
from .simharness import WarpClock, collect, fills_of  # noqa: F401  (re-exported: the same for every dialect)

DIALECT = "kraken"
SYMBOL = "XBTUSDT"
OTHER_KEY = "krakenCounterpartyKey0000000000000000000000000000000000000000001"
OTHER_SECRET = base64.b64encode(b"kraken counterparty secret, simulator only.").decode()
#: options of other dialects' configs that mean nothing here (a parameterised suite may pass them)
_FOREIGN_OPTIONS = frozenset({"order_entry", "weight_limit_per_minute", "weight_reserve", "orders_per_10s",
                              "ws_api_url", "recv_window_ms"})


def venue_symbol(engine_symbol: str) -> str:
    """The REST pair name of an engine symbol: BTCUSDT -> XBTUSDT (names from the dialect's one table)."""
    from fixgw.sim.instruments import default_instruments

    for pair in PairTable(default_instruments()).pairs:
        if engine_symbol in (pair.engine_symbol, pair.altname, pair.pair_id):
            return pair.altname
    return engine_symbol


def start_sim(*, limits: LimitConfig | KrakenLimits | None = None,
              extra_keys: tuple[ApiKey, ...] = ()) -> tuple[SimServer, WarpClock]:
    """A Kraken-dialect simulator on loopback; ``KrakenLimits`` set its rate-limit counters.

    By default they are generous: the venue's counters belong to the key and outlive an adapter, so
    the many short-lived adapters of a test module would share one starter-tier budget."""
    server, warp = simharness.start_sim(limits=limits if isinstance(limits, LimitConfig) else None,
                                        extra_keys=extra_keys, dialect=DIALECT,
                                        counterparty=(OTHER_KEY, OTHER_SECRET))
    chosen = limits if isinstance(limits, KrakenLimits) else KrakenLimits(rest_max=1000, trade_max=1000)
    server.call(lambda st: setattr(venue_of(st), "limits", chosen))
    return server, warp


def config(sim: SimServer, **overrides: Any) -> KrakenConfig:
    opts: dict[str, Any] = dict(ws_backoff_base_s=0.05, ws_backoff_cap_s=0.2, unknown_poll_s=0.05)
    opts.update({k: v for k, v in overrides.items() if k not in _FOREIGN_OPTIONS})
    return KrakenConfig(rest_url=sim.base_url, api_key=DEMO_API_KEY, api_secret=DEMO_API_SECRET, **opts)


@contextlib.asynccontextmanager
async def adapter(sim: SimServer, warp: WarpClock, **kw: Any) -> AsyncIterator[KrakenAdapter]:
    stream_sleep = kw.pop("stream_sleep", None)
    ad = KrakenAdapter(config(sim, **kw), clock=warp, sleep=warp.sleep, stream_sleep=stream_sleep,
                       maintenance_interval_s=0.1)
    async with ad:
        yield ad


_STATUS = {"closed": "FILLED", "canceled": "CANCELED", "expired": "EXPIRED", "pending": "PENDING_NEW"}


class Counterparty:
    """A second account trading against ours, through plain signed REST."""

    def __init__(self, sim: SimServer, warp: WarpClock) -> None:
        cfg = KrakenConfig(rest_url=sim.base_url, api_key=OTHER_KEY, api_secret=OTHER_SECRET)
        limiter = RateLimiter([Bucket(REST_BUCKET, 1000, 60), Bucket(TRADE_BUCKET, 1000, 60)], clock=warp,
                              sleep=warp.sleep)
        self.http = KrakenHttp(cfg, server_clock=ServerClock(warp), limiter=limiter)

    async def order(self, symbol: str, side: str, qty: Decimal, price: Decimal, tif: str = "GTC") -> dict:
        """Place a limit order (``symbol`` in the engine's or the venue's spelling); its state after
        matching, with ``status`` spelled as the Binance harness does (NEW, PARTIALLY_FILLED, FILLED...)."""
        fields = [("ordertype", "limit"), ("pair", venue_symbol(symbol)), ("price", str(price)),
                  ("type", side.lower()), ("volume", str(qty))]
        if tif != "GTC":
            fields.append(("timeinforce", tif))
        txid = (await self.http.private("AddOrder", fields))["txid"][0]
        info = (await self.http.private("QueryOrders", [("txid", txid)]))[txid]
        status = _STATUS.get(info["status"]) or ("PARTIALLY_FILLED" if Decimal(info["vol_exec"]) else "NEW")
        return {"txid": txid, "status": status, "order": info}

    async def aclose(self) -> None:
        await self.http.aclose()


async def book_top(ad: KrakenAdapter, symbol: str) -> tuple[Decimal, Decimal]:
    """Best bid and ask of ``symbol`` (engine or venue spelling), from the public Depth."""
    pair = venue_symbol(symbol)
    depth = await ad.http.public("/0/public/Depth", [("pair", pair), ("count", "5")])
    book = next(iter(depth.values()))
    return Decimal(book["bids"][0][0]), Decimal(book["asks"][0][0])
