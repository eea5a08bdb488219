"""Keeping tracked Binance orders true: snapshots, trade lists, reconciliation, unknown outcomes.

Theory of operation
-------------------
Order entry (``adapter.py``) reports what the venue answered; this part asks the venue when an
answer is missing or incomplete.

* Unknown outcomes (timeout, 5XX, -1007) are never rejects. ``_resolve_unknown`` asks for the
  order by client order id until it is found, or until the venue's clock has passed the request's
  timestamp plus the receive window (after that the venue can no longer accept it) and it is still
  absent: only then is the order reported as not placed. If the venue cannot be asked in time it
  raises ``VenueUnknownOutcome`` and the maintenance task keeps asking; the answer arrives as events.
* A snapshot whose cumulative quantity is ahead of the fills we saw has a gap. With the stream up
  that is usually trades still in flight, so it gets a grace period; after it (or when asked to
  fetch trades) the trade list fills the gap, and a synthesized fill only if the venue cannot tell
  us the trades.
* ``reconcile`` (on start and after every stream reconnect) compares every tracked order, and
  every order open at the venue, with the venue's view; the maintenance task also resyncs the clock.

``BinanceReconciliation`` is the half of ``BinanceAdapter`` that does this; it shares the
adapter's tracker, REST client and outcome resolver.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import anyio

from fixgw.clock import Clock
from fixgw.errors import TransportError, VenueError, VenueRejected
from fixgw.venues._common.outcome import OutcomeResolver, Pending
from fixgw.venues._common.tracker import OrderTracker, OrderUpdate
from fixgw.venues.base import Instrument, NewOrder, OrderReport, StreamState
from fixgw.venues.binance.config import BinanceConfig
from fixgw.venues.binance.http import BinanceHttp
from fixgw.venues.binance.parsing import order_ref_params, parse_order, parse_trades, update_to_report
from fixgw.venues.binance.websocket import BinanceUserStream

__all__ = ["BinanceReconciliation"]

log = logging.getLogger("fixgw.venues.binance")

_GAP_GRACE_NS = 1_000_000_000  # let the stream deliver missing trades before asking for them


class BinanceReconciliation:
    """Snapshot, trade-list and reconciliation logic of ``BinanceAdapter`` (not used on its own)."""

    # shared with the adapter, which sets them up
    config: BinanceConfig
    http: BinanceHttp
    tracker: OrderTracker
    stream: BinanceUserStream
    outcomes: OutcomeResolver[OrderReport]
    _clock: Clock
    _instruments: dict[str, Instrument]
    _maintenance_interval_s: float

    def _init_reconciliation(self) -> None:
        self._gap_seen_ns: dict[tuple[str, str], int] = {}  # (symbol, venue order id) -> first seen
        self._last_clock_sync = 0.0
        self._trades_supported = True

    def _observe(self, u: OrderUpdate, *, from_reconciliation: bool = False, synthesize: bool = False) -> None:
        raise NotImplementedError  # the adapter publishes what the tracker reveals

    def _not_placed(self, p: Pending) -> None:
        raise NotImplementedError  # the adapter publishes the closing event

    def _report(self, u: OrderUpdate) -> OrderReport:
        """The tracked view of an order just observed (the update itself if it is not tracked)."""
        return self.tracker.report(u.symbol, u.venue_order_id) or update_to_report(u)

    # -- unknown outcomes ----------------------------------------------------------------------

    async def _resolve_unknown(self, order: NewOrder, venue_symbol: str) -> OrderReport:
        # the venue can accept the request until its clock passes timestamp + recvWindow (the
        # timestamp was taken before now); one more second covers the "1000 ms ahead" tolerance
        window_s = (self.config.recv_window_ms + 1000) / 1000
        pending = self.outcomes.add(order.client_order_id, order.symbol, window_s, venue_symbol)
        return await self.outcomes.resolve(pending, self._lookup, wait_s=self.config.unknown_outcome_wait_s)

    async def _lookup(self, p: Pending) -> OrderReport:
        return await self._query_raw(p.symbol, p.context, client_order_id=p.client_order_id)

    # -- snapshots -----------------------------------------------------------------------------

    async def _query_raw(
        self,
        symbol: str,
        venue_symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
        fetch_trades: bool = False,
    ) -> OrderReport:
        params = order_ref_params("query", venue_symbol, venue_order_id, client_order_id)
        body = await self.http.request("GET", "/api/v3/order", params, signed=True)
        u = parse_order(body, symbol)
        await self._settle(u, fetch_trades=fetch_trades)
        return self._report(u)

    async def _settle(self, u: OrderUpdate, *, fetch_trades: bool) -> None:
        """Fold a snapshot in; if it shows quantity we never saw fills for, complete it.

        With the stream up, a gap in a fresh snapshot is usually trades still in flight on the
        stream, so unless ``fetch_trades`` the maintenance task comes back after a grace period.
        """
        self._observe(u, from_reconciliation=True)
        key = (u.symbol, u.venue_order_id)
        if u.cum_qty is None or u.cum_qty <= self.tracker.cum_qty(*key):
            self._gap_seen_ns.pop(key, None)
            return
        self._gap_seen_ns.setdefault(key, self._clock.now_ns())
        if not fetch_trades and self.stream.state is StreamState.SUBSCRIBED:
            return
        fills = await self._trades(u)
        self._observe(replace(u, fills=fills), from_reconciliation=True, synthesize=True)
        self._gap_seen_ns.pop(key, None)

    async def _trades(self, u: OrderUpdate) -> tuple:
        if not self._trades_supported:
            return ()
        inst = self._instruments.get(u.symbol)
        if inst is None:
            return ()
        try:
            rows = await self.http.request(
                "GET", "/api/v3/myTrades", [("symbol", inst.venue_symbol), ("orderId", u.venue_order_id)], signed=True
            )
        except VenueRejected as exc:
            log.info("trade list unavailable (%s); synthesizing fills from cumulative quantity", exc)
            self._trades_supported = False
            return ()
        except (VenueError, TransportError):
            return ()
        return parse_trades(rows or [], u.venue_order_id)

    # -- reconciliation ------------------------------------------------------------------------

    async def open_orders(self, symbol: str | None = None, *, fetch_trades: bool = False) -> list[OrderReport]:
        raise NotImplementedError  # the adapter lists them (the port's query)

    async def reconcile(self) -> None:
        """Compare every order we track (and every open order at the venue) with the venue's view."""
        open_at_venue = await self.open_orders(fetch_trades=True)
        seen = {(r.symbol, r.venue_order_id) for r in open_at_venue}
        for symbol, vid, cid in self.tracker.open_orders():
            if (symbol, vid) in seen:
                continue
            inst = self._instruments.get(symbol)
            if inst is None:
                continue
            try:
                await self._query_raw(symbol, inst.venue_symbol, venue_order_id=vid, fetch_trades=True)
            except VenueRejected as exc:
                log.warning("reconcile: order %s/%s not found: %s", cid, vid, exc)
        await self.outcomes.sweep(self._lookup, self._not_placed)

    async def _sync_clock(self) -> None:
        await self.http.sync_time()
        self._last_clock_sync = time.monotonic()

    async def _maintenance(self) -> None:
        while True:
            await anyio.sleep(self._maintenance_interval_s)
            try:
                if time.monotonic() - self._last_clock_sync > self.config.clock_resync_s:
                    await self._sync_clock()
                now = self._clock.now_ns()
                for symbol, vid, _cid in self.tracker.needing_reconcile():
                    first = self._gap_seen_ns.setdefault((symbol, vid), now)
                    inst = self._instruments.get(symbol)
                    if inst is not None and now - first >= _GAP_GRACE_NS:
                        await self._query_raw(symbol, inst.venue_symbol, venue_order_id=vid, fetch_trades=True)
                await self.outcomes.sweep(self._lookup, self._not_placed)
            except (VenueError, TransportError) as exc:
                log.warning("maintenance: %s", exc)
            except (KeyError, ValueError, TypeError, ArithmeticError):
                log.exception("maintenance: unexpected venue payload")
