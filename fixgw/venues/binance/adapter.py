"""Binance spot adapter: the venue port over the WebSocket API (order entry, user-data stream) and signed REST.

Theory of operation
-------------------
Entering the adapter syncs the server clock, loads exchangeInfo (instruments and rate limits),
starts the user-data subscription and reconciles open orders. Every fact about an order — REST
answer, stream event, query — goes through one ``OrderTracker``, which publishes each event once.
An order's answer and its stream events tell the same facts: whichever comes second is recognised
from its raw fields (``known_order``, ``known_execution_report``) and dropped before it is parsed.
Events go to the gateway's sink once it gives one (``set_event_sink``), else to ``events()``.

This module is order entry: commands go out, answers and stream events are folded in. Orders go
over the WebSocket API (``wsapi.py``) when ``order_entry="ws"`` and its connection is up, else over
REST; both take the same parameters and give the same answers, so everything after the send —
parsing, unknown outcomes, reconciliation — is shared. Asking the
venue when an answer is missing — unknown outcomes, gaps in fills, reconciliation, the maintenance
task — is ``reconcile.py`` (``BinanceReconciliation``, the other half of the adapter).
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import anyio
import httpx
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from fixgw.clock import Clock, SystemClock
from fixgw.errors import VenueRejected, VenueUnknownOutcome
from fixgw.orders.enums import TimeInForce
from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.outcome import OutcomeResolver, Pending, not_placed_event
from fixgw.venues._common.ratelimit import Bucket, RateLimiter
from fixgw.venues._common.streaming import use_sink
from fixgw.venues._common.tracker import OrderTracker, OrderUpdate
from fixgw.venues.base import (
    AmendOrder,
    CancelOrder,
    Instrument,
    NewOrder,
    OrderReport,
    ReplaceOrder,
    StreamState,
    VenueAdapter,
    VenueCapabilities,
    VenueHealth,
    VenueOrderEvent,
)
from fixgw.venues.binance.config import BinanceConfig
from fixgw.venues.binance.http import ORDER_BUCKET, WEIGHT_BUCKET, BinanceHttp
from fixgw.venues.binance.parsing import (
    VENUE,
    amend_params,
    cancel_params,
    known_execution_report,
    known_order,
    new_order_params,
    parse_amend,
    parse_exchange_info,
    parse_execution_report,
    parse_order,
    parse_rate_limits,
    rejected,
    update_to_report,
)
from fixgw.venues.binance.orderlists import BinanceOrderLists
from fixgw.venues.binance.reconcile import BinanceReconciliation
from fixgw.venues.binance.websocket import BinanceUserStream
from fixgw.venues.binance.wsapi import BinanceWsApi, WsApiUnavailable

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
    iceberg=True,  # icebergQty, where the symbol says icebergAllowed
    cancel_all=True,
    order_lists=True,  # OCO / OTO (orderlists.py)
    order_query_by_client_id=True,
    time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK}),
)


class BinanceAdapter(BinanceReconciliation, BinanceOrderLists, VenueAdapter):
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
            resync=self.http.resync_time,
            skip_events=("outboundAccountPosition", "balanceUpdate"),  # balances: asked for, not followed
        )
        # orders over the WebSocket API (REST while it is down), unless configured for REST only
        self.wsapi: BinanceWsApi | None = None
        if config.order_entry == "ws" and config.ws_api_url:
            self.wsapi = BinanceWsApi(config, server_clock=self.server_clock, limiter=self.limiter,
                                      resync=self.http.resync_time, sleep=stream_sleep, rng=rng)
        self._instruments: dict[str, Instrument] = {}
        self._by_venue_symbol: dict[str, str] = {}
        self.outcomes: OutcomeResolver[OrderReport] = OutcomeResolver(
            self.server_clock, poll_s=config.unknown_poll_s
        )
        self._send: MemoryObjectSendStream[VenueOrderEvent]
        self._recv: MemoryObjectReceiveStream[VenueOrderEvent]
        self._send, self._recv = anyio.create_memory_object_stream(math.inf)
        self._tg: TaskGroup | None = None
        self._maintenance_interval_s = maintenance_interval_s
        self._last_event_ns: int | None = None
        self._init_reconciliation()

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        await self._sync_clock()
        await self.load_instruments()
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        try:
            self._tg.start_soon(self.stream.run)
            if self.wsapi is not None:
                self._tg.start_soon(self.wsapi.run)
            with anyio.move_on_after(self.config.request_timeout_s):
                await self.stream.ws.subscribed.wait()
                if self.wsapi is not None:
                    await self.wsapi.ws.subscribed.wait()
            if self.stream.state is not StreamState.SUBSCRIBED:
                log.warning("user-data stream not subscribed yet; continuing, it keeps retrying")
            if self.wsapi is not None and not self.wsapi.available:
                log.warning("WebSocket API order entry not connected yet; orders go over REST meanwhile")
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

    def set_event_sink(self, sink: Callable[[VenueOrderEvent], None] | None) -> None:
        """Hand every event from now on to ``sink`` (on the event loop, in order, each once) instead of
        the ``events()`` stream: no memory-stream hop, no consumer task woken. ``None``: the stream again."""
        self._send = use_sink(self._send, sink)

    def _publish(self, events: list[VenueOrderEvent]) -> None:
        if not events:
            return
        self._last_event_ns = self._clock.now_ns()
        send, discard = self._send.send_nowait, self.outcomes.discard
        for e in events:
            discard(e.client_order_id)
            send(e)

    def _observe(self, u: OrderUpdate, *, from_reconciliation: bool = False, synthesize: bool = False) -> None:
        self._publish(self.tracker.observe(u, synthesize_gaps=synthesize, from_reconciliation=from_reconciliation))

    def _on_stream_event(self, event: dict[str, Any]) -> None:
        if event.get("e") != "executionReport":
            return
        try:
            symbol = self._symbol(event.get("s", ""))
            if known_execution_report(self.tracker, event, symbol):
                return  # its answer (or an earlier event) told all of it: nothing to build or publish
            update = parse_execution_report(event, symbol)
        except (KeyError, ValueError, TypeError, ArithmeticError):
            # one malformed event must not take the stream down; reconciliation covers the order
            log.exception("unreadable executionReport skipped: %r", event)
            return
        self._observe(update)

    # -- commands ------------------------------------------------------------------------------

    async def _order_entry(self, method: str, path: str, params: list[tuple[str, object]], *,
                           urgent: bool = False) -> Any:
        """Send an order command: over the WebSocket API while it is up, else (or if it just went
        down before the request left) over REST. The answers have the same shape either way."""
        if self.wsapi is not None and self.wsapi.available:
            try:
                return await self.wsapi.request(method, path, params, urgent=urgent)
            except WsApiUnavailable:
                log.info("%s %s: WebSocket API down, sending over REST", method, path)
        return await self.http.request(method, path, params, signed=True, urgent=urgent)

    async def submit(self, order: NewOrder) -> OrderReport:
        inst = self.instrument(order.symbol)
        self.refuse_unchecked(order)
        params = new_order_params(order, inst.venue_symbol)
        try:
            body = await self._order_entry("POST", "/api/v3/order", params)
        except VenueUnknownOutcome as exc:
            log.warning("submit %s: outcome unknown (%s); asking the venue", order.client_order_id, exc)
            return await self._resolve_unknown(order, inst.venue_symbol)
        if known_order(self.tracker, body, order.symbol):  # its stream events came first and told all of it
            report = self.tracker.report(order.symbol, str(body["orderId"]))
            if report is not None:
                return report
        u = parse_order(body, order.symbol)
        self._observe(u)
        return self._report(u)

    def _not_placed(self, p: Pending) -> None:
        self._send.send_nowait(not_placed_event(VENUE, p, self._clock.now_ns()))

    def _known_venue_id(self, symbol: str, venue_order_id: str | None, client_order_id: str | None) -> str | None:
        """The venue order id to name an order by: the one given, else the one we track for the client id."""
        if venue_order_id is None and client_order_id is not None:
            return self.tracker.venue_order_id(symbol, client_order_id)
        return venue_order_id

    async def _change(
        self,
        method: str,
        path: str,
        params: list[tuple[str, object]],
        symbol: str,
        client_order_id: str | None,
        venue_order_id: str | None,
        parse: Callable[[Any, str], OrderUpdate],
        *,
        urgent: bool = False,
    ) -> OrderReport:
        """Send a change to a live order; if its outcome is unknown, report what a query finds."""
        try:
            body = await self._order_entry(method, path, params, urgent=urgent)
        except VenueUnknownOutcome:
            return await self.query(symbol, client_order_id=client_order_id, venue_order_id=venue_order_id)
        u = parse(body, symbol)
        self._observe(u)
        return update_to_report(u)

    async def cancel(self, request: CancelOrder) -> OrderReport:
        inst = self.instrument(request.symbol)
        request = replace(request, venue_order_id=self._known_venue_id(
            request.symbol, request.venue_order_id, request.client_order_id))
        return await self._change(
            "DELETE", "/api/v3/order", cancel_params(request, inst.venue_symbol), request.symbol,
            request.client_order_id, request.venue_order_id, parse_order, urgent=True,
        )

    async def amend(self, request: AmendOrder) -> OrderReport:
        inst = self.instrument(request.symbol)
        request = replace(
            request, venue_order_id=self._known_venue_id(
                request.symbol, request.venue_order_id, request.orig_client_order_id)
        )
        return await self._change(
            "PUT", "/api/v3/order/amend/keepPriority", amend_params(request, inst.venue_symbol), request.symbol,
            request.orig_client_order_id, request.venue_order_id, parse_amend,
        )

    async def replace(self, request: ReplaceOrder) -> OrderReport:
        new = request.new
        inst = self.instrument(new.symbol)
        self.refuse_unchecked(new)
        vid = self._known_venue_id(new.symbol, request.venue_order_id, request.orig_client_order_id)
        params = new_order_params(new, inst.venue_symbol)
        params.insert(1, ("cancelReplaceMode", "STOP_ON_FAILURE"))
        if vid is not None:
            params.insert(2, ("cancelOrderId", vid))
        elif request.orig_client_order_id is not None:
            params.insert(2, ("cancelOrigClientOrderId", request.orig_client_order_id))
        else:
            raise rejected("INVALID", "replace needs the original order's id")
        try:
            body = await self._order_entry("POST", "/api/v3/order/cancelReplace", params)
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
        return self._report(u)

    # -- queries -------------------------------------------------------------------------------

    async def query(
        self, symbol: str, *, client_order_id: str | None = None, venue_order_id: str | None = None
    ) -> OrderReport:
        inst = self.instrument(symbol)
        # The port's query answers with the order complete: a gap is filled from the trade list now,
        # not after the stream's grace period (the gateway answers its client from what this reveals).
        return await self._query_raw(
            symbol, inst.venue_symbol, client_order_id=client_order_id,
            venue_order_id=self._known_venue_id(symbol, venue_order_id, client_order_id), fetch_trades=True,
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
            out.append(self._report(u))
        return out

    async def cancel_all(self, symbol: str) -> list[OrderReport]:
        inst = self.instrument(symbol)
        try:
            rows = await self.http.request(
                "DELETE", "/api/v3/openOrders", [("symbol", inst.venue_symbol)], signed=True, urgent=True
            )
        except VenueRejected as exc:
            if exc.reason == "unknown_order":
                return []  # nothing open
            raise
        out = []
        for row in rows or []:
            for r in row.get("orderReports") or [row]:  # an order list carries its orders' reports
                u = parse_order(r, symbol)
                self._observe(u)
                out.append(update_to_report(u))
        return out

    async def balances(self) -> dict[str, Any]:
        """Every asset of the account in one signed call (``GET /api/v3/account``, weight 20, zero
        balances left out by the venue): asset -> ``Balance`` (free, locked)."""
        from decimal import Decimal, InvalidOperation

        from fixgw.errors import VenueError
        from fixgw.venues.base import Balance

        body = await self.http.request("GET", "/api/v3/account", [("omitZeroBalances", "true")], signed=True)
        try:
            return {str(r["asset"]): Balance(Decimal(str(r["free"])), Decimal(str(r["locked"])))
                    for r in (body or {}).get("balances") or ()}
        except (KeyError, TypeError, AttributeError, InvalidOperation) as exc:
            raise VenueError(f"{self.name}: the account answer is malformed ({type(exc).__name__})") from exc

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
