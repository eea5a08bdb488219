"""Kraken spot adapter: the venue port over signed REST order entry and the WebSocket v2
``executions`` feed.

Theory of operation
-------------------
Entering the adapter syncs the server clock (``/0/public/Time``), loads the asset pairs as
instruments, connects the private feed (token from ``GetWebSocketsToken``, ``executions`` with a
snapshot of open orders) and reconciles. Orders go out over REST (``AddOrder``, ``CancelOrder``,
``AmendOrder``; ``AddOrderBatch`` and ``CancelOrderBatch`` for batches); what happens to them comes
back on the feed and is folded, with every REST snapshot, through one ``OrderTracker``
(``reconcile.py``), which publishes each event once. A command waits up to ``stream_wait_s`` for the feed to show its effect and asks over
REST if it does not, so a command's report is right even while the feed is down (the polling
fallback). A lost AddOrder answer is never a reject: the order is asked for by client order id until
``accept_window_s`` of venue time has passed (Kraken has no receive window), then reported not placed.

Batches (``submit_batch``, ``cancel_batch``) are in ``batch.py``.

Amend is Kraken's in-place ``AmendOrder`` (quantity; the order keeps its txid, its fills and, for a
decrease, its queue priority). Replace is cancel then new (``EditOrder`` loses the queue position and
the client order id anyway).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from decimal import Decimal

import anyio
import httpx

from fixgw.clock import Clock, SystemClock
from fixgw.errors import VenueRejected, VenueUnknownOutcome
from fixgw.logsafe import printable
from fixgw.orders.enums import OrderStatus, OrderType, TimeInForce
from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.outcome import OutcomeResolver, Pending, not_placed_event
from fixgw.venues._common.ratelimit import Bucket, RateLimiter
from fixgw.venues._common.signing import format_param
from fixgw.venues._common.streaming import StreamingAdapter
from fixgw.venues._common.tracker import OrderTracker, OrderUpdate, UpdateKind
from fixgw.venues.base import (
    AmendOrder,
    Balance,
    CancelOrder,
    Instrument,
    NewOrder,
    OrderReport,
    ReplaceOrder,
    StreamState,
    VenueCapabilities,
)
from fixgw.venues.kraken.batch import BATCH_MAX, CANCEL_BATCH_MAX, KrakenBatches
from fixgw.venues.kraken.config import KrakenConfig
from fixgw.venues.kraken.http import REST_BUCKET, TRADE_BUCKET, KrakenHttp
from fixgw.venues.kraken.parsing import add_order_params, asset, parse_asset_pairs
from fixgw.venues.kraken.reconcile import KrakenReconciliation
from fixgw.venues.kraken.websocket import TOKEN_METHOD, KrakenFeed

__all__ = ["KrakenAdapter", "KRAKEN_CAPABILITIES"]


log = logging.getLogger("fixgw.venues.kraken")

KRAKEN_CAPABILITIES = VenueCapabilities(
    amend_keeps_priority=True,  # AmendOrder: a quantity decrease keeps the order's place
    amend_price=False,  # AmendOrder can change the price, but the order then goes to the back: not wired
    cancel_replace_atomic=False,
    quote_qty_market=False,
    post_only=True,
    stop_orders=True,
    take_profit_orders=True,
    cancel_all=True,
    batch_orders=BATCH_MAX,
    batch_cancels=CANCEL_BATCH_MAX,
    order_query_by_client_id=True,
    time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC}),
)


class KrakenAdapter(KrakenBatches, KrakenReconciliation, StreamingAdapter):
    """Kraken spot (or the simulator's Kraken dialect) behind the venue port."""

    not_subscribed_warning = "executions feed not subscribed yet; continuing, it keeps retrying"
    health_bucket = REST_BUCKET

    def __init__(
        self,
        config: KrakenConfig,
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
        self.capabilities = KRAKEN_CAPABILITIES
        self._clock = clock or SystemClock()
        self.server_clock = ServerClock(self._clock)
        # the venue's counters decay continuously; a fixed window of limit/decay seconds approximates each
        self.limiter = RateLimiter(
            [Bucket(REST_BUCKET, config.counter_limit, config.counter_limit / config.counter_decay_per_s),
             Bucket(TRADE_BUCKET, config.trade_limit, config.trade_limit / config.trade_decay_per_s)],
            clock=self.server_clock, sleep=sleep or anyio.sleep)
        self.http = KrakenHttp(config, server_clock=self.server_clock, limiter=self.limiter, transport=transport)
        self.tracker = OrderTracker(config.name)
        self.stream = KrakenFeed(config, token=self._ws_token, on_entries=self._on_entries,
                                 on_reconnect=self.reconcile, on_clock=self.server_clock.record,
                                 local_ns=self.server_clock.local_ns, sleep=stream_sleep, rng=rng)
        self.outcomes: OutcomeResolver[OrderReport] = OutcomeResolver(self.server_clock, poll_s=config.unknown_poll_s)
        self._init_streaming(maintenance_interval_s)
        self._first_token: str | None = None
        self._init_reconciliation()

    # -- lifecycle -----------------------------------------------------------------------------

    async def _prepare(self) -> None:
        # the first feed token, fetched here: a key the venue refuses fails the start at once
        self._first_token = await self._ws_token()

    async def _ws_token(self) -> str:
        token, self._first_token = self._first_token, None
        return token or str((await self.http.private(TOKEN_METHOD, []))["token"])

    # -- instruments ---------------------------------------------------------------------------

    async def load_instruments(self) -> dict[str, Instrument]:
        return self._set_instruments(parse_asset_pairs(await self.http.public("/0/public/AssetPairs")))

    def _unknown_symbol(self, symbol: str) -> VenueRejected:
        return VenueRejected("EQuery:Unknown asset pair", f"unknown pair {symbol}", reason="unknown_symbol")

    # -- events --------------------------------------------------------------------------------

    def _observe(self, u: OrderUpdate, *, from_reconciliation: bool = False, synthesize: bool = False) -> None:
        self._publish(self.tracker.observe(u, synthesize_gaps=synthesize, from_reconciliation=from_reconciliation))
        self._changed.set()
        self._changed = anyio.Event()

    def _not_placed(self, p: Pending) -> None:
        self._send.send_nowait(not_placed_event(self.name, p, self._clock.now_ns()))

    def _ended(self, symbol: str, txid: str) -> bool:
        report = self.tracker.report(symbol, txid)
        return report is not None and report.status.is_terminal

    async def _confirmed(self, symbol: str, txid: str, done: Callable[[], bool]) -> OrderReport:
        """The order's report once the feed shows ``done()``, else what a REST query finds."""
        if self.stream.state is StreamState.SUBSCRIBED and await self._await(done, self.config.stream_wait_s):
            return self._report(symbol, txid)
        return await self.query(symbol, venue_order_id=txid)

    # -- commands ------------------------------------------------------------------------------

    async def submit(self, order: NewOrder) -> OrderReport:
        inst = self.instrument(order.symbol)
        self.refuse_unchecked(order)
        fields = add_order_params(order, inst.venue_symbol)
        self._venue_client_id(order.client_order_id)
        try:
            result = await self.http.private("AddOrder", fields)
        except VenueUnknownOutcome as exc:
            log.warning("submit %s: outcome unknown (%s); asking the venue", printable(order.client_order_id),
                        printable(str(exc)))
            pending = self.outcomes.add(order.client_order_id, order.symbol, self.config.accept_window_s)
            return await self.outcomes.resolve(pending, self._lookup, wait_s=self.config.accept_window_s + 5)
        return await self._accepted(order, str(result["txid"][0]))

    async def _accepted(self, order: NewOrder, txid: str) -> OrderReport:
        """The report of an order the venue took under ``txid``: for MARKET and IOC once it ended, for
        the rest once the feed spoke of it (or at once while the feed is down)."""
        self._took(order, txid)
        return await self._report_taken(order, txid)

    def _took(self, order: NewOrder, txid: str) -> None:
        self._txid_symbol[txid] = order.symbol
        self._observe(OrderUpdate(
            symbol=order.symbol, venue_order_id=txid, client_order_id=order.client_order_id,
            status=OrderStatus.NEW, kind=UpdateKind.NEW, ts_ns=self.server_clock.now_ns(), side=order.side,
            order_type=order.order_type, quantity=order.quantity, price=order.price))

    async def _report_taken(self, order: NewOrder, txid: str) -> OrderReport:
        if order.order_type is OrderType.MARKET or order.time_in_force is TimeInForce.IOC:
            return await self._confirmed(order.symbol, txid, lambda: self._ended(order.symbol, txid))
        if self.stream.state is StreamState.SUBSCRIBED:  # the feed's word on it follows at once, as a rule
            await self._await(lambda: txid in self._feed_seen, self.config.stream_wait_s)
        return self._report(order.symbol, txid)

    def _venue_id(self, symbol: str, venue_order_id: str | None, client_order_id: str | None) -> str | None:
        if venue_order_id is None and client_order_id is not None:
            return self.tracker.venue_order_id(symbol, client_order_id)
        return venue_order_id

    async def cancel(self, request: CancelOrder) -> OrderReport:
        self.instrument(request.symbol)
        txid = self._venue_id(request.symbol, request.venue_order_id, request.client_order_id)
        if txid is None:  # not tracked here (a restart): learn it first
            txid = (await self.query(request.symbol, client_order_id=request.client_order_id)).venue_order_id
        try:
            await self.http.private("CancelOrder", [("txid", txid)], urgent=True)
        except VenueUnknownOutcome:
            return await self.query(request.symbol, venue_order_id=txid)
        return await self._confirmed(request.symbol, txid, lambda: self._ended(request.symbol, txid))

    async def amend(self, request: AmendOrder) -> OrderReport:
        symbol = request.symbol
        self.instrument(symbol)
        txid = self._venue_id(symbol, request.venue_order_id, request.orig_client_order_id)
        if txid is None:
            txid = (await self.query(symbol, client_order_id=request.orig_client_order_id)).venue_order_id
        current = self._report(symbol, txid).client_order_id
        new_id = request.new_client_order_id or current
        previous = self._aliases.get(txid)
        if new_id != current:
            self._aliases[txid] = new_id  # before sending: the feed's "amended" may come first
        try:
            await self.http.private("AmendOrder", [("txid", txid), ("order_qty", format_param(request.new_quantity))])
        except VenueRejected as exc:
            if previous is None:
                self._aliases.pop(txid, None)
            else:
                self._aliases[txid] = previous
            if exc.reason == "invalid_order":
                raise VenueRejected(exc.code, exc.message, reason="amend_rejected") from None
            raise
        except VenueUnknownOutcome:
            return await self.query(symbol, venue_order_id=txid)
        qty = request.new_quantity

        def done() -> bool:
            r = self.tracker.report(symbol, txid)
            return r is not None and (r.quantity == qty or r.status.is_terminal)

        return await self._confirmed(symbol, txid, done)

    async def replace(self, request: ReplaceOrder) -> OrderReport:
        symbol = request.new.symbol
        self.instrument(symbol)
        self.refuse_unchecked(request.new)
        if request.venue_order_id is None and request.orig_client_order_id is not None and \
                self.tracker.venue_order_id(symbol, request.orig_client_order_id) is None:
            await self.query(symbol, client_order_id=request.orig_client_order_id)  # unknown_order if absent
        await self.cancel(CancelOrder(symbol, client_order_id=request.orig_client_order_id,
                                      venue_order_id=request.venue_order_id))
        return await self.submit(request.new)

    async def cancel_all(self, symbol: str) -> list[OrderReport]:
        self.instrument(symbol)
        txids = [r.venue_order_id for r in await self.open_orders(symbol)]
        for i in range(0, len(txids), CANCEL_BATCH_MAX):
            try:
                await self.http.private("CancelOrderBatch", [], urgent=True,
                                        json_fields={"orders": txids[i:i + CANCEL_BATCH_MAX]})
            except VenueUnknownOutcome as exc:
                log.warning("cancel all %s: outcome unknown (%s); asking the venue", symbol, printable(str(exc)))
        return [await self._confirmed(symbol, t, lambda t=t: self._ended(symbol, t)) for t in txids]

    async def balances(self) -> dict[str, Balance]:
        """Every asset of the account in one call: asset -> ``Balance`` (available, held for open orders)."""
        rows = await self.http.private("BalanceEx", [])
        out: dict[str, Balance] = {}
        for code, row in (rows or {}).items():
            total, held = Decimal(str(row.get("balance", "0"))), Decimal(str(row.get("hold_trade", "0")))
            out[asset(code)] = Balance(total - held, held)
        return out
