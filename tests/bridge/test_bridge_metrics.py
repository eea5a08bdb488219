"""``/metrics``: venue call latency per endpoint, 418 counts, and first reports observed as they are made.

The gateway fills the histograms (``fixgw.gateway._latency``) as things happen; the scrape copies them.
The end-to-end test runs the gateway on the simulator over real loopback sockets.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from bridge_helpers import TRADE_SECRET, FakeView
from gateway.fixclient import FixClient
from prometheus_client import generate_latest
from test_bridge_gateway import S44, sim, stack  # noqa: F401  (sim: a fixture)

from fixgw.bridge import AsyncBridgeClient
from fixgw.bridge.metrics import registry_for
from fixgw.clock import FakeClock
from fixgw.gateway._latency import LATENCY_BUCKETS, Histogram
from fixgw.gateway._snapshots import RateWindow, VenueInfo
from fixgw.sim import SimServer
from fixgw.venues._common.ratelimit import Bucket, RateLimiter


def test_histogram_buckets_cumulative_and_quantile_upper_bound() -> None:
    h = Histogram()
    for s in (0.0002, 0.0002, 0.003, 20.0):
        h.observe(s)
    buckets = dict(h.buckets())
    assert (buckets["0.00025"], buckets["0.005"], buckets["10.0"], buckets["+Inf"]) == (2, 3, 3, 4)
    assert h.quantile(0.5) == 0.00025 and h.quantile(0.75) == 0.005 and h.quantile(1.0) == float("inf")
    assert Histogram().quantile(0.99) == 0.0
    copy = h.copy()
    h.observe(1.0)
    assert copy.n == 4 and h.n == 5  # a copy does not move with the original
    assert len(h.counts) == len(LATENCY_BUCKETS) + 1


def test_rate_limiter_counts_every_418() -> None:
    limiter = RateLimiter([Bucket("W", 10, 60.0)], clock=FakeClock(start_ns=1_700_000_000 * 10**9))
    assert limiter.banned_count == 0
    limiter.on_banned(retry_after_s=60)
    limiter.on_banned(retry_after_s=60)
    assert limiter.banned_count == 2


class _MetricsView(FakeView):
    """The fake gateway with one venue and filled histograms (``venues`` the method, not the field)."""

    def __init__(self) -> None:
        super().__init__()
        self.__dict__.pop("venues", None)
    def first_report_latency(self) -> dict[str, Any]:
        h = Histogram()
        h.observe(0.004)
        return {"bridge:oms": h}

    def venue_latency(self) -> dict[tuple[str, str], Any]:
        h = Histogram()
        h.observe(0.02)
        h.observe(0.03)
        return {("sim", "order.place"): h}

    def venues(self) -> list[Any]:
        return [VenueInfo(name="sim", kind="binance", simulated=True, connected=True, stream_state="SUBSCRIBED",
                          stream_reconnects=0, clock_offset_ms=None, rate_windows=(RateWindow("weight", 1, 10, 60.0),),
                          rate_limited_count=3, banned_until_ns=None, unresolved_orders=0, last_event_ns=None,
                          last_error=None, last_error_ns=None, api_key_expires=None, api_key_days_left=None,
                          banned_count=2)]


def test_metrics_write_venue_latency_first_report_and_ban_counts() -> None:
    text = generate_latest(registry_for(_MetricsView())).decode()
    assert 'fixgw_venue_request_seconds_count{endpoint="order.place",venue="sim"} 2.0' in text
    assert 'fixgw_venue_request_seconds_bucket{endpoint="order.place",le="0.025",venue="sim"} 1.0' in text
    assert 'fixgw_first_report_seconds_count{session="bridge:oms"} 1.0' in text
    assert 'fixgw_venue_bans_total{venue="sim"} 2.0' in text
    assert 'fixgw_venue_rate_limited_total{venue="sim"} 3.0' in text


@pytest.mark.anyio
async def test_bridge_metrics_time_venue_calls_and_first_reports_of_both_faces(sim: SimServer) -> None:
    async with stack(sim) as (gw, url), AsyncBridgeClient(url, "trader", TRADE_SECRET, timeout=10) as c:
        fix = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await fix.connect(gw.port)
        await fix.new_order("M1", "1", "0.1", price="40000")
        await fix.reports("M1", 1)
        await c.post("/v1/orders", {"client_order_id": "R1", "symbol": "BTC/USDT", "side": "buy", "type": "limit",
                                    "quantity": "0.1", "price": "40000"})
        with anyio.fail_after(10):
            while (await c.get("/v1/orders/R1"))["status"] != "new":
                await anyio.sleep(0.02)
        await c.delete("/v1/orders/R1")
        with anyio.fail_after(10):
            while (await c.get("/v1/orders/R1"))["status"] != "canceled":
                await anyio.sleep(0.02)
        # What the scrape shows was counted when it happened: the books may forget the orders meanwhile.
        for ctx in gw._router.accounts.values():
            ctx.book._orders.clear()
        async with httpx.AsyncClient() as h:
            text = (await h.get(url + "/metrics")).text
        assert 'fixgw_venue_request_seconds_count{endpoint="order.place",venue="sim"} 2.0' in text
        assert 'fixgw_venue_request_seconds_count{endpoint="order.cancel",venue="sim"} 1.0' in text
        assert f'fixgw_first_report_seconds_count{{session="{S44}"}} 1.0' in text
        assert 'fixgw_first_report_seconds_count{session="bridge:oms"} 1.0' in text
        assert 'fixgw_venue_bans_total{venue="sim"} 0.0' in text
        await fix.logout()
