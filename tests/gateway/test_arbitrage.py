"""The arbitrage example over real sockets: two simulated exchanges, the gateway, the bridge, the strategy.

Venue ``alpha`` (Binance) offers BTC/USDT at 41,000 and venue ``beta`` (Binance, and Coinbase Exchange where
the build has it) bids 41,200 (a counterparty's resting
orders, no market maker, so every price is known). ``examples/arbitrage.py`` buys on alpha and sells
on beta through the bridge while leg B (beta) is made to fail: rejected by the venue, partly filled
then canceled, or placed with its answer lost. Each case checks what the venues recorded, not what the
strategy says: the net position is flat within one lot step, every client order id reached a venue at
most once, and the strategy's P&L is the arithmetic of the venues' own fills.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import sys
from collections import Counter
from decimal import Decimal as D
from pathlib import Path
from typing import Any, AsyncIterator

import anyio
import pytest

from fixgw.bridge import AsyncBridgeClient, BridgeKey, KeyRing, Permission
from fixgw.bridge.launch import run_bridge
from fixgw.config import BridgeConfig, arbitrage_config
from fixgw.gateway import Gateway
from fixgw.sim import ApiKey, LimitConfig, SimConfig, SimServer
from fixgw.sim.model import NewOrder

pytestmark = [pytest.mark.anyio]

_spec = importlib.util.spec_from_file_location("arbitrage_example",
                                               Path(__file__).resolve().parents[2] / "examples" / "arbitrage.py")
assert _spec is not None and _spec.loader is not None
arbitrage = importlib.util.module_from_spec(_spec)
sys.modules["arbitrage_example"] = arbitrage  # dataclasses look their module up while building
_spec.loader.exec_module(arbitrage)

# The secret is valid base64 too: Coinbase signs with the decoded secret.
API_KEY, API_SECRET = "arbGatewayKey" + "0" * 51, "arbGatewaySecret" + "0" * 48
TRADER_SECRET = "arb-trader-secret-5f1c9e02b7d4a3866c0e1f9b2d7a4c53"
LOT = D("0.00001")
QTY = D("0.5")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _sim(dialect: str = "binance") -> SimServer:
    cfg = SimConfig(market_maker=None, api_keys=(ApiKey(api_key=API_KEY, account_id="gw", secret=API_SECRET),),
                    limits=LimitConfig(weight_per_minute=1_000_000, orders_per_10s=1_000_000, orders_per_day=10_000_000),
                    dialect=dialect)
    server = SimServer(cfg).start()
    server.dialect = dialect
    server.call(lambda st: st.engine.add_account("cp", {"BTC": D(1000), "USDT": D(10**9)}))
    return server


#: the API leg B's venue speaks: Binance, and Coinbase Exchange where this build has its simulator
BETA_KINDS = ["binance"] + (["coinbase"] if importlib.util.find_spec("fixgw.sim.coinbase") else [])


@pytest.fixture(params=BETA_KINDS)
def sims(request: pytest.FixtureRequest) -> Any:
    alpha, beta = _sim(), _sim(request.param)
    try:
        yield {"alpha": alpha, "beta": beta}
    finally:
        alpha.stop()
        beta.stop()


def _rest(sim: SimServer, side: str, qty: str, price: str) -> int:
    """Rest a counterparty limit order in ``sim``'s BTCUSDT book; return its order id."""
    req = NewOrder(symbol="BTCUSDT", side=side, type="LIMIT", quantity=D(qty), price=D(price), time_in_force="GTC")

    def run(st: Any) -> int:
        result = st.engine.place("cp", req, st.now_ms())
        st.publish()
        return int(result.order.order_id)

    return sim.call(run)


def _markets(sims: dict[str, SimServer]) -> dict[str, int]:
    """alpha asks 0.5 at 41,000 (bids 40,990 behind); beta bids 0.5 at 41,200 (asks 41,210 above)."""
    return {"alpha_ask": _rest(sims["alpha"], "SELL", "0.5", "41000"), "alpha_bid": _rest(sims["alpha"], "BUY", "5", "40990"),
            "beta_bid": _rest(sims["beta"], "BUY", "0.5", "41200"), "beta_ask": _rest(sims["beta"], "SELL", "5", "41210")}


@contextlib.asynccontextmanager
async def _stack(sims: dict[str, SimServer]) -> AsyncIterator[AsyncBridgeClient]:
    """The arbitrage demo's configuration on these simulators, its bridge, and a trading client."""
    config = arbitrage_config(port=0, beta_kind=sims["beta"].dialect)
    for name, sim in sims.items():
        if sim.dialect == "coinbase":
            from fixgw.sim.coinbase import DEMO_PASSPHRASE, feed_url

            config = config.with_venue(name, rest_url=sim.base_url, ws_url=feed_url(sim.base_url), api_key=API_KEY,
                                       api_secret=API_SECRET, api_passphrase=DEMO_PASSPHRASE)
        else:
            config = config.with_venue(name, rest_url=sim.base_url, ws_url=sim.ws_api_url, api_key=API_KEY,
                                       api_secret=API_SECRET)
    config = dataclasses.replace(config, gateway=dataclasses.replace(config.gateway, port=0))
    gw = Gateway(config)
    keys = KeyRing([BridgeKey("trader", TRADER_SECRET, {Permission.READ, Permission.TRADE})])
    with anyio.fail_after(90):
        async with anyio.create_task_group() as tg:
            port = await tg.start(run_bridge, gw, BridgeConfig(port=0), keys)
            await tg.start(gw.run)
            try:
                async with AsyncBridgeClient(f"http://127.0.0.1:{port}", "trader", TRADER_SECRET, timeout=10) as c:
                    yield c
            finally:
                gw.stop()
                tg.cancel_scope.cancel()


def _strategy(client: AsyncBridgeClient, sims: dict[str, SimServer], **kw: Any) -> Any:
    lines: list[str] = []
    arb = arbitrage.Arbitrage(client, {"alpha": "alpha", "beta": "beta"}, max_qty=D("1"), lot_step=LOT,
                              venue_urls={n: s.base_url for n, s in sims.items()}, leg_timeout=1.0,
                              settle_timeout=15.0, out=lines.append, **kw)
    arb.lines = lines
    return arb


def _venue_orders(sim: SimServer) -> list[Any]:
    return sim.call(lambda st: [o for o in st.engine.orders["BTCUSDT"].values() if o.account_id == "gw"])


def _venue_fills(sim: SimServer) -> list[Any]:
    return sim.call(lambda st: list(st.engine.fills.get("gw", [])))


def _check_venues(sims: dict[str, SimServer], result: Any) -> None:
    """Flat, nothing placed twice, and the strategy's P&L is the arithmetic of the venues' fills."""
    assert abs(result.position) < LOT, result
    for name, sim in sims.items():
        orders = _venue_orders(sim)
        per_id = Counter(o.client_order_id for o in orders)
        assert all(n == 1 for n in per_id.values()), per_id
        # one venue order per leg the venue took (a rejected one leaves none)
        assert len(orders) == len([leg for leg in result.legs if leg.venue == name and leg.status != "rejected"])
    position = cash = fees = D(0)
    for sim in sims.values():
        for f in _venue_fills(sim):
            sign = 1 if f.is_buyer else -1
            position += sign * f.qty
            cash -= sign * f.qty * f.price
            fees += f.commission if f.commission_asset == "USDT" else f.commission * f.price
    assert position == result.position
    assert cash - fees == result.pnl and fees == result.fees
    assert sorted((f.qty, f.px) for f in result.fills) == sorted(
        (f.qty, f.price) for sim in sims.values() for f in _venue_fills(sim))


async def test_arbitrage_both_legs_fill_flat_and_pnl_is_the_gap_after_fees(sims: dict[str, SimServer]) -> None:
    _markets(sims)
    async with _stack(sims) as client:
        arb = _strategy(client, sims)
        result = await arb.run_once()
    assert result is not None
    opp = result.opportunity
    assert (opp.buy_venue, opp.sell_venue, opp.buy_px, opp.sell_px, opp.qty) == ("alpha", "beta", 41000, 41200, QTY)
    assert [(leg.role, leg.status, leg.cum_qty) for leg in result.legs] == [("buy", "filled", QTY), ("sell", "filled", QTY)]
    # 0.5 x 200 earned; fees 0.1 % of each side: 0.0005 BTC at 41,000 and 20.6 USDT
    assert result.pnl == D("100") - D("20.5") - D("20.6")
    _check_venues(sims, result)


async def test_arbitrage_leg_b_rejected_leg_a_unwound_on_its_venue(sims: dict[str, SimServer]) -> None:
    _markets(sims)
    sims["beta"].call(lambda st: st.engine.credit("gw", "BTC", -st.engine.accounts["gw"].free("BTC"), st.now_ms()))
    async with _stack(sims) as client:
        result = await _strategy(client, sims).run_once()
    buy, sell, *unwind = result.legs
    assert (buy.status, buy.cum_qty, sell.status, sell.cum_qty) == ("filled", QTY, "rejected", 0)
    assert [(u.venue, u.side, u.qty, u.status) for u in unwind] == [("alpha", "sell", QTY, "filled")]
    assert result.pnl == QTY * (40990 - 41000) - D("20.5") - QTY * 40990 * D("0.001")
    assert len(_venue_orders(sims["beta"])) == 0  # refused: nothing rests there
    _check_venues(sims, result)


async def test_arbitrage_leg_b_partly_filled_then_canceled_excess_unwound(sims: dict[str, SimServer]) -> None:
    ids = _markets(sims)

    async def fade(_opp: Any) -> None:  # the quote fades between reading the book and sending the orders
        beta = sims["beta"]
        beta.call(lambda st: (st.engine.cancel("cp", "BTCUSDT", st.now_ms(), order_id=ids["beta_bid"]), st.publish()))
        _rest(beta, "BUY", "0.2", "41200")

    async with _stack(sims) as client:
        result = await _strategy(client, sims, on_opportunity=fade).run_once()
    buy, sell, *unwind = result.legs
    assert (buy.status, buy.cum_qty) == ("filled", QTY)
    assert (sell.status, sell.cum_qty) == ("canceled", D("0.2"))
    assert [(u.venue, u.side, u.qty, u.status) for u in unwind] == [("alpha", "sell", D("0.3"), "filled")]
    assert not any(o.status == "NEW" for o in _venue_orders(sims["beta"]))  # the rest was canceled
    _check_venues(sims, result)


@pytest.mark.parametrize("mode", ["error", "drop"])
async def test_arbitrage_leg_b_answer_lost_but_placed_found_once_no_unwind(sims: dict[str, SimServer],
                                                                           mode: str) -> None:
    _markets(sims)
    sims["beta"].set_faults(order_timeouts=1, order_timeout_mode=mode)
    async with _stack(sims) as client:
        result = await _strategy(client, sims).run_once()
    buy, sell, *unwind = result.legs
    assert (buy.status, buy.cum_qty, sell.status, sell.cum_qty) == ("filled", QTY, "filled", QTY)
    assert unwind == []  # both legs done: nothing to flatten
    assert sims["beta"].call(lambda st: st.faults.order_timeouts) == 0  # the fault did fire
    assert len(_venue_orders(sims["beta"])) == 1  # found by reconciliation, never sent again
    _check_venues(sims, result)


def test_find_opportunity_needs_the_gap_to_beat_both_fees() -> None:
    q = arbitrage.Quote
    quotes = [q("a", D("40990"), D("1"), D("41000"), D("0.5")), q("b", D("41200"), D("0.3"), D("41210"), D("1"))]
    opp = arbitrage.find_opportunity(quotes, fee_rate=D("0.001"), min_edge_bp=D("1"), max_qty=D("1"), lot_step=LOT)
    assert (opp.buy_venue, opp.sell_venue, opp.qty) == ("a", "b", D("0.3"))
    assert opp.edge == D("41200") * D("0.999") - D("41000") * D("1.001")
    assert arbitrage.find_opportunity(quotes, fee_rate=D("0.003"), min_edge_bp=D("1"), max_qty=D("1"),
                                      lot_step=LOT) is None  # 200 apart does not pay 0.3 % twice


def test_profit_and_loss_values_base_fees_at_the_fill_price() -> None:
    f = arbitrage.Fill
    fills = [f("a", "buy", D("0.5"), D("41000"), D("0.0005"), "BTC"), f("b", "sell", D("0.5"), D("41200"), D("20.6"), "USDT")]
    assert arbitrage.profit_and_loss(fills, "BTC", "USDT") == (D("0"), D("100") - D("20.5") - D("20.6"), D("41.1"))
    with pytest.raises(ValueError):
        arbitrage.profit_and_loss([f("a", "buy", D("1"), D("1"), D("1"), "BNB")], "BTC", "USDT")
