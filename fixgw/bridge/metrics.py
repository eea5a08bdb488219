"""``/metrics``: the gateway's state in the Prometheus text format, read at scrape time.

Theory of operation
-------------------
Nothing here runs per message. ``GatewayCollector.collect`` is called by the scrape (on the bridge's
event loop, which is the gateway's) and reads what the gateway already keeps: sequence numbers,
session states, the order books, the venue adapters' health and rate limiters, the reject counts the
gateway's session callback keeps. Each app has its own registry, so two apps in one process (tests)
never share series.

The histograms are filled by the gateway as things happen (``fixgw.gateway._latency``) and copied at
scrape time: ``fixgw_first_report_seconds`` (an order's submit -> the moment its first report is made,
on the gateway's clock; per FIX session, and per bridge account as ``bridge:<name>``) and
``fixgw_venue_request_seconds`` (per venue and endpoint: ``order.place``, ``order.cancel``,
``order.replace``: a venue worker's call, the venue's answer included).

Series (labels):

- ``fixgw_fix_messages_total`` (session, direction in/out): sequence numbers used since the last reset
- ``fixgw_session_rejects_total`` (session, kind session/business, reason): Reject / BusinessMessageReject sent
- ``fixgw_session_state`` (session, state), ``fixgw_session_logged_on`` (session), ``fixgw_session_enabled``
- ``fixgw_orders`` (session, status): orders held in memory
- ``fixgw_first_report_seconds`` histogram (session)
- ``fixgw_venue_request_seconds`` histogram (venue, endpoint)
- ``fixgw_venue_connected``, ``fixgw_venue_banned`` (a 418 ban in force), ``fixgw_venue_rate_limited_total``
  (429s), ``fixgw_venue_bans_total`` (418s), ``fixgw_venue_stream_reconnects_total``, ``fixgw_venue_clock_offset_seconds``,
  ``fixgw_venue_api_key_days_left`` (venue)
- ``fixgw_venue_rate_limit_used`` / ``_limit`` / ``_headroom`` (venue, window)
"""

from __future__ import annotations

import logging
from typing import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from .view import GatewayView

__all__ = ["GatewayCollector", "registry_for"]

log = logging.getLogger("fixgw.bridge")

class GatewayCollector(Collector):
    """Reads ``view`` at every scrape (see the module docstring)."""

    def __init__(self, view: GatewayView) -> None:
        self.view = view

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._sessions()
            yield from self._orders()
            yield from self._venues()
        except Exception:  # a scrape must not fail the app; the log says why
            log.exception("metrics: collecting failed")

    def _sessions(self) -> Iterator[Metric]:
        msgs = CounterMetricFamily("fixgw_fix_messages", "FIX messages (sequence numbers used since the last "
                                   "sequence reset)", labels=["session", "direction"])
        state = GaugeMetricFamily("fixgw_session_state", "1 for the session's current state",
                                  labels=["session", "state"])
        logged_on = GaugeMetricFamily("fixgw_session_logged_on", "1 while logged on", labels=["session"])
        enabled = GaugeMetricFamily("fixgw_session_enabled", "0 while an operator disabled it", labels=["session"])
        for s in self.view.sessions():
            sid = s.session_id
            msgs.add_metric([sid, "out"], max(s.next_sender_seq - 1, 0))
            msgs.add_metric([sid, "in"], max(s.next_target_seq - 1, 0))
            state.add_metric([sid, s.state], 1)
            logged_on.add_metric([sid], int(s.logged_on))
            enabled.add_metric([sid], int(s.enabled))
        rejects = CounterMetricFamily("fixgw_session_rejects", "Rejects the sessions sent, by kind and reason code",
                                      labels=["session", "kind", "reason"])
        for (sid, kind, reason), n in sorted(self.view.session_rejects().items()):
            rejects.add_metric([sid, kind, reason], n)
        yield from (msgs, state, logged_on, enabled, rejects)

    def _orders(self) -> Iterator[Metric]:
        orders = GaugeMetricFamily("fixgw_orders", "Orders held in memory, by status", labels=["session", "status"])
        for (sid, status), n in sorted(self.view.order_counts().items()):
            orders.add_metric([sid, status], n)
        yield orders
        hist = HistogramMetricFamily("fixgw_first_report_seconds",
                                     "Order received -> its first ExecutionReport made", labels=["session"])
        for label, h in sorted(self.view.first_report_latency().items()):
            hist.add_metric([label], h.buckets(), h.total)
        yield hist
        calls = HistogramMetricFamily("fixgw_venue_request_seconds",
                                      "Venue calls by endpoint (request to answer)", labels=["venue", "endpoint"])
        for (venue, endpoint), h in sorted(self.view.venue_latency().items()):
            calls.add_metric([venue, endpoint], h.buckets(), h.total)
        yield calls

    def _venues(self) -> Iterator[Metric]:
        connected = GaugeMetricFamily("fixgw_venue_connected", "1 while the venue stream is subscribed",
                                      labels=["venue"])
        banned = GaugeMetricFamily("fixgw_venue_banned", "1 while a venue ban (418) is in force", labels=["venue"])
        limited = CounterMetricFamily("fixgw_venue_rate_limited", "429 answers from the venue", labels=["venue"])
        bans = CounterMetricFamily("fixgw_venue_bans", "418 answers (bans) from the venue", labels=["venue"])
        reconnects = CounterMetricFamily("fixgw_venue_stream_reconnects", "Venue stream reconnections",
                                         labels=["venue"])
        offset = GaugeMetricFamily("fixgw_venue_clock_offset_seconds", "Venue clock minus ours", labels=["venue"])
        days = GaugeMetricFamily("fixgw_venue_api_key_days_left", "Days until the venue API key expires",
                                 labels=["venue"])
        used = GaugeMetricFamily("fixgw_venue_rate_limit_used", "Units used in the current window",
                                 labels=["venue", "window"])
        limit = GaugeMetricFamily("fixgw_venue_rate_limit_limit", "Units allowed per window",
                                  labels=["venue", "window"])
        headroom = GaugeMetricFamily("fixgw_venue_rate_limit_headroom", "Units left in the current window",
                                     labels=["venue", "window"])
        for v in self.view.venues():
            connected.add_metric([v.name], int(v.connected))
            banned.add_metric([v.name], int(v.banned_until_ns is not None))
            limited.add_metric([v.name], v.rate_limited_count)
            bans.add_metric([v.name], v.banned_count)
            reconnects.add_metric([v.name], v.stream_reconnects)
            if v.clock_offset_ms is not None:
                offset.add_metric([v.name], v.clock_offset_ms / 1000)
            if v.api_key_days_left is not None:
                days.add_metric([v.name], v.api_key_days_left)
            for w in v.rate_windows:
                used.add_metric([v.name, w.name], w.used)
                limit.add_metric([v.name, w.name], w.limit)
                headroom.add_metric([v.name, w.name], w.headroom)
        yield from (connected, banned, limited, bans, reconnects, offset, days, used, limit, headroom)


def registry_for(view: GatewayView) -> CollectorRegistry:
    """A registry of its own holding a ``GatewayCollector`` over ``view``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(view))
    return registry
