"""The drop-copy feed's replay history: held flat, so a full garbage-collector pass does not walk it, and
given back on replay as the same events."""

from __future__ import annotations

import gc
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.gateway._feed import EventFeed
from fixgw.orders.enums import LiquiditySide
from fixgw.orders.events import OrderAccepted, OrderExpired, OrderFilled, OrderRejected

_TS = 1_700_000_000_000_000_000


def _events(n: int) -> list[object]:
    out: list[object] = []
    for i in range(n):
        oid = f"o{i}"
        out.append(OrderAccepted(order_id=oid, ts_ns=_TS + i, venue_order_id=f"v{i}"))
        out.append(OrderExpired(order_id=oid, ts_ns=_TS + i, reason="IOC"))
    return out


def test_feed_history_held_events_untracked_by_the_collector() -> None:
    feed = EventFeed(history=1000)
    for record in _events(200):
        feed.append("acct", record)
    gc.collect()
    tracked = sum(gc.is_tracked(held) for held in feed._recent)
    # 400 held events: none left for a full pass to walk (a FeedEvent and its record would be 800 objects)
    assert tracked == 0


def test_feed_history_fill_with_an_enum_still_replays_equal() -> None:
    feed = EventFeed(history=10)
    fill = OrderFilled(order_id="o1", ts_ns=_TS, trade_id="t1", last_qty=D("0.5"), last_px=D("41000.10"),
                       fee=D("0.01"), fee_currency="USDT", liquidity=LiquiditySide.MAKER, venue_order_id="v1",
                       final=False)
    feed.append("acct", fill)
    got = feed.subscribe(0)
    assert got is not None
    replay, _ = got
    assert [(e.id, e.account, e.order_id, e.event, e.is_fill) for e in replay] == [(1, "acct", "o1", fill, True)]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["accepted", "expired", "rejected"]), min_size=1, max_size=30),
       st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=40))
def test_feed_history_replay_since_gives_the_events_after_it_in_order(kinds, history, since) -> None:
    feed = EventFeed(history=history)
    live = []
    for i, kind in enumerate(kinds):
        oid = f"o{i}"
        record = {"accepted": OrderAccepted(order_id=oid, ts_ns=_TS, venue_order_id=None),
                  "expired": OrderExpired(order_id=oid, ts_ns=_TS, reason="x"),
                  "rejected": OrderRejected(order_id=oid, ts_ns=_TS, reason="no")}[kind]
        feed.append(f"a{i % 3}", record)
        live.append((i + 1, f"a{i % 3}", oid, record))
    got = feed.subscribe(since)
    held = live[-history:]
    if since + 1 < held[0][0] and since < len(live):
        assert got is None  # older than the history: refused, never a gap
        return
    assert got is not None
    replay, _ = got
    assert [(e.id, e.account, e.order_id, e.event) for e in replay] == [t for t in held if t[0] > since]
    assert [e.text() for e in replay] == [e.text() for e in replay]  # encodable
