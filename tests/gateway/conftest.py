"""Fixtures for end-to-end tests: a simulated exchange (real HTTP/WS on loopback) and a running gateway."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import anyio
import pytest

from fixgw.config import Config, Limits, default_config
from fixgw.gateway import Gateway
from fixgw.sim import ApiKey, LimitConfig, NewOrder, SimConfig, SimServer

API_KEY = "e2e-key-" + "0" * 20
API_SECRET = "e2e-secret-" + "1" * 40
COUNTERPARTY = "counterparty"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sim() -> Iterator[SimServer]:
    cfg = SimConfig(
        market_maker=None,
        api_keys=(ApiKey(api_key=API_KEY, account_id="gw", secret=API_SECRET),),
        limits=LimitConfig(weight_per_minute=1_000_000, orders_per_10s=1_000_000, orders_per_day=10_000_000),
    )
    server = SimServer(cfg)
    server.start()
    try:
        server.call(lambda st: st.engine.add_account(COUNTERPARTY, {"BTC": Decimal(1000), "USDT": Decimal(10**9),
                                                                   "ETH": Decimal(1000)}))
        yield server
    finally:
        server.stop()


def gateway_config(sim: SimServer, store: Path | None = None, limits: Limits | None = None) -> Config:
    cfg = default_config(port=0, store_path=store)
    cfg = cfg.with_venue("sim", rest_url=sim.base_url, ws_url=sim.ws_api_url, api_key=API_KEY,
                         api_secret=API_SECRET, orders_per_10s=1_000_000, weight_per_minute=1_000_000)
    if limits is not None:
        cfg = replace(cfg, sessions=tuple(replace(s, limits=limits) for s in cfg.sessions))
    return cfg


@contextlib.asynccontextmanager
async def running_gateway(config: Config, **kw: Any) -> AsyncIterator[Gateway]:
    gw = Gateway(config, **kw)
    async with anyio.create_task_group() as tg:
        await tg.start(gw.run)
        try:
            yield gw
        finally:
            gw.stop()


def place(sim: SimServer, side: str, qty: str, price: str | None = None, *, symbol: str = "BTCUSDT",
          order_type: str | None = None, tif: str | None = "GTC") -> Any:
    """Place a counterparty order straight into the simulator's engine (not through the gateway)."""
    if order_type is None:
        order_type = "LIMIT" if price is not None else "MARKET"
    req = NewOrder(symbol=symbol, side=side, type=order_type, quantity=Decimal(qty),
                   price=Decimal(price) if price is not None else None,
                   time_in_force=tif if order_type == "LIMIT" else None)

    def run(st: Any) -> Any:
        result = st.engine.place(COUNTERPARTY, req, st.now_ms())
        st.publish()
        return result

    return sim.call(run)
