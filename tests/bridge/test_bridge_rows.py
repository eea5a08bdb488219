"""The order rows' times: RFC 3339 UTC with milliseconds, whatever order the times come in."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from fixgw.gateway._snapshots import iso_time

# 1970-01-01 to 9999-12-31, in ns.
_NS = st.integers(min_value=0, max_value=253_402_300_799_999_999_999)


def _reference(ns: int) -> str:
    ms = ns // 1_000_000
    return datetime.fromtimestamp(ms // 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@given(st.lists(_NS, min_size=1, max_size=20))
def test_iso_time_any_sequence_of_times_matches_reference(times: list[int]) -> None:
    for ns in times:  # consecutive calls: a second seen before must not leak into the next one's text
        assert iso_time(ns) == _reference(ns)


def test_iso_time_same_second_then_next_second_each_right() -> None:
    base = 1_765_000_000 * 1_000_000_000
    assert iso_time(base + 999_999_999) == "2025-12-06T05:46:40.999Z"
    assert iso_time(base + 1_000_000_000) == "2025-12-06T05:46:41.000Z"
    assert iso_time(base + 5_000_000) == "2025-12-06T05:46:40.005Z"
    assert iso_time(None) is None
