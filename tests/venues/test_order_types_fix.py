"""Order types end to end: FIX client (and the bridge) -> gateway -> simulated Binance over real loopback sockets.

Take-profit is OrdType J (FIX 4.4 Market If Touched) with StopPx, iceberg is MaxFloor (111), post-only is
ExecInst (18) 6; a feature the venue or the symbol lacks is refused by the gateway before sending: an
ExecutionReport rejection with a Text that says so (FIX), 422 ``unsupported_order`` (bridge).
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from decimal import Decimal
from typing import Any, AsyncIterator, Iterator

import anyio
import pytest
from gateway.conftest import API_KEY, API_SECRET, gateway_config, place, running_gateway
from gateway.fixclient import FixClient, dec

from fixgw.bridge import AsyncBridgeClient, BridgeKey, KeyRing, Permission
from fixgw.bridge.launch import run_bridge
from fixgw.config import BridgeConfig
from fixgw.gateway import Gateway
from fixgw.sim import ApiKey, LimitConfig, SimConfig, SimServer

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

D = Decimal
TRADER_SECRET = "order-types-trader-secret-5c1e7a9d3b20f846"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sim() -> Iterator[SimServer]:
    """Empty books; ETHUSDT takes no iceberg and no take-profit limit (as a symbol's exchangeInfo may say)."""
    cfg = SimConfig(market_maker=None, api_keys=(ApiKey(api_key=API_KEY, account_id="gw", secret=API_SECRET),),
                    limits=LimitConfig(weight_per_minute=1_000_000, orders_per_10s=1_000_000,
                                       orders_per_day=10_000_000))
    server = SimServer(cfg)
    server.start()

    def setup(st: Any) -> None:
        st.engine.add_account("counterparty", {"BTC": D(1000), "USDT": D(10**9), "ETH": D(1000)})
        eth = st.engine.instruments["ETHUSDT"]
        st.engine.instruments["ETHUSDT"] = replace(
            eth, iceberg_allowed=False, order_types=tuple(t for t in eth.order_types if t != "TAKE_PROFIT_LIMIT"))

    try:
        server.call(setup)
        yield server
    finally:
        server.stop()


def _open_orders(sim: SimServer, symbol: str = "BTCUSDT") -> list[Any]:
    return sim.call(lambda st: [o.copy() for o in st.engine.open_orders("gw", symbol)])


async def _client(gw: Gateway) -> FixClient:
    c = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
    await c.connect(gw.port)
    return c


async def test_fix_take_profit_ord_type_j_rests_then_fills_when_the_price_rises_to_it(sim: SimServer) -> None:
    async with running_gateway(gateway_config(sim)) as gw:
        c = await _client(gw)
        await c.new_order("TP1", "2", "0.001", ord_type="J", stop="60500")
        (new,) = await c.reports("TP1", 1)
        assert (new[150], new[39], new[40]) == (b"0", b"0", b"J")
        (venue,) = _open_orders(sim)
        assert (venue.type, venue.stop_price, venue.triggered) == ("TAKE_PROFIT", D("60500"), False)
        place(sim, "BUY", "0.002", "61000")
        place(sim, "SELL", "0.001", "61000")  # the market trades at 61000: the take-profit fires
        fill = (await c.reports("TP1", 2))[1]
        assert (fill[150], fill[39], dec(fill, 32), dec(fill, 31)) == (b"F", b"2", D("0.001"), D("61000"))
        await c.logout()


async def test_fix_max_floor_sent_to_the_venue_as_an_iceberg(sim: SimServer) -> None:
    async with running_gateway(gateway_config(sim)) as gw:
        c = await _client(gw)
        await c.new_order("IC1", "1", "0.01", price="50000", extra=[(111, "0.002")])
        (new,) = await c.reports("IC1", 1)
        assert (new[150], new[39]) == (b"0", b"0")
        (venue,) = _open_orders(sim)
        assert (venue.iceberg_qty, venue.orig_qty, venue.type) == (D("0.002"), D("0.01"), "LIMIT")
        await c.logout()


async def test_fix_iceberg_on_a_symbol_without_it_rejected_before_sending_with_the_reason(sim: SimServer) -> None:
    async with running_gateway(gateway_config(sim)) as gw:
        c = await _client(gw)
        await c.new_order("IC2", "1", "0.1", symbol="ETH/USDT", price="2000", extra=[(111, "0.05")])
        (rej,) = await c.reports("IC2", 1)
        assert (rej[150], rej[39], rej[103]) == (b"8", b"8", b"11")  # 11: unsupported order characteristic
        assert b"iceberg orders are not allowed on ETH/USDT" in rej[58]
        assert _open_orders(sim, "ETHUSDT") == []  # nothing reached the venue
        await c.logout()


async def test_fix_iceberg_of_too_many_parts_rejected_before_sending(sim: SimServer) -> None:
    async with running_gateway(gateway_config(sim)) as gw:
        c = await _client(gw)
        await c.new_order("IC3", "1", "0.011", price="50000", extra=[(111, "0.001")])
        (rej,) = await c.reports("IC3", 1)
        assert (rej[150], rej[39]) == (b"8", b"8")
        assert b"more than 10 parts" in rej[58]
        assert _open_orders(sim) == []
        await c.logout()


async def test_fix_post_only_rests_as_limit_maker_and_a_crossing_one_is_rejected(sim: SimServer) -> None:
    async with running_gateway(gateway_config(sim)) as gw:
        c = await _client(gw)
        place(sim, "SELL", "0.001", "60000")
        await c.new_order("PO1", "1", "0.001", price="59990", extra=[(18, "6")])
        (new,) = await c.reports("PO1", 1)
        assert new[150] == b"0"
        (venue,) = _open_orders(sim)
        assert venue.type == "LIMIT_MAKER"
        await c.new_order("PO2", "1", "0.001", price="60000", extra=[(18, "6")])
        (rej,) = await c.reports("PO2", 1)  # the venue's refusal: it would take
        assert (rej[150], rej[39]) == (b"8", b"8")
        assert b"would immediately match and take" in rej[58]
        await c.logout()


@contextlib.asynccontextmanager
async def _stack(sim: SimServer) -> AsyncIterator[str]:
    cfg = gateway_config(sim)
    gw = Gateway(cfg)
    keys = KeyRing((BridgeKey("trader", TRADER_SECRET, {Permission.READ, Permission.TRADE}),))
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            port = await tg.start(run_bridge, gw, BridgeConfig(port=0), keys)
            await tg.start(gw.run)
            try:
                yield f"http://127.0.0.1:{port}"
            finally:
                gw.stop()
                tg.cancel_scope.cancel()


async def test_bridge_unsupported_order_answered_422_and_nothing_made(sim: SimServer) -> None:
    async with _stack(sim) as url, AsyncBridgeClient(url, "trader", TRADER_SECRET, timeout=10) as c:
        body = {"client_order_id": "TPL1", "symbol": "ETH/USDT", "side": "sell", "type": "take_profit_limit",
                "quantity": "0.1", "price": "3100", "trigger_price": "3100"}
        r = await c.send("POST", "/v1/orders", json=body)
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "unsupported_order"
        assert "order type TAKE_PROFIT_LIMIT not allowed on ETH/USDT" in error["message"]
        iceberg = {"client_order_id": "ICE1", "symbol": "ETH/USDT", "side": "buy", "type": "limit",
                   "quantity": "0.1", "price": "2000", "display_quantity": "0.05"}
        r = await c.send("POST", "/v1/orders", json=iceberg)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "unsupported_order")
        assert (await c.get("/v1/orders"))["orders"] == []
        ok = await c.send("POST", "/v1/orders", json={**iceberg, "client_order_id": "ICE2", "symbol": "BTC/USDT",
                                                      "price": "50000"})
        assert ok.status_code == 201, ok.text
        with anyio.fail_after(10):
            while not _open_orders(sim):
                await anyio.sleep(0.02)
        assert _open_orders(sim)[0].iceberg_qty == D("0.05")
