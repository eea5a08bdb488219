"""Order lists (OCO, OTO) on the matching engine: placement rules, every expiry path, events; no I/O."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixgw.sim import ApiError, MatchingEngine, NewOrder, default_instruments
from fixgw.sim.model import ExecutionReport
from fixgw.sim.orderlist_ops import list_status_json
from fixgw.sim.orderlists import BAD_PRICES, ListStatus, OrderLists

BTC = "BTCUSDT"


def limit(side: str, qty: str, price: str, cid: str | None = None) -> NewOrder:
    return NewOrder(BTC, side, "LIMIT", D(qty), D(price), "GTC", new_client_order_id=cid)


def leg(side: str, otype: str, qty: str, *, price: str | None = None, stop: str | None = None,
        cid: str | None = None) -> NewOrder:
    tif = "GTC" if otype in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT") else None
    return NewOrder(BTC, side, otype, D(qty), D(price) if price else None, tif,
                    stop_price=D(stop) if stop else None, new_client_order_id=cid)


@pytest.fixture
def lists(engine: MatchingEngine) -> OrderLists:
    """Order lists on an engine whose last trade price is 60000."""
    engine.place("carol", limit("SELL", "0.01", "60000"), 1)
    engine.place("carol", limit("BUY", "0.01", "60000"), 2)
    engine.drain_events()
    return OrderLists(engine)


def sell_oco(lists: OrderLists, qty: str = "1", above: str = "61000", below: str = "59000",
             client: str | None = "L1") -> tuple:
    return lists.place_oco("alice", "SELL", leg("SELL", "LIMIT_MAKER", qty, price=above, cid="up"),
                           leg("SELL", "STOP_LOSS", qty, stop=below, cid="down"), client, 10)


def reports(engine: MatchingEngine) -> list[ExecutionReport]:
    return [e for e in engine.events if isinstance(e, ExecutionReport)]


def statuses(engine: MatchingEngine) -> list[tuple[str, str]]:
    return [(e.list_status_type, e.list_order_status) for e in engine.events if isinstance(e, ListStatus)]


# == OCO placement ================================================================================
def test_oco_placed_reports_both_orders_with_list_id_and_starts_list(lists: OrderLists) -> None:
    engine = lists.engine
    lst, orders = sell_oco(lists)
    assert [o.type for o in orders] == ["STOP_LOSS", "LIMIT_MAKER"]
    assert all(o.order_list_id == lst.list_id and o.status == "NEW" for o in orders)
    assert [(r.exec_type, r.order.order_list_id) for r in reports(engine)] == [("NEW", lst.list_id)] * 2
    assert statuses(engine) == [("EXEC_STARTED", "EXECUTING")]
    # one lock of the quantity for the pair, not two
    assert engine.accounts["alice"].locked("BTC") == D("1")
    assert engine.books[BTC].best("SELL") == D("61000")


@pytest.mark.parametrize(
    ("side", "above", "below", "code"),
    [
        ("SELL", ("STOP_LOSS", None, "61000"), ("LIMIT_MAKER", "59000", None), -1197),
        ("SELL", ("LIMIT_MAKER", "61000", None), ("LIMIT_MAKER", "59000", None), -1168),
        ("SELL", ("TAKE_PROFIT", None, "61000"), ("TAKE_PROFIT", None, "59000"), -1199),
        ("BUY", ("LIMIT_MAKER", "61000", None), ("STOP_LOSS", None, "59000"), -1165),
        ("BUY", ("STOP_LOSS", None, "61000"), ("STOP_LOSS", None, "59000"), -1196),
        ("BUY", ("TAKE_PROFIT", None, "61000"), ("LIMIT_MAKER", "59000", None), -1198),
    ],
)
def test_oco_wrong_types_for_side_refused_with_venue_code(lists: OrderLists, side: str, above: tuple,
                                                          below: tuple, code: int) -> None:
    a = leg(side, above[0], "1", price=above[1], stop=above[2])
    b = leg(side, below[0], "1", price=below[1], stop=below[2])
    with pytest.raises(ApiError) as err:
        lists.place_oco("alice", side, a, b, None, 10)
    assert err.value.code == code
    assert lists.lists == {} and lists.engine.events == []


@pytest.mark.parametrize(("above", "below"), [("59500", "59000"), ("61000", "60500"), ("59000", "61000")])
def test_oco_prices_not_around_last_price_refused_oco_bad_prices(lists: OrderLists, above: str, below: str) -> None:
    with pytest.raises(ApiError) as err:
        sell_oco(lists, above=above, below=below)
    assert (err.value.code, err.value.msg) == (-2010, BAD_PRICES)
    assert lists.engine.open_orders("alice", BTC) == []


def test_buy_oco_limit_below_stop_above_accepted(lists: OrderLists) -> None:
    lst, orders = lists.place_oco("alice", "BUY", leg("BUY", "STOP_LOSS_LIMIT", "1", price="61100", stop="61000"),
                                  leg("BUY", "LIMIT_MAKER", "1", price="59000"), None, 10)
    assert [o.type for o in orders] == ["LIMIT_MAKER", "STOP_LOSS_LIMIT"]
    # the pair holds the larger of the two amounts once
    assert lists.engine.accounts["alice"].locked("USDT") == D("61100")


def test_oco_duplicate_open_list_client_id_refused(lists: OrderLists) -> None:
    sell_oco(lists)
    with pytest.raises(ApiError) as err:
        sell_oco(lists, qty="0.5")
    assert (err.value.code, err.value.msg) == (-2010, "Duplicate order sent.")


def test_oco_over_max_order_lists_refused_filter_failure(lists: OrderLists) -> None:
    lists.max_num_order_lists = 1
    sell_oco(lists, qty="0.1", client="A")
    with pytest.raises(ApiError) as err:
        sell_oco(lists, qty="0.1", client="B")
    assert (err.value.code, err.value.msg) == (-1013, "Filter failure: MAX_NUM_ORDER_LISTS")


def test_oco_insufficient_balance_refused_nothing_placed(lists: OrderLists) -> None:
    lists.engine.add_account("dora", {"BTC": D("0.5")})
    with pytest.raises(ApiError) as err:
        lists.place_oco("dora", "SELL", leg("SELL", "LIMIT_MAKER", "1", price="61000"),
                        leg("SELL", "STOP_LOSS", "1", stop="59000"), None, 10)
    assert err.value.code == -2010 and "insufficient balance" in err.value.msg
    assert lists.lists == {}


# == OCO execution ================================================================================
def test_oco_limit_leg_partly_filled_expires_stop_leg_oco_trigger(lists: OrderLists) -> None:
    engine = lists.engine
    lst, (stop, lim) = sell_oco(lists)
    engine.events.clear()
    engine.place("bob", limit("BUY", "0.4", "61000"), 20)
    stop_now = engine.find_order("alice", BTC, stop.order_id)
    lim_now = engine.find_order("alice", BTC, lim.order_id)
    assert lim_now.status == "PARTIALLY_FILLED"  # type: ignore[union-attr]
    assert (stop_now.status, stop_now.expiry_reason) == ("EXPIRED", "OCO_TRIGGER")  # type: ignore[union-attr]
    assert stop not in engine.stops[BTC]
    assert not lst.done and statuses(engine) == []
    # the limit leg keeps its lock (the rest of its quantity); nothing is lost
    assert engine.accounts["alice"].locked("BTC") == D("0.6")
    engine.place("bob", limit("BUY", "0.6", "61000"), 21)
    assert lst.done and statuses(engine) == [("ALL_DONE", "ALL_DONE")]
    assert engine.accounts["alice"].locked("BTC") == 0


def test_oco_stop_leg_triggered_expires_limit_leg_and_sells(lists: OrderLists) -> None:
    engine = lists.engine
    lst, (stop, lim) = sell_oco(lists)
    engine.place("carol", limit("BUY", "2", "58000"), 20)
    engine.place("bob", limit("SELL", "0.01", "58900"), 21)  # rests above carol's bid
    engine.events.clear()
    engine.place("carol", limit("BUY", "0.01", "58900"), 22)  # last 58900 <= stop 59000: the stop fires
    lim_now = engine.find_order("alice", BTC, lim.order_id)
    stop_now = engine.find_order("alice", BTC, stop.order_id)
    assert (lim_now.status, lim_now.expiry_reason) == ("EXPIRED", "OCO_TRIGGER")  # type: ignore[union-attr]
    assert stop_now.status == "FILLED"  # type: ignore[union-attr]
    assert engine.books[BTC].best("SELL") is None
    kinds = [(r.order.order_id, r.exec_type) for r in reports(engine) if r.order.account_id == "alice"]
    assert kinds[0] == (lim.order_id, "EXPIRED")  # expired before the stop traded
    assert lst.done and statuses(engine)[-1] == ("ALL_DONE", "ALL_DONE")
    acct = engine.accounts["alice"]
    assert acct.locked("BTC") == 0 and acct.free("BTC") == D("99")


def test_oco_cancel_one_leg_cancels_the_list(lists: OrderLists) -> None:
    engine = lists.engine
    lst, (stop, lim) = sell_oco(lists)
    engine.events.clear()
    engine.cancel("alice", BTC, 30, order_id=lim.order_id)
    assert [(r.order.order_id, r.exec_type) for r in reports(engine)] == [
        (lim.order_id, "CANCELED"), (stop.order_id, "CANCELED")]
    assert lst.done and statuses(engine) == [("ALL_DONE", "ALL_DONE")]
    assert engine.accounts["alice"].locked("BTC") == 0 and engine.open_orders("alice", BTC) == []


def test_oco_cancel_list_cancels_every_order_with_cancel_id(lists: OrderLists) -> None:
    engine = lists.engine
    lst, _orders = sell_oco(lists)
    _lst, done = lists.cancel("alice", BTC, 40, client_list_id="L1", new_client_order_id="bye")
    assert [(o.status, cid) for o, cid in done] == [("CANCELED", "bye")] * 2
    with pytest.raises(ApiError) as err:
        lists.cancel("alice", BTC, 41, list_id=lst.list_id)
    assert err.value.code == -2011
    assert engine.accounts["alice"].locked("BTC") == 0


def test_cancel_all_open_orders_cancels_lists_once(lists: OrderLists) -> None:
    engine = lists.engine
    sell_oco(lists)
    done = engine.cancel_all("alice", BTC, 50)
    assert [o.status for o, _ in done] == ["CANCELED"]  # the other one was canceled by its list
    assert engine.open_orders("alice", BTC) == []


# == OTO ==========================================================================================
def oto(lists: OrderLists, pending: NewOrder | None = None, working_price: str = "59000") -> tuple:
    return lists.place_oto("alice", leg("BUY", "LIMIT", "1", price=working_price, cid="w"),
                           pending or leg("SELL", "LIMIT_MAKER", "1", price="62000", cid="p"), "T1", 10)


def test_oto_pending_waits_pending_new_until_working_fills(lists: OrderLists) -> None:
    engine = lists.engine
    lst, (working, pending) = oto(lists)
    assert (working.status, pending.status) == ("NEW", "PENDING_NEW")
    assert pending.working_time == -1 and engine.books[BTC].best("SELL") is None
    engine.place("bob", limit("SELL", "0.5", "59000"), 20)
    assert engine.find_order("alice", BTC, pending.order_id).status == "PENDING_NEW"  # type: ignore[union-attr]
    engine.events.clear()
    engine.place("bob", limit("SELL", "0.5", "59000"), 21)
    now = engine.find_order("alice", BTC, pending.order_id)
    assert now.status == "NEW" and now.is_working  # type: ignore[union-attr]
    assert engine.books[BTC].best("SELL") == D("62000")
    assert ("NEW", pending.order_id) in [(r.exec_type, r.order.order_id) for r in reports(engine)]
    assert statuses(engine) == [("EXEC_STARTED", "EXECUTING")]


def test_oto_working_filled_at_once_answers_pending_new(lists: OrderLists) -> None:
    engine = lists.engine
    engine.place("bob", limit("SELL", "1", "59000"), 5)
    lst, (working, pending) = oto(lists)
    assert (working.status, pending.status) == ("FILLED", "PENDING_NEW")  # the answer, as documented
    assert engine.find_order("alice", BTC, pending.order_id).status == "NEW"  # type: ignore[union-attr]


def test_oto_working_canceled_expires_pending_phase_one(lists: OrderLists) -> None:
    engine = lists.engine
    lst, (working, pending) = oto(lists)
    engine.cancel("alice", BTC, 30, order_id=working.order_id)
    now = engine.find_order("alice", BTC, pending.order_id)
    assert (now.status, now.expiry_reason) == ("EXPIRED", "OTO_PHASE_ONE_EXPIRED")  # type: ignore[union-attr]
    assert lst.done and engine.accounts["alice"].locked("USDT") == 0


def test_oto_working_expired_expires_pending_phase_one(lists: OrderLists) -> None:
    engine = lists.engine
    engine.place("alice", limit("SELL", "0.3", "59000"), 5)  # alice's own ask: STP expires her taker
    working = leg("BUY", "LIMIT", "1", price="59000")
    working.stp_mode = "EXPIRE_TAKER"
    lst, (w, p) = lists.place_oto("alice", working, leg("SELL", "LIMIT_MAKER", "1", price="62000"), None, 10)
    assert engine.find_order("alice", BTC, w.order_id).status == "EXPIRED_IN_MATCH"  # type: ignore[union-attr]
    now = engine.find_order("alice", BTC, p.order_id)
    assert (now.status, now.expiry_reason) == ("EXPIRED", "OTO_PHASE_ONE_EXPIRED")  # type: ignore[union-attr]


def test_oto_pending_canceled_cancels_working(lists: OrderLists) -> None:
    engine = lists.engine
    lst, (working, pending) = oto(lists)
    engine.cancel("alice", BTC, 30, order_id=pending.order_id)
    assert engine.find_order("alice", BTC, working.order_id).status == "CANCELED"  # type: ignore[union-attr]
    assert lst.done


def test_oto_pending_without_funds_when_placed_expires_rejected(engine: MatchingEngine) -> None:
    engine.add_account("dora", {"USDT": D("60000")})
    lists = OrderLists(engine)
    # dora buys 1 BTC, then would sell 2: the pending order cannot be funded when it is placed
    lst, (w, p) = lists.place_oto("dora", leg("BUY", "LIMIT", "1", price="59000"),
                                  leg("SELL", "LIMIT", "2", price="62000"), None, 10)
    engine.place("bob", limit("SELL", "1", "59000"), 20)
    now = engine.find_order("dora", BTC, p.order_id)
    assert (now.status, now.expiry_reason) == ("EXPIRED", "REJECTED")  # type: ignore[union-attr]
    assert lst.done


def test_oto_pending_stop_goes_to_stops_and_fires(lists: OrderLists) -> None:
    engine = lists.engine
    lst, (w, p) = oto(lists, pending=leg("SELL", "STOP_LOSS", "1", stop="58000"))
    engine.place("bob", limit("SELL", "1", "59000"), 20)
    assert engine.find_order("alice", BTC, p.order_id) in engine.stops[BTC]


# == events =======================================================================================
def test_list_status_event_json_has_documented_fields(lists: OrderLists) -> None:
    lst, orders = sell_oco(lists)
    ev = [e for e in lists.engine.events if isinstance(e, ListStatus)][0]
    body = list_status_json(ev)
    assert set(body) == {"e", "E", "s", "g", "c", "l", "L", "r", "C", "T", "O"}
    assert (body["e"], body["c"], body["C"], body["g"]) == ("listStatus", "OCO", "L1", lst.list_id)
    assert [o["i"] for o in body["O"]] == [o.order_id for o in orders]


# == properties ===================================================================================
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from(["BUY", "SELL"]), st.sampled_from(["0.3", "0.7", "1", "2"]),
                                st.sampled_from(["58000", "58900", "59000", "60000", "61000", "61500"])),
                      min_size=1, max_size=8))
def test_oco_never_leaves_both_orders_filled_and_conserves_assets(steps: list[tuple[str, str, str]]) -> None:
    engine = MatchingEngine(default_instruments(), seed=1)
    for name in ("alice", "bob"):
        engine.add_account(name, {"USDT": D("10000000"), "BTC": D("100")})
    engine.place("bob", limit("SELL", "0.01", "60000"), 1)
    engine.place("bob", limit("BUY", "0.01", "60000"), 2)
    totals = engine.totals()
    lists = OrderLists(engine)
    lst, _ = sell_oco(lists)
    for i, (side, qty, price) in enumerate(steps):
        engine.place("bob", limit(side, qty, price), 100 + i)
        filled = [o for o in lst.orders if o.executed_qty > 0]
        assert len(filled) <= 1
        assert sum((o.executed_qty for o in lst.orders), D(0)) <= D("1")
        assert all(v >= 0 for a in engine.accounts.values() for v in (x for pair in a.balances.values() for x in pair))
    assert engine.totals() == totals
    if lst.done:
        assert engine.accounts["alice"].locked("BTC") == 0


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(["0.3", "0.5", "1"]), st.sampled_from(["58000", "59000", "60000"]),
                                st.booleans()), min_size=1, max_size=6))
def test_oto_pending_never_works_before_working_fully_filled(steps: list[tuple[str, str, bool]]) -> None:
    engine = MatchingEngine(default_instruments(), seed=1)
    for name in ("alice", "bob"):
        engine.add_account(name, {"USDT": D("10000000"), "BTC": D("100")})
    engine.place("bob", limit("SELL", "0.01", "60000"), 1)
    engine.place("bob", limit("BUY", "0.01", "60000"), 2)
    lists = OrderLists(engine)
    lst, (w, p) = lists.place_oto("alice", leg("BUY", "LIMIT", "1", price="59000"),
                                  leg("SELL", "LIMIT_MAKER", "1", price="62000"), None, 10)
    working, pending = lst.orders
    for i, (qty, price, cancel) in enumerate(steps):
        if cancel and not working.is_done:
            engine.cancel("alice", BTC, 100 + i, order_id=working.order_id)
        else:
            engine.place("bob", limit("SELL", qty, price), 100 + i)
        if working.status != "FILLED":
            assert pending.status in ("PENDING_NEW", "EXPIRED", "CANCELED") and not pending.is_working
        else:
            assert pending.status == "NEW" and pending.is_working
        assert pending.executed_qty == 0
