"""The one backoff formula (fixgw.backoff): bounds, growth, cap, jitter from an injected random source."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixgw.backoff import EQUAL_JITTER, NO_JITTER, Backoff, backoff_delay, spread

initials = st.floats(min_value=0.0, max_value=1e6, allow_nan=False)
caps = st.floats(min_value=0.0, max_value=1e9, allow_nan=False)
factors = st.floats(min_value=1.0, max_value=1e6, allow_nan=False)
attempts = st.integers(min_value=-5, max_value=10**6)
jitters = st.tuples(st.floats(0.0, 2.0), st.floats(0.0, 2.0)).map(sorted).map(tuple)


@given(attempts, initials, caps, factors, jitters, st.integers(0, 2**32))
def test_backoff_delay_any_input_stays_within_zero_and_cap(attempt, initial, cap, factor, jitter, seed):
    d = backoff_delay(attempt, initial, cap, factor=factor, jitter=jitter, rng=random.Random(seed))
    assert isinstance(d, float)
    assert 0.0 <= d <= cap


@given(st.integers(0, 2000), initials, caps, factors)
def test_backoff_delay_without_jitter_grows_monotonically_until_cap(n, initial, cap, factor):
    a = backoff_delay(n, initial, cap, factor=factor)
    b = backoff_delay(n + 1, initial, cap, factor=factor)
    assert a <= b <= cap


@given(initials.filter(lambda x: x > 0), st.floats(1.0, 1e6), st.integers(0, 30))
def test_backoff_delay_without_jitter_is_initial_times_factor_power_or_cap(initial, ratio, n):
    cap = initial * ratio
    expected = min(cap, initial * 2.0**n)
    assert backoff_delay(n, initial, cap) == pytest.approx(expected, rel=1e-12)


@given(st.integers(0, 100), st.floats(0.001, 10.0), st.floats(0.0, 0.99), st.integers(0, 2**32))
def test_backoff_delay_jitter_stays_within_its_range_of_the_raw_delay(n, initial, fraction, seed):
    cap = 1000.0
    raw = backoff_delay(n, initial, cap)
    d = backoff_delay(n, initial, cap, jitter=spread(fraction), rng=random.Random(seed))
    assert raw * (1 - fraction) * (1 - 1e-12) <= d <= min(cap, raw * (1 + fraction))
    e = backoff_delay(n, initial, cap, jitter=EQUAL_JITTER, rng=random.Random(seed))
    assert raw / 2 * (1 - 1e-12) <= e <= raw


def test_backoff_delay_reaches_cap_and_stays_for_huge_attempts():
    assert backoff_delay(10**9, 0.5, 30.0) == 30.0
    assert backoff_delay(5000, 1.0, 7.0, factor=1e10) == 7.0
    assert backoff_delay(-3, 0.5, 30.0) == 0.5


def test_backoff_delay_same_seed_same_delays_different_seed_differs():
    a = [backoff_delay(n, 1.0, 100.0, jitter=EQUAL_JITTER, rng=random.Random(3)) for n in range(6)]
    b = [backoff_delay(n, 1.0, 100.0, jitter=EQUAL_JITTER, rng=random.Random(3)) for n in range(6)]
    c = [backoff_delay(n, 1.0, 100.0, jitter=EQUAL_JITTER, rng=random.Random(4)) for n in range(6)]
    assert a == b != c


@pytest.mark.parametrize("kwargs", [
    {"initial": -1.0, "maximum": 1.0},
    {"initial": 1.0, "maximum": -1.0},
    {"initial": 1.0, "maximum": 2.0, "factor": 0.5},
    {"initial": 1.0, "maximum": 2.0, "jitter": (1.2, 0.8)},
    {"initial": 1.0, "maximum": 2.0, "jitter": (-0.1, 1.0)},
    {"initial": float("nan"), "maximum": 2.0},
])
def test_backoff_delay_nonsense_arguments_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        backoff_delay(0, **kwargs)


def test_backoff_spread_out_of_range_raises_value_error():
    with pytest.raises(ValueError):
        spread(1.0)
    assert spread(0.0) == NO_JITTER


def test_backoff_counter_counts_attempts_and_reset_restarts():
    b = Backoff(initial=0.5, maximum=4.0, jitter=0.0)
    assert [b.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert b.attempts == 6
    b.reset()
    assert b.next_delay() == 0.5
