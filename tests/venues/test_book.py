"""The local book: the venue's snapshot + diff rules (facts §1.8, binance_market_data §6.3), views, bounds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.errors import VenueError
from fixgw.venues._common.book import (
    BookState,
    DepthSnapshot,
    DepthUpdate,
    LocalBook,
    Outcome,
    parse_levels,
)


def D(x: str | int) -> Decimal:
    return Decimal(x)


def lv(*pairs: tuple[str, str]) -> list[tuple[Decimal, Decimal]]:
    return [(D(p), D(q)) for p, q in pairs]


SNAP = DepthSnapshot(100, lv(("99", "1"), ("98", "2"), ("97", "3")), lv(("101", "1"), ("102", "2"), ("103", "3")))


def live_book(snapshot: DepthSnapshot = SNAP) -> LocalBook:
    b = LocalBook("BTC/USDT")
    assert b.take_snapshot_request()
    assert b.on_snapshot(snapshot) is Outcome.SYNCED
    return b


# == synchronisation ==============================================================================
def test_book_straddling_first_event_after_snapshot_is_applied() -> None:
    b = LocalBook("BTC/USDT")
    assert b.on_event(DepthUpdate(95, 98, lv(("99", "5")))) is Outcome.BUFFERED  # all in the snapshot
    assert b.on_event(DepthUpdate(99, 103, lv(("99", "7")))) is Outcome.BUFFERED  # straddles 100
    assert b.on_event(DepthUpdate(104, 104, (), lv(("101", "0")))) is Outcome.BUFFERED
    assert b.take_snapshot_request()
    assert b.on_snapshot(SNAP) is Outcome.SYNCED
    assert b.state is BookState.LIVE and b.last_update_id == 104
    assert b.bids(1) == [(D("99"), D("7"))]
    assert b.asks(1) == [(D("102"), D("2"))]
    assert b.applied == 2 and b.resyncs == 0


def test_book_first_event_starting_right_after_snapshot_is_applied() -> None:
    b = LocalBook("X")
    b.on_event(DepthUpdate(101, 102, lv(("99", "4"))))
    assert b.on_snapshot(SNAP) is Outcome.SYNCED
    assert b.last_update_id == 102 and b.bids(1) == [(D("99"), D("4"))]


def test_book_snapshot_older_than_buffered_stream_is_refetched() -> None:
    b = LocalBook("X")
    b.on_event(DepthUpdate(102, 103, lv(("99", "4"))))  # 101 is missing between snapshot 100 and this
    assert b.take_snapshot_request()
    assert not b.take_snapshot_request()  # one request at a time
    assert b.on_snapshot(SNAP) is Outcome.STALE_SNAPSHOT
    assert b.state is BookState.AWAITING_SNAPSHOT and b.stale_snapshots == 1 and b.resyncs == 0
    assert b.take_snapshot_request()  # another one is wanted
    assert b.on_snapshot(DepthSnapshot(101, SNAP.bids, SNAP.asks)) is Outcome.SYNCED
    assert b.last_update_id == 103 and b.bids(1) == [(D("99"), D("4"))]


def test_book_snapshot_newer_than_every_buffered_event_drops_them_all() -> None:
    b = LocalBook("X")
    for i in range(90, 100):
        b.on_event(DepthUpdate(i, i, lv(("50", "1"))))
    assert b.on_snapshot(SNAP) is Outcome.SYNCED
    assert b.buffered == 0 and b.bids() == SNAP.bids and b.applied == 0


def test_book_reordered_buffer_is_replayed_in_update_id_order() -> None:
    b = LocalBook("X")
    b.on_event(DepthUpdate(103, 103, lv(("99", "9"))))
    b.on_event(DepthUpdate(101, 102, lv(("99", "8"))))
    assert b.on_snapshot(SNAP) is Outcome.SYNCED
    assert b.bids(1) == [(D("99"), D("9"))] and b.last_update_id == 103


def test_book_unsolicited_snapshot_while_live_is_dropped() -> None:
    b = live_book()
    assert b.on_snapshot(DepthSnapshot(50)) is Outcome.UNSOLICITED
    assert b.last_update_id == 100 and b.bids() == SNAP.bids


# == live rules ===================================================================================
def test_book_old_or_duplicate_event_is_ignored() -> None:
    b = live_book()
    assert b.on_event(DepthUpdate(101, 101, lv(("99", "5")))) is Outcome.APPLIED
    assert b.on_event(DepthUpdate(101, 101, lv(("99", "6")))) is Outcome.IGNORED
    assert b.on_event(DepthUpdate(90, 100, lv(("99", "6")))) is Outcome.IGNORED
    assert b.bids(1) == [(D("99"), D("5"))] and b.ignored == 2


def test_book_gap_discards_book_and_counts_a_resync() -> None:
    b = live_book()
    gap = DepthUpdate(102, 102, lv(("99", "5")))
    assert b.on_event(gap) is Outcome.RESYNC
    assert b.state is BookState.AWAITING_SNAPSHOT and b.resyncs == 1
    assert b.last_resync_reason == "gap" and b.resync_reasons == {"gap": 1}
    assert b.bids() == [] and b.asks() == []  # never a silently wrong book
    assert b.buffered == 1 and b.take_snapshot_request()
    # The event that revealed the gap is the first of the next sync.
    assert b.on_snapshot(DepthSnapshot(101, SNAP.bids, SNAP.asks)) is Outcome.SYNCED
    assert b.bids(1) == [(D("99"), D("5"))]


def test_book_gap_inside_buffer_resyncs_and_keeps_the_rest() -> None:
    b = LocalBook("X")
    b.on_event(DepthUpdate(101, 101, lv(("99", "5"))))
    b.on_event(DepthUpdate(103, 103, lv(("99", "6"))))  # 102 lost
    b.on_event(DepthUpdate(104, 104, lv(("99", "7"))))
    assert b.on_snapshot(SNAP) is Outcome.RESYNC
    assert b.resync_reasons == {"gap": 1} and b.buffered == 2
    assert b.on_snapshot(DepthSnapshot(102, SNAP.bids, SNAP.asks)) is Outcome.SYNCED
    assert b.bids(1) == [(D("99"), D("7"))] and b.last_update_id == 104


def test_book_zero_quantity_removes_level_and_unknown_delete_is_a_no_op() -> None:
    b = live_book()
    b.on_event(DepthUpdate(101, 101, lv(("98", "0"), ("42", "0.00000000")), lv(("102", "0"))))
    assert b.bids() == lv(("99", "1"), ("97", "3"))
    assert b.asks() == lv(("101", "1"), ("103", "3"))
    assert b.depth() == (2, 2)


def test_book_crossed_after_event_resyncs() -> None:
    b = live_book()
    assert b.on_event(DepthUpdate(101, 101, lv(("101.5", "1")))) is Outcome.RESYNC
    assert b.last_resync_reason == "crossed" and b.state is BookState.AWAITING_SNAPSHOT


def test_book_crossed_snapshot_resyncs() -> None:
    b = LocalBook("X")
    assert b.on_snapshot(DepthSnapshot(5, lv(("10", "1")), lv(("10", "1")))) is Outcome.RESYNC
    assert b.resync_reasons == {"crossed": 1}


def test_book_event_with_last_id_below_first_id_resyncs() -> None:
    b = live_book()
    assert b.on_event(DepthUpdate(105, 101)) is Outcome.RESYNC
    assert b.last_resync_reason == "bad_event"


def test_book_stream_lost_discards_live_book() -> None:
    b = live_book()
    b.stream_lost()
    assert b.state is BookState.AWAITING_SNAPSHOT and b.last_resync_reason == "stream_lost"
    assert b.take_snapshot_request()


# == views ========================================================================================
def test_book_views_bids_descending_asks_ascending_and_full_depth() -> None:
    b = live_book()
    b.on_event(DepthUpdate(101, 101, lv(("98.5", "4"), ("99.50", "2")), lv(("100.5", "1"), ("102.25", "1"))))
    assert b.bids(2) == lv(("99.5", "2"), ("99", "1"))
    assert b.asks(2) == lv(("100.5", "1"), ("101", "1"))
    bids, asks = b.top()
    assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True) and len(bids) == 5
    assert [p for p, _ in asks] == sorted(p for p, _ in asks) and len(asks) == 5
    assert b.best_bid() == (D("99.5"), D("2")) and b.best_ask() == (D("100.5"), D("1"))
    assert b.bids(100) == bids and b.bids(0) == []


def test_book_same_price_in_another_spelling_is_the_same_level() -> None:
    b = live_book()
    b.on_event(DepthUpdate(101, 101, lv(("99.00000000", "5"))))
    assert b.bids(1) == [(D("99"), D("5"))] and b.depth() == (3, 3)
    b.on_event(DepthUpdate(102, 102, lv(("99.0", "0"))))
    assert b.depth() == (2, 3)


# == bounds =======================================================================================
def test_book_buffer_bound_drops_oldest_and_counts() -> None:
    b = LocalBook("X", max_buffered=3)
    for i in range(101, 106):
        b.on_event(DepthUpdate(i, i, lv(("99", str(i)))))
    assert b.buffered == 3 and b.buffer_dropped == 2
    assert b.on_snapshot(SNAP) is Outcome.STALE_SNAPSHOT  # 101-102 are gone
    assert b.on_snapshot(DepthSnapshot(102, SNAP.bids, SNAP.asks)) is Outcome.SYNCED
    assert b.bids(1) == [(D("99"), D("105"))]


def test_book_level_bound_keeps_the_levels_nearest_the_top() -> None:
    bids = [(D(100 - i), D(1)) for i in range(1, 11)]
    asks = [(D(100 + i), D(1)) for i in range(1, 11)]
    b = LocalBook("X", max_levels=4)
    b.on_snapshot(DepthSnapshot(1, bids, asks))
    assert b.bids() == bids[:4] and b.asks() == asks[:4]
    b.on_event(DepthUpdate(2, 2, [(D("99.5"), D(2))], [(D("100.5"), D(2))]))
    assert b.bids() == [(D("99.5"), D(2))] + bids[:3] and b.asks() == [(D("100.5"), D(2))] + asks[:3]


def test_book_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        LocalBook("X", max_buffered=0)


# == parsing a venue's rows =======================================================================
def test_parse_levels_venue_rows_become_decimals() -> None:
    rows = [["4.00000000", "431.00000000"], ["3.99", "0.00000000", []]]
    assert parse_levels(rows) == [(D("4"), D("431")), (D("3.99"), D("0"))]


@pytest.mark.parametrize(
    "row",
    [["4.0"], ["x", "1"], ["4", "-1"], ["0", "1"], ["NaN", "1"], ["4", "Infinity"], [4.0, "1"], None, "ab",
     ["4\n5", "1"]],
)
def test_parse_levels_bad_row_raises_venue_error(row: object) -> None:
    with pytest.raises(VenueError) as e:
        parse_levels([["1", "1"], row])  # type: ignore[list-item]
    assert "\n" not in str(e.value)


# == level store against a plain model ============================================================
prices = st.integers(1, 60).map(lambda i: Decimal(i).scaleb(-1))
qtys = st.sampled_from([Decimal(0), Decimal("0.000"), Decimal(1), Decimal("2.5")])
levels = st.lists(st.tuples(prices, qtys), max_size=8)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(levels, levels), max_size=30), st.integers(1, 10))
def test_book_levels_equal_a_plain_dict_model(events: list, n: int) -> None:
    # Bids below 10 and asks from 10 up never cross, so every event applies.
    b = LocalBook("X")
    b.on_snapshot(DepthSnapshot(0))
    model: tuple[dict, dict] = ({}, {})
    for i, (bl, al) in enumerate(events, start=1):
        bl = [(p, q) for p, q in bl if p < 5]
        al = [(p + 5, q) for p, q in al]
        assert b.on_event(DepthUpdate(i, i, bl, al)) is Outcome.APPLIED
        for side, ls in zip(model, (bl, al)):
            for p, q in ls:
                if q:
                    side[p] = q
                else:
                    side.pop(p, None)
        assert b.bids() == sorted(model[0].items(), reverse=True)
        assert b.asks() == sorted(model[1].items())
        assert b.top(n) == (sorted(model[0].items(), reverse=True)[:n], sorted(model[1].items())[:n])
