"""Keeping tracked Coinbase orders true: snapshots, fill lists, reconciliation, unknown outcomes.

Theory of operation
-------------------
Order entry and the feed (``adapter.py``) report what the venue said; this half asks the venue when
something is missing. A snapshot (``GET /orders/{id}``) whose filled size is ahead of the matches we
saw has a gap: with the feed up that is usually matches in flight, so it gets ``gap_grace_s``; after
it (or when asked to fetch fills, or with the feed down) ``GET /fills?order_id=`` completes it, and a
synthesized ``recon:`` fill is made only if the venue cannot say. ``reconcile`` runs at start and
after every feed reconnect: every order open at the venue and every tracked order no longer open is
read. The maintenance task resyncs the clock, completes gaps past their grace, reads orders a
``done`` left unfinished and keeps asking about submits of unknown outcome.

``CoinbaseReconciliation`` is that half of ``CoinbaseExchangeAdapter`` (not used on its own).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import anyio

from fixgw.clock import Clock
from fixgw.errors import TransportError, VenueError, VenueRejected
from fixgw.logsafe import printable
from fixgw.venues._common.outcome import OutcomeResolver, Pending, not_placed_event
from fixgw.venues._common.tracker import OrderTracker, OrderUpdate
from fixgw.venues.base import Instrument, OrderReport, StreamState
from fixgw.venues.coinbase.config import CoinbaseConfig
from fixgw.venues.coinbase.http import CoinbaseHttp
from fixgw.venues.coinbase.parsing import VENUE, ClientIds, parse_fills, parse_order
from fixgw.venues.coinbase.websocket import CoinbaseFeed

__all__ = ["CoinbaseReconciliation"]

log = logging.getLogger("fixgw.venues.coinbase")


class CoinbaseReconciliation:
    """Snapshot, fill-list and reconciliation logic of ``CoinbaseExchangeAdapter``."""

    # shared with the adapter, which sets them up
    config: CoinbaseConfig
    http: CoinbaseHttp
    tracker: OrderTracker
    ids: ClientIds
    stream: CoinbaseFeed | None
    outcomes: OutcomeResolver[OrderReport]
    _clock: Clock
    _instruments: dict[str, Instrument]
    _maintenance_interval_s: float
    _last_clock_sync: float
    _gap_seen_ns: dict[tuple[str, str], int]
    _check_soon: set[tuple[str, str]]
    _send: Any  # the adapter's event stream

    def _observe(self, u: OrderUpdate, *, from_reconciliation: bool = False, synthesize: bool = False) -> None:
        raise NotImplementedError  # the adapter publishes what the tracker reveals

    def _report(self, u: OrderUpdate) -> OrderReport:
        raise NotImplementedError

    async def open_orders(self, symbol: str | None = None, *, fetch_trades: bool = False) -> list[OrderReport]:
        raise NotImplementedError  # the adapter lists them (the port's query)

    async def _sync_clock(self) -> None:
        await self.http.sync_time()
        self._last_clock_sync = time.monotonic()

    async def _lookup(self, p: Pending) -> OrderReport:
        return await self._query_raw(p.symbol, "client:" + p.context, fetch_trades=True)

    def _not_placed(self, p: Pending) -> None:
        self._send.send_nowait(not_placed_event(VENUE, p, self._clock.now_ns()))

    async def _query_raw(self, symbol: str, ref: str, *, fetch_trades: bool) -> OrderReport:
        row = await self.http.request("GET", f"/orders/{ref}")
        u = parse_order(row, symbol, self.ids)
        await self._settle(u, fetch_trades=fetch_trades)
        return self._report(u)

    async def _settle(self, u: OrderUpdate, *, fetch_trades: bool) -> None:
        """Fold a snapshot in; if it shows quantity we never saw matches for, read its fills."""
        self._observe(u, from_reconciliation=True)
        key = (u.symbol, u.venue_order_id)
        self._check_soon.discard(key)
        if u.cum_qty is None or u.cum_qty <= self.tracker.cum_qty(*key):
            self._gap_seen_ns.pop(key, None)
            return
        self._gap_seen_ns.setdefault(key, self._clock.now_ns())
        if not fetch_trades and self.stream is not None and self.stream.state is StreamState.SUBSCRIBED:
            return  # the feed's matches are probably in flight; the maintenance task comes back
        fills = await self._fills(u)
        self._observe(dataclasses.replace(u, fills=fills), from_reconciliation=True, synthesize=True)
        self._gap_seen_ns.pop(key, None)

    async def _fills(self, u: OrderUpdate) -> tuple:
        inst = self._instruments.get(u.symbol)
        try:
            rows = await self.http.request("GET", "/fills", query=[("order_id", u.venue_order_id), ("limit", 1000)])
        except (VenueError, TransportError) as exc:
            log.info("fills of %s unavailable (%s); synthesizing from the cumulative quantity", printable(u.venue_order_id), printable(exc))
            return ()
        return parse_fills(rows or [], u.venue_order_id, inst.quote if inst else None)

    async def reconcile(self) -> None:
        """Compare every order we track (and every order open at the venue) with the venue's view."""
        open_at_venue = await self.open_orders(fetch_trades=True)
        seen = {(r.symbol, r.venue_order_id) for r in open_at_venue}
        for symbol, vid, cid in self.tracker.open_orders():
            if (symbol, vid) in seen:
                continue
            try:
                await self._query_raw(symbol, vid, fetch_trades=True)
            except VenueRejected as exc:
                log.warning("reconcile: order %s/%s not found: %s", cid, printable(vid), printable(exc))
        await self.outcomes.sweep(self._lookup, self._not_placed)

    async def _maintenance(self) -> None:
        grace_ns = int(self.config.gap_grace_s * 1e9)
        while True:
            await anyio.sleep(self._maintenance_interval_s)
            try:
                if time.monotonic() - self._last_clock_sync > self.config.clock_resync_s:
                    await self._sync_clock()
                now = self._clock.now_ns()
                due = set(self._check_soon)
                for symbol, vid, _cid in self.tracker.needing_reconcile():
                    first = self._gap_seen_ns.setdefault((symbol, vid), now)
                    if now - first >= grace_ns:
                        due.add((symbol, vid))
                for symbol, vid in due:
                    await self._query_raw(symbol, vid, fetch_trades=True)
                await self.outcomes.sweep(self._lookup, self._not_placed)
            except (VenueError, TransportError) as exc:
                log.warning("maintenance: %s", printable(exc))
            except (KeyError, ValueError, TypeError, ArithmeticError):
                log.exception("maintenance: unexpected venue payload")
