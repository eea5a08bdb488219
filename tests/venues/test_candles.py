"""OHLCV candles from trades by exchange time: buckets, late trades, retention, duplicates."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.venues._common.candles import Candle, Candles, CandleSeries, interval_ns

S = 1_000_000_000
T0 = 1_764_036_000 * S  # 2025-11-25 02:00:00 UTC, on every bucket edge up to 1h


def D(x: str | int) -> Decimal:
    return Decimal(x)


@pytest.mark.parametrize(("name", "ns"), [("1s", S), ("1m", 60 * S), ("5m", 300 * S), ("1h", 3600 * S), ("1d", 86400 * S)])
def test_interval_ns_known_names_give_their_length(name: str, ns: int) -> None:
    assert interval_ns(name) == ns


@pytest.mark.parametrize("name", ["1M", "0s", "", "m", "1w", "5 m", None])
def test_interval_ns_unsupported_name_raises_value_error(name: object) -> None:
    with pytest.raises(ValueError):
        interval_ns(name)  # type: ignore[arg-type]


def test_candle_series_trades_in_one_bucket_give_ohlcv() -> None:
    s = CandleSeries("1m")
    s.add(T0 + 1 * S, D("100"), D("1"), trade_id=1)
    s.add(T0 + 2 * S, D("105"), D("0.5"), trade_id=2)
    s.add(T0 + 3 * S, D("95"), D("2"), trade_id=3)
    c = s.add(T0 + 59 * S, D("101"), D("1"), trade_id=4)
    assert c == Candle("1m", T0, T0 + 60 * S, D("100"), D("105"), D("95"), D("101"), D("4.5"),
                       D("100") + D("52.5") + D("190") + D("101"), 4)


def test_candle_series_trade_at_bucket_edge_opens_next_bucket() -> None:
    s = CandleSeries("1s")
    s.add(T0 + S - 1, D("1"), D("1"))
    c = s.add(T0 + S, D("2"), D("1"))
    assert c is not None and c.open_time_ns == T0 + S
    assert [x.open_time_ns for x in s.candles()] == [T0, T0 + S]


def test_candle_series_late_trade_amends_closed_bucket() -> None:
    s = CandleSeries("1m")
    s.add(T0 + 10 * S, D("100"), D("1"), trade_id=10)
    s.add(T0 + 70 * S, D("110"), D("1"), trade_id=20)  # next bucket
    late = s.add(T0 + 5 * S, D("90"), D("2"), trade_id=5)  # earlier than the first trade of bucket 0
    assert late is not None and late.open_time_ns == T0
    assert (late.open, late.high, late.low, late.close, late.volume, late.trades) == (
        D("90"), D("100"), D("90"), D("100"), D("3"), 2)
    assert s.amended == 1 and s.latest() == s.get(T0 + 60 * S)


def test_candle_series_same_timestamp_orders_by_trade_id() -> None:
    s = CandleSeries("1m")
    s.add(T0, D("2"), D("1"), trade_id=2)
    c = s.add(T0, D("1"), D("1"), trade_id=1)
    assert c is not None and (c.open, c.close) == (D("1"), D("2"))


def test_candle_series_trade_older_than_retention_is_refused_and_counted() -> None:
    s = CandleSeries("1s", retention=3)
    for i in range(5):
        s.add(T0 + i * S, D("1"), D("1"))
    assert [c.open_time_ns for c in s.candles()] == [T0 + 2 * S, T0 + 3 * S, T0 + 4 * S]
    assert s.add(T0 + 1 * S, D("1"), D("1")) is None and s.too_late == 1
    assert s.add(T0 + 2 * S, D("1"), D("1")) is not None  # the oldest retained bucket still amends


def test_candle_series_duplicate_trade_id_is_dropped() -> None:
    s = CandleSeries("1m")
    s.add(T0, D("1"), D("1"), trade_id=7)
    assert s.add(T0, D("1"), D("1"), trade_id=7) is None
    assert s.duplicates == 1 and s.latest().trades == 1  # type: ignore[union-attr]


@pytest.mark.parametrize(("price", "qty"), [(D("0"), D("1")), (D("1"), D("-1")), (D("NaN"), D("1")), (1.5, D("1"))])
def test_candle_series_bad_trade_raises_value_error(price: object, qty: object) -> None:
    with pytest.raises(ValueError):
        CandleSeries("1m").add(T0, price, qty)  # type: ignore[arg-type]


def test_candle_series_closed_and_filled_views() -> None:
    s = CandleSeries("1s")
    s.add(T0, D("10"), D("1"))
    s.add(T0 + 3 * S, D("12"), D("1"))
    assert [c.open_time_ns for c in s.closed(T0 + 3 * S)] == [T0]
    filled = list(s.filled(T0, T0 + 4 * S))
    assert [c.open_time_ns for c in filled] == [T0, T0 + S, T0 + 2 * S, T0 + 3 * S]
    assert filled[1] == Candle("1s", T0 + S, T0 + 2 * S, D("10"), D("10"), D("10"), D("10"), D(0), D(0), 0)


def test_candles_feed_every_interval() -> None:
    c = Candles()
    out = c.add(T0 + 61 * S, D("5"), D("2"), trade_id=1)
    assert [x.interval for x in out] == ["1s", "1m", "5m", "1h"]
    assert [x.open_time_ns for x in out] == [T0 + 61 * S, T0 + 60 * S, T0, T0]
    assert c["5m"].latest().volume == D("2")  # type: ignore[union-attr]


trades = st.lists(
    st.tuples(st.integers(0, 600 * S), st.integers(1, 50).map(Decimal), st.sampled_from([D("0.5"), D("1"), D("3")])),
    min_size=1, max_size=40,
)


@settings(max_examples=100, deadline=None)
@given(trades, st.randoms(use_true_random=False))
def test_candle_series_any_arrival_order_gives_the_same_candles(ts: list, rnd) -> None:
    def build(order: list) -> list[Candle]:
        s = CandleSeries("1m", retention=100)
        for i, (t, p, q) in order:
            s.add(T0 + t, p, q, trade_id=i)
        return s.candles()

    indexed = list(enumerate(ts))
    shuffled = indexed[:]
    rnd.shuffle(shuffled)
    got = build(shuffled)
    assert got == build(indexed)
    # and against a direct computation per bucket
    for c in got:
        inside = sorted((t, i, p, q) for i, (t, p, q) in indexed if c.open_time_ns <= T0 + t < c.close_time_ns)
        assert (c.open, c.close) == (inside[0][2], inside[-1][2])
        assert c.high == max(x[2] for x in inside) and c.low == min(x[2] for x in inside)
        assert c.volume == sum(x[3] for x in inside) and c.trades == len(inside)
