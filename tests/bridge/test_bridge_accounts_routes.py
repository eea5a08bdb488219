"""Balances, positions and instruments on the bridge, over a running gateway on the simulator.

Real loopback sockets throughout: the simulator (REST/WS), the gateway, the bridge under uvicorn and the
signing client. Balances are compared with the simulator's own account, instruments with its
exchangeInfo filters, positions with the arithmetic of the fills the bridge lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from bridge_helpers import ADMIN_SECRET, READ_SECRET, error_of
from gateway.fixclient import FixClient
from test_bridge_gateway import _sell, sim, stack  # noqa: F401  (sim: a fixture)
from test_bridge_key_accounts import ACCOUNT_KEYS, DEMO_SECRET, NONE_SECRET, OMS_SECRET, buy, client

from fixgw.bridge import AsyncBridgeClient
from fixgw.bridge.accounts import Position, PositionLedger, venue_failure
from fixgw.bridge.errors import CODES
from fixgw.errors import (
    TransportError,
    VenueAuthError,
    VenueBanned,
    VenueRateLimited,
    VenueRejected,
    VenueUnknownOutcome,
)
from fixgw.gateway._feed import EventFeed
from fixgw.orders import OrderAccepted, OrderBook, OrderFilled, OrderSubmitted, SubmitOrder
from fixgw.orders.enums import OrderSide, OrderType
from fixgw.sim import NewOrder, SimServer
from fixgw.stores.journal_sqlite import SqliteOrderJournal

pytestmark = [pytest.mark.anyio]


def _buy_from_sim(sim: SimServer, qty: str, price: str) -> None:
    """Rest a counterparty buy in the simulator's book, so a gateway sell at that price fills."""
    req = NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal(qty), price=Decimal(price),
                   time_in_force="GTC")

    def run(st: Any) -> None:
        st.engine.place("cp", req, st.now_ms())
        st.publish()

    sim.call(run)


def _sim_balances(sim: SimServer, account: str = "gw") -> dict[str, tuple[Decimal, Decimal]]:
    def read(st: Any) -> dict[str, tuple[Decimal, Decimal]]:
        return {a: (Decimal(f), Decimal(lk)) for a, (f, lk) in st.engine.accounts[account].balances.items() if f or lk}

    return sim.call(read)


def _count_account_calls(gw: Any) -> list[str]:
    """Wrap the adapter's REST client so every ``/api/v3/account`` request is counted (and still sent)."""
    http = gw._venues["sim"].adapter.http
    seen: list[str] = []
    real = http.request

    async def counting(method: str, path: str, *a: Any, **kw: Any) -> Any:
        if path == "/api/v3/account":
            seen.append(method)
        return await real(method, path, *a, **kw)

    http.request = counting
    return seen


async def _wait_fills(c: AsyncBridgeClient, n: int) -> list[dict[str, Any]]:
    with anyio.fail_after(10):
        while len(rows := (await c.get("/v1/fills"))["fills"]) < n:
            await anyio.sleep(0.02)
    return rows


def _expected_positions(fills: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(account, symbol) -> what the position must say, from the fills' own numbers."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for f in fills:
        p = out.setdefault((f["account"], f["symbol"]), {"bought": Decimal(0), "sold": Decimal(0), "bq": Decimal(0),
                                                         "sq": Decimal(0), "fees": {}, "fills": 0})
        qty, px = Decimal(f["last_qty"]), Decimal(f["last_px"])
        side = "bought" if f["side"] == "buy" else "sold"
        p[side] += qty
        p["bq" if side == "bought" else "sq"] += qty * px
        if Decimal(f["fee"]):
            p["fees"][f["fee_currency"]] = p["fees"].get(f["fee_currency"], Decimal(0)) + Decimal(f["fee"])
        p["fills"] += 1
    return out


def _check_position(row: dict[str, Any], want: dict[str, Any]) -> None:
    assert Decimal(row["bought"]) == want["bought"] and Decimal(row["sold"]) == want["sold"]
    assert Decimal(row["quantity"]) == want["bought"] - want["sold"]
    assert Decimal(row["quote_flow"]) == want["sq"] - want["bq"]
    if want["bought"]:
        assert Decimal(row["avg_buy_price"]) == want["bq"] / want["bought"]
    else:
        assert row["avg_buy_price"] is None
    if want["sold"]:
        assert Decimal(row["avg_sell_price"]) == want["sq"] / want["sold"]
    assert {a: Decimal(v) for a, v in row["fees"].items()} == want["fees"]
    assert row["fills"] == want["fills"] and row["last_fill_at"].endswith("Z")


# -- balances ----------------------------------------------------------------------------------------


async def test_bridge_balances_equal_the_simulator_account_in_one_venue_call(sim: SimServer) -> None:
    async with stack(sim, keys=ACCOUNT_KEYS) as (gw, url), client(url, "reader", READ_SECRET) as c, \
            client(url, "admin", ADMIN_SECRET) as admin:
        _sell(sim, "0.1", "50000")
        await admin.post("/v1/orders", buy("B1", price="50000", quantity="0.1"))  # a fill and a resting order
        await admin.post("/v1/orders", buy("B2", price="40000", quantity="0.2"))
        await _wait_fills(admin, 1)
        calls = _count_account_calls(gw)
        with anyio.fail_after(10):
            while not _sim_balances(sim)["USDT"][1]:  # B2's lock lands in the simulator with its acceptance
                await anyio.sleep(0.02)
        want = _sim_balances(sim)  # nothing moves any more: one fill done, one order resting
        body = await admin.get("/v1/balances", params={"venue": "sim"})
        (row,) = body["venues"]
        assert row["venue"] == "sim" and row["error"] is None and row["as_of"].endswith("Z")
        got = {b["asset"]: (Decimal(b["free"]), Decimal(b["locked"])) for b in row["balances"]}
        assert got == want and len(got) >= 2  # every asset, from one answer
        assert all(Decimal(b["total"]) == Decimal(b["free"]) + Decimal(b["locked"]) for b in row["balances"])
        assert got["USDT"][1] == Decimal("8000")  # 0.2 x 40000 locked by B2
        assert calls == ["GET"]  # one venue request for every asset
        before = len(calls)
        await admin.get("/v1/balances")
        assert len(calls) == before + 1  # all assets of the venue: one request
        # A read-only key for every account reads them too.
        assert (await c.get("/v1/balances", params={"venue": "sim"}))["venues"][0]["venue"] == "sim"


async def test_bridge_balances_only_for_venues_of_the_keys_accounts(sim: SimServer) -> None:
    async with stack(sim, keys=ACCOUNT_KEYS) as (gw, url), client(url, "oms-only", OMS_SECRET) as oms, \
            client(url, "no-account", NONE_SECRET) as nobody:
        calls = _count_account_calls(gw)
        (row,) = (await oms.get("/v1/balances"))["venues"]
        assert row["venue"] == "sim" and row["accounts"] == ["oms"] and row["balances"]
        assert len(calls) == 1
        assert (await nobody.get("/v1/balances")) == {"venues": []}
        assert error_of(await nobody.send("GET", "/v1/balances", params={"venue": "sim"})) == (404, "not_found")
        assert error_of(await oms.send("GET", "/v1/balances", params={"venue": "nowhere"})) == (404, "not_found")
        assert len(calls) == 1  # nothing was asked of the venue for them
        async with httpx.AsyncClient() as h:  # unsigned
            for path in ("/v1/balances", "/v1/positions", "/v1/instruments"):
                assert error_of(await h.get(url + path))[0] == 401


async def test_bridge_balances_venue_ban_answers_503_with_the_error_shape(sim: SimServer) -> None:
    async with stack(sim, keys=ACCOUNT_KEYS) as (gw, url), client(url, "admin", ADMIN_SECRET) as admin:
        sim.set_faults(ban_seconds=30)
        status, code = error_of(await admin.send("GET", "/v1/balances", params={"venue": "sim"}))
        assert (status, code) == (503, "venue_unavailable")
        (row,) = (await admin.get("/v1/balances"))["venues"]  # listing all: the venue's entry carries it
        assert row["balances"] == [] and row["error"]["code"] == "venue_unavailable"
        sim.reset_faults()


@pytest.mark.parametrize(("exc", "status", "code"), [
    (None, 503, "venue_unavailable"),  # no answer in time
    (VenueRateLimited("429", retry_after=7.0), 503, "venue_unavailable"),
    (VenueBanned("418", until_ns=1), 503, "venue_unavailable"),
    (VenueUnknownOutcome("timeout"), 503, "venue_unavailable"),
    (TransportError("refused"), 503, "venue_unavailable"),
    (VenueAuthError("-2015: Invalid API-key"), 502, "venue_error"),
    (VenueRejected(-1000, "unknown"), 502, "venue_error"),
    (KeyError("balances"), 502, "venue_error"),
    (VenueRejected("LOCAL", "no balances", reason="unsupported"), 501, "unsupported"),
])
def test_venue_failure_each_error_kind_gets_its_status_and_code(exc: Any, status: int, code: str) -> None:
    err = venue_failure("sim\n", exc)
    assert (err.status, err.code) == (status, code) and err.code in CODES and CODES[err.code][0] == status
    assert "\n" not in str(err)
    if isinstance(exc, VenueRateLimited):
        assert err.headers == {"Retry-After": "7"}


# -- positions ---------------------------------------------------------------------------------------


async def test_bridge_positions_after_fills_equal_the_fills_arithmetic(sim: SimServer, ledgers: list[Any]) -> None:
    async with stack(sim, keys=ACCOUNT_KEYS) as (gw, url), client(url, "admin", ADMIN_SECRET) as admin, \
            client(url, "oms-only", OMS_SECRET) as oms, client(url, "demo-only", DEMO_SECRET) as demo:
        assert (await admin.get("/v1/positions")) == {"positions": []}
        _sell(sim, "0.1", "50000")
        _sell(sim, "0.05", "50010")
        await oms.post("/v1/orders", buy("P1", price="50010", quantity="0.15"))  # two fills, two prices
        fills = await _wait_fills(oms, 2)
        first = (await oms.get("/v1/positions"))["positions"]
        (want,) = _expected_positions(fills).values()
        assert len(first) == 1 and first[0]["account"] == "oms" and first[0]["symbol"] == "BTC/USDT"
        _check_position(first[0], want)
        # More fills after the first answer: a sale by the bridge account and a buy over FIX (account demo).
        _buy_from_sim(sim, "0.04", "49990")
        await oms.post("/v1/orders", {"client_order_id": "P2", "symbol": "BTC/USDT", "side": "sell", "type": "limit",
                                      "quantity": "0.04", "price": "49990"})
        _sell(sim, "0.02", "50100")
        fix = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await fix.connect(gw.port)
        await fix.new_order("F1", "1", "0.02", price="50100")
        fills = await _wait_fills(admin, 4)
        expected = _expected_positions(fills)
        rows = (await admin.get("/v1/positions"))["positions"]
        assert {(r["account"], r["symbol"]) for r in rows} == set(expected)
        for r in rows:
            _check_position(r, expected[(r["account"], r["symbol"])])
        assert ledgers[-1].scans == 1  # the later fills came from the feed, not a second scan
        # Per key: each sees its own account's position only; filters narrow.
        assert [r["account"] for r in (await oms.get("/v1/positions"))["positions"]] == ["oms"]
        assert [r["account"] for r in (await demo.get("/v1/positions"))["positions"]] == ["demo"]
        assert (await admin.get("/v1/positions", params={"symbol": "BTCUSDT", "account": "demo"}))["positions"] == [
            r for r in rows if r["account"] == "demo"]
        assert (await admin.get("/v1/positions", params={"symbol": "ETH/USDT"}))["positions"] == []
        await fix.logout()


@pytest.fixture
def ledgers(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The position ledgers the apps build, kept to read their scan counts (they run unchanged)."""
    from fixgw.bridge import accounts

    real = accounts.PositionLedger.__init__
    seen: list[Any] = []

    def init(self: Any, view: Any) -> None:
        real(self, view)
        seen.append(self)

    monkeypatch.setattr(accounts.PositionLedger, "__init__", init)
    return seen


async def test_bridge_positions_rebuilt_from_the_journal_after_a_restart(sim: SimServer, tmp_path: Any) -> None:
    store = tmp_path / "gw.sqlite"
    async with stack(sim, store_path=store, keys=ACCOUNT_KEYS) as (gw, url), \
            client(url, "admin", ADMIN_SECRET) as admin:
        _sell(sim, "0.1", "50000")
        await admin.post("/v1/orders", buy("R1", price="50000", quantity="0.1"))
        fills = await _wait_fills(admin, 1)
        before = (await admin.get("/v1/positions"))["positions"]
    async with stack(sim, store_path=store, keys=ACCOUNT_KEYS) as (gw, url), \
            client(url, "admin", ADMIN_SECRET) as admin:
        after = (await admin.get("/v1/positions"))["positions"]
    assert after == before and len(after) == 1
    _check_position(after[0], _expected_positions(fills)[("oms", "BTC/USDT")])


def test_position_sell_short_and_rebate_counted_exactly() -> None:
    p = Position("a", "v", "BTC/USDT")
    p.add(OrderSide.BUY, OrderFilled(order_id="o", ts_ns=1, trade_id="1", last_qty=Decimal("0.3"),
                                     last_px=Decimal("100.1"), fee=Decimal("0.0003"), fee_currency="BTC"))
    p.add(OrderSide.SELL_SHORT, OrderFilled(order_id="o2", ts_ns=2, trade_id="2", last_qty=Decimal("0.5"),
                                            last_px=Decimal("101"), fee=Decimal("-0.01"), fee_currency="USDT"))
    j = p.as_json()
    assert (j["quantity"], j["bought"], j["sold"]) == ("-0.2", "0.3", "0.5")
    assert (j["avg_buy_price"], j["avg_sell_price"], j["quote_flow"]) == ("100.1", "101", "20.47")
    assert j["fees"] == {"BTC": "0.0003", "USDT": "-0.01"} and j["fills"] == 2


_AMOUNTS = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("100000"), places=8)


@given(st.lists(st.tuples(st.sampled_from(list(OrderSide)), _AMOUNTS, _AMOUNTS), max_size=30))
def test_position_any_fills_net_is_exact_buys_minus_sells(trades: list[tuple[OrderSide, Decimal, Decimal]]) -> None:
    p = Position("a", "v", "BTC/USDT")
    for n, (side, qty, px) in enumerate(trades):
        p.add(side, OrderFilled(order_id="o", ts_ns=n, trade_id=str(n), last_qty=qty, last_px=px))
    j = p.as_json()
    buys = [(q, x) for s, q, x in trades if s is OrderSide.BUY]
    sells = [(q, x) for s, q, x in trades if s is not OrderSide.BUY]
    assert Decimal(j["quantity"]) == sum(q for q, _ in buys) - sum(q for q, _ in sells)
    assert Decimal(j["quote_flow"]) == sum(q * x for q, x in sells) - sum(q * x for q, x in buys)
    assert j["fills"] == len(trades) and (j["avg_buy_price"] is None) == (not buys)


# -- instruments -------------------------------------------------------------------------------------


def _filters(sym: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["filterType"]: f for f in sym["filters"]}


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


async def test_bridge_instruments_equal_the_simulator_exchange_info(sim: SimServer) -> None:
    async with stack(sim) as (gw, url), AsyncBridgeClient(url, "reader", READ_SECRET, timeout=10) as c:
        async with httpx.AsyncClient() as h:
            info = (await h.get(sim.base_url + "/api/v3/exchangeInfo")).json()
        rows = (await c.get("/v1/instruments"))["instruments"]
        assert {r["venue_symbol"] for r in rows} == {s["symbol"] for s in info["symbols"]}
        by_venue = {r["venue_symbol"]: r for r in rows}
        for sym in info["symbols"]:
            r, f = by_venue[sym["symbol"]], _filters(sym)
            assert (r["venue"], r["base"], r["quote"]) == ("sim", sym["baseAsset"], sym["quoteAsset"])
            assert r["symbol"] == f"{sym['baseAsset']}/{sym['quoteAsset']}"
            assert _dec(r["tick_size"]) == Decimal(f["PRICE_FILTER"]["tickSize"])
            assert _dec(r["lot_step"]) == Decimal(f["LOT_SIZE"]["stepSize"])
            assert _dec(r["min_qty"]) == Decimal(f["LOT_SIZE"]["minQty"])
            assert _dec(r["max_qty"]) == Decimal(f["LOT_SIZE"]["maxQty"])
            notional = f.get("NOTIONAL") or f.get("MIN_NOTIONAL")
            assert _dec(r["min_notional"]) == Decimal(notional["minNotional"])
            assert r["status"] == ("trading" if sym["status"] == "TRADING" else "halted")
        one = (await c.get("/v1/instruments", params={"symbol": "btcusdt", "venue": "sim"}))["instruments"]
        assert [r["venue_symbol"] for r in one] == ["BTCUSDT"]
        assert (await c.get("/v1/instruments", params={"symbol": "NOPE/USDT"}))["instruments"] == []
        assert error_of(await c.send("GET", "/v1/instruments", params={"venue": "nowhere"})) == (404, "not_found")


# -- the ledger over a real SQLite journal, orders gone from memory ------------------------------------


class _Desk:
    def __init__(self, journal: Any) -> None:
        self.journal = journal

    def flush(self) -> None:
        self.journal.commit()


@dataclass
class _LedgerView:
    """The three readings the ledger takes from the gateway, over a real journal, book and feed."""

    feed: EventFeed
    journal: Any
    book: OrderBook

    def event_feed(self) -> EventFeed:
        return self.feed

    def order_desk(self) -> _Desk:
        return _Desk(self.journal)

    def order_accounts(self) -> list[tuple[str, str, Any, Any]]:
        return [("acct", "sim", self.journal, self.book)]


def _trade(book: OrderBook, i: int, side: OrderSide, qty: str, px: str) -> None:
    o = book.submit(SubmitOrder(cl_ord_id=f"c{i}", symbol="BTC/USDT", side=side, order_type=OrderType.LIMIT,
                                ts_ns=i, quantity=Decimal(qty), price=Decimal(px)))
    book.apply(OrderSubmitted(order_id=o.order_id, ts_ns=i))
    book.apply(OrderAccepted(order_id=o.order_id, ts_ns=i, venue_order_id=f"V{i}"))
    book.apply(OrderFilled(order_id=o.order_id, ts_ns=i, trade_id=f"T{i}", last_qty=Decimal(qty),
                           last_px=Decimal(px), fee=Decimal("0.1"), fee_currency="USDT"))


@pytest.mark.parametrize("history", [1, 1000])
def test_position_ledger_orders_gone_from_memory_counted_from_the_journal(tmp_path: Any, history: int) -> None:
    feed = EventFeed(history=history)
    journal = feed.tap(SqliteOrderJournal(tmp_path / "j.sqlite", "acct"))
    book = OrderBook("acct", journal, retention=0)  # a finished order leaves memory at once
    ledger = PositionLedger(_LedgerView(feed, journal, book))  # type: ignore[arg-type]
    _trade(book, 1, OrderSide.BUY, "2", "100")
    _trade(book, 2, OrderSide.SELL, "0.5", "110")
    journal.commit()
    assert len(book) == 0
    (p,) = ledger.positions()
    assert (p.bought, p.sold, p.fees, p.fills) == (Decimal(2), Decimal("0.5"), {"USDT": Decimal("0.2")}, 2)
    _trade(book, 3, OrderSide.BUY, "1", "90")  # three events since: held with history 1000, not with 1
    (p,) = ledger.positions()
    assert (p.bought, p.bought_quote, p.fills) == (Decimal(3), Decimal(290), 3)
    assert ledger.scans == (1 if history > 3 else 2)
