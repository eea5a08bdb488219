"""The gateway: the composition root that wires FIX sessions, order books, journals and venues.

Theory of operation
-------------------
``Gateway(config).run()`` opens the stores (one SQLite file holds the FIX message store and the order
journals; without a path both live in memory), enters every venue adapter, rebuilds each session's
order book from its journal, asks the venue about every order the journal says is open, and then
serves FIX on the acceptor port. It owns the one task group everything runs in.

Each FIX session has its own ``OrderBook`` (its account in the journal is the session's key), so
ClOrdIDs are scoped to the session as FIX scopes them, and every report goes back to the session that
owns the order. Inbound, an application message goes ``translate.parse_request`` -> (duplicate check,
``risk.check_order`` with the venue's instrument rules) -> ``OrderBook`` -> journal commit -> venue
call in a task. Outbound, venue events are mapped onto order events, applied to the book (duplicate
fills drop out by trade id), committed, and reported with ``translate.reply_for_event`` through
``SessionHandle.send``, which stores the message even while the client is away: a reconnecting client
gets what it missed through the session's resend.

Venue client order ids are derived from our order ids (``<order id>`` for the first venue order,
``<order id>.r<k>`` for the k-th cancel-replace leg), so any venue event finds its order without a
table, across restarts as well. A cancel-replace makes the venue cancel the old leg before it accepts
the new one; that cancel is held back until the replace is settled, and reported only if the replace
failed.

Persist before acting: every book change is committed to the journal before the venue is called and
before a report is sent. The journals share the message store's SQLite file through their own
connection; the message store's open batch is committed before the journal writes (see
``_flush_messages``), and the message store's background thread checkpoints the file. Only this module
and the transport read the clock.

Reporting choices: an order sent to the venue is acknowledged by ExecType New when the venue confirms
it (no PendingNew report); cancel and replace requests are acknowledged at once with PendingCancel /
PendingReplace; a mass cancel is answered with OrderMassCancelReport and each order is then reported
Canceled under its own ClOrdID; a NewOrderSingle with PossResend (97=Y) whose ClOrdID we already hold is
answered with a status report instead of being placed again.
"""

from __future__ import annotations

import logging
import re
import secrets
import sqlite3
from contextlib import AsyncExitStack
from decimal import Decimal
from typing import Any, Callable

import anyio
from anyio.abc import TaskStatus

from .clock import Clock, SystemClock
from .codec.dictionary import load_dictionary
from .config import Config, SessionSettings, VenueConfig
from .errors import (
    ConfigError,
    DuplicateClOrdID,
    FixgwError,
    InvalidTransition,
    OrderError,
    StoreError,
    TransportError,
    UnknownOrder,
    VenueError,
    VenueRejected,
    VenueUnknownOutcome,
)
from .orders import (
    CancelOrder,
    OrderAccepted,
    OrderBook,
    OrderCanceled,
    OrderCancelRejected,
    OrderExpired,
    OrderFilled,
    OrderPendingReplace,
    OrderRejected,
    OrderReplaced,
    OrderReplaceRejected,
    OrderStatus,
    OrderSubmitted,
    ReplaceOrder,
    SubmitOrder,
    TimeInForce,
)
from .orders.enums import LiquiditySide, OrderType
from .risk import Refusal, check_order
from .session import Session, SessionConfig, SessionID, SessionSchedule
from .stores import MemoryMessageStore, SqliteMessageStore
from .stores.journal_memory import MemoryOrderJournal
from .stores.journal_sqlite import SqliteOrderJournal
from .translate import (
    REJ,
    BusinessReject,
    CancelReject,
    CancelRequest,
    MassCancelReject,
    MassCancelRequest,
    MassStatusRequest,
    NewOrderRequest,
    OrderReject,
    ReplaceRequest,
    StatusRequest,
    SymbolMap,
    VersionTable,
    business_reject,
    cancel_reject,
    mass_cancel_report,
    order_reject,
    parse_request,
    reply_for_event,
    status_report,
    table_for,
    unknown_order_status,
)
from .transport import Acceptor, Application, SessionHandle, server_tls_context
from .venues import base as V

__all__ = ["Gateway", "AdapterFactory", "default_adapter_factory"]

log = logging.getLogger("fixgw.gateway")

AdapterFactory = Callable[[VenueConfig], V.VenueAdapter]
_ZERO = Decimal(0)
_MARKET_TYPES = frozenset({OrderType.MARKET, OrderType.STOP, OrderType.TAKE_PROFIT})


def default_adapter_factory(venue: VenueConfig) -> V.VenueAdapter:
    """Build the adapter of a ``[[venues]]`` entry."""
    if venue.kind == "binance":
        from .venues.binance import BinanceAdapter, BinanceConfig

        options: dict[str, Any] = {}
        if venue.orders_per_10s is not None:
            options["orders_per_10s"] = venue.orders_per_10s
        if venue.weight_per_minute is not None:
            options["weight_limit_per_minute"] = venue.weight_per_minute
        return BinanceAdapter(BinanceConfig.from_venue_config(venue, **options))
    raise ConfigError(f"venues.{venue.name}.kind", f"no order-entry adapter for {venue.kind!r} yet")


#: Venue requests in flight at once per venue. HTTP clients keep a bounded set of warm connections;
#: past it every request opens (and the venue accepts) a new one, which costs more than waiting here.
VENUE_CONCURRENCY = 16


class _Venue:
    """One venue adapter with the symbol map its instrument list gives."""

    def __init__(self, config: VenueConfig, adapter: V.VenueAdapter) -> None:
        self.config = config
        self.adapter = adapter
        self.symbols = SymbolMap(())
        self.slots = anyio.Semaphore(VENUE_CONCURRENCY)


class _Ctx:
    """One FIX session: its settings, version table, order book and venue."""

    def __init__(self, settings: SessionSettings, key: str, book: OrderBook, journal: Any, venue: _Venue) -> None:
        self.settings = settings
        self.key = key
        self.book = book
        self.journal = journal
        self.venue = venue
        self.table: VersionTable = table_for(settings.begin_string)
        self.session_id = SessionID(settings.begin_string, settings.sender_comp_id, settings.target_comp_id)
        self.handle: SessionHandle | None = None

    def send(self, reply: tuple[bytes, list[tuple[int, Any]]] | None) -> None:
        if reply is not None and self.handle is not None:
            self.handle.send(*reply)


class Gateway(Application):
    """Run the gateway of ``config``; ``run`` reports the bound FIX port through ``task_status``."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        adapter_factory: AdapterFactory = default_adapter_factory,
        validate_messages: bool = True,
    ) -> None:
        self.config = config
        self._clock = clock or SystemClock()
        self._adapter_factory = adapter_factory
        self._validate = validate_messages
        self._ctx: dict[SessionID, _Ctx] = {}
        self._by_account: dict[str, _Ctx] = {}
        self._venues: dict[str, _Venue] = {}
        self._last_px: dict[str, Decimal] = {}
        self._held_cancels: dict[str, V.VenueOrderEvent] = {}
        self._tg: Any = None
        self._scope: anyio.CancelScope | None = None
        self._message_store: Any = None
        self._journal_conn: sqlite3.Connection | None = None
        self._journals: list[Any] = []
        self._status_seq = 0
        self.acceptor: Acceptor | None = None
        self.port: int | None = None
        #: Set once the acceptor listens (after recovery and reconciliation).
        self.ready = anyio.Event()

    # -- lifecycle -----------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        """Start everything, report the FIX port, and serve until cancelled or ``stop()``."""
        with anyio.CancelScope() as scope:
            self._scope = scope
            try:
                self._open_stores()
                async with AsyncExitStack() as stack:
                    for vc in self.config.venues:
                        adapter = self._adapter_factory(vc)
                        venue = _Venue(vc, adapter)
                        await stack.enter_async_context(adapter)
                        instruments = await adapter.load_instruments()
                        fmt = self.config.gateway.symbol_format
                        venue.symbols = SymbolMap(((i.symbol, i.base, i.quote) for i in instruments.values()), fmt)
                        self._venues[vc.name] = venue
                    self._build_sessions()
                    async with anyio.create_task_group() as tg:
                        self._tg = tg
                        for venue in self._venues.values():
                            tg.start_soon(self._consume, venue)
                        await self._reconcile()
                        assert self.acceptor is not None
                        self.port = await tg.start(self.acceptor.serve)
                        log.info("gateway ready on port %s", self.port)
                        self.ready.set()
                        task_status.started(self.port)
            finally:
                self._tg = None
                self._close_stores()

    def stop(self) -> None:
        """Stop serving (the task running ``run`` returns)."""
        if self._scope is not None:
            self._scope.cancel()

    def _open_stores(self) -> None:
        path = self.config.gateway.store_path
        if path is None:
            self._message_store = MemoryMessageStore(now_ns=self._clock.now_ns)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self._message_store = SqliteMessageStore(path, now_ns=self._clock.now_ns)
        try:
            conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            # The message store's background thread checkpoints the shared file; an automatic checkpoint
            # inside a journal commit would stall the event loop for the fsyncs.
            conn.execute("PRAGMA wal_autocheckpoint=0")
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the order journal: {exc}") from exc
        self._journal_conn = conn

    def _close_stores(self) -> None:
        for j in self._journals:
            try:
                j.close()
            except StoreError:  # pragma: no cover - closing after a failure
                log.exception("closing a journal")
        self._journals.clear()
        if self._journal_conn is not None:
            self._journal_conn.close()
            self._journal_conn = None
        if self._message_store is not None:
            self._message_store.close()
            self._message_store = None

    def _build_sessions(self) -> None:
        persistent = self._journal_conn is not None
        # Orders kept only in memory get a per-run tag, so their venue ids never meet an earlier run's.
        tag = "" if persistent else "_" + secrets.token_hex(2)
        sessions = []
        for s in self.config.sessions:
            key = _session_key(s) + tag
            if key in self._by_account:
                raise ConfigError("sessions", f"two sessions share the order account key {key!r}")
            if self._journal_conn is not None:
                journal: Any = SqliteOrderJournal(self._journal_conn, key)
                book = OrderBook.recover(journal)
            else:
                journal = MemoryOrderJournal(key)
                book = OrderBook(key, journal)
            self._journals.append(journal)
            ctx = _Ctx(s, key, book, journal, self._venues[s.venue])
            self._ctx[ctx.session_id] = ctx
            self._by_account[key] = ctx
            sessions.append(self._session(ctx))
        tls = self.config.gateway.tls
        ssl_context = None
        if tls is not None:
            ssl_context = server_tls_context(tls.cert, tls.key, client_ca=tls.client_ca,
                                             require_client_cert=tls.client_ca is not None)
        self.acceptor = Acceptor(sessions, self, self._message_store, host=self.config.gateway.host,
                                 port=self.config.gateway.port, ssl_context=ssl_context, clock=self._clock)
        for sid, handle in self.acceptor.handles.items():
            self._ctx[sid].handle = handle

    def _session(self, ctx: _Ctx) -> Session:
        s = ctx.settings
        schedule = None
        if s.schedule is not None:
            schedule = SessionSchedule(s.schedule.start, s.schedule.end, tz=s.schedule.timezone,
                                       weekdays=frozenset(s.schedule.weekdays))
        config = SessionConfig(
            session_id=ctx.session_id,
            role="acceptor",
            heartbeat_interval=s.heartbeat_interval,
            reset_on_logon=s.reset_on_logon,
            allowed_addresses=frozenset(str(n) for n in s.allowed_addresses) or None,
            schedule=schedule,
        )
        dictionary = load_dictionary(s.begin_string) if self._validate else None
        creds = s.credentials

        def authenticate(_sid: Any, username: str | None, password: str | None, _peer: Any) -> bool:
            return creds is None or creds.matches(username, password)

        return Session(config, self._message_store.session_store(ctx.session_id), dictionary=dictionary,
                       authenticator=authenticate)

    # -- inbound FIX ---------------------------------------------------------------------------

    def on_message(self, session: SessionHandle, message: Any) -> None:
        ctx = self._ctx[session.session_id]
        req = parse_request(message, ctx.venue.symbols)
        now = self._clock.now_ns()
        try:
            self._flush_messages()
            if isinstance(req, NewOrderRequest):
                known = ctx.book.find(cl_ord_id=req.cl_ord_id) if message.get(97) == b"Y" else None
                if known is not None:
                    # PossResend: the client is not sure we got this order; we did. Say where it stands.
                    ctx.send(status_report(ctx.table, known, ctx.venue.symbols.client(known.symbol),
                                           exec_id=self._status_exec_id(known), ts_ns=now))
                else:
                    self._new_order(ctx, req, now)
            elif isinstance(req, CancelRequest):
                self._cancel(ctx, req, now)
            elif isinstance(req, ReplaceRequest):
                self._replace(ctx, req, now)
            elif isinstance(req, StatusRequest):
                self._status(ctx, req, now)
            elif isinstance(req, MassCancelRequest):
                self._mass_cancel(ctx, req, now)
            elif isinstance(req, MassStatusRequest):
                self._mass_status(ctx, req, now)
            else:
                self._reject(ctx, req, now)
        except StoreError:
            log.critical("%s: the journal failed; stopping", ctx.key, exc_info=True)
            self.stop()
            raise

    def _reject(self, ctx: _Ctx, rej: Any, now: int) -> None:
        if isinstance(rej, OrderReject):
            ctx.send(order_reject(ctx.table, rej, exec_id=self._loose_exec_id(ctx), transact_time_ns=now))
        elif isinstance(rej, CancelReject):
            order = ctx.book.find(order_id=rej.order_id, cl_ord_id=rej.orig_cl_ord_id)
            status = order.status if order is not None else None
            ctx.send(cancel_reject(ctx.table, rej, transact_time_ns=now, status=status,
                                   order_id=order.order_id if order is not None else None))
        elif isinstance(rej, MassCancelReject):
            ctx.send(mass_cancel_report(cl_ord_id=rej.cl_ord_id, report_id=self._loose_exec_id(ctx),
                                        request_type=rej.request_type, transact_time_ns=now, reject=rej))
        elif isinstance(rej, BusinessReject):
            ctx.send(business_reject(rej))

    def _loose_exec_id(self, ctx: _Ctx) -> str:
        """An ExecID for a report about no order: the outbound number it is about to get, made unique."""
        assert ctx.handle is not None
        session = ctx.handle.session
        return f"{ctx.key}-X{session.store.creation_time_ns // 1_000_000:x}-{session.next_sender_seq}"

    def _new_order(self, ctx: _Ctx, req: NewOrderRequest, now: int) -> None:
        try:
            cmd = SubmitOrder(
                cl_ord_id=req.cl_ord_id, symbol=req.symbol, side=req.side, order_type=req.order_type, ts_ns=now,
                quantity=req.quantity, quote_quantity=req.quote_quantity, price=req.price,
                trigger_price=req.stop_price, time_in_force=req.time_in_force or TimeInForce.GTC,
                expire_time_ns=req.expire_time_ns, post_only=req.post_only, owner=str(ctx.session_id),
            )
        except OrderError as exc:
            self._reject(ctx, OrderReject(req.cl_ord_id, REJ.OTHER, str(exc), _echo(req)), now)
            return
        holder = ctx.book.find(cl_ord_id=req.cl_ord_id)
        if holder is not None and holder.is_open:
            self._reject(ctx, OrderReject(req.cl_ord_id, REJ.DUPLICATE_ORDER,
                                          f"duplicate ClOrdID {req.cl_ord_id}: order {holder.order_id} is live",
                                          _echo(req)), now)
            return
        adapter = ctx.venue.adapter
        probe = _venue_order(cmd, "probe")
        refusal: Refusal | None
        if probe is None:
            refusal = Refusal("side", REJ.UNSUPPORTED, f"side {cmd.side.value} is not supported by the venue")
        else:
            try:
                violation = adapter.check(probe)
            except VenueRejected as exc:
                violation = V.RuleViolation("symbol", exc.message)
            refusal = check_order(cmd, ctx.settings.limits, client_symbol=req.client_symbol,
                                  open_orders=self._open_count(ctx), last_price=self._last_px.get(cmd.symbol),
                                  venue_violation=violation)
        try:
            order = ctx.book.submit(cmd)
        except DuplicateClOrdID as exc:  # pragma: no cover - checked above
            self._reject(ctx, OrderReject(req.cl_ord_id, REJ.DUPLICATE_ORDER, str(exc), _echo(req)), now)
            return
        if refusal is not None:
            self._apply(ctx, order, OrderRejected(order_id=order.order_id, ts_ns=now, reason=refusal.text),
                        reason=refusal.reason)
            return
        self._apply(ctx, order, OrderSubmitted(order_id=order.order_id, ts_ns=now))
        venue_order = _venue_order(cmd, _venue_cl_id(order, 0))
        assert self._tg is not None and venue_order is not None
        self._tg.start_soon(self._submit, ctx, order.order_id, venue_order)

    @staticmethod
    def _open_count(ctx: _Ctx) -> int:
        # Counting is O(open orders); only a session with that limit pays for it.
        return len(ctx.book.open_orders()) if ctx.settings.limits.max_open_orders is not None else 0

    async def _submit(self, ctx: _Ctx, order_id: str, venue_order: V.NewOrder) -> None:
        try:
            async with ctx.venue.slots:
                await ctx.venue.adapter.submit(venue_order)
        except VenueUnknownOutcome as exc:
            log.warning("%s: submit %s outcome unknown (%s); the venue adapter reconciles", ctx.key, order_id, exc)
        except VenueError as exc:
            order = ctx.book.get(order_id)
            if order.status in (OrderStatus.PENDING_NEW, OrderStatus.INITIALIZED):
                text = getattr(exc, "message", None) or str(exc)
                self._apply(ctx, order, OrderRejected(order_id=order_id, ts_ns=self._clock.now_ns(), reason=text))
        except TransportError as exc:
            log.warning("%s: submit %s: %s; the venue adapter reconciles", ctx.key, order_id, exc)

    def _cancel(self, ctx: _Ctx, req: CancelRequest, now: int) -> None:
        order = ctx.book.find(order_id=req.order_id, cl_ord_id=req.orig_cl_ord_id)
        rej = self._request_refusal(ctx, order, req, 1)
        if rej is not None:
            self._reject(ctx, rej, now)
            return
        assert order is not None
        try:
            ctx.book.cancel(CancelOrder(cl_ord_id=req.cl_ord_id, ts_ns=now, orig_cl_ord_id=req.orig_cl_ord_id,
                                        order_id=req.order_id if req.orig_cl_ord_id is None else None))
        except (OrderError, InvalidTransition) as exc:
            self._reject(ctx, _cxl(req, 1, _reason_for(exc), str(exc)), now)
            return
        ctx.journal.commit()
        self._report_last(ctx, order)
        assert self._tg is not None
        self._tg.start_soon(self._venue_cancel, ctx, order.order_id)

    def _request_refusal(self, ctx: _Ctx, order: Any, req: Any, response_to: int) -> CancelReject | None:
        if order is None:
            return _cxl(req, response_to, REJ.UNKNOWN_ORDER, "unknown order")
        if not order.is_open:
            return _cxl(req, response_to, REJ.TOO_LATE, f"order is {order.status.value}")
        if order.pending_kind is not None:
            return _cxl(req, response_to, REJ.PENDING, f"a {order.pending_kind} request is pending")
        if order.symbol != req.symbol:
            return _cxl(req, response_to, REJ.OTHER, f"symbol {req.client_symbol} does not match the order's")
        if req.side is not None and req.side is not order.side:
            return _cxl(req, response_to, REJ.OTHER, "side does not match the order's")
        return None

    async def _venue_cancel(self, ctx: _Ctx, order_id: str) -> None:
        order = ctx.book.get(order_id)
        cur, _ = _legs(order)
        request = V.CancelOrder(symbol=order.symbol, client_order_id=_venue_cl_id(order, cur),
                                venue_order_id=order.venue_order_id)
        try:
            async with ctx.venue.slots:
                await ctx.venue.adapter.cancel(request)
        except VenueRejected as exc:
            if order.pending_kind == "cancel":
                self._apply(ctx, order, OrderCancelRejected(order_id=order_id, ts_ns=self._clock.now_ns(),
                                                            cl_ord_id=order.pending_cl_ord_id, reason=exc.message))
        except (VenueError, TransportError) as exc:
            log.warning("%s: cancel of %s: %s; waiting for the venue's events", ctx.key, order_id, exc)

    def _replace(self, ctx: _Ctx, req: ReplaceRequest, now: int) -> None:
        order = ctx.book.find(order_id=req.order_id, cl_ord_id=req.orig_cl_ord_id)
        rej = self._request_refusal(ctx, order, req, 2)
        if rej is None and order is not None:
            if req.order_type is not order.order_type:
                rej = _cxl(req, 2, REJ.UNSUPPORTED, "the order type cannot be changed")
            elif req.quantity <= order.cum_qty:
                rej = _cxl(req, 2, REJ.TOO_LATE, f"quantity {req.quantity} is not above the filled {order.cum_qty}")
        if rej is None and order is not None:
            terms = SubmitOrder(
                cl_ord_id=req.cl_ord_id, symbol=order.symbol, side=order.side, order_type=order.order_type,
                ts_ns=now, quantity=req.quantity - order.cum_qty, price=req.price if order.price else None,
                trigger_price=req.stop_price if order.trigger_price else None, time_in_force=order.time_in_force,
                expire_time_ns=order.expire_time_ns, post_only=order.post_only,
            ) if _valid_terms(order, req) else None
            if terms is None:
                rej = _cxl(req, 2, REJ.OTHER, "price/stop price do not fit the order type")
            else:
                probe = _venue_order(terms, "probe")
                violation = ctx.venue.adapter.check(probe) if probe is not None else None
                others = self._open_count(ctx) - 1
                refusal = check_order(terms, ctx.settings.limits, client_symbol=req.client_symbol, open_orders=others,
                                      last_price=self._last_px.get(order.symbol), venue_violation=violation)
                if refusal is not None:
                    rej = _cxl(req, 2, REJ.BROKER_OPTION, refusal.text)
        if rej is not None:
            self._reject(ctx, rej, now)
            return
        assert order is not None
        try:
            ctx.book.replace(ReplaceOrder(cl_ord_id=req.cl_ord_id, ts_ns=now, orig_cl_ord_id=req.orig_cl_ord_id,
                                          order_id=req.order_id if req.orig_cl_ord_id is None else None,
                                          quantity=req.quantity, price=req.price if order.price else None,
                                          trigger_price=req.stop_price if order.trigger_price else None))
        except (OrderError, InvalidTransition) as exc:
            self._reject(ctx, _cxl(req, 2, _reason_for(exc), str(exc)), now)
            return
        ctx.journal.commit()
        self._report_last(ctx, order)
        assert self._tg is not None
        self._tg.start_soon(self._venue_replace, ctx, order.order_id, terms)

    async def _venue_replace(self, ctx: _Ctx, order_id: str, terms: SubmitOrder) -> None:
        order = ctx.book.get(order_id)
        cur, pend = _legs(order)
        adapter = ctx.venue.adapter
        old_id = _venue_cl_id(order, cur)
        new_id = _venue_cl_id(order, pend)
        pending_qty = terms.quantity + order.cum_qty
        same_price = terms.price == order.price and terms.trigger_price == order.trigger_price
        try:
            async with ctx.venue.slots:
                if same_price and pending_qty < (order.quantity or _ZERO) and adapter.capabilities.amend_keeps_priority:
                    # A pure quantity decrease keeps queue priority on venues that can amend in place.
                    leg_qty = pending_qty - order.cum_qty + self._leg_filled(order, cur)
                    await adapter.amend(V.AmendOrder(symbol=order.symbol, new_quantity=leg_qty,
                                                     orig_client_order_id=old_id,
                                                     venue_order_id=order.venue_order_id, new_client_order_id=new_id))
                else:
                    new = _venue_order(terms, new_id)
                    assert new is not None
                    await adapter.replace(V.ReplaceOrder(orig_client_order_id=old_id, new=new,
                                                         venue_order_id=order.venue_order_id))
        except VenueRejected as exc:
            self._settle_replace(ctx, order, OrderReplaceRejected(order_id=order_id, ts_ns=self._clock.now_ns(),
                                                                  cl_ord_id=order.pending_cl_ord_id,
                                                                  reason=exc.message))
        except (VenueError, TransportError) as exc:
            log.warning("%s: replace of %s: %s; waiting for the venue's events", ctx.key, order_id, exc)

    def _leg_filled(self, order: Any, leg: int) -> Decimal:
        """Quantity filled on venue leg ``leg`` (fills since the replace that created it)."""
        filled = _ZERO
        current = 0
        seen = 0
        for e in order.events:
            if type(e) is OrderPendingReplace:
                seen += 1
            elif type(e) is OrderReplaced:
                current = seen
            elif type(e) is OrderFilled and current == leg:
                filled += e.last_qty
        return filled

    def _status(self, ctx: _Ctx, req: StatusRequest, now: int) -> None:
        order = ctx.book.find(order_id=req.order_id, cl_ord_id=req.cl_ord_id)
        if order is None:
            ctx.send(unknown_order_status(ctx.table, cl_ord_id=req.cl_ord_id, order_id=req.order_id,
                                          client_symbol=req.client_symbol, side=req.side,
                                          exec_id=self._loose_exec_id(ctx), ts_ns=now,
                                          ord_status_req_id=req.ord_status_req_id))
            return
        ctx.send(status_report(ctx.table, order, ctx.venue.symbols.client(order.symbol),
                               exec_id=self._status_exec_id(order), ts_ns=now,
                               ord_status_req_id=req.ord_status_req_id))

    def _status_exec_id(self, order: Any) -> str:
        self._status_seq += 1
        return f"{order.exec_id}.s{self._status_seq}"

    def _selected(self, ctx: _Ctx, symbol: str | None, side: Any = None) -> list[Any]:
        return [o for o in ctx.book.open_orders()
                if (symbol is None or o.symbol == symbol) and (side is None or o.side is side)]

    def _mass_cancel(self, ctx: _Ctx, req: MassCancelRequest, now: int) -> None:
        orders = [o for o in self._selected(ctx, req.symbol, req.side)
                  if o.pending_kind is None and o.status is not OrderStatus.INITIALIZED]
        ctx.send(mass_cancel_report(cl_ord_id=req.cl_ord_id, report_id=self._loose_exec_id(ctx),
                                    request_type=req.request_type, transact_time_ns=now,
                                    affected=[(o.cl_ord_id, o.order_id) for o in orders],
                                    symbol=req.client_symbol, side=req.side))
        assert self._tg is not None
        for o in orders:
            # Each order is then reported Canceled under its own ClOrdID, as the venue confirms it.
            self._tg.start_soon(self._venue_cancel, ctx, o.order_id)

    def _mass_status(self, ctx: _Ctx, req: MassStatusRequest, now: int) -> None:
        orders = self._selected(ctx, req.symbol)
        if not orders:
            ctx.send(unknown_order_status(ctx.table, cl_ord_id=None, order_id=None, client_symbol=req.client_symbol,
                                          side=None, exec_id=self._loose_exec_id(ctx), ts_ns=now))
            return
        for i, o in enumerate(orders, 1):
            ctx.send(status_report(ctx.table, o, ctx.venue.symbols.client(o.symbol), exec_id=self._status_exec_id(o),
                                   ts_ns=now, mass_status_req_id=req.mass_status_req_id, tot_num_reports=len(orders),
                                   last_rpt_requested=i == len(orders)))

    # -- venue events --------------------------------------------------------------------------

    async def _consume(self, venue: _Venue) -> None:
        async for event in venue.adapter.events():
            try:
                self._on_venue_event(event)
            except StoreError:
                log.critical("the journal failed; stopping", exc_info=True)
                self.stop()
                raise
            except FixgwError:
                log.exception("venue event %r not applied", event)

    def _locate(self, client_order_id: str) -> tuple[_Ctx, Any, int] | None:
        order_id, _, leg = client_order_id.partition(".r")
        account = order_id.rpartition("-")[0]
        ctx = self._by_account.get(account)
        if ctx is None or order_id not in ctx.book:
            return None
        try:
            k = int(leg) if leg else 0
        except ValueError:
            return None
        return ctx, ctx.book.get(order_id), k

    def _on_venue_event(self, ev: V.VenueOrderEvent) -> None:
        found = self._locate(ev.client_order_id)
        if found is None:
            log.debug("event for an order that is not ours: %r", ev)
            return
        ctx, order, leg = found
        cur, pend = _legs(order)
        oid = order.order_id
        ts = ev.ts_ns or self._clock.now_ns()
        replacing = order.pending_kind == "replace"
        if isinstance(ev, V.OrderFilled):
            self._last_px[order.symbol] = ev.last_px
            liquidity = LiquiditySide.NONE if ev.is_maker is None else (
                LiquiditySide.MAKER if ev.is_maker else LiquiditySide.TAKER)
            self._apply(ctx, order, OrderFilled(
                order_id=oid, ts_ns=ts, trade_id=f"{ev.symbol}:{ev.trade_id}", last_qty=_plain(ev.last_qty),
                last_px=_plain(ev.last_px), fee=ev.fee, fee_currency=ev.fee_asset or "", liquidity=liquidity,
                venue_order_id=ev.venue_order_id if leg == cur else None))
        elif isinstance(ev, V.OrderAccepted):
            if replacing and leg == pend and leg != cur:
                self._settle_replace(ctx, order, OrderReplaced(order_id=oid, ts_ns=ts,
                                                               venue_order_id=ev.venue_order_id))
            elif leg == cur:
                self._apply(ctx, order, OrderAccepted(order_id=oid, ts_ns=ts, venue_order_id=ev.venue_order_id))
        elif isinstance(ev, V.OrderAmended):
            if replacing:
                self._settle_replace(ctx, order, OrderReplaced(order_id=oid, ts_ns=ts))
        elif isinstance(ev, (V.OrderCanceled, V.OrderExpired)):
            if leg != cur:
                return  # an old leg of a cancel-replace: the order lives on in its new leg
            if replacing:
                self._held_cancels[oid] = ev  # the old leg's end: reported only if the replace fails
                return
            cls = OrderCanceled if isinstance(ev, V.OrderCanceled) else OrderExpired
            self._apply(ctx, order, cls(order_id=oid, ts_ns=ts, reason=ev.reason))
        elif isinstance(ev, V.OrderRejected):
            if replacing and leg == pend and leg != cur:
                self._settle_replace(ctx, order, OrderReplaceRejected(
                    order_id=oid, ts_ns=ts, cl_ord_id=order.pending_cl_ord_id, reason=ev.reason or "rejected"))
            elif leg == cur and order.cum_qty == 0 and order.status in (OrderStatus.PENDING_NEW,
                                                                         OrderStatus.INITIALIZED):
                self._apply(ctx, order, OrderRejected(order_id=oid, ts_ns=ts, reason=ev.reason or "rejected"))

    def _settle_replace(self, ctx: _Ctx, order: Any, event: Any) -> None:
        self._apply(ctx, order, event)
        held = self._held_cancels.pop(order.order_id, None)
        if held is not None and isinstance(event, OrderReplaceRejected) and order.is_open:
            cls = OrderCanceled if isinstance(held, V.OrderCanceled) else OrderExpired
            self._apply(ctx, order, cls(order_id=order.order_id, ts_ns=held.ts_ns, reason=held.reason))

    # -- applying and reporting ----------------------------------------------------------------

    def _flush_messages(self) -> None:
        """Commit the message store's open batch before the journal writes.

        The message store and the journals are two connections to one SQLite file; a write transaction
        left open by one would make the other wait for a lock that this same thread holds. So the
        journal writes only while no message-store batch is open, and commits before anything else
        writes (see ``_apply``).
        """
        commit = getattr(self._message_store, "commit", None)  # a memory store has nothing to commit
        if commit is not None:
            commit()

    def _apply(self, ctx: _Ctx, order: Any, event: Any, *, reason: str | None = None) -> None:
        """Apply ``event`` to ``order``, commit the journal, then report it to the owning session."""
        self._flush_messages()
        try:
            reported = ctx.book.apply(event)
        except (InvalidTransition, OrderError) as exc:
            log.warning("%s: %s not applied to %s: %s", ctx.key, type(event).__name__, order.order_id, exc)
            reported = False
        finally:
            ctx.journal.commit()  # also what a command appended before this event (never left open)
        if reported:
            reply = reply_for_event(ctx.table, order, event, ctx.venue.symbols.client(order.symbol))
            if reply is not None and reason is not None and reply[0] == b"8":
                reply = (reply[0], [(103, ctx.table.ord_rej_reason[reason]) if t == 103 else (t, v)
                                    for t, v in reply[1]])
            ctx.send(reply)

    def _report_last(self, ctx: _Ctx, order: Any) -> None:
        event = order.events[-1]
        ctx.send(reply_for_event(ctx.table, order, event, ctx.venue.symbols.client(order.symbol)))

    # -- start-up reconciliation ---------------------------------------------------------------

    async def _reconcile(self) -> None:
        """Ask the venue about every order the journal says is open; what changed arrives as events."""
        for ctx in self._ctx.values():
            for order in ctx.book.open_orders():
                if order.status is OrderStatus.INITIALIZED:
                    self._apply(ctx, order, OrderRejected(order_id=order.order_id, ts_ns=self._clock.now_ns(),
                                                          reason="not sent to the venue before a restart"))
                    continue
                cur, pend = _legs(order)
                report = await self._query(ctx, order, cur)
                if order.pending_kind == "replace" and pend != cur:
                    await self._query(ctx, order, pend)
                elif order.pending_kind == "cancel" and report is not None and not report.status.is_terminal:
                    # The cancel was journaled but the venue never got it (or its answer was lost): again.
                    assert self._tg is not None
                    self._tg.start_soon(self._venue_cancel, ctx, order.order_id)

    async def _query(self, ctx: _Ctx, order: Any, leg: int) -> V.OrderReport | None:
        try:
            return await ctx.venue.adapter.query(order.symbol, client_order_id=_venue_cl_id(order, leg))
        except VenueRejected as exc:
            log.info("%s: %s leg %d not at the venue: %s", ctx.key, order.order_id, leg, exc)
            now = self._clock.now_ns()
            cur, pend = _legs(order)
            if leg == pend and leg != cur and order.pending_kind == "replace":
                self._settle_replace(ctx, order, OrderReplaceRejected(
                    order_id=order.order_id, ts_ns=now, cl_ord_id=order.pending_cl_ord_id, reason="not placed"))
            elif order.status is OrderStatus.PENDING_NEW and order.cum_qty == 0:
                self._apply(ctx, order, OrderRejected(order_id=order.order_id, ts_ns=now,
                                                      reason="not found at the venue"))
        except (VenueError, TransportError) as exc:
            log.warning("%s: cannot reconcile %s yet: %s", ctx.key, order.order_id, exc)
        return None

    # -- introspection (tests, bridge) ---------------------------------------------------------

    def book(self, session_id: SessionID) -> OrderBook:
        """Return the order book of a session."""
        return self._ctx[session_id].book

    def handle(self, session_id: SessionID) -> SessionHandle:
        handle = self._ctx[session_id].handle
        assert handle is not None
        return handle

    def venue(self, name: str) -> V.VenueAdapter:
        return self._venues[name].adapter


# -- helpers ---------------------------------------------------------------------------------------


def _session_key(s: SessionSettings) -> str:
    """The session's order account: short and made of venue-safe characters (order ids start with it)."""
    target = re.sub(r"[^A-Za-z0-9]", "", s.target_comp_id)[:14] or "S"
    return f"{target}_{s.begin_string[4:].replace('.', '')}"


def _plain(d: Decimal) -> Decimal:
    """Drop a venue's padding zeros (``0.10000000`` -> ``0.1``) without changing the value."""
    n = d.normalize()
    return n if n.as_tuple().exponent <= 0 else n.quantize(Decimal(1))


def _legs(order: Any) -> tuple[int, int]:
    """Return (current venue leg, newest leg requested): leg k is the k-th replace request."""
    current = requested = 0
    for e in order.events:
        t = type(e)
        if t is OrderPendingReplace:
            requested += 1
        elif t is OrderReplaced:
            current = requested
    return current, requested


def _venue_cl_id(order: Any, leg: int) -> str:
    return order.order_id if leg == 0 else f"{order.order_id}.r{leg}"


def _venue_order(cmd: SubmitOrder, client_order_id: str) -> V.NewOrder | None:
    """The venue port's order for ``cmd``, or ``None`` when the venue port has no such side."""
    try:
        side = V.Side[cmd.side.name]
        order_type = V.OrderType[cmd.order_type.name]
        tif = None if cmd.order_type in _MARKET_TYPES else V.TimeInForce[cmd.time_in_force.name]
    except KeyError:
        return None
    return V.NewOrder(client_order_id=client_order_id, symbol=cmd.symbol, side=side, order_type=order_type,
                      quantity=cmd.quantity, price=cmd.price, stop_price=cmd.trigger_price, time_in_force=tif,
                      quote_quantity=cmd.quote_quantity, post_only=cmd.post_only)


def _valid_terms(order: Any, req: ReplaceRequest) -> bool:
    if order.price is not None and req.price is None:
        return False
    if order.trigger_price is not None and req.stop_price is None:
        return False
    return True


def _echo(req: NewOrderRequest) -> tuple[tuple[int, bytes], ...]:
    from .translate.outbound import ORD_TYPE_CODES, SIDE_CODES

    out: list[tuple[int, bytes]] = [(55, req.client_symbol.encode()), (54, SIDE_CODES[req.side])]
    if req.quantity is not None:
        out.append((38, str(req.quantity).encode()))
    out.append((40, ORD_TYPE_CODES.get(req.order_type, b"2")))
    if req.price is not None:
        out.append((44, str(req.price).encode()))
    return tuple(out)


def _cxl(req: Any, response_to: int, reason: str, text: str) -> CancelReject:
    return CancelReject(req.cl_ord_id, req.orig_cl_ord_id, req.order_id, response_to, reason, text)


def _reason_for(exc: Exception) -> str:
    if isinstance(exc, DuplicateClOrdID):
        return REJ.DUPLICATE_ORDER
    if isinstance(exc, UnknownOrder):
        return REJ.UNKNOWN_ORDER
    if isinstance(exc, InvalidTransition):
        return REJ.TOO_LATE
    return REJ.OTHER

