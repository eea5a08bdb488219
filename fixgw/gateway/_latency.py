"""Latency histograms the gateway fills as things happen, for the bridge's ``/metrics`` to read.

A ``Histogram`` counts observations (seconds) into fixed buckets, 100 µs to 10 s; observing is a bisect
and three additions, cheap enough for every venue call and every first report. The gateway keeps:

- ``VenueContext.latency``: endpoint (``order.place``, ``order.cancel``, ``order.replace``, ...) ->
  the time a venue worker spent on the call (the adapter's request and the venue's answer, and applying
  a refusal); timed with ``time.perf_counter`` by the worker.
- ``Router.first_report``: order account key -> the time from an order's submit (its ``ts_init_ns``)
  to the moment its first report is made (the gateway's clock), whichever face entered it.
"""

from __future__ import annotations

import bisect

__all__ = ["Histogram", "LATENCY_BUCKETS", "ENDPOINTS"]

#: Upper bounds (seconds) of every latency histogram: 100 µs to 10 s.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                   5.0, 10.0)

#: A venue worker's call (its function's name) -> the endpoint label it is counted under.
ENDPOINTS = {"_submit": "order.place", "venue_cancel": "order.cancel", "_venue_replace": "order.replace",
             "_send_batch": "order.place_batch", "_cancel_batch": "order.cancel_batch"}


class Histogram:
    """Counts per bucket of ``LATENCY_BUCKETS`` (the last: above them all), their sum and number."""

    __slots__ = ("counts", "total", "n")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.total += seconds
        self.n += 1

    def copy(self) -> Histogram:
        h = Histogram()
        h.counts, h.total, h.n = list(self.counts), self.total, self.n
        return h

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative (upper bound, count) pairs, ``+Inf`` last, as Prometheus writes them."""
        out, running = [], 0
        for bound, count in zip(LATENCY_BUCKETS, self.counts):
            running += count
            out.append((repr(bound), running))
        out.append(("+Inf", self.n))
        return out

    def quantile(self, q: float) -> float:
        """The upper bound of the bucket holding quantile ``q`` (``inf`` above the last bound; 0 if empty)."""
        if self.n == 0:
            return 0.0
        rank, running = q * self.n, 0
        for bound, count in zip(LATENCY_BUCKETS, self.counts):
            running += count
            if running >= rank:
                return bound
        return float("inf")
