"""Keeping tracked Kraken orders true: order snapshots, trade details, reconciliation, the feed's entries.

Theory of operation
-------------------
Facts about orders arrive three ways: command answers (a txid, a count), the ``executions`` feed,
and REST snapshots (QueryOrders / OpenOrders with their trade txids). All of them go through one
``OrderTracker``, which publishes each event once. A snapshot whose executed volume is ahead of the
fills we saw is completed from ``QueryTrades`` (the real trade txids, so a trade the feed delivers too
is one fill); only if the venue cannot give them is a fill synthesized. ``reconcile`` (on start and
after every feed reconnect, once the new subscription is in place) folds in every open order and asks
for every tracked order no longer open, then settles lost submissions.

Kraken cannot rename an order: an amendment that gives the order a new client order id is kept
here as an alias (txid -> the id we track it by), and every later fact about that txid uses it.
``KrakenReconciliation`` is that half of ``KrakenAdapter``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

import anyio

from fixgw.clock import Clock
from fixgw.errors import TransportError, VenueError, VenueRejected
from fixgw.logsafe import printable
from fixgw.venues._common.outcome import OutcomeResolver, Pending
from fixgw.venues._common.tracker import Fill, OrderTracker, OrderUpdate
from fixgw.venues.base import Instrument, OrderReport, StreamState
from fixgw.venues.kraken.config import KrakenConfig
from fixgw.venues.kraken.http import KrakenHttp
from fixgw.venues.kraken.parsing import (
    asset,
    parse_execution,
    parse_order,
    parse_trade,
    venue_client_id,
    ws_time_ns,
)

__all__ = ["KrakenReconciliation", "unknown_order"]

log = logging.getLogger("fixgw.venues.kraken")

_GAP_GRACE_NS = 1_000_000_000


def unknown_order() -> VenueRejected:
    return VenueRejected("EOrder:Invalid order", "Unknown order", reason="unknown_order")


class KrakenReconciliation:
    """Snapshot, trade and reconciliation logic of ``KrakenAdapter`` (not used on its own)."""

    config: KrakenConfig
    http: KrakenHttp
    tracker: OrderTracker
    outcomes: OutcomeResolver[OrderReport]
    _clock: Clock
    _instruments: dict[str, Instrument]
    _by_venue_symbol: dict[str, str]
    _maintenance_interval_s: float

    def _init_reconciliation(self) -> None:
        self._txid_symbol: dict[str, str] = {}  # txid -> normalised symbol
        self._aliases: dict[str, str] = {}  # txid -> the client order id we track it by, when renamed
        self._client_ids: dict[str, str] = {}  # cl_ord_id sent -> our client order id, where they differ
        self._changed = anyio.Event()
        self._last_clock_sync = 0.0
        self._last_poll = time.monotonic()
        self._gap_seen: dict[tuple[str, str], int] = {}  # (symbol, txid) -> when a gap was first seen
        self._feed_seen: dict[str, None] = {}  # txids the feed has spoken of (recent ones)
        self._clock_suspect = False

    def _observe(self, u: OrderUpdate, *, from_reconciliation: bool = False, synthesize: bool = False) -> None:
        raise NotImplementedError  # the adapter publishes what the tracker reveals

    def _not_placed(self, p: Pending) -> None:
        raise NotImplementedError

    def _report(self, symbol: str, txid: str) -> OrderReport:
        report = self.tracker.report(symbol, txid)
        if report is None:
            raise unknown_order()
        return report

    def _client_id(self, symbol: str, txid: str, given: str) -> str:
        alias = self._aliases.get(txid)
        if alias is not None:
            return alias
        report = self.tracker.report(symbol, txid)
        if report is None:
            return self._client_ids.get(given, given)
        ours = self._client_ids.get(report.client_order_id)
        if ours is not None:  # known by the UUID that stands for our id (seen before we knew): our id now
            self.tracker.rename(symbol, txid, ours)
            return ours
        return report.client_order_id

    def _venue_client_id(self, cid: str) -> str:
        """The ``cl_ord_id`` for ``cid``, remembering the way back when they differ."""
        sent = venue_client_id(cid)
        if sent != cid:
            self._client_ids[sent] = cid
            if len(self._client_ids) > 100_000:  # bounded: the oldest half is long finished
                for key in list(self._client_ids)[:50_000]:
                    del self._client_ids[key]
        return sent

    # -- the feed -------------------------------------------------------------------------------

    def _on_entries(self, kind: str, entries: list[dict[str, Any]]) -> None:
        if kind == "update" and entries:
            self._check_clock(entries[-1].get("timestamp"))
        for e in entries:
            try:
                txid = str(e.get("order_id") or "")
                symbol = self._txid_symbol.get(txid) or self._ws_symbol(e.get("symbol"))
                if not txid or symbol is None:
                    continue
                self._txid_symbol[txid] = symbol
                self._feed_seen[txid] = None
                given = str(e.get("cl_ord_id") or e.get("order_userref") or "")
                u = parse_execution(e, symbol, self._client_id(symbol, txid, given), snapshot=kind == "snapshot")
            except (KeyError, ValueError, TypeError, ArithmeticError):
                log.exception("unreadable executions entry skipped")  # reconciliation covers the order
                continue
            if u is not None:
                self._observe(u, from_reconciliation=kind == "snapshot")

    def _check_clock(self, timestamp: Any) -> None:
        """An event stamped more than a second away from our idea of venue time: the venue's clock
        moved. Start again from this reading (with a wide round trip, so a ping's reading replaces it)."""
        ts_ns = ws_time_ns(timestamp)
        clock = self.server_clock  # type: ignore[attr-defined]
        local = clock.local_ns()
        if ts_ns and abs(ts_ns - clock.now_ns()) > 1_000_000_000:
            clock.reset()
            clock.record(local - 500_000_000, ts_ns // 1_000_000, local + 500_000_000)
            self._clock_suspect = True
        if len(self._feed_seen) > 10_000:
            for key in list(self._feed_seen)[:5_000]:
                del self._feed_seen[key]

    def _ws_symbol(self, symbol: Any) -> str | None:
        if not isinstance(symbol, str) or "/" not in symbol:
            return None
        base, quote = symbol.split("/", 1)
        normalised = f"{asset(base)}/{asset(quote)}"
        return normalised if normalised in self._instruments else None

    async def _await(self, predicate: Any, timeout_s: float) -> bool:
        """Wait until ``predicate()`` holds (re-checked whenever events are published)."""
        with anyio.move_on_after(timeout_s):
            while not predicate():
                await self._changed.wait()
            return True
        return bool(predicate())

    # -- snapshots ------------------------------------------------------------------------------

    async def _settle(self, txid: str, info: dict[str, Any], symbol: str) -> OrderReport:
        """Fold a REST order in; complete a gap in its fills from its trades."""
        self._txid_symbol[txid] = symbol
        u = parse_order(txid, info, symbol)
        u = replace(u, client_order_id=self._client_id(symbol, txid, u.client_order_id))
        self._observe(u, from_reconciliation=True)
        if u.cum_qty is not None and u.cum_qty > self.tracker.cum_qty(symbol, txid):
            fills = await self._trades([str(t) for t in info.get("trades") or []], symbol)
            self._observe(replace(u, fills=fills), from_reconciliation=True, synthesize=True)
        return self._report(symbol, txid)

    async def _trades(self, trade_txids: list[str], symbol: str) -> tuple[Fill, ...]:
        inst = self._instruments.get(symbol)
        out: list[Fill] = []
        for i in range(0, len(trade_txids), 20):
            try:
                rows = await self.http.private("QueryTrades", [("txid", ",".join(trade_txids[i:i + 20]))])
            except (VenueError, TransportError) as exc:
                log.info("trade details unavailable (%s); synthesizing fills from the executed volume",
                         printable(str(exc)))
                return ()
            out.extend(replace(parse_trade(t, row), fee_asset=inst.quote if inst else None)
                       for t, row in (rows or {}).items())
        out.sort(key=lambda f: f.ts_ns)
        return tuple(out)

    async def query(self, symbol: str, *, client_order_id: str | None = None,
                    venue_order_id: str | None = None) -> OrderReport:
        self.instrument(symbol)  # type: ignore[attr-defined]
        vid = venue_order_id
        if vid is None and client_order_id is not None:
            vid = self.tracker.venue_order_id(symbol, client_order_id)
        fields = [("txid", vid)] if vid else [("cl_ord_id", self._venue_client_id(client_order_id or ""))]
        try:
            result = await self.http.private("QueryOrders", [*fields, ("trades", "true")])
        except VenueRejected as exc:
            if exc.reason == "unknown_order":
                raise unknown_order() from None
            raise
        if not result:
            raise unknown_order()
        txid, info = next(iter(result.items()))
        return await self._settle(txid, info, symbol)

    async def open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        result = await self.http.private("OpenOrders", [("trades", "true")])
        reports = []
        for txid, info in ((result or {}).get("open") or {}).items():
            pair = (info.get("descr") or {}).get("pair", "")
            sym = self._by_venue_symbol.get(pair) or self._txid_symbol.get(txid)
            if sym is None or (symbol is not None and sym != symbol):
                continue
            reports.append(await self._settle(txid, info, sym))
        return reports

    # -- reconciliation ------------------------------------------------------------------------

    async def reconcile(self) -> None:
        """Compare every order we track (and every order open at the venue) with the venue's view."""
        seen = {(r.symbol, r.venue_order_id) for r in await self.open_orders()}
        missing = [(s, vid) for s, vid, _cid in self.tracker.open_orders() if (s, vid) not in seen]
        for i in range(0, len(missing), 50):
            chunk = dict((vid, s) for s, vid in missing[i:i + 50])
            try:
                result = await self.http.private("QueryOrders", [("txid", ",".join(chunk)), ("trades", "true")])
            except VenueRejected as exc:
                log.warning("reconcile: orders %s not found: %s", printable(",".join(chunk)), printable(str(exc)))
                continue
            for txid, info in (result or {}).items():
                if txid in chunk:
                    await self._settle(txid, info, chunk[txid])
        await self.outcomes.sweep(self._lookup, self._not_placed)

    async def _lookup(self, p: Pending) -> OrderReport:
        return await self.query(p.symbol, client_order_id=p.client_order_id)

    async def _sync_clock(self) -> None:
        """Read the venue's clock: over the feed (to the microsecond) while it is up, else ``Time``."""
        self._clock_suspect = False
        stream = getattr(self, "stream", None)
        if stream is None or stream.state is not StreamState.SUBSCRIBED or not await stream.ping():
            await self.http.sync_time()
        self._last_clock_sync = time.monotonic()

    async def _maintenance(self) -> None:
        while True:
            await anyio.sleep(self._maintenance_interval_s)
            try:
                if self._clock_suspect or time.monotonic() - self._last_clock_sync > self.config.clock_resync_s:
                    await self._sync_clock()
                stream = getattr(self, "stream", None)
                if stream is not None and stream.state is not StreamState.SUBSCRIBED and \
                        time.monotonic() - self._last_poll >= self.config.poll_while_down_s:
                    self._last_poll = time.monotonic()  # the feed is down: ask, as a polling adapter would
                    await self.reconcile()
                now = self._clock.now_ns()
                needing = {(s, vid) for s, vid, _cid in self.tracker.needing_reconcile()}
                for key in [k for k in self._gap_seen if k not in needing]:
                    del self._gap_seen[key]
                for symbol, vid in needing:  # the feed usually closes a gap at once: ask only after a grace
                    if now - self._gap_seen.setdefault((symbol, vid), now) >= _GAP_GRACE_NS:
                        await self.query(symbol, venue_order_id=vid)
                await self.outcomes.sweep(self._lookup, self._not_placed)
            except (VenueError, TransportError) as exc:
                log.warning("maintenance: %s", printable(str(exc)))
            except (KeyError, ValueError, TypeError, ArithmeticError):
                log.exception("maintenance: unexpected venue payload")
