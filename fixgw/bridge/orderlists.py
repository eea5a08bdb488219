"""The bridge's order lists (OCO, OTO): ``POST /v1/order-lists`` and ``DELETE /v1/order-lists/{id}`` (``trade``).

An order list is two orders placed together at the venue, one's fate bound to the other's
(``fixgw.venues.orderlists``): OCO (one cancels the other: when one trades or triggers, the venue
expires the other) and OTO (one triggers the other: the pending order is placed once the working one
is filled). FIX 4.2/4.4 have no order lists (ContingencyType 1385 is FIX 5.0), so only the bridge takes them.

Each leg is an ordinary order of the bridge account: it passes the same steps as ``POST /v1/orders``
(kill switch, limits, the venue's rules, book, journal, state machine), is listed by ``GET /v1/orders``
and streamed by ``/v1/stream`` like any order; only the venue call is one for the list. A leg's client
order id is ``<client_list_id>.1`` / ``.2`` (in the order given), so a retry with the same
``client_list_id`` and terms answers the same list (200), other terms under it 409 ``order_conflict``,
and ``DELETE /v1/order-lists/{client_list_id}`` finds the legs after a restart too. An OCO's limit leg
is post-only (the venue takes no other limit in an OCO). A venue without order lists answers 422
``unsupported_order``; a leg refused by the pre-trade checks makes both legs rejected orders (201).
"""

from __future__ import annotations

import dataclasses
import logging
from decimal import Decimal
from typing import Any, Literal, Optional

from fastapi import FastAPI, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from fixgw.errors import InvalidTransition, OrderError, TransportError, VenueError, VenueUnknownOutcome
from fixgw.gateway._orders import unsupported_feature
from fixgw.logsafe import printable
from fixgw.orders import CancelOrder, OrderCancelRejected, OrderRejected, OrderSide, OrderStatus, OrderType, SubmitOrder
from fixgw.orders import TimeInForce
from fixgw.venues import base as V
from fixgw.venues.orderlists import NewOrderList, list_refusal

from .errors import ApiError
from .keys import Permission
from .orders import _may_trade
from .schemas import _AMOUNT, ERROR_RESPONSES, Order

__all__ = ["install_order_list_routes", "NewOrderListBody", "OrderList"]

log = logging.getLogger("fixgw.bridge")

_KINDS_KEPT = 10_000  # lists whose type the answers remember (in memory, this run)
_MARKET = frozenset({OrderType.MARKET, OrderType.STOP, OrderType.TAKE_PROFIT})
#: Room for the ``.1``/``.2`` the legs' client order ids add (36 characters at most, as any client order id).
_LIST_ID = dict(min_length=1, max_length=34, pattern=r"^[A-Za-z0-9._:/+=-]+$")


class OrderListLeg(BaseModel):
    """One order of a list: the terms of ``POST /v1/orders`` without an id of its own."""

    model_config = ConfigDict(extra="forbid")
    side: Literal["buy", "sell"]
    type: Literal["market", "limit", "stop", "stop_limit", "take_profit", "take_profit_limit"]
    time_in_force: Literal["gtc", "ioc", "fok"] = "gtc"
    quantity: str = Field(description="base amount", **_AMOUNT)  # type: ignore[arg-type]
    price: Optional[str] = Field(None, **_AMOUNT)  # type: ignore[arg-type]
    trigger_price: Optional[str] = Field(None, **_AMOUNT)  # type: ignore[arg-type]
    post_only: bool = False


class NewOrderListBody(BaseModel):
    """``POST /v1/order-lists``: OCO legs in any order; OTO legs (working, pending)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["oco", "oto"]
    client_list_id: str = Field(description="yours; the legs are <client_list_id>.1 and .2",
                                **_LIST_ID)  # type: ignore[arg-type]
    account: Optional[str] = Field(None, max_length=16, description="the bridge account; optional when only one")
    symbol: str = Field(min_length=1, max_length=64, description="as the FIX sessions spell it (BTC/USDT)")
    legs: list[OrderListLeg] = Field(min_length=2, max_length=2)


class OrderList(BaseModel):
    """An order list and its legs (each an order as ``GET /v1/orders`` shows it)."""

    client_list_id: str
    type: Optional[Literal["oco", "oto"]] = Field(description="null when not known (a list of a previous run)")
    account: str
    symbol: str
    venue_list_id: str
    legs: list[Order]


def _amount(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _leg_ids(client_list_id: str) -> tuple[str, str]:
    return f"{client_list_id}.1", f"{client_list_id}.2"


def _venue_list_id(first_leg: Any) -> str:
    """The venue's list client id: from our order id of the first leg (unique, venue-safe, stable)."""
    return f"{first_leg.order_id}.L"


def _commands(body: NewOrderListBody) -> list[SubmitOrder]:
    out = []
    for cl, leg in zip(_leg_ids(body.client_list_id), body.legs):
        post_only = leg.post_only or (body.type == "oco" and leg.type == "limit")
        try:
            out.append(SubmitOrder(
                cl_ord_id=cl, symbol=body.symbol, side=OrderSide(leg.side), order_type=OrderType(leg.type), ts_ns=0,
                quantity=_amount(leg.quantity), price=_amount(leg.price), trigger_price=_amount(leg.trigger_price),
                time_in_force=TimeInForce(leg.time_in_force), post_only=post_only))
        except OrderError as exc:
            raise ApiError(400, "invalid_request", printable(str(exc))[:200]) from None
    return out


def _venue_order(cmd: SubmitOrder, symbol: str) -> V.NewOrder:
    return V.NewOrder(client_order_id=cmd.cl_ord_id, symbol=symbol, side=cmd.side, order_type=cmd.order_type,
                      quantity=cmd.quantity, price=cmd.price, stop_price=cmd.trigger_price,
                      time_in_force=None if cmd.order_type in _MARKET else cmd.time_in_force, post_only=cmd.post_only)


def install_order_list_routes(app: FastAPI, view: Any, add_route: Any) -> None:
    """Add ``POST /v1/order-lists`` and ``DELETE /v1/order-lists/{client_list_id}`` to ``app``."""
    kinds: dict[tuple[str, str], str] = {}  # (account key, client list id) -> "oco" / "oto", this run's

    def desk() -> Any:
        d = view.order_desk()
        if d is None:
            raise ApiError(503, "not_ready", "the gateway is still starting")
        return d

    def answer(ctx: Any, client_list_id: str, orders: list[Any]) -> dict[str, Any]:
        return {"client_list_id": client_list_id, "type": kinds.get((ctx.key, client_list_id)),
                "account": ctx.account.name, "symbol": ctx.venue.symbols.client(orders[0].symbol),
                "venue_list_id": _venue_list_id(orders[0]), "legs": [view.order_row(ctx, o) for o in orders]}

    async def place(request: Request, body: NewOrderListBody, response: Response) -> dict[str, Any]:
        d = desk()
        ctx = d.account(body.account)
        if ctx is None:
            raise ApiError(400, "invalid_request",
                           "account: " + ("no such bridge account" if body.account else "name the account"))
        _may_trade(request, ctx.account.name)
        symbol = ctx.venue.symbols.normalized(body.symbol)
        if symbol is None:
            raise ApiError(400, "invalid_request", "symbol: the venue lists no such symbol")
        cmds = _commands(body)
        adapter = ctx.venue.adapter
        refusal = list_refusal(adapter, NewOrderList(body.type, symbol, body.client_list_id,
                                                     (_venue_order(cmds[0], symbol), _venue_order(cmds[1], symbol))))
        if refusal is not None:
            unsupported = not getattr(adapter.capabilities, "order_lists", False)
            raise ApiError(422 if unsupported else 400, "unsupported_order" if unsupported else "invalid_request",
                           printable(refusal)[:300])
        known = [ctx.book.find(cl_ord_id=c.cl_ord_id) for c in cmds]
        if all(k is None for k in known):
            for c in cmds:  # a feature the venue lacks refuses the list before either leg exists
                text = unsupported_feature(ctx, dataclasses.replace(c, symbol=symbol))
                if text is not None:
                    raise ApiError(422, "unsupported_order", printable(text)[:300])
        elif any(k is None for k in known):
            raise ApiError(409, "order_conflict", "this client_list_id already names a different order list")
        batch: list[tuple[str, V.NewOrder]] = []
        answers = [d._admit(ctx.account.name, c, batch) for c in cmds]
        failed = next((a for a in answers if not a.ok), None)
        if failed is not None:  # the other leg, if made, is not sent alone
            for a in answers:
                if a.ok and a.created and a.order.status in (OrderStatus.PENDING_NEW, OrderStatus.INITIALIZED):
                    d._router.apply(ctx, a.order, OrderRejected(order_id=a.order.order_id, ts_ns=d._clock.now_ns(),
                                                                reason=f"order list refused: {failed.text}"))
            d.flush()
            if failed.code == "order_conflict":
                raise ApiError(409, "order_conflict", "this client_list_id already names a different order list")
            raise ApiError(422, failed.code or "unsupported_order", printable(failed.text)[:300])
        orders = [a.order for a in answers]
        created = any(a.created for a in answers)
        if created:
            kinds[(ctx.key, body.client_list_id)] = body.type
            if len(kinds) > _KINDS_KEPT:
                del kinds[next(iter(kinds))]  # the oldest: its answers then say "type": null
            if len(batch) == len(cmds):
                lst = NewOrderList(body.type, symbol, _venue_list_id(orders[0]), (batch[0][1], batch[1][1]))
                d._router.spawn(_send, ctx, d, lst, [order_id for order_id, _ in batch])
            else:  # a leg was refused before the venue: the list is not sent, the other leg is rejected too
                reason = next((a.text for a in answers if a.text), "the other order of the list was refused")
                for order in orders:
                    if order.status in (OrderStatus.PENDING_NEW, OrderStatus.INITIALIZED):
                        d._router.apply(ctx, order, OrderRejected(order_id=order.order_id, ts_ns=d._clock.now_ns(),
                                                                  reason=f"order list refused: {reason}"))
        d.flush()  # kept before the answer promises it
        response.status_code = 201 if created else 200
        return answer(ctx, body.client_list_id, orders)

    async def cancel(request: Request, client_list_id: str,
                     account: Optional[str] = Query(None, max_length=16)) -> dict[str, Any]:
        d = desk()
        found = [d.find(cl, account) for cl in _leg_ids(client_list_id)]
        if any(f is None for f in found) or found[0][0] is not found[1][0]:  # type: ignore[index]
            raise ApiError(404, "not_found", "no such order list in a bridge account")
        ctx = found[0][0]  # type: ignore[index]
        _may_trade(request, ctx.account.name)
        orders = [order for _ctx, order in found]  # type: ignore[misc]
        asked = []
        now = d._clock.now_ns()
        for order in orders:
            if not order.is_open:
                continue
            try:
                ctx.book.cancel(CancelOrder(cl_ord_id=f"{order.order_id}.c{len(order.cl_ord_ids)}", ts_ns=now,
                                            order_id=order.order_id))
            except (OrderError, InvalidTransition):
                continue  # a cancel or replace of it is pending: the list's cancel still ends it
            d._router.report_last(ctx, order)
            asked.append(order.order_id)
        if not any(o.is_open for o in orders):
            raise ApiError(409, "order_not_open", "no order of the list is open")
        d._router.spawn(_cancel, ctx, d, orders[0].symbol, _venue_list_id(orders[0]), asked)
        d.flush()
        return answer(ctx, client_list_id, orders)

    add_route(app, "/order-lists", place, methods=["POST"], permission=Permission.TRADE, response_model=OrderList,
              responses=ERROR_RESPONSES, status_code=201,
              summary="Place an order list (OCO or OTO) in a bridge account (idempotent by client_list_id)")
    add_route(app, "/order-lists/{client_list_id}", cancel, methods=["DELETE"], permission=Permission.TRADE,
              response_model=OrderList, responses=ERROR_RESPONSES, summary="Cancel every open order of an order list")


async def _send(ctx: Any, d: Any, lst: NewOrderList, order_ids: list[str]) -> None:
    """Send the list to the venue (its legs journaled as submitted); a definite refusal rejects each leg."""
    try:
        await ctx.venue.adapter.submit_order_list(lst)
    except VenueUnknownOutcome as exc:
        log.warning("%s: order list %s outcome unknown (%s); the venue adapter reconciles", ctx.key,
                    lst.client_list_id, printable(str(exc)))
    except VenueError as exc:
        text = getattr(exc, "message", None) or str(exc)
        for order_id in order_ids:
            order = ctx.book.get(order_id)
            if order.status in (OrderStatus.PENDING_NEW, OrderStatus.INITIALIZED):
                d._router.apply(ctx, order, OrderRejected(order_id=order_id, ts_ns=d._clock.now_ns(), reason=text))
    except TransportError as exc:
        log.warning("%s: order list %s: %s; the venue adapter reconciles", ctx.key, lst.client_list_id,
                    printable(str(exc)))


async def _cancel(ctx: Any, d: Any, symbol: str, venue_list_id: str, order_ids: list[str]) -> None:
    """Ask the venue to cancel the list; a definite refusal settles each leg's pending cancel."""
    try:
        await ctx.venue.adapter.cancel_order_list(symbol, venue_list_id)
    except VenueError as exc:
        if isinstance(exc, VenueUnknownOutcome):
            log.warning("%s: cancel of order list %s: outcome unknown; waiting for the venue's events", ctx.key,
                        venue_list_id)
            return
        text = getattr(exc, "message", None) or str(exc)
        for order_id in order_ids:
            order = ctx.book.get(order_id)
            d._router.apply(ctx, order, OrderCancelRejected(order_id=order_id, ts_ns=d._clock.now_ns(),
                                                            cl_ord_id=order.pending_cl_ord_id, reason=text))
    except TransportError as exc:
        log.warning("%s: cancel of order list %s: %s; waiting for the venue's events", ctx.key, venue_list_id,
                    printable(str(exc)))
