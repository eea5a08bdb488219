"""The order flow: FIX request -> checks -> book and journal -> report -> venue call.

``OrderFlow.handle`` takes a request ``translate.parse_request`` made of an application message. A new
order goes through the duplicate check and ``risk.check_order`` (with the venue's instrument rules),
into the book, through ``Router.apply`` (journal, report, one commit) and only then to the venue, queued
for one of its workers (``VenueContext``: at most ``max_in_flight`` calls in flight). The order becomes
its venue command once (``_venue_order``); the venue's rules are checked on that object, and the adapter
does not check that same object again when it is sent.
Cancel and replace requests are checked against the order, journaled with their pending event,
acknowledged at once with PendingCancel / PendingReplace in the same commit, and then sent. Status
requests only read the book.

Reporting choices: an order sent to the venue is acknowledged by ExecType New when the venue confirms
it (no PendingNew report); a mass cancel is answered with OrderMassCancelReport and each order is then
reported Canceled under its own ClOrdID as the venue confirms it; a NewOrderSingle with PossResend
(97=Y) whose ClOrdID we already hold is answered with a status report instead of being placed again.
"""

from __future__ import annotations

import dataclasses
import logging
from decimal import Decimal
from typing import Any

from ..errors import (
    DuplicateClOrdID,
    InvalidTransition,
    OrderError,
    TransportError,
    UnknownOrder,
    VenueBanned,
    VenueError,
    VenueRateLimited,
    VenueRejected,
    VenueUnknownOutcome,
)
from ..orders import (
    CancelOrder,
    OrderCancelRejected,
    OrderRejected,
    OrderReplaceRejected,
    OrderStatus,
    OrderSubmitted,
    ReplaceOrder,
    SubmitOrder,
    Route,
    TimeInForce,
)
from ..orders.enums import OrderType
from ..risk import Refusal, check_order, violation_to_refusal
from ..translate import (
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
    business_reject,
    cancel_reject,
    mass_cancel_report,
    order_reject,
    plain,
    refuse_order,
    status_report,
    unknown_order_status,
)
from ..venues import base as V
from ._batch import cancel_orders
from ._ids import venue_cl_id
from ._router import Router, SessionContext, log_text

__all__ = ["OrderFlow", "cancellable", "order_refusal"]

log = logging.getLogger("fixgw.gateway")

_ZERO = Decimal(0)
_MARKET_TYPES = frozenset({OrderType.MARKET, OrderType.STOP, OrderType.TAKE_PROFIT})


class OrderFlow:
    """Turn the FIX requests of every session into book changes, reports and venue calls."""

    def __init__(self, router: Router) -> None:
        self._router = router

    def handle(self, ctx: SessionContext, req: Any, poss_resend: bool, now: int, route: Route | None = None) -> None:
        """Act on one parsed request (or answer the reject ``parse_request`` made of it).

        ``route``: the parties the message named; its answers go back by it, and a new order keeps it.
        """
        if isinstance(req, NewOrderRequest):
            known = ctx.book.find(cl_ord_id=req.cl_ord_id) if poss_resend else None
            if known is not None:
                # PossResend: the client is not sure we got this order; we did. Say where it stands.
                ctx.send(self._status_report(ctx, known, now), route)
            else:
                self._new_order(ctx, req, now, route)
        elif isinstance(req, CancelRequest):
            self._cancel(ctx, req, now, route)
        elif isinstance(req, ReplaceRequest):
            self._replace(ctx, req, now, route)
        elif isinstance(req, StatusRequest):
            self._status(ctx, req, now, route)
        elif isinstance(req, MassCancelRequest):
            self._mass_cancel(ctx, req, now, route)
        elif isinstance(req, MassStatusRequest):
            self._mass_status(ctx, req, now, route)
        else:
            self._reject(ctx, req, now, route)

    # -- answers without an order --------------------------------------------------------------

    def _reject(self, ctx: SessionContext, rej: Any, now: int, route: Route | None) -> None:
        if isinstance(rej, OrderReject):
            ctx.send(order_reject(ctx.table, rej, exec_id=ctx.loose_exec_id(), transact_time_ns=now), route)
        elif isinstance(rej, CancelReject):
            order = ctx.book.find(order_id=rej.order_id, cl_ord_id=rej.orig_cl_ord_id)
            status = order.status if order is not None else None
            ctx.send(cancel_reject(ctx.table, rej, transact_time_ns=now, status=status,
                                   order_id=order.order_id if order is not None else None), route)
        elif isinstance(rej, MassCancelReject):
            ctx.send(mass_cancel_report(cl_ord_id=rej.cl_ord_id, report_id=ctx.loose_exec_id(),
                                        request_type=rej.request_type, transact_time_ns=now, reject=rej), route)
        elif isinstance(rej, BusinessReject):
            ctx.send(business_reject(rej), route)

    @staticmethod
    def _status_report(ctx: SessionContext, order: Any, now: int, **extra: Any) -> Any:
        return status_report(ctx.table, order, ctx.client_symbol(order), exec_id=ctx.status_exec_id(order),
                             ts_ns=now, avg_px_places=ctx.venue.symbols.avg_px_places(order.symbol), **extra)

    # -- new orders ----------------------------------------------------------------------------

    def _new_order(self, ctx: SessionContext, req: NewOrderRequest, now: int, route: Route | None) -> None:
        try:
            cmd = SubmitOrder(
                cl_ord_id=req.cl_ord_id, symbol=req.symbol, side=req.side, order_type=req.order_type, ts_ns=now,
                quantity=req.quantity, quote_quantity=req.quote_quantity, price=req.price,
                trigger_price=req.stop_price, time_in_force=req.time_in_force or TimeInForce.GTC,
                expire_time_ns=req.expire_time_ns, post_only=req.post_only, owner=str(ctx.session_id),
                route=route, display_quantity=req.max_floor,
            )
        except OrderError as exc:
            self._reject(ctx, refuse_order(req, REJ.OTHER, str(exc)), now, route)
            return
        holder = ctx.book.live_order(req.cl_ord_id)  # in memory: no journal read per new order
        if holder is not None:
            self._reject(ctx, refuse_order(req, REJ.DUPLICATE_ORDER,
                                           f"duplicate ClOrdID {req.cl_ord_id}: order {holder.order_id} is live"),
                         now, route)
            return
        try:
            self.place(ctx, cmd, req.client_symbol, now)
        except DuplicateClOrdID as exc:  # pragma: no cover - checked above
            self._reject(ctx, refuse_order(req, REJ.DUPLICATE_ORDER, str(exc)), now, route)

    def place(self, ctx: SessionContext, cmd: SubmitOrder, client_symbol: str, now: int, *,
              batch: list[tuple[str, V.NewOrder]] | None = None) -> tuple[Any, Refusal | None]:
        """The steps every face shares for a new order: the kill switch and ``risk.check_order``, into the
        book, the venue's rules, then the rejection or the submit applied (journal, report, commit) and
        the venue call queued. Returns (the order, the refusal that rejected it or ``None``).
        Raises ``DuplicateClOrdID`` (nothing done) when a live order holds ``cmd.cl_ord_id``.
        ``batch``: instead of queueing the venue call, append (order id, venue order) to it (the
        caller sends a batch of them, ``OrderDesk.submit_batch``)."""
        refusal = self._router.halt_refusal(ctx) or check_order(
            cmd, ctx.settings.limits, client_symbol=client_symbol, open_orders=_open_count(ctx),
            last_price=self._router.last_px.get(cmd.symbol))
        order = ctx.book.submit(cmd)
        venue_order = _venue_order(cmd, venue_cl_id(order, 0))
        if refusal is None:
            refusal = _venue_refusal(ctx, venue_order)
        if refusal is not None:
            self._router.apply(ctx, order, OrderRejected(order_id=order.order_id, ts_ns=now, reason=refusal.text),
                               reason=refusal.reason)
            return order, refusal
        self._router.apply(ctx, order, OrderSubmitted(order_id=order.order_id, ts_ns=now))
        if batch is not None:
            batch.append((order.order_id, venue_order))
        else:
            self._router.spawn(self._submit, ctx, order.order_id, venue_order)
        return order, None

    async def _submit(self, ctx: SessionContext, order_id: str, venue_order: V.NewOrder) -> None:
        try:
            await ctx.venue.adapter.submit(venue_order)
        except VenueUnknownOutcome as exc:
            log.warning("%s: submit %s outcome unknown (%s); the venue adapter reconciles", ctx.key, order_id,
                        log_text(exc))
        except VenueError as exc:
            order = ctx.book.get(order_id)
            if order.status in (OrderStatus.PENDING_NEW, OrderStatus.INITIALIZED):
                text = getattr(exc, "message", None) or str(exc)
                self._router.apply(ctx, order, OrderRejected(order_id=order_id, ts_ns=self._router.clock.now_ns(),
                                                             reason=text))
        except TransportError as exc:
            log.warning("%s: submit %s: %s; the venue adapter reconciles", ctx.key, order_id, log_text(exc))

    # -- cancels -------------------------------------------------------------------------------

    def _cancel(self, ctx: SessionContext, req: CancelRequest, now: int, route: Route | None) -> None:
        order = ctx.book.find(order_id=req.order_id, cl_ord_id=req.orig_cl_ord_id)
        rej = _request_refusal(order, req, 1)
        if rej is not None:
            self._reject(ctx, rej, now, route)
            return
        assert order is not None
        try:
            self.cancel_order(ctx, order, CancelOrder(
                cl_ord_id=req.cl_ord_id, ts_ns=now, orig_cl_ord_id=req.orig_cl_ord_id,
                order_id=req.order_id if req.orig_cl_ord_id is None else None))
        except (OrderError, InvalidTransition) as exc:
            self._reject(ctx, _cxl(req, 1, _reason_for(exc), str(exc)), now, route)

    def cancel_order(self, ctx: SessionContext, order: Any, cmd: CancelOrder) -> None:
        """The steps every face shares for a cancel of ``order`` (checked open, nothing pending): journal
        its pending cancel, report it in the same commit, queue the venue call. Raises ``OrderError`` or
        ``InvalidTransition`` (nothing done) when the book refuses ``cmd``."""
        ctx.book.cancel(cmd)
        self._router.report_last(ctx, order)
        self._router.spawn(self.venue_cancel, ctx, order.order_id)

    async def venue_cancel(self, ctx: SessionContext, order_id: str) -> None:
        """Ask the venue to cancel the current leg of ``order_id`` (journaled before this is called)."""
        order = ctx.book.get(order_id)
        request = V.CancelOrder(symbol=order.symbol, client_order_id=venue_cl_id(order, order.leg),
                                venue_order_id=order.venue_order_id)
        try:
            await ctx.venue.adapter.cancel(request)
        except (VenueRejected, VenueBanned, VenueRateLimited) as exc:  # refused for sure (a 418/429 too)
            text = getattr(exc, "message", None) or str(exc)
            if isinstance(exc, VenueRejected) and V.reject_reason(exc) == "unknown_order":
                text = await self._look_up(ctx, order, request.client_order_id, text)
            # Settles our pending cancel; dropped by the order when none is (a mass cancel's refusal).
            self._router.apply(ctx, order, OrderCancelRejected(
                order_id=order_id, ts_ns=self._router.clock.now_ns(), cl_ord_id=order.pending_cl_ord_id,
                reason=text))
        except (VenueError, TransportError) as exc:
            log.warning("%s: cancel of %s: %s; waiting for the venue's events", ctx.key, order_id, log_text(exc))

    async def _look_up(self, ctx: SessionContext, order: Any, client_order_id: str | None, text: str) -> str:
        """A cancel the venue refused as an unknown order: ask the venue where the order stands and apply
        what it says (its fills, its end) before the refusal is answered; return the refusal's text.

        A venue refuses to cancel an order that has just ended (filled meanwhile) with the same words
        as one it never heard of: the answer must say the order is filled, with OrdStatus filled.
        """
        try:
            await ctx.venue.adapter.query(order.symbol, client_order_id=client_order_id)
        except (VenueError, TransportError) as exc:
            log.info("%s: %s not found after a cancel refused as unknown: %s", ctx.key, order.order_id,
                     log_text(exc))
            return text
        if not await ctx.venue.caught_up():
            log.warning("%s: the venue's events about %s were not applied in time", ctx.key, order.order_id)
        return text if order.is_open else f"order is {order.status.value}"

    def _mass_cancel(self, ctx: SessionContext, req: MassCancelRequest, now: int, route: Route | None) -> None:
        orders = cancellable(ctx, req.symbol, req.side)
        ctx.send(mass_cancel_report(cl_ord_id=req.cl_ord_id, report_id=ctx.loose_exec_id(),
                                    request_type=req.request_type, transact_time_ns=now,
                                    affected=[(o.cl_ord_id, o.order_id) for o in orders],
                                    symbol=req.client_symbol, side=req.side), route)
        # Each order is then reported Canceled under its own ClOrdID, as the venue confirms it (the
        # venue asked in one call where it cancels in batches, ``_batch``).
        cancel_orders(self._router, self, ctx, orders)

    # -- replaces ------------------------------------------------------------------------------

    def _replace(self, ctx: SessionContext, req: ReplaceRequest, now: int, route: Route | None) -> None:
        order = ctx.book.find(order_id=req.order_id, cl_ord_id=req.orig_cl_ord_id)
        rej = _request_refusal(order, req, 2)
        terms = None
        if rej is None and order is not None:
            terms, rej = self._replace_terms(ctx, order, req, now)
        if rej is not None:
            self._reject(ctx, rej, now, route)
            return
        assert order is not None and terms is not None
        try:
            self.replace_order(ctx, order, ReplaceOrder(
                cl_ord_id=req.cl_ord_id, ts_ns=now, orig_cl_ord_id=req.orig_cl_ord_id,
                order_id=req.order_id if req.orig_cl_ord_id is None else None,
                quantity=req.quantity, price=req.price if order.price else None,
                trigger_price=req.stop_price if order.trigger_price else None), terms)
        except (OrderError, InvalidTransition) as exc:
            self._reject(ctx, _cxl(req, 2, _reason_for(exc), str(exc)), now, route)

    def replace_order(self, ctx: SessionContext, order: Any, cmd: ReplaceOrder, terms: V.NewOrder) -> None:
        """The steps every face shares for a replace of ``order`` whose new leg is ``terms`` (see
        ``replace_terms``): journal the pending replace, report it in the same commit, queue the venue
        call. Raises ``OrderError`` or ``InvalidTransition`` (nothing done) when the book refuses ``cmd``."""
        ctx.book.replace(cmd)
        self._router.report_last(ctx, order)
        self._router.spawn(self._venue_replace, ctx, order.order_id, terms)

    def _replace_terms(self, ctx: SessionContext, order: Any, req: ReplaceRequest,
                       now: int) -> tuple[V.NewOrder | None, CancelReject | None]:
        """The new leg's venue order (the open quantity, under the leg's venue client order id), or
        the reject that refuses the replace."""
        if req.order_type is not order.order_type:
            return None, _cxl(req, 2, REJ.UNSUPPORTED, "the order type cannot be changed")
        new, refused = self.replace_terms(ctx, order, req.cl_ord_id, req.quantity, req.price, req.stop_price,
                                          req.client_symbol, now)
        return new, None if refused is None else _cxl(req, 2, *refused)

    def replace_terms(self, ctx: SessionContext, order: Any, cl_ord_id: str, quantity: Decimal,
                      price: Decimal | None, stop_price: Decimal | None, client_symbol: str,
                      now: int) -> tuple[V.NewOrder | None, tuple[str, str] | None]:
        """The venue order of the leg a replace of ``order`` to these terms creates, checked like a new
        order (limits, the venue's rules), or (``REJ`` name, text) of why the replace is refused."""
        if quantity <= order.cum_qty:
            return None, (REJ.TOO_LATE, f"quantity {plain(quantity)} is not above the filled {plain(order.cum_qty)}")
        if not _valid_terms(order, price, stop_price):
            return None, (REJ.OTHER, "price/stop price do not fit the order type")
        terms = SubmitOrder(
            cl_ord_id=cl_ord_id, symbol=order.symbol, side=order.side, order_type=order.order_type,
            ts_ns=now, quantity=quantity - order.cum_qty, price=price if order.price else None,
            trigger_price=stop_price if order.trigger_price else None, time_in_force=order.time_in_force,
            expire_time_ns=order.expire_time_ns, post_only=order.post_only,
            display_quantity=order.display_quantity if order.display_quantity is not None
            and order.display_quantity < quantity - order.cum_qty else None,
        )
        new = _venue_order(terms, venue_cl_id(order, order.legs_requested + 1))  # the leg this request creates
        refusal = check_order(terms, ctx.settings.limits, client_symbol=client_symbol,
                              open_orders=_open_count(ctx) - 1, last_price=self._router.last_px.get(order.symbol))
        if refusal is None:
            refusal = _venue_refusal(ctx, new)
        if refusal is not None:
            return None, (REJ.BROKER_OPTION, refusal.text)
        return new, None

    async def _venue_replace(self, ctx: SessionContext, order_id: str, terms: V.NewOrder) -> None:
        order = ctx.book.get(order_id)
        cur, pend = order.leg, order.legs_requested  # the current leg; the one this request asked for
        adapter = ctx.venue.adapter
        old_id = venue_cl_id(order, cur)
        new_id = venue_cl_id(order, pend)
        pending_qty = terms.quantity + order.cum_qty
        same_price = terms.price == order.price and terms.stop_price == order.trigger_price
        try:
            if same_price and pending_qty < (order.quantity or _ZERO) and adapter.capabilities.amend_keeps_priority:
                # A pure quantity decrease keeps queue priority on venues that can amend in place.
                leg_qty = pending_qty - order.cum_qty + order.leg_filled
                await adapter.amend(V.AmendOrder(symbol=order.symbol, new_quantity=leg_qty,
                                                 orig_client_order_id=old_id,
                                                 venue_order_id=order.venue_order_id, new_client_order_id=new_id))
            else:
                if terms.client_order_id != new_id:  # pragma: no cover - the leg was named at the request
                    log.warning("%s: replace of %s: leg %s, not %s", ctx.key, order_id, new_id, terms.client_order_id)
                    terms = dataclasses.replace(terms, client_order_id=new_id)  # (the adapter checks it again)
                await adapter.replace(V.ReplaceOrder(orig_client_order_id=old_id, new=terms,
                                                     venue_order_id=order.venue_order_id))
        except (VenueRejected, VenueBanned, VenueRateLimited) as exc:  # refused for sure (a 418/429 too)
            # A held end of the old leg is then due, and ``Router.apply`` applies it next.
            self._router.apply(ctx, order, OrderReplaceRejected(
                order_id=order_id, ts_ns=self._router.clock.now_ns(), cl_ord_id=order.pending_cl_ord_id,
                reason=getattr(exc, "message", None) or str(exc)))
        except (VenueError, TransportError) as exc:
            log.warning("%s: replace of %s: %s; waiting for the venue's events", ctx.key, order_id, log_text(exc))

    # -- status --------------------------------------------------------------------------------

    def _status(self, ctx: SessionContext, req: StatusRequest, now: int, route: Route | None) -> None:
        order = ctx.book.find(order_id=req.order_id, cl_ord_id=req.cl_ord_id)
        if order is None:
            ctx.send(unknown_order_status(ctx.table, cl_ord_id=req.cl_ord_id, order_id=req.order_id,
                                          client_symbol=req.client_symbol, side=req.side,
                                          exec_id=ctx.loose_exec_id(), ts_ns=now,
                                          ord_status_req_id=req.ord_status_req_id), route)
            return
        ctx.send(self._status_report(ctx, order, now, ord_status_req_id=req.ord_status_req_id), route)

    def _mass_status(self, ctx: SessionContext, req: MassStatusRequest, now: int, route: Route | None) -> None:
        orders = _selected(ctx, req.symbol)
        if not orders:
            ctx.send(unknown_order_status(ctx.table, cl_ord_id=None, order_id=None, client_symbol=req.client_symbol,
                                          side=None, exec_id=ctx.loose_exec_id(), ts_ns=now), route)
            return
        for i, o in enumerate(orders, 1):
            ctx.send(self._status_report(ctx, o, now, mass_status_req_id=req.mass_status_req_id,
                                         tot_num_reports=len(orders), last_rpt_requested=i == len(orders)), route)


# -- helpers ---------------------------------------------------------------------------------------


def _open_count(ctx: SessionContext) -> int:
    # Counting is O(open orders); only a session with that limit pays for it.
    return len(ctx.book.open_orders()) if ctx.settings.limits.max_open_orders is not None else 0


def _selected(ctx: SessionContext, symbol: str | None, side: Any = None) -> list[Any]:
    return [o for o in ctx.book.open_orders()
            if (symbol is None or o.symbol == symbol) and (side is None or o.side is side)]


def cancellable(ctx: SessionContext, symbol: str | None, side: Any = None) -> list[Any]:
    """The open orders of ``ctx`` a mass cancel asks the venue to cancel (none pending, all sent)."""
    return [o for o in _selected(ctx, symbol, side)
            if o.pending_kind is None and o.status is not OrderStatus.INITIALIZED]


def order_refusal(order: Any) -> tuple[str, str] | None:
    """Why ``order`` cannot be cancelled or replaced now, as (``REJ`` name, text), or ``None``."""
    if order is None:
        return REJ.UNKNOWN_ORDER, "unknown order"
    if not order.is_open:
        return REJ.TOO_LATE, f"order is {order.status.value}"
    if order.pending_kind is not None:
        return REJ.PENDING, f"a {order.pending_kind} request is pending"
    return None


def _request_refusal(order: Any, req: Any, response_to: int) -> CancelReject | None:
    refused = order_refusal(order)
    if refused is not None:
        return _cxl(req, response_to, *refused)
    if order.symbol != req.symbol:
        return _cxl(req, response_to, REJ.OTHER, f"symbol {req.client_symbol} does not match the order's")
    if req.side is not None and req.side is not order.side:
        return _cxl(req, response_to, REJ.OTHER, "side does not match the order's")
    return None


def _venue_order(cmd: SubmitOrder, client_order_id: str) -> V.NewOrder:
    """The venue command of ``cmd`` under venue client order id ``client_order_id`` (made once per order)."""
    return V.NewOrder(client_order_id=client_order_id, symbol=cmd.symbol, side=cmd.side, order_type=cmd.order_type,
                      quantity=cmd.quantity, price=cmd.price, stop_price=cmd.trigger_price,
                      time_in_force=None if cmd.order_type in _MARKET_TYPES else cmd.time_in_force,
                      quote_quantity=cmd.quote_quantity, post_only=cmd.post_only,
                      display_quantity=cmd.display_quantity)


#: Venue rules that refuse a feature (the order's type, post-only, iceberg), not a value.
_FEATURE_RULES = frozenset({"order_type", "post_only", "iceberg"})


def unsupported_feature(ctx: SessionContext, cmd: SubmitOrder) -> str | None:
    """The text refusing a feature ``cmd`` asks for that its venue lacks, or ``None`` (the bridge answers
    such an order 422 instead of making a rejected order)."""
    try:
        violation = ctx.venue.adapter.check(_venue_order(cmd, cmd.cl_ord_id))
    except VenueRejected:
        return None  # an unknown symbol: ``place`` answers it
    if violation is None or not violation.unsupported or violation.rule not in _FEATURE_RULES:
        return None
    return violation_to_refusal(violation).text


def _venue_refusal(ctx: SessionContext, venue_order: V.NewOrder) -> Refusal | None:
    """The venue's rules on ``venue_order`` (the very object then sent, so the adapter checks it once)."""
    try:
        violation = ctx.venue.adapter.check(venue_order)
    except VenueRejected as exc:
        violation = V.RuleViolation("symbol", exc.message)
    return None if violation is None else violation_to_refusal(violation)


def _valid_terms(order: Any, price: Decimal | None, stop_price: Decimal | None) -> bool:
    if order.price is not None and price is None:
        return False
    if order.trigger_price is not None and stop_price is None:
        return False
    return True


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
