"""The order tracker reports every fact exactly once, in order, whichever way it arrives."""

from __future__ import annotations

import copy
from decimal import Decimal as D

from fixgw.venues.base import (
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderStatus,
)
from fixgw.venues._common.tracker import Fill, OrderTracker, OrderUpdate, UpdateKind
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
    assert [type(e) for e in events] == [OrderAccepted, OrderFilled, OrderFilled, OrderExpired]
    f1, f2 = events[1], events[2]
    assert (f1.last_qty, f1.cum_qty, f1.trade_id, f1.fee, f1.fee_asset) == (D("2"), D("2"), "7", D("0.001"), "BNB")
    assert (f2.cum_qty, f2.status, f2.trade_id) == (D("4"), OrderStatus.PARTIALLY_FILLED, "8")
    assert events[3].status is OrderStatus.EXPIRED and events[3].cum_qty == D("4")


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
    assert [type(e) for e in ev_rest] == [OrderAccepted, OrderFilled, OrderFilled, OrderExpired]
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
    assert [type(e) for e in ev] == [OrderFilled, OrderExpired]
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
    assert [e.trade_id for e in ev if isinstance(e, OrderFilled)] == ["7", "8"]


def test_tracker_cancel_uses_original_client_order_id():
    t = OrderTracker("binance")
    new = documented("uds_executionReport_wsapi_wrapped")["event"]
    t.observe(parse_execution_report(new, "ETH/BTC"))
    cancel = dict(copy.deepcopy(new), x="CANCELED", X="CANCELED", c="cxl-1", C=new["c"])
    ev = t.observe(parse_execution_report(cancel, "ETH/BTC"))
    assert len(ev) == 1 and isinstance(ev[0], OrderCanceled)
    assert ev[0].client_order_id == new["c"]
    assert t.observe(parse_execution_report(cancel, "ETH/BTC")) == []


def test_tracker_amend_response_emits_amended_with_new_and_old_ids():
    t = OrderTracker("binance")
    amend = documented("amend_keepPriority_response")
    o = amend["amendedOrder"]
    t.observe(OrderUpdate(symbol="BTC/USDT", venue_order_id=str(o["orderId"]), client_order_id=o["origClientOrderId"],
                          status=OrderStatus.NEW, kind=UpdateKind.NEW, ts_ns=1, quantity=D("10"), cum_qty=D(0)))
    ev = t.observe(parse_amend(amend, "BTC/USDT"))
    assert len(ev) == 1 and isinstance(ev[0], OrderAmended)
    assert (ev[0].client_order_id, ev[0].orig_client_order_id, ev[0].quantity) == (
        o["clientOrderId"], o["origClientOrderId"], D("5"))
    assert t.venue_order_id("BTC/USDT", o["clientOrderId"]) == "33"


def test_tracker_full_fill_status_filled_on_last_fill():
    t = OrderTracker("binance")
    u = parse_order(documented("order_response_FULL"), "BTC/USDT")
    ev = t.observe(u)
    fills = [e for e in ev if isinstance(e, OrderFilled)]
    assert len(fills) == 5 and fills[-1].status is OrderStatus.FILLED and fills[-1].cum_qty == D("10")
    assert all(f.status is OrderStatus.PARTIALLY_FILLED for f in fills[:-1])
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
    assert [type(e) for e in events] == [OrderAccepted, OrderFilled, OrderFilled, OrderExpired]
    assert [e.trade_id for e in events if isinstance(e, OrderFilled)] == ["7", "8"]
    assert t.needing_reconcile() == []


def test_tracker_same_venue_order_id_on_two_symbols_both_reported():
    # Binance numbers orders per symbol: order 1 on ETHUSDT is not order 1 on BTCUSDT
    t = OrderTracker("binance")
    common = dict(venue_order_id="1", status=OrderStatus.NEW, kind=UpdateKind.NEW, ts_ns=1, cum_qty=D(0))
    btc = t.observe(OrderUpdate(symbol="BTC/USDT", client_order_id="b1", quantity=D("0.1"), **common))
    eth = t.observe(OrderUpdate(symbol="ETH/USDT", client_order_id="e1", quantity=D("2"), **common))
    assert [(type(e), e.symbol, e.client_order_id, e.quantity) for e in btc + eth] == [
        (OrderAccepted, "BTC/USDT", "b1", D("0.1")), (OrderAccepted, "ETH/USDT", "e1", D("2"))]
    fill = t.observe(OrderUpdate(symbol="ETH/USDT", client_order_id="e1", venue_order_id="1",
                                 status=OrderStatus.FILLED, kind=UpdateKind.TRADE, ts_ns=2, cum_qty=D("2"),
                                 fills=(Fill("7", D("2"), D("3000")),)))
    assert [(type(e), e.client_order_id, e.status) for e in fill] == [(OrderFilled, "e1", OrderStatus.FILLED)]
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
    assert [type(e) for e in t.observe(_trade(1, "T1", "1"))] == [OrderAccepted, OrderFilled]
    assert [type(e) for e in t.observe(_trade(1, "T2", "2", OrderStatus.FILLED))] == [OrderFilled]
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
    fills = [e for e in events if isinstance(e, OrderFilled)]
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
