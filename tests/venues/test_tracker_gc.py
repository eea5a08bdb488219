"""The tracker's finished orders cost the garbage collector nothing, and late events still fold in."""

from __future__ import annotations

import gc
from decimal import Decimal as D

from fixgw.orders.enums import OrderSide, OrderStatus, OrderType
from fixgw.venues._common.tracker import Fill, OrderTracker, OrderUpdate, UpdateKind
from fixgw.venues.base import VenueAmended, VenueFilled

_S = "BTCUSDT"


def _u(vid: str, status: OrderStatus, kind: UpdateKind, *, cid: str = "", ts: int = 1, qty: str | None = "2",
       price: str | None = "100", cum: str | None = None, fills: tuple[Fill, ...] = ()) -> OrderUpdate:
    return OrderUpdate(symbol=_S, venue_order_id=vid, client_order_id=cid or f"c{vid}", status=status, kind=kind,
                       ts_ns=ts, side=OrderSide.BUY, order_type=OrderType.LIMIT if price else OrderType.MARKET,
                       quantity=D(qty) if qty else None, price=D(price) if price else None,
                       cum_qty=D(cum) if cum is not None else None, fills=fills)


def _fill(trade_id: str, qty: str = "1") -> Fill:
    return Fill(trade_id, D(qty), D("100"), fee=D("0.01"), fee_asset="USDT", is_maker=True, ts_ns=5)


def _finish_many(t: OrderTracker, n: int, first: int = 0) -> None:
    """``n`` orders of every way to end: filled in two trades, canceled, expired, rejected, amended then
    canceled, market and filled."""
    for i in range(first, first + n):
        vid, way = str(i), i % 5
        if way == 0:
            t.observe(_u(vid, OrderStatus.PARTIALLY_FILLED, UpdateKind.TRADE, cum="1", fills=(_fill(f"a{i}"),)))
            t.observe(_u(vid, OrderStatus.FILLED, UpdateKind.TRADE, cum="2", fills=(_fill(f"b{i}"),)))
        elif way == 1:
            t.observe(_u(vid, OrderStatus.NEW, UpdateKind.NEW, cum="0"))
            t.observe(_u(vid, OrderStatus.CANCELED, UpdateKind.CANCELED, cum="0"))
        elif way == 2:
            t.observe(_u(vid, OrderStatus.EXPIRED, UpdateKind.SNAPSHOT, cum="0"))
        elif way == 3:
            t.observe(_u(vid, OrderStatus.REJECTED, UpdateKind.REJECTED))
        else:
            t.observe(_u(vid, OrderStatus.NEW, UpdateKind.NEW, cum="0"))
            t.observe(_u(vid, OrderStatus.NEW, UpdateKind.AMENDED, cid=f"d{i}", qty="1", cum="0"))
            t.observe(_u(vid, OrderStatus.CANCELED, UpdateKind.CANCELED, cid=f"d{i}", qty="1", cum="0"))


def _tracked_count() -> int:
    gc.collect()
    return len(gc.get_objects())


def test_tracker_finished_orders_after_one_collection_none_tracked():
    t = OrderTracker("binance")
    _finish_many(t, 500)
    t.observe(_u("m", OrderStatus.FILLED, UpdateKind.TRADE, price=None, cum="2", fills=(_fill("m1", "2"),)))
    t.rename(_S, "4", "renamed4")  # a finished order named anew
    assert t.open_orders() == [] and len(t) == 501
    gc.collect()
    kept = gc.get_referents(t._orders, t._finished, t._by_client)  # every key and value a tracker holds
    assert len(kept) >= 2 * (501 + 501)  # (an ordered dict names its keys twice)
    assert [x for x in kept if gc.is_tracked(x)] == []


def test_tracker_finished_orders_tracked_object_count_does_not_grow_with_n():
    _finish_many(OrderTracker("binance"), 50)  # warm every lazy cache first
    base = _tracked_count()
    small = OrderTracker("binance")
    _finish_many(small, 100)
    after_small = _tracked_count()
    big = OrderTracker("binance")
    _finish_many(big, 3_000)
    after_big = _tracked_count()
    assert len(small) == 100 and len(big) == 3_000
    # a tracker's few containers, nothing per finished order (2,900 more orders: 2,900 or more objects
    # with one tracked object per entry); the margin absorbs what anything else in the process allocates
    assert after_small - base < 200 and after_big - after_small < 200


def test_tracker_finished_order_late_fill_thawed_published_once_frozen_again():
    t = OrderTracker("binance")
    _finish_many(t, 10)
    late = _u("0", OrderStatus.FILLED, UpdateKind.TRADE, cum="3", qty="2", fills=(_fill("late0"),))
    events = t.observe(late)
    assert [(type(e), e.trade_id, e.cum_qty) for e in events] == [(VenueFilled, "late0", D("3"))]
    assert t.observe(late) == []  # the same fill again
    assert t.observe(_u("0", OrderStatus.FILLED, UpdateKind.TRADE, cum="2", fills=(_fill("b0"),))) == []
    assert list(t._finished)[-1] == (_S, "0") and not t._orders  # frozen again, the newest finished
    gc.collect()
    assert not gc.is_tracked(t._finished[(_S, "0")])
    r = t.report(_S, "0")
    assert (r.status, r.cum_qty, r.cum_quote, r.side, r.order_type) == (
        OrderStatus.FILLED, D("3"), D("300"), OrderSide.BUY, OrderType.LIMIT)
    assert t.cum_qty(_S, "0") == D("3") and t.cum_qty(_S, "nope") == D(0)


def test_tracker_finished_order_lookups_answer_as_for_an_open_one():
    t = OrderTracker("binance", retain_finished=5)
    _finish_many(t, 5)  # order 4: amended from c4 to d4, then canceled
    assert t.is_known(_S, "4") and t.venue_order_id(_S, "c4") == "4" and t.venue_order_id(_S, "d4") == "4"
    assert t.report(_S, "4").status is OrderStatus.CANCELED and t.report(_S, "4").quantity == D("1")
    assert t.report(_S, "3").status is OrderStatus.REJECTED
    assert t.report(_S, "2").status is OrderStatus.EXPIRED
    t.rename(_S, "4", "x4")
    assert t.report(_S, "4").client_order_id == "x4"
    assert [t.venue_order_id(_S, c) for c in ("c4", "d4", "x4")] == ["4", "4", "4"]
    assert list(t._finished)[-1] == (_S, "4")  # a rename does not restart the grace period
    t.forget(_S, "d4")
    assert not t.is_known(_S, "4") and [t.venue_order_id(_S, c) for c in ("c4", "d4", "x4")] == [None] * 3
    _finish_many(t, 5, first=10)  # orders 0..3 leave; so do their client ids
    assert len(t) == 5 and not t.is_known(_S, "0") and t.venue_order_id(_S, "c0") is None
    assert t.report(_S, "0") is None


def test_tracker_finished_order_with_a_gap_still_needs_reconcile():
    t = OrderTracker("binance")
    t.observe(_u("9", OrderStatus.NEW, UpdateKind.NEW, qty="3", cum="0"))
    t.observe(_u("9", OrderStatus.PARTIALLY_FILLED, UpdateKind.TRADE, qty="3", cum="2", fills=(_fill("g1"),)))
    assert t.needing_reconcile() == [(_S, "9", "c9")]  # a trade never seen: held
    t.observe(_u("9", OrderStatus.FILLED, UpdateKind.TRADE, qty="3", fills=(_fill("g2", "3"),)))
    assert t.open_orders() == [] and t.needing_reconcile() == [(_S, "9", "c9")]
    assert not t.may_be_redundant(_S, "9", OrderStatus.FILLED)


def test_tracker_finished_order_redundant_folds_time_and_restarts_grace():
    t = OrderTracker("binance", retain_finished=3)
    _finish_many(t, 3)  # 0 filled (a0, b0), 1 canceled, 2 expired
    assert t.may_be_redundant(_S, "0", OrderStatus.FILLED)
    assert t.redundant(_S, "0", OrderStatus.FILLED, cum_qty=D("2"), quantity=D("2"), price=D("100"),
                       trade_ids=("b0",), ts_ns=99)
    assert not t.redundant(_S, "0", OrderStatus.FILLED, cum_qty=D("2"), quantity=D("2"), price=D("100"),
                           trade_ids=("c0",), ts_ns=100)  # a trade not seen
    assert not t.redundant(_S, "0", OrderStatus.FILLED, cum_qty=D("3"), quantity=D("2"), price=D("100"),
                           ts_ns=100)  # quantity never seen fill
    assert t.report(_S, "0").ts_ns == 99 and list(t._finished)[-1] == (_S, "0")
    _finish_many(t, 2, first=10)  # 1 and 2 leave first: 0's grace period started again
    assert t.is_known(_S, "0") and not t.is_known(_S, "1") and not t.is_known(_S, "2")


def test_tracker_finished_order_amended_again_is_not_an_amendment():
    t = OrderTracker("binance")
    _finish_many(t, 5)
    events = t.observe(_u("4", OrderStatus.CANCELED, UpdateKind.AMENDED, cid="e4", qty="3", cum="0"))
    assert not any(isinstance(e, VenueAmended) for e in events) and events == []
