"""Several venues in one gateway: adapters by kind, one simulator per simulated venue, one client symbol.

Real simulators on loopback (``fixgw.cli.start_simulators``), the venues' own instrument payloads
through their adapters' parsers, and the arbitrage demo run as an operator runs it (two processes).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
import re
import subprocess
import sys
import threading
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from fixgw.cli import start_simulators
from fixgw.config import VenueConfig, arbitrage_config, default_config
from fixgw.errors import ConfigError
from fixgw.gateway._wiring import default_adapter_factory, venue_symbol_map
from fixgw.venues.base import Instrument

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- one client symbol, each venue's spelling ------------------------------------------------------


def _instrument(symbol: str, venue_symbol: str, base: str, quote: str) -> Instrument:
    return Instrument(symbol=symbol, venue_symbol=venue_symbol, base=base, quote=quote, tick_size=D("0.01"))


@pytest.mark.parametrize("listed,venue_symbol", [
    (_instrument("BTC/USDT", "BTCUSDT", "BTC", "USDT"), "BTCUSDT"),  # Binance
    (_instrument("BTC/USDT", "BTC-USDT", "BTC", "USDT"), "BTC-USDT"),  # Coinbase
    (_instrument("BTC/USDT", "XBTUSDT", "BTC", "USDT"), "XBTUSDT"),  # Kraken, its adapter resolving XBT
    (_instrument("XBT/USDT", "XBTUSDT", "XBT", "USDT"), "XBTUSDT"),  # Kraken, as its pair names it
    (_instrument("XXBT/USDT", "XBTUSDT", "XXBT", "USDT"), "XBTUSDT"),  # Kraken's REST asset code
])
def test_venue_symbol_map_one_client_symbol_reaches_each_venue_spelling(listed: Instrument, venue_symbol: str) -> None:
    other = _instrument("ETH/USDT", "ETHUSDT", "ETH", "USDT")
    symbols = venue_symbol_map([listed, other], "{base}/{quote}")
    norm = symbols.normalized("BTC/USDT")
    assert norm == listed.symbol and {i.symbol: i for i in (listed, other)}[norm].venue_symbol == venue_symbol
    assert symbols.client(listed.symbol) == "BTC/USDT"
    assert "XBT/USDT" not in symbols and symbols.normalized("ETH/USDT") == "ETH/USDT"
    assert venue_symbol_map([listed], "{base}-{quote}").normalized("BTC-USDT") == listed.symbol


def _parsed(kind: str) -> list[Instrument]:
    """A venue's instruments as its adapter parses its documented instrument list."""
    parsing = importlib.import_module(f"fixgw.venues.{kind}.parsing")
    if kind == "binance":
        from fixgw.sim.instruments import default_instruments

        return parsing.parse_exchange_info({"symbols": [s.symbol_json() for s in default_instruments()]})
    if kind == "coinbase":
        return parsing.parse_products([{
            "id": "BTC-USDT", "base_currency": "BTC", "quote_currency": "USDT", "quote_increment": "0.01",
            "base_increment": "0.00000001", "min_market_funds": "1", "status": "online", "trading_disabled": False}])
    return parsing.parse_asset_pairs({"XBTUSDT": {
        "altname": "XBTUSDT", "wsname": "XBT/USDT", "base": "XXBT", "quote": "USDT", "pair_decimals": 1,
        "lot_decimals": 8, "tick_size": "0.1", "ordermin": "0.0001", "costmin": "0.5", "status": "online"}})


@pytest.mark.parametrize("kind,venue_symbol", [("binance", "BTCUSDT"), ("coinbase", "BTC-USDT"), ("kraken", "XBTUSDT")])
def test_venue_symbol_map_from_parsed_instrument_lists_btc_usdt_reaches_the_venue(kind: str, venue_symbol: str) -> None:
    instruments = {i.symbol: i for i in _parsed(kind)}
    norm = venue_symbol_map(instruments.values(), "{base}/{quote}").normalized("BTC/USDT")
    assert norm is not None and instruments[norm].venue_symbol == venue_symbol


# -- adapters by kind ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind,config_class", [("coinbase", "CoinbaseConfig"), ("kraken", "KrakenConfig")])
def test_default_adapter_factory_builds_coinbase_and_kraken_or_says_why(kind: str, config_class: str) -> None:
    venue = VenueConfig(name="v", kind=kind, rest_url="http://127.0.0.1:1", ws_url="ws://127.0.0.1:1",
                        api_key="k", api_secret="c2VjcmV0", api_passphrase="p")
    package = importlib.import_module(f"fixgw.venues.{kind}")
    if not hasattr(getattr(package, config_class), "from_venue_config"):
        with pytest.raises(ConfigError) as info:
            default_adapter_factory(venue)
        assert info.value.key == "venues.v.kind" and kind in str(info.value)
        return
    adapter = default_adapter_factory(venue)
    assert type(adapter).__module__.startswith(f"fixgw.venues.{kind}")
    assert adapter.config.name == "v" and adapter.config.rest_url == "http://127.0.0.1:1"


# -- one simulator per simulated venue -------------------------------------------------------------


async def _top(url: str) -> tuple[D, D]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        depth = (await http.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 1})).json()
    return D(depth["bids"][0][0]), D(depth["asks"][0][0])


async def test_start_simulators_arbitrage_demo_two_simulators_quoting_their_prices() -> None:
    async with start_simulators(arbitrage_config(port=0, beta_kind="binance")) as config:
        alpha, beta = config.venues
        assert alpha.rest_url != beta.rest_url and alpha.api_key != beta.api_key and alpha.api_secret
        assert alpha.ws_url.endswith("/ws-api/v3") and beta.ws_url.endswith("/ws-api/v3")
        (a_bid, a_ask), (b_bid, b_ask) = await _top(alpha.rest_url), await _top(beta.rest_url)
    a_mid, b_mid = (a_bid + a_ask) / 2, (b_bid + b_ask) / 2
    # each maker starts at its price and walks (5 bp a step); one seed walks both alike, so the gap stays
    assert abs(a_mid - D("41000")) < D("200") and abs(b_mid - D("41200")) < D("200")
    assert D("150") < b_mid - a_mid < D("250") and b_bid > a_ask
    with pytest.raises(httpx.TransportError):  # stopped on exit
        await _top(alpha.rest_url)


async def test_start_simulators_unknown_instrument_in_sim_prices_refused_naming_it() -> None:
    config = default_config(port=0)
    config = config.with_venue("sim", sim_prices=(("DOGE/USDT", D("1")),))
    with pytest.raises(ConfigError) as info:
        async with start_simulators(config):
            pass  # pragma: no cover - refused before
    assert info.value.key == "venues.sim.sim_prices.DOGE/USDT" and "BTC/USDT" in str(info.value)


@pytest.mark.parametrize("kind", ["coinbase", "kraken"])
async def test_start_simulators_coinbase_kraken_dialect_each_with_its_credentials(kind: str) -> None:
    config = default_config(port=0).with_venue("sim", kind=kind)
    try:
        importlib.import_module(f"fixgw.sim.{kind}.app")
    except ModuleNotFoundError:
        with pytest.raises(ConfigError) as info:
            async with start_simulators(config):
                pass  # pragma: no cover - refused before
        assert info.value.key == "venues.sim.simulated"
        return
    async with start_simulators(config) as started:
        venue = started.venue("sim")
        assert venue.rest_url.startswith("http://127.0.0.1:") and venue.ws_url.startswith("ws://127.0.0.1:")
        assert (venue.api_passphrase != "") == (kind == "coinbase")
        import base64

        assert base64.b64decode(venue.api_secret, validate=True)  # both venues' secrets are base64


# -- the documented commands -----------------------------------------------------------------------


@pytest.mark.slow
def test_arbitrage_demo_and_example_as_documented_end_flat_with_pnl(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    gw = subprocess.Popen([sys.executable, "-m", "fixgw", "run", "--demo", "arbitrage", "--port", "0",
                           "--log-level", "WARNING"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    deadline = threading.Timer(90, gw.kill)  # a hung gateway fails the test instead of holding it
    deadline.start()
    try:
        assert gw.stdout is not None
        command = None
        for _ in range(200):
            line = gw.stdout.readline()
            if not line:
                break
            if "examples/arbitrage.py" in line:
                command = line
                break
        assert command is not None, "the banner names the example's command"
        args = command.split("examples/arbitrage.py", 1)[1].split()  # as printed; run from the same folder
        assert args[:4] == ["--bridge", args[1], "--key", "demo-trade"]
        run = subprocess.run([sys.executable, str(ROOT / "examples" / "arbitrage.py"), *args],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "gap: buy" in run.stdout and "on alpha" in run.stdout and "sell on beta" in run.stdout
        assert re.search(r"net position 0 BTC; P&L -?\d+(\.\d+)? USDT after", run.stdout), run.stdout
    finally:
        deadline.cancel()
        gw.terminate()
        try:
            gw.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            gw.kill()


def test_run_demo_and_config_exclusive_usage_error(tmp_path: Path) -> None:
    from fixgw import cli

    p = tmp_path / "c.toml"
    p.write_text("")
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "--demo", "arbitrage", "--config", str(p)])
    assert info.value.code == 2



@pytest.mark.slow
async def test_one_gateway_three_simulated_venues_same_client_symbol_reaches_each_engine(tmp_path: Path) -> None:
    """A bridge order for ``BTC/USDT`` in an account on each venue lands in each simulator's BTCUSDT book,
    sent as that venue spells it (``BTCUSDT``, ``BTC-USDT``, ``XBTUSDT``)."""
    from fixgw.bridge import AsyncBridgeClient, BridgeKey, KeyRing, Permission
    from fixgw.bridge.launch import run_bridge
    from fixgw.config import BridgeAccount, BridgeConfig
    from fixgw.gateway import Gateway

    kinds = ["binance"] + [k for k in ("coinbase", "kraken") if importlib.util.find_spec(f"fixgw.sim.{k}")]
    base = default_config(port=0)
    config = dataclasses.replace(
        base, venues=tuple(VenueConfig(name=k, kind=k, simulated=True) for k in kinds),
        sessions=tuple(dataclasses.replace(s, venue="binance") for s in base.sessions),
        bridge=dataclasses.replace(base.bridge, accounts=tuple(BridgeAccount(name=k, venue=k) for k in kinds)))
    secret = "multi-venue-trader-secret-8d2f6a1c0b9e4d73"
    keys = KeyRing([BridgeKey("trader", secret, {Permission.READ, Permission.TRADE})])
    starter = start_simulators(config)
    with anyio.fail_after(90):
        async with starter as config:
            gw = Gateway(config)
            async with anyio.create_task_group() as tg:
                port = await tg.start(run_bridge, gw, BridgeConfig(port=0), keys)
                await tg.start(gw.run)
                try:
                    async with AsyncBridgeClient(f"http://127.0.0.1:{port}", "trader", secret, timeout=10) as c:
                        for k in kinds:
                            await c.post("/v1/orders", {"client_order_id": f"mv-{k}", "account": k, "symbol": "BTC/USDT",
                                                        "side": "buy", "type": "limit", "quantity": "0.001",
                                                        "price": "20000", "time_in_force": "gtc"})
                        rows = {}
                        while len(rows) < len(kinds):
                            for k in kinds:
                                row = await c.get(f"/v1/orders/mv-{k}")
                                assert row["status"] not in ("rejected", "canceled"), row
                                if row["status"] == "new":
                                    rows[k] = row
                            await anyio.sleep(0.05)
                    for k in kinds:
                        placed = starter.servers[k].call(lambda st: [(o.side, o.price, o.orig_qty) for o in
                                                         st.engine.open_orders("demo", "BTCUSDT")])
                        assert placed == [("BUY", D("20000"), D("0.001"))], k
                    assert {r["symbol"] for r in rows.values()} == {"BTC/USDT"}
                finally:
                    gw.stop()
                    tg.cancel_scope.cancel()
