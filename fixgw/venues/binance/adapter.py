"""Binance spot adapter: the venue port over signed REST and the WebSocket API user-data stream.

Theory of operation
-------------------
Entering the adapter syncs the server clock, loads exchangeInfo (instruments and rate limits),
starts the user-data subscription and reconciles open orders. Every fact about an order — REST
answer, stream event, query — goes through one ``OrderTracker``, which publishes each event once.

Unknown outcomes (timeout, 5XX, -1007) are never rejects. ``submit`` then asks for the order by
client order id until it is found, or until the venue's clock has passed the request's timestamp
plus the receive window (after that the venue can no longer accept it) and it is still absent:
only then is the order reported as not placed. If the venue cannot be asked in time, ``submit``
raises ``VenueUnknownOutcome`` and a background task keeps asking; the answer arrives as events.

A maintenance task resyncs the clock, resolves those orders, and completes orders whose
cumulative quantity got ahead of the fills we saw (trade list first; a synthesized fill only if
the venue cannot tell us the trades).
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import anyio
import httpx
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from fixgw.clock import Clock, SystemClock
from fixgw.errors import (
    TransportError,
    VenueError,
    VenueRejected,
    VenueUnknownOutcome,
)
from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.outcome import OutcomeResolver, Pending, not_placed_event
from fixgw.venues._common.ratelimit import Bucket, RateLimiter
from fixgw.venues._common.tracker import OrderTracker, OrderUpdate
from fixgw.venues.base import (
    AmendOrder,
    CancelOrder,
    Instrument,
    NewOrder,
    OrderReport,
    ReplaceOrder,
    StreamState,
    TimeInForce,
    VenueAdapter,
    VenueCapabilities,
    VenueHealth,
    VenueOrderEvent,
)
from fixgw.venues.rules import check_order
from fixgw.venues.binance.config import BinanceConfig
from fixgw.venues.binance.http import ORDER_BUCKET, WEIGHT_BUCKET, BinanceHttp
from fixgw.venues.binance.parsing import (
    VENUE,
    amend_params,
    cancel_params,
    new_order_params,
    parse_amend,
    parse_exchange_info,
    parse_execution_report,
    parse_order,
    parse_rate_limits,
    parse_trades,
    rejected,
    update_to_report,
)
from fixgw.venues.binance.websocket import BinanceUserStream

__all__ = ["BinanceAdapter", "BINANCE_CAPABILITIES"]

log = logging.getLogger("fixgw.venues.binance")

BINANCE_CAPABILITIES = VenueCapabilities(
    amend_keeps_priority=True,
    amend_price=False,
    cancel_replace_atomic=True,
    quote_qty_market=True,
    post_only=True,
    stop_orders=True,
    take_profit_orders=True,
    cancel_all=True,
    order_query_by_client_id=True,
    time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK}),
)

_GAP_GRACE_NS = 1_000_000_000  # let the stream deliver missing trades before asking for them


class BinanceAdapter(VenueAdapter):
    """Binance spot (or a compatible server) behind the venue port."""

    def __init__(
        self,
        config: BinanceConfig,
        *,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
        maintenance_interval_s: float = 0.5,
        stream_sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.capabilities = BINANCE_CAPABILITIES
        self._clock = clock or SystemClock()
        self._sleep = sleep or anyio.sleep
        self.server_clock = ServerClock(self._clock)
        self.limiter = RateLimiter(
            [
                Bucket(WEIGHT_BUCKET, config.weight_limit_per_minute, 60.0, reserve=config.weight_reserve),
                Bucket(ORDER_BUCKET, config.orders_per_10s, 10.0),
            ],
            clock=self.server_clock,  # the venue's windows follow the venue's clock
            sleep=self._sleep,
        )
        self.http = BinanceHttp(config, server_clock=self.server_clock, limiter=self.limiter, transport=transport)
        self.tracker = OrderTracker(VENUE)
        self.stream = BinanceUserStream(
            config,
            self.server_clock,
            on_event=self._on_stream_event,
            on_reconnect=self.reconcile,
            sleep=stream_sleep,
            rng=rng,
        )
        self._instruments: dict[str, Instrument] = {}
        self._by_venue_symbol: dict[str, str] = {}
        self.outcomes: OutcomeResolver[OrderReport] = OutcomeResolver(
            self.server_clock, poll_s=config.unknown_poll_s
        )
        self._gap_seen_ns: dict[str, int] = {}
        self._send: MemoryObjectSendStream[VenueOrderEvent]
        self._recv: MemoryObjectReceiveStream[VenueOrderEvent]
        self._send, self._recv = anyio.create_memory_object_stream(math.inf)
        self._tg: TaskGroup | None = None
        self._maintenance_interval_s = maintenance_interval_s
        self._last_event_ns: int | None = None
        self._last_clock_sync = 0.0
        self._trades_supported = True

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.http.sync_time()
        self._last_clock_sync = time.monotonic()
        await self.load_instruments()
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        try:
            self._tg.start_soon(self.stream.run)
            with anyio.move_on_after(self.config.request_timeout_s):
                await self.stream.ws.subscribed.wait()
            if self.stream.state is not StreamState.SUBSCRIBED:
                log.warning("user-data stream not subscribed yet; continuing, it keeps retrying")
            await self.reconcile()
            self._tg.start_soon(self._maintenance)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._tg is not None:
            self._tg.cancel_scope.cancel()
            try:
                await self._tg.__aexit__(None, None, None)
            finally:
                self._tg = None
        await self.http.aclose()
        await self._send.aclose()

    # -- instruments ---------------------------------------------------------------------------

    async def load_instruments(self) -> dict[str, Instrument]:
        info = await self.http.request("GET", "/api/v3/exchangeInfo")
        for name, limit, interval in parse_rate_limits(info):
            if name == "REQUEST_WEIGHT:1M":
                self.limiter.set_limit(WEIGHT_BUCKET, min(limit, self.config.weight_limit_per_minute), interval)
            elif name == "ORDERS:10S":
                self.limiter.set_limit(ORDER_BUCKET, min(limit, self.config.orders_per_10s), interval)
            else:
                self.limiter.set_limit(name, limit, interval)
        instruments = parse_exchange_info(info)
        self._instruments = {i.symbol: i for i in instruments}
        self._by_venue_symbol = {i.venue_symbol: i.symbol for i in instruments}
        return dict(self._instruments)

    def instrument(self, symbol: str) -> Instrument:
        inst = self._instruments.get(symbol)
        if inst is None:
            raise rejected(-1121, "Invalid symbol.")
        return inst

    def _symbol(self, venue_symbol: str) -> str:
        return self._by_venue_symbol.get(venue_symbol, venue_symbol)

    # -- events --------------------------------------------------------------------------------

    def events(self) -> AsyncIterator[VenueOrderEvent]:
        return self._recv

    def _publish(self, events: list[VenueOrderEvent]) -> None:
        for e in events:
            self._last_event_ns = self._clock.now_ns()
            self.outcomes.discard(e.client_order_id)
            self._send.send_nowait(e)

    def _observe(self, u: OrderUpdate, *, from_reconciliation: bool = False, synthesize: bool = False) -> None:
        self._publish(self.tracker.observe(u, synthesize_gaps=synthesize, from_reconciliation=from_reconciliation))

    async def _on_stream_event(self, event: dict[str, Any]) -> None:
        if event.get("e") != "executionReport":
            return
        try:
            update = parse_execution_report(event, self._symbol(event.get("s", "")))
        except (KeyError, ValueError, TypeError, ArithmeticError):
            # one malformed event must not take the stream down; reconciliation covers the order
            log.exception("unreadable executionReport skipped: %r", event)
            return
        self._observe(update)

    # -- commands ------------------------------------------------------------------------------

    async def submit(self, order: NewOrder) -> OrderReport:
        inst = self.instrument(order.symbol)
        violation = check_order(inst, order, self.capabilities)
        if violation is not None:
            exc = VenueRejected("LOCAL", violation.reason)
            exc.reason = "unsupported" if violation.unsupported else f"rule:{violation.rule}"  # type: ignore[attr-defined]
            raise exc
        params = new_order_params(order, inst.venue_symbol)
        try:
            body = await self.http.request("POST", "/api/v3/order", params, signed=True)
        except VenueUnknownOutcome as exc:
            log.warning("submit %s: outcome unknown (%s); asking the venue", order.client_order_id, exc)
            return await self._resolve_unknown(order, inst.venue_symbol)
        u = parse_order(body, order.symbol)
        self._observe(u)
        return self.tracker.report(u.venue_order_id) or update_to_report(u)

    async def _resolve_unknown(self, order: NewOrder, venue_symbol: str) -> OrderReport:
        # the venue can accept the request until its clock passes timestamp + recvWindow (the
        # timestamp was taken before now); one more second covers the "1000 ms ahead" tolerance
        window_s = (self.config.recv_window_ms + 1000) / 1000
        pending = self.outcomes.add(order.client_order_id, order.symbol, window_s, venue_symbol)
        return await self.outcomes.resolve(pending, self._lookup, wait_s=self.config.unknown_outcome_wait_s)

    async def _lookup(self, p: Pending) -> OrderReport:
        return await self._query_raw(p.symbol, p.context, client_order_id=p.client_order_id)

    def _not_placed(self, p: Pending) -> None:
        self._send.send_nowait(not_placed_event(VENUE, p, self._clock.now_ns()))

    async def cancel(self, request: CancelOrder) -> OrderReport:
        inst = self.instrument(request.symbol)
        if request.venue_order_id is None and request.client_order_id is not None:
            vid = self.tracker.venue_order_id(request.client_order_id)
            if vid is not None:
                request = replace(request, venue_order_id=vid)
        try:
            body = await self.http.request(
                "DELETE", "/api/v3/order", cancel_params(request, inst.venue_symbol), signed=True, urgent=True
            )
        except VenueUnknownOutcome:
            return await self.query(
                request.symbol, client_order_id=request.client_order_id, venue_order_id=request.venue_order_id
            )
        u = parse_order(body, request.symbol)
        self._observe(u)
        return update_to_report(u)

    async def amend(self, request: AmendOrder) -> OrderReport:
        inst = self.instrument(request.symbol)
        if request.venue_order_id is None and request.orig_client_order_id is not None:
            vid = self.tracker.venue_order_id(request.orig_client_order_id)
            if vid is not None:
                request = replace(request, venue_order_id=vid)
        try:
            body = await self.http.request(
                "PUT", "/api/v3/order/amend/keepPriority", amend_params(request, inst.venue_symbol), signed=True
            )
        except VenueUnknownOutcome:
            return await self.query(
                request.symbol, client_order_id=request.orig_client_order_id, venue_order_id=request.venue_order_id
            )
        u = parse_amend(body, request.symbol)
        self._observe(u)
        return update_to_report(u)

    async def replace(self, request: ReplaceOrder) -> OrderReport:
        new = request.new
        inst = self.instrument(new.symbol)
        violation = check_order(inst, new, self.capabilities)
        if violation is not None:
            exc = VenueRejected("LOCAL", violation.reason)
            exc.reason = "unsupported" if violation.unsupported else f"rule:{violation.rule}"  # type: ignore[attr-defined]
            raise exc
        vid = request.venue_order_id
        if vid is None and request.orig_client_order_id is not None:
            vid = self.tracker.venue_order_id(request.orig_client_order_id)
        params = new_order_params(new, inst.venue_symbol)
        params.insert(1, ("cancelReplaceMode", "STOP_ON_FAILURE"))
        if vid is not None:
            params.insert(2, ("cancelOrderId", vid))
        elif request.orig_client_order_id is not None:
            params.insert(2, ("cancelOrigClientOrderId", request.orig_client_order_id))
        else:
            raise rejected("INVALID", "replace needs the original order's id")
        try:
            body = await self.http.request("POST", "/api/v3/order/cancelReplace", params, signed=True)
        except VenueUnknownOutcome:
            return await self._resolve_unknown(new, inst.venue_symbol)
        except VenueRejected as exc:
            data = (getattr(exc, "payload", None) or {}).get("data") if isinstance(getattr(exc, "payload", None), dict) else None
            if not data:
                raise
            cancel_res, new_res = data.get("cancelResponse") or {}, data.get("newOrderResponse") or {}
            if data.get("cancelResult") == "SUCCESS" and "orderId" in cancel_res:
                self._observe(parse_order(cancel_res, new.symbol))
            if data.get("newOrderResult") == "SUCCESS" and "orderId" in new_res:
                u = parse_order(new_res, new.symbol)
                self._observe(u)
                return update_to_report(u)
            failed = cancel_res if data.get("cancelResult") == "FAILURE" else new_res
            raise rejected(failed.get("code", exc.code), failed.get("msg", exc.message)) from exc
        self._observe(parse_order(body["cancelResponse"], new.symbol))
        u = parse_order(body["newOrderResponse"], new.symbol)
        self._observe(u)
        return self.tracker.report(u.venue_order_id) or update_to_report(u)

    # -- queries -------------------------------------------------------------------------------

    async def _query_raw(
        self,
        symbol: str,
        venue_symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
        fetch_trades: bool = False,
    ) -> OrderReport:
        params: list[tuple[str, object]] = [("symbol", venue_symbol)]
        if venue_order_id is not None:
            params.append(("orderId", venue_order_id))
        elif client_order_id is not None:
            params.append(("origClientOrderId", client_order_id))
        else:
            raise rejected("INVALID", "query needs a client order id or a venue order id")
        body = await self.http.request("GET", "/api/v3/order", params, signed=True)
        u = parse_order(body, symbol)
        await self._settle(u, fetch_trades=fetch_trades)
        return self.tracker.report(u.venue_order_id) or update_to_report(u)

    async def _settle(self, u: OrderUpdate, *, fetch_trades: bool) -> None:
        """Fold a snapshot in; if it shows quantity we never saw fills for, complete it.

        With the stream up, a gap in a fresh snapshot is usually trades still in flight on the
        stream, so unless ``fetch_trades`` the maintenance task comes back after a grace period.
        """
        self._observe(u, from_reconciliation=True)
        if u.cum_qty is None or u.cum_qty <= self.tracker.cum_qty(u.venue_order_id):
            self._gap_seen_ns.pop(u.venue_order_id, None)
            return
        self._gap_seen_ns.setdefault(u.venue_order_id, self._clock.now_ns())
        if not fetch_trades and self.stream.state is StreamState.SUBSCRIBED:
            return
        fills = await self._trades(u)
        self._observe(replace(u, fills=fills), from_reconciliation=True, synthesize=True)
        self._gap_seen_ns.pop(u.venue_order_id, None)

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

    async def query(
        self, symbol: str, *, client_order_id: str | None = None, venue_order_id: str | None = None
    ) -> OrderReport:
        inst = self.instrument(symbol)
        if venue_order_id is None and client_order_id is not None:
            venue_order_id = self.tracker.venue_order_id(client_order_id)
        return await self._query_raw(
            symbol, inst.venue_symbol, client_order_id=client_order_id, venue_order_id=venue_order_id
        )

    async def open_orders(self, symbol: str | None = None, *, fetch_trades: bool = False) -> list[OrderReport]:
        params: list[tuple[str, object]] = []
        if symbol is not None:
            params.append(("symbol", self.instrument(symbol).venue_symbol))
        rows = await self.http.request("GET", "/api/v3/openOrders", params, signed=True)
        out = []
        for row in rows or []:
            u = parse_order(row, self._symbol(row.get("symbol", "")))
            await self._settle(u, fetch_trades=fetch_trades)
            out.append(self.tracker.report(u.venue_order_id) or update_to_report(u))
        return out

    async def cancel_all(self, symbol: str) -> list[OrderReport]:
        inst = self.instrument(symbol)
        try:
            rows = await self.http.request(
                "DELETE", "/api/v3/openOrders", [("symbol", inst.venue_symbol)], signed=True, urgent=True
            )
        except VenueRejected as exc:
            if getattr(exc, "reason", "") == "unknown_order":
                return []  # nothing open
            raise
        out = []
        for row in rows or []:
            for r in row.get("orderReports") or [row]:  # an order list carries its orders' reports
                u = parse_order(r, symbol)
                self._observe(u)
                out.append(update_to_report(u))
        return out

    # -- reconciliation ------------------------------------------------------------------------

    async def reconcile(self) -> None:
        """Compare every order we track (and every open order at the venue) with the venue's view."""
        open_at_venue = await self.open_orders(fetch_trades=True)
        seen = {r.venue_order_id for r in open_at_venue}
        for symbol, vid, cid in self.tracker.open_orders():
            if vid in seen:
                continue
            inst = self._instruments.get(symbol)
            if inst is None:
                continue
            try:
                await self._query_raw(symbol, inst.venue_symbol, venue_order_id=vid, fetch_trades=True)
            except VenueRejected as exc:
                log.warning("reconcile: order %s/%s not found: %s", cid, vid, exc)
        await self.outcomes.sweep(self._lookup, self._not_placed)

    async def _maintenance(self) -> None:
        while True:
            await anyio.sleep(self._maintenance_interval_s)
            try:
                if time.monotonic() - self._last_clock_sync > self.config.clock_resync_s:
                    await self.http.sync_time()
                    self._last_clock_sync = time.monotonic()
                now = self._clock.now_ns()
                for symbol, vid, _cid in self.tracker.needing_reconcile():
                    first = self._gap_seen_ns.setdefault(vid, now)
                    inst = self._instruments.get(symbol)
                    if inst is not None and now - first >= _GAP_GRACE_NS:
                        await self._query_raw(symbol, inst.venue_symbol, venue_order_id=vid, fetch_trades=True)
                await self.outcomes.sweep(self._lookup, self._not_placed)
            except (VenueError, TransportError) as exc:
                log.warning("maintenance: %s", exc)
            except (KeyError, ValueError, TypeError, ArithmeticError):
                log.exception("maintenance: unexpected venue payload")

    # -- health --------------------------------------------------------------------------------

    def health(self) -> VenueHealth:
        used, limit = self.limiter.usage(WEIGHT_BUCKET)
        return VenueHealth(
            venue=self.name,
            clock_offset_ms=self.server_clock.offset_ms,
            weight_used=used,
            weight_limit=limit,
            banned_until_ns=self.limiter.banned_until_ns,
            stream_state=self.stream.state,
            stream_reconnects=self.stream.ws.reconnects,
            unresolved_orders=len(self.outcomes),
            last_event_ns=self._last_event_ns,
        )
