"""The tracker's cheap duplicate check agrees with its full fold, and finished orders stay lean."""

from __future__ import annotations

import gc
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.orders.enums import OrderStatus
from fixgw.venues._common.tracker import OrderTracker, OrderUpdate, UpdateKind, _thaw
from fixgw.venues.base import VenueAccepted, VenueExpired
from fixgw.venues.binance.parsing import known_execution_report, known_order, parse_execution_report, parse_order

_SYMBOL = "BTC/USDT"


def _report(order_id: int, x: str, status: str, cum: str, *, qty: str = "2", price: str = "100", trade: int = -1,
            last: str = "0", ts: int = 1) -> dict:
    """One executionReport as the venue sends it (the fields the adapter reads)."""
    return {"e": "executionReport", "E": ts, "s": "BTCUSDT", "c": f"c{order_id}", "S": "BUY", "o": "LIMIT",
            "q": qty, "p": price, "C": "", "x": x, "X": status, "r": "NONE", "i": order_id, "l": last,
            "z": cum, "L": price, "n": "0", "N": None, "T": ts, "t": trade, "m": False, "Z": "0"}


def _answer(order_id: int, status: str, cum: str, *, qty: str = "2", price: str = "100", ts: int = 1,
            trades: tuple[int, ...] = ()) -> dict:
    """An order.place answer (FULL: its fills listed, one unit each)."""
    return {"symbol": "BTCUSDT", "orderId": order_id, "clientOrderId": f"c{order_id}", "transactTime": ts,
            "price": price, "origQty": qty, "executedQty": cum, "cummulativeQuoteQty": "0", "status": status,
            "type": "LIMIT", "side": "BUY",
            "fills": [{"tradeId": t, "qty": "1", "price": "100", "commission": "0"} for t in trades]}


def _state(tracker: OrderTracker) -> list[tuple]:
    """Everything a tracker keeps: open entries with their containers normalised (fill keys a set or a
    tuple), finished ones as thawed from the flat tuples kept, and the lookups by client id."""
    out = []
    for key, t in [*sorted(tracker._orders.items()), *((k, _thaw(e)) for k, e in sorted(tracker._finished.items()))]:
        fields = {f: getattr(t, f) for f in t.__dataclass_fields__}
        fields["fill_keys"] = frozenset(fields["fill_keys"])
        fields["held"] = list(fields["held"] or ())
        out.append((key, fields))
    return [*out, sorted(tracker._by_client.items())]


_prices = st.sampled_from(["0", "100"])  # "0": a market order's (no price)
_reports = st.builds(
    lambda order_id, kind, cum, qty, trade, ts, price: _report(
        order_id, kind[0], kind[1], str(cum), qty=str(qty), trade=trade if kind[0] == "TRADE" else -1,
        last="1" if kind[0] == "TRADE" else "0", ts=ts, price=price),
    st.integers(1, 2),
    st.sampled_from([("NEW", "NEW"), ("TRADE", "PARTIALLY_FILLED"), ("TRADE", "FILLED"), ("CANCELED", "CANCELED"),
                     ("EXPIRED", "EXPIRED"), ("REJECTED", "REJECTED"), ("REPLACED", "NEW")]),
    st.integers(0, 3), st.integers(2, 3), st.integers(1, 4), st.integers(1, 9), _prices,
)
_answers = st.builds(
    lambda order_id, status, cum, ts, price, trades: ("answer", _answer(
        order_id, status, str(cum), ts=ts, price=price, trades=tuple(trades[:cum]))),
    st.integers(1, 2), st.sampled_from(["NEW", "EXPIRED", "CANCELED", "FILLED", "REJECTED"]),
    st.integers(0, 3), st.integers(1, 9), _prices, st.lists(st.integers(1, 4), unique=True, max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_reports, _answers), max_size=14), st.sampled_from([0, 1, 2, None]))
def test_tracker_known_check_any_sequence_same_events_and_state_as_full_fold(seq, retain):
    """Late events of finished orders included: with ``retain`` 1, 2 or None a finished order stays (as a
    frozen tuple) and every later report of it goes through the cheap check or a thaw and refreeze."""
    full, checked = OrderTracker("binance", retain_finished=retain), OrderTracker("binance", retain_finished=retain)
    for item in seq:
        if isinstance(item, tuple):  # an order's answer
            known, parse = known_order, parse_order
            item = item[1]
        else:  # an executionReport
            known, parse = known_execution_report, parse_execution_report
        expected = full.observe(parse(item, _SYMBOL))
        if known(checked, item, _SYMBOL):
            assert expected == []  # what the check drops reveals nothing ...
        else:
            assert checked.observe(parse(item, _SYMBOL)) == expected
        assert _state(checked) == _state(full)  # ... and changes nothing the full fold would
        assert list(checked._finished) == list(full._finished)


def test_tracker_known_check_answer_then_stream_events_are_known():
    t = OrderTracker("binance")
    events = t.observe(parse_order(_answer(7, "EXPIRED", "0"), _SYMBOL))
    assert [type(e) for e in events] == [VenueAccepted, VenueExpired]
    assert known_execution_report(t, _report(7, "NEW", "NEW", "0", ts=5), _SYMBOL)
    assert known_execution_report(t, _report(7, "EXPIRED", "EXPIRED", "0", ts=6), _SYMBOL)
    assert t.report(_SYMBOL, "7").ts_ns == 6_000_000  # the latest time is folded in


def test_tracker_known_check_new_facts_are_not_known():
    t = OrderTracker("binance")
    t.observe(parse_order(_answer(7, "NEW", "0"), _SYMBOL))
    assert not known_execution_report(t, _report(8, "NEW", "NEW", "0"), _SYMBOL)  # another order
    assert not known_execution_report(t, _report(7, "TRADE", "PARTIALLY_FILLED", "1", trade=3, last="1"), _SYMBOL)
    assert not known_execution_report(t, _report(7, "CANCELED", "CANCELED", "0"), _SYMBOL)  # an end
    assert not known_execution_report(t, _report(7, "NEW", "NEW", "0", qty="1"), _SYMBOL)  # an amendment
    assert not known_execution_report(t, _report(7, "NEW", "NEW", "1"), _SYMBOL)  # quantity we never saw fill


def test_tracker_known_check_stream_events_then_answer_answer_is_known():
    t = OrderTracker("binance")
    assert len(t.observe(parse_execution_report(_report(7, "NEW", "NEW", "0"), _SYMBOL))) == 1
    assert len(t.observe(parse_execution_report(_report(7, "TRADE", "FILLED", "2", trade=4, last="2"), _SYMBOL))) == 1
    assert known_order(t, _answer(7, "FILLED", "2", trades=(4,)), _SYMBOL)
    assert not known_order(t, _answer(7, "FILLED", "2", trades=(5,)), _SYMBOL)  # a trade not seen


def test_tracker_known_check_replayed_trade_is_known():
    t = OrderTracker("binance")
    t.observe(parse_order(_answer(7, "NEW", "0"), _SYMBOL))
    trade = _report(7, "TRADE", "PARTIALLY_FILLED", "1", trade=3, last="1")
    assert len(t.observe(parse_execution_report(trade, _SYMBOL))) == 1
    assert known_execution_report(t, trade, _SYMBOL)


def test_tracker_finished_orders_keep_no_containers_and_still_drop_duplicates():
    t = OrderTracker("binance")
    for i in range(1, 201):
        t.observe(parse_order(_answer(i, "NEW", "0"), _SYMBOL))
        t.observe(parse_execution_report(_report(i, "TRADE", "FILLED", "2", trade=i, last="2"), _SYMBOL))
    assert t.open_orders() == []
    assert len(t._finished) == 200 and not t._orders
    gc.collect()
    assert not any(gc.is_tracked(e) for e in t._finished.values())  # nothing for the collector to walk
    assert t.observe(parse_execution_report(_report(5, "TRADE", "FILLED", "2", trade=5, last="2"), _SYMBOL)) == []


def test_tracker_fill_after_end_still_reported_once():
    t = OrderTracker("binance")
    t.observe(parse_order(_answer(7, "EXPIRED", "0"), _SYMBOL))
    late = OrderUpdate(symbol=_SYMBOL, venue_order_id="7", client_order_id="c7", status=OrderStatus.EXPIRED,
                       kind=UpdateKind.TRADE, ts_ns=2, cum_qty=D("1"),
                       fills=parse_execution_report(_report(7, "TRADE", "EXPIRED", "1", trade=9, last="1"),
                                                    _SYMBOL).fills)
    assert [e.trade_id for e in t.observe(late)] == ["9"]
    assert t.observe(late) == []

