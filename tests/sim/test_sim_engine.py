"""Matching engine: unit tests and hypothesis properties (no I/O)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixgw.sim import ApiError, MarketMaker, MatchingEngine, NewOrder, default_instruments
from fixgw.sim.model import AccountPosition, DepthUpdate, ExecutionReport, Order, PublicTrade

BTC = "BTCUSDT"


def limit(side: str, qty: str, price: str, tif: str = "GTC", cid: str | None = None) -> NewOrder:
    return NewOrder(BTC, side, "LIMIT", D(qty), D(price), tif, new_client_order_id=cid)


def reports(engine: MatchingEngine) -> list[ExecutionReport]:
    return [e for e in engine.drain_events() if isinstance(e, ExecutionReport)]


def test_engine_same_price_orders_fill_oldest_first(engine: MatchingEngine) -> None:
    first = engine.place("alice", limit("SELL", "1", "60000"), 1).order
    second = engine.place("bob", limit("SELL", "1", "60000"), 2).order
    result = engine.place("carol", limit("BUY", "1.5", "60000"), 3)
    assert [(f.qty, f.trade_id) for f in result.fills] == [(D("1"), 1), (D("0.5"), 2)]
    assert result.order.status == "FILLED"
    assert engine.find_order("alice", BTC, first.order_id).status == "FILLED"  # type: ignore[union-attr]
    left = engine.find_order("bob", BTC, second.order_id)
    assert left is not None and left.executed_qty == D("0.5") and left.status == "PARTIALLY_FILLED"


def test_engine_better_price_fills_first_at_maker_price(engine: MatchingEngine) -> None:
    engine.place("alice", limit("SELL", "1", "60010"), 1)
    engine.place("bob", limit("SELL", "1", "60000"), 2)
    result = engine.place("carol", limit("BUY", "2", "60020"), 3)
    assert [(f.price, f.qty) for f in result.fills] == [(D("60000"), D("1")), (D("60010"), D("1"))]
    # carol locked 2*60020 and paid 120010: the price improvement came back free
    acct = engine.accounts["carol"]
    assert acct.locked("USDT") == 0
    assert acct.free("USDT") == D("10000000") - D("120010")


def test_engine_trade_ids_increase_per_symbol(engine: MatchingEngine) -> None:
    for i in range(3):
        engine.place("alice", limit("SELL", "0.1", "60000"), i)
        engine.place("bob", limit("BUY", "0.1", "60000"), i)
    ids = [t.trade_id for t in engine.trades[BTC]]
    assert ids == [1, 2, 3]


def test_engine_market_order_without_enough_liquidity_expires_remainder(engine: MatchingEngine) -> None:
    engine.place("alice", limit("SELL", "0.5", "60000"), 1)
    engine.drain_events()
    result = engine.place("bob", NewOrder(BTC, "BUY", "MARKET", D("1")), 2)
    assert result.order.status == "EXPIRED" and result.order.executed_qty == D("0.5")
    mine = [(r.exec_type, r.order.status) for r in reports(engine) if r.account_id == "bob"]
    assert mine == [("NEW", "NEW"), ("TRADE", "PARTIALLY_FILLED"), ("EXPIRED", "EXPIRED")]


def test_engine_quote_order_qty_market_buy_spends_at_most_quote(engine: MatchingEngine) -> None:
    engine.place("alice", limit("SELL", "1", "50000"), 1)
    result = engine.place("bob", NewOrder(BTC, "BUY", "MARKET", quote_order_qty=D("1000")), 2)
    assert result.order.status == "FILLED"
    assert result.order.executed_qty == D("0.02") and result.order.cum_quote == D("1000")


def test_engine_ioc_expires_unfilled_and_fok_is_all_or_nothing(engine: MatchingEngine) -> None:
    engine.place("alice", limit("SELL", "1", "60000"), 1)
    fok = engine.place("bob", limit("BUY", "2", "60000", "FOK"), 2).order
    assert fok.status == "EXPIRED" and fok.executed_qty == 0
    ioc = engine.place("bob", limit("BUY", "2", "60000", "IOC"), 3).order
    assert ioc.status == "EXPIRED" and ioc.executed_qty == D("1")
    assert engine.books[BTC].best("SELL") is None and engine.books[BTC].best("BUY") is None


def test_engine_limit_maker_that_would_take_is_rejected(engine: MatchingEngine) -> None:
    engine.place("alice", limit("SELL", "1", "60000"), 1)
    with pytest.raises(ApiError) as err:
        engine.place("bob", NewOrder(BTC, "BUY", "LIMIT_MAKER", D("1"), D("60000")), 2)
    assert (err.value.code, err.value.msg) == (-2010, "Order would immediately match and take.")
    ok = engine.place("bob", NewOrder(BTC, "BUY", "LIMIT_MAKER", D("1"), D("59999")), 3).order
    assert ok.status == "NEW"


def test_engine_stop_loss_waits_until_last_trade_crosses_then_triggers(engine: MatchingEngine) -> None:
    engine.place("alice", limit("SELL", "1", "60000"), 1)
    engine.place("bob", limit("BUY", "1", "60000"), 2)  # last = 60000
    engine.place("carol", limit("BUY", "1", "59000"), 3)
    stop = engine.place("alice", NewOrder(BTC, "SELL", "STOP_LOSS", D("0.5"), stop_price=D("59500")), 4).order
    assert stop.status == "NEW" and not stop.is_working
    assert engine.accounts["alice"].locked("BTC") == D("0.5")
    engine.place("alice", limit("SELL", "0.1", "59400"), 5)  # rests: no bid at 59400
    engine.place("bob", limit("BUY", "0.1", "59400"), 6)  # trades at 59400 -> stop triggers
    after = engine.find_order("alice", BTC, stop.order_id)
    assert after is not None and after.status == "FILLED" and after.cum_quote == D("0.5") * D("59000")


def test_engine_stop_that_would_trigger_immediately_is_rejected(engine: MatchingEngine) -> None:
    engine.place("alice", limit("SELL", "1", "60000"), 1)
    engine.place("bob", limit("BUY", "1", "60000"), 2)
    with pytest.raises(ApiError) as err:
        engine.place("alice", NewOrder(BTC, "SELL", "STOP_LOSS", D("0.5"), stop_price=D("60100")), 3)
    assert err.value.msg == "Order would trigger immediately."


def test_engine_filters_reject_with_documented_messages(engine: MatchingEngine) -> None:
    cases = [
        (limit("BUY", "1", "60000.001"), "Filter failure: PRICE_FILTER"),
        (limit("BUY", "0.000001", "60000"), "Filter failure: LOT_SIZE"),
        (limit("BUY", "0.00001", "100"), "Filter failure: NOTIONAL"),
        (NewOrder(BTC, "BUY", "MARKET", D("101")), "Filter failure: MARKET_LOT_SIZE"),
    ]
    for req, msg in cases:
        with pytest.raises(ApiError) as err:
            engine.place("alice", req, 1)
        assert (err.value.code, err.value.msg) == (-1013, msg)


def test_engine_duplicate_open_client_order_id_is_rejected(engine: MatchingEngine) -> None:
    engine.place("alice", limit("BUY", "1", "50000", cid="same"), 1)
    with pytest.raises(ApiError) as err:
        engine.place("alice", limit("BUY", "1", "50000", cid="same"), 2)
    assert (err.value.code, err.value.msg) == (-2010, "Duplicate order sent.")
    engine.place("bob", limit("BUY", "1", "50000", cid="same"), 3)  # another account may use it


def test_engine_insufficient_balance_is_rejected(engine: MatchingEngine) -> None:
    with pytest.raises(ApiError) as err:
        engine.place("alice", limit("SELL", "101", "60000"), 1)
    assert err.value.msg == "Account has insufficient balance for requested action."


def test_engine_cancel_releases_lock_and_reports_cancel_ids(engine: MatchingEngine) -> None:
    order = engine.place("alice", limit("BUY", "1", "50000", cid="o1"), 1).order
    assert engine.accounts["alice"].locked("USDT") == D("50000")
    engine.drain_events()
    canceled, cancel_id = engine.cancel("alice", BTC, 2, orig_client_order_id="o1", new_client_order_id="c1")
    assert canceled.status == "CANCELED" and cancel_id == "c1" and canceled.order_id == order.order_id
    assert engine.accounts["alice"].locked("USDT") == 0
    (rep,) = reports(engine)
    assert (rep.exec_type, rep.client_order_id, rep.orig_client_order_id) == ("CANCELED", "c1", "o1")
    with pytest.raises(ApiError) as err:
        engine.cancel("alice", BTC, 3, order_id=order.order_id)
    assert (err.value.code, err.value.msg) == (-2011, "Unknown order sent.")


def test_engine_amend_keep_priority_reduces_quantity_in_place(engine: MatchingEngine) -> None:
    a = engine.place("alice", limit("SELL", "1", "60000"), 1).order
    engine.place("bob", limit("SELL", "1", "60000"), 2)
    amended, _ = engine.amend_keep_priority("alice", BTC, D("0.4"), 3, order_id=a.order_id)
    assert amended.orig_qty == D("0.4") and engine.accounts["alice"].locked("BTC") == D("0.4")
    engine.place("carol", limit("BUY", "0.4", "60000"), 4)
    assert engine.find_order("alice", BTC, a.order_id).status == "FILLED"  # type: ignore[union-attr]
    assert engine.find_order("bob", BTC, a.order_id + 1).executed_qty == 0  # type: ignore[union-attr]
    with pytest.raises(ApiError) as err:
        engine.amend_keep_priority("bob", BTC, D("2"), 5, order_id=a.order_id + 1)
    assert err.value.code == -2038


def test_engine_events_include_depth_trades_and_positions(engine: MatchingEngine) -> None:
    engine.place("alice", limit("SELL", "1", "60000"), 1)
    engine.place("bob", limit("BUY", "1", "60000"), 2)
    events = engine.drain_events()
    kinds = {type(e) for e in events}
    assert {ExecutionReport, DepthUpdate, PublicTrade, AccountPosition} <= kinds
    depth = [e for e in events if isinstance(e, DepthUpdate)]
    assert [d.first_update_id for d in depth] == [1, 2] and depth[-1].asks == ((D("60000"), D("0")),)


def test_market_maker_same_seed_same_book() -> None:
    books = []
    for _ in range(2):
        eng = MatchingEngine(default_instruments(), seed=5)
        maker = MarketMaker(eng, seed=11)
        for t in range(20):
            maker.step(1000 * t)
        books.append([eng.books[s].levels(side) for s in sorted(eng.instruments) for side in ("BUY", "SELL")])
    assert books[0] == books[1]
    assert all(levels for levels in books[0])


def test_market_maker_lets_a_newcomer_market_order_fill() -> None:
    eng = MatchingEngine(default_instruments(), seed=5)
    MarketMaker(eng, seed=2).step(0)
    eng.add_account("newbie", {"USDT": D("100000")})
    result = eng.place("newbie", NewOrder(BTC, "BUY", "MARKET", D("0.1")), 1)
    assert result.order.status == "FILLED"


# == properties ===================================================================================
ACCOUNTS = ("alice", "bob", "carol")
_order = st.tuples(
    st.sampled_from(ACCOUNTS),
    st.sampled_from(("BUY", "SELL")),
    st.sampled_from(("GTC", "GTC", "IOC", "FOK", "MARKET", "LIMIT_MAKER")),
    st.integers(59990, 60010),  # price in whole USDT
    st.integers(1, 30),  # quantity in 0.01 BTC
)
_action = st.one_of(
    _order.map(lambda t: ("place", t)),
    st.tuples(st.sampled_from(ACCOUNTS), st.integers(1, 40)).map(lambda t: ("cancel", t)),
)


def check_invariants(engine: MatchingEngine, start_totals: dict[str, D]) -> None:
    book = engine.books[BTC]
    bid, ask = book.best("BUY"), book.best("SELL")
    assert bid is None or ask is None or bid < ask, "crossed book at rest"
    assert engine.totals() == start_totals, "assets created or destroyed"
    locked: dict[tuple[str, str], D] = {}
    for side in ("BUY", "SELL"):
        for price, total in book.levels(side):
            queue = book.queue(side, price)
            assert total == sum(o.remaining for o in queue) and total > 0
            assert [o.order_id for o in queue] == sorted(o.order_id for o in queue), "time priority broken"
    for order in engine.orders[BTC].values():
        assert 0 <= order.executed_qty <= order.orig_qty
        if order.is_done:
            assert order.locked == 0 and order not in book
        else:
            assert order.status in ("NEW", "PARTIALLY_FILLED") and order.remaining > 0
        if order.locked:
            key = (order.account_id, order.locked_asset or "")
            locked[key] = locked.get(key, D(0)) + order.locked
    for name in ACCOUNTS:
        acct = engine.accounts[name]
        for asset in ("USDT", "BTC"):
            assert acct.free(asset) >= 0
            assert acct.locked(asset) == locked.get((name, asset), D(0))
    ids = [t.trade_id for t in engine.trades[BTC]]
    assert ids == sorted(set(ids))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=st.lists(_action, min_size=1, max_size=40))
def test_engine_random_flow_keeps_book_and_balances_consistent(actions: list) -> None:
    engine = MatchingEngine(default_instruments(), seed=1)
    for name in ACCOUNTS:
        engine.add_account(name, {"USDT": D("200000"), "BTC": D("3")})
    start = engine.totals()
    now = 0
    for kind, args in actions:
        now += 1
        try:
            if kind == "place":
                account, side, flavour, price, qty = args
                q = D(qty) / 100
                if flavour == "MARKET":
                    req = NewOrder(BTC, side, "MARKET", q)
                elif flavour == "LIMIT_MAKER":
                    req = NewOrder(BTC, side, "LIMIT_MAKER", q, D(price))
                else:
                    req = NewOrder(BTC, side, "LIMIT", q, D(price), flavour)
                result = engine.place(account, req, now)
                order = result.order
                assert sum((f.qty for f in result.fills), D(0)) <= order.executed_qty
                if flavour == "FOK":
                    assert order.executed_qty in (0, order.orig_qty)
            else:
                account, order_id = args
                engine.cancel(account, BTC, now, order_id=order_id)
        except ApiError:
            pass
        check_invariants(engine, start)


def test_order_copy_every_field_same_value_new_object() -> None:
    values = [object() for _ in dataclasses.fields(Order)]
    order = Order(*values)  # type: ignore[arg-type]
    copy = order.copy()
    assert copy is not order and type(copy) is Order
    for f, value in zip(dataclasses.fields(Order), values):
        assert getattr(copy, f.name) is value, f.name
