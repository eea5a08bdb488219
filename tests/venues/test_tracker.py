"""The order tracker reports every fact exactly once, in order, whichever way it arrives."""

from __future__ import annotations

import copy
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.orders import Order, OrderAccepted, OrderFilled, OrderSide, OrderSubmitted, OrderType, SubmitOrder
from fixgw.orders.enums import OrderStatus
from fixgw.orders.fills import fill_key
from fixgw.venues._common.tracker import Fill, OrderTracker, OrderUpdate, UpdateKind
from fixgw.venues.base import VenueAccepted, VenueAmended, VenueCanceled, VenueExpired, VenueFilled
from fixgw.venues.binance.parsing import parse_amend, parse_execution_report, parse_order
from .conftest import documented


def _feed(tracker, updates, **kw):
    out = []
    for u in updates:
        out.extend(tracker.observe(u, **kw))
    return out


def _market_sequence():
    return [parse_execution_report(e, "LTC/BNB") for e in documented("market_order_uds_sequence_NEW_TRADE_TRADE_EXPIRED")
            if e["e"] == "executionReport"]


def test_tracker_market_sequence_ack_two_fills_expiry_in_order():
    events = _feed(OrderTracker("binance"), _market_sequence())
    assert [type(e) for e in events] == [VenueAccepted, VenueFilled, VenueFilled, VenueExpired]
    f1, f2 = events[1], events[2]
    assert (f1.last_qty, f1.cum_qty, f1.trade_id, f1.fee, f1.fee_asset) == (D("2"), D("2"), "7", D("0.001"), "BNB")
    assert (f2.cum_qty, f2.done, f2.trade_id, f2.fill_key) == (D("4"), False, "8", "LTC/BNB:8")
    assert events[3].cum_qty == D("4")


def test_tracker_stream_replayed_twice_reports_once():
    t = OrderTracker("binance")
    first = _feed(t, _market_sequence())
    again = _feed(t, _market_sequence())
    assert len(first) == 4 and again == []


def test_tracker_rest_full_response_then_stream_trades_no_duplicates():
    t = OrderTracker("binance")
    rest = documented("market_order_EXPIRED_FULL_response")
    ev_rest = t.observe(parse_order(rest, "LTC/BNB"))
    # REST response: ack and both fills; EXPIRED is terminal
    assert [type(e) for e in ev_rest] == [VenueAccepted, VenueFilled, VenueFilled, VenueExpired]
    assert _feed(t, _market_sequence()) == []


def test_tracker_gap_without_synthesis_holds_terminal_and_flags_reconcile():
    t = OrderTracker("binance")
    seq = _market_sequence()
    t.observe(seq[0])
    expired = seq[3]  # cum 4 but we never saw the trades
    assert t.observe(expired) == []
    assert t.needing_reconcile() == [("LTC/BNB", "32", "8LGC97RRgNPVQk979VIhjt")]


def test_tracker_gap_synthesized_then_real_trades_dropped():
    t = OrderTracker("binance")
    seq = _market_sequence()
    t.observe(seq[0])
    ev = t.observe(seq[3], synthesize_gaps=True, from_reconciliation=True)
    assert [type(e) for e in ev] == [VenueFilled, VenueExpired]
    assert ev[0].trade_id.startswith("recon:") and ev[0].last_qty == D("4") and ev[0].last_px == D("1")
    assert ev[0].from_reconciliation
    assert _feed(t, seq[1:3]) == []


def test_tracker_gap_filled_by_trade_list_uses_real_trade_ids():
    t = OrderTracker("binance")
    seq = _market_sequence()
    t.observe(seq[0])
    snap = parse_order(documented("market_order_EXPIRED_FULL_response"), "LTC/BNB")
    fills = snap.fills
    no_fills = OrderUpdate(**{**{f: getattr(snap, f) for f in snap.__dataclass_fields__}, "fills": ()})
    assert t.observe(no_fills) == []
    ev = t.observe(OrderUpdate(**{**{f: getattr(snap, f) for f in snap.__dataclass_fields__}, "fills": fills}),
                   synthesize_gaps=True)
    assert [e.trade_id for e in ev if isinstance(e, VenueFilled)] == ["7", "8"]


def test_tracker_cancel_uses_original_client_order_id():
    t = OrderTracker("binance")
    new = documented("uds_executionReport_wsapi_wrapped")["event"]
    t.observe(parse_execution_report(new, "ETH/BTC"))
    cancel = dict(copy.deepcopy(new), x="CANCELED", X="CANCELED", c="cxl-1", C=new["c"])
    ev = t.observe(parse_execution_report(cancel, "ETH/BTC"))
    assert len(ev) == 1 and isinstance(ev[0], VenueCanceled)
    assert ev[0].client_order_id == new["c"]
    assert t.observe(parse_execution_report(cancel, "ETH/BTC")) == []


def test_tracker_amend_response_emits_amended_with_new_and_old_ids():
    t = OrderTracker("binance")
    amend = documented("amend_keepPriority_response")
    o = amend["amendedOrder"]
    t.observe(OrderUpdate(symbol="BTC/USDT", venue_order_id=str(o["orderId"]), client_order_id=o["origClientOrderId"],
                          status=OrderStatus.NEW, kind=UpdateKind.NEW, ts_ns=1, quantity=D("10"), cum_qty=D(0)))
    ev = t.observe(parse_amend(amend, "BTC/USDT"))
    assert len(ev) == 1 and isinstance(ev[0], VenueAmended)
    assert (ev[0].client_order_id, ev[0].orig_client_order_id, ev[0].quantity) == (
        o["clientOrderId"], o["origClientOrderId"], D("5"))
    assert t.venue_order_id("BTC/USDT", o["clientOrderId"]) == "33"


def test_tracker_forgotten_order_replayed_order_drops_it_by_the_same_fill_key():
    t = OrderTracker("binance", retain_finished=0)
    seq = _market_sequence()
    first = _feed(t, seq)
    again = _feed(t, seq)  # the finished order was forgotten: published again, as after a restart
    fills = [e for e in first + again if isinstance(e, VenueFilled)]
    assert [f.fill_key for f in fills] == [fill_key("LTC/BNB", "7"), fill_key("LTC/BNB", "8")] * 2
    order = Order("acct-1", "acct", SubmitOrder(cl_ord_id="c1", symbol="LTC/BNB", side=OrderSide.BUY,
                                                order_type=OrderType.MARKET, quantity=seq[0].quantity, ts_ns=0))
    order.apply(OrderSubmitted(order_id="acct-1", ts_ns=1))
    order.apply(OrderAccepted(order_id="acct-1", ts_ns=2))
    applied = [order.apply(OrderFilled(order_id="acct-1", ts_ns=3, trade_id=f.fill_key, last_qty=f.last_qty,
                                       last_px=f.last_px)) for f in fills]
    assert applied == [True, True, False, False] and order.cum_qty == D("4")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=4), max_size=12))
def test_tracker_any_interleaving_with_repeats_each_fact_once_end_last(picks):
    seq = _market_sequence()  # NEW, TRADE 7, TRADE 8, EXPIRED (cum 4)
    full = parse_order(documented("market_order_EXPIRED_FULL_response"), "LTC/BNB")  # the same, as one answer
    updates = [(seq + [full])[i] for i in picks]
    t = OrderTracker("binance")
    out = _feed(t, updates)
    out += t.observe(full, synthesize_gaps=True, from_reconciliation=True)  # reconciliation closes any gap
    fills = [e for e in out if isinstance(e, VenueFilled)]
    assert len({f.fill_key for f in fills}) == len(fills)
    assert sum(f.last_qty for f in fills) == D("4") and [f.cum_qty for f in fills] == sorted(f.cum_qty for f in fills)
    assert [type(e) for e in out].count(VenueAccepted) == 1 and type(out[0]) is VenueAccepted
    assert [type(e) for e in out].count(VenueExpired) == 1 and type(out[-1]) is VenueExpired
    assert out[-1].cum_qty == D("4") and t.report("LTC/BNB", "32").status is OrderStatus.EXPIRED


def test_tracker_full_fill_last_fill_marked_done():
    t = OrderTracker("binance")
    u = parse_order(documented("order_response_FULL"), "BTC/USDT")
    ev = t.observe(u)
    fills = [e for e in ev if isinstance(e, VenueFilled)]
    assert len(fills) == 5 and fills[-1].done and fills[-1].cum_qty == D("10")
    assert not any(f.done for f in fills[:-1])
    assert sum(f.last_qty * f.last_px for f in fills) == fills[-1].cum_quote


def test_tracker_fill_after_out_of_order_snapshot_not_counted_twice():
    t = OrderTracker("binance")
    base = dict(symbol="S/Q", venue_order_id="1", client_order_id="a", ts_ns=1, quantity=D("3"))
    t.observe(OrderUpdate(status=OrderStatus.NEW, kind=UpdateKind.NEW, cum_qty=D(0), **base))
    t.observe(OrderUpdate(status=OrderStatus.PARTIALLY_FILLED, kind=UpdateKind.TRADE, cum_qty=D(1),
                          fills=(Fill("t1", D(1), D(10)),), **base))
    # an older snapshot arrives late: nothing new
    assert t.observe(OrderUpdate(status=OrderStatus.NEW, kind=UpdateKind.SNAPSHOT, cum_qty=D(0), **base)) == []
    assert t.cum_qty("S/Q", "1") == D(1)


def test_tracker_events_reversed_come_out_in_order():
    t = OrderTracker("binance")
    events = _feed(t, list(reversed(_market_sequence())))
    assert [type(e) for e in events] == [VenueAccepted, VenueFilled, VenueFilled, VenueExpired]
    assert [e.trade_id for e in events if isinstance(e, VenueFilled)] == ["7", "8"]
    assert t.needing_reconcile() == []


def test_tracker_same_venue_order_id_on_two_symbols_both_reported():
    # Binance numbers orders per symbol: order 1 on ETHUSDT is not order 1 on BTCUSDT
    t = OrderTracker("binance")
    common = dict(venue_order_id="1", status=OrderStatus.NEW, kind=UpdateKind.NEW, ts_ns=1, cum_qty=D(0))
    btc = t.observe(OrderUpdate(symbol="BTC/USDT", client_order_id="b1", quantity=D("0.1"), **common))
    eth = t.observe(OrderUpdate(symbol="ETH/USDT", client_order_id="e1", quantity=D("2"), **common))
    assert [(type(e), e.symbol, e.client_order_id, e.quantity) for e in btc + eth] == [
        (VenueAccepted, "BTC/USDT", "b1", D("0.1")), (VenueAccepted, "ETH/USDT", "e1", D("2"))]
    fill = t.observe(OrderUpdate(symbol="ETH/USDT", client_order_id="e1", venue_order_id="1",
                                 status=OrderStatus.FILLED, kind=UpdateKind.TRADE, ts_ns=2, cum_qty=D("2"),
                                 fills=(Fill("7", D("2"), D("3000")),)))
    assert [(type(e), e.client_order_id, e.done) for e in fill] == [(VenueFilled, "e1", True)]
    assert t.report("BTC/USDT", "1").status is OrderStatus.NEW and t.cum_qty("BTC/USDT", "1") == 0
    assert t.report("ETH/USDT", "1").status is OrderStatus.FILLED
    assert (t.venue_order_id("BTC/USDT", "b1"), t.venue_order_id("ETH/USDT", "e1")) == ("1", "1")
    assert sorted(t.open_orders()) == [("BTC/USDT", "1", "b1")]


# -- bounded memory: finished orders are forgotten after a grace period ------------------------------


def _ioc(i: int, status: OrderStatus = OrderStatus.EXPIRED, kind: UpdateKind = UpdateKind.EXPIRED) -> OrderUpdate:
    return OrderUpdate(symbol="BTCUSDT", venue_order_id=str(i), client_order_id=f"c{i}", status=status, kind=kind,
                       ts_ns=i, quantity=D("1"), cum_qty=D("0"))


def _trade(i: int, trade_id: str, cum: str, status: OrderStatus = OrderStatus.PARTIALLY_FILLED) -> OrderUpdate:
    return OrderUpdate(symbol="BTCUSDT", venue_order_id=str(i), client_order_id=f"c{i}", status=status,
                       kind=UpdateKind.TRADE, ts_ns=i, quantity=D("2"), cum_qty=D(cum),
                       fills=(Fill(trade_id, D("1"), D("100")),))


def test_tracker_finished_orders_forgotten_past_grace_open_ones_kept():
    t = OrderTracker("binance", retain_finished=3)
    t.observe(OrderUpdate(symbol="BTCUSDT", venue_order_id="open", client_order_id="co", status=OrderStatus.NEW,
                          kind=UpdateKind.NEW, ts_ns=1, quantity=D("1")))
    for i in range(1_000):
        t.observe(_ioc(i))
    assert len(t) == 4  # the open order and the last three finished ones
    assert t.open_orders() == [("BTCUSDT", "open", "co")]
    assert t.is_known("BTCUSDT", "999") and not t.is_known("BTCUSDT", "0")
    assert t.venue_order_id("BTCUSDT", "c999") == "999" and t.venue_order_id("BTCUSDT", "c0") is None


def test_tracker_finished_order_in_grace_duplicates_still_dropped():
    t = OrderTracker("binance", retain_finished=2)
    assert [type(e) for e in t.observe(_trade(1, "T1", "1"))] == [VenueAccepted, VenueFilled]
    assert [type(e) for e in t.observe(_trade(1, "T2", "2", OrderStatus.FILLED))] == [VenueFilled]
    t.observe(_ioc(2))
    assert t.observe(_trade(1, "T2", "2", OrderStatus.FILLED)) == []  # within the grace period: a duplicate


def test_tracker_forgotten_order_late_event_still_passed_on():
    t = OrderTracker("binance", retain_finished=1)
    t.observe(_trade(1, "T1", "1"))
    t.observe(OrderUpdate(symbol="BTCUSDT", venue_order_id="1", client_order_id="c1", status=OrderStatus.CANCELED,
                          kind=UpdateKind.CANCELED, ts_ns=3, cum_qty=D("1")))
    t.observe(_ioc(2))  # order 1 leaves the tracker
    assert not t.is_known("BTCUSDT", "1")
    late = OrderUpdate(symbol="BTCUSDT", venue_order_id="1", client_order_id="c1", status=OrderStatus.CANCELED,
                       kind=UpdateKind.TRADE, ts_ns=4, quantity=D("2"), fills=(Fill("T1", D("1"), D("100")),))
    events = t.observe(late)
    fills = [e for e in events if isinstance(e, VenueFilled)]
    assert [f.trade_id for f in fills] == ["T1"]  # normalised and published; the book drops what it has
    assert fills[0].client_order_id == "c1"


def test_tracker_amended_order_forgotten_drops_every_client_id():
    t = OrderTracker("binance", retain_finished=0)
    t.observe(OrderUpdate(symbol="BTCUSDT", venue_order_id="1", client_order_id="a", status=OrderStatus.NEW,
                          kind=UpdateKind.NEW, ts_ns=1, quantity=D("2")))
    t.observe(OrderUpdate(symbol="BTCUSDT", venue_order_id="1", client_order_id="b", status=OrderStatus.NEW,
                          kind=UpdateKind.AMENDED, ts_ns=2, quantity=D("1")))
    assert t.venue_order_id("BTCUSDT", "a") == "1" and t.venue_order_id("BTCUSDT", "b") == "1"
    t.observe(OrderUpdate(symbol="BTCUSDT", venue_order_id="1", client_order_id="b", status=OrderStatus.CANCELED,
                          kind=UpdateKind.CANCELED, ts_ns=3, cum_qty=D("0")))
    assert len(t) == 0 and t.venue_order_id("BTCUSDT", "a") is None and t.venue_order_id("BTCUSDT", "b") is None


def test_tracker_unbounded_when_asked_keeps_every_finished_order():
    t = OrderTracker("binance", retain_finished=None)
    for i in range(50):
        t.observe(_ioc(i))
    assert len(t) == 50
