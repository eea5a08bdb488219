"""The bridge's order entry and kill switch routes over the gateway's ``OrderDesk``.

Order entry (``trade``): ``POST /v1/orders`` (201 with the order; a retry with the same
``client_order_id`` and terms answers 200 with the same order; other terms under that id: 409
``order_conflict``), ``PATCH /v1/orders/{id}`` (replace), ``DELETE /v1/orders/{id}`` (cancel),
``DELETE /v1/orders`` (mass cancel, ``symbol=`` and ``account=`` narrowing it). Orders entered here
belong to a bridge account (``[[bridge.accounts]]``); an order a FIX session entered is read here but
changed only by its session. A key trades only the accounts it names (``BridgeKey.accounts``): an order
in another one answers 403 ``missing_permission``, and a mass cancel without ``account=`` covers only
the key's accounts. Kill switch (``admin``): ``POST``/``DELETE /v1/kill-switch/{target}``.

An order the pre-trade checks refuse (limits, the venue's rules, a kill switch) is still created, as
a FIX order is: the answer is 201 with ``status`` ``rejected`` and the reason in ``reject_reason``.

Speed. ``POST /v1/orders`` is the hot route: ``lane.OrderLane`` answers it (see ``lane.py``) with the
steps this module gives it (``OrderSteps``: ``place``, or its halves ``admit`` and ``durable``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Awaitable, Callable, NamedTuple, Optional

from fastapi import FastAPI, Query, Request, Response

from fixgw.errors import OrderError
from fixgw.logsafe import printable
from fixgw.orders import CancelOrder, OrderSide, OrderType, ReplaceOrder, SubmitOrder, TimeInForce

from .errors import ApiError
from .keys import BridgeKey, Permission
from .lane import _ORDER_FIELDS, ORDERS_PATH, GroupFlush, OrderLane  # noqa: F401  (_ORDER_FIELDS: for tests)
from .middleware import SCOPE_KEY, Scope
from .schemas import ERROR_RESPONSES, Canceled, KillSwitch, NewOrderBody, Order, ReplaceBody
from .view import GatewayView

__all__ = ["install_order_routes", "GLOBAL_TARGET", "OrderLane", "GroupFlush", "OrderSteps", "ORDERS_PATH"]

#: The kill switch target that covers every order.
GLOBAL_TARGET = "global"

_STATUS = {"not_found": 404, "order_conflict": 409, "order_not_open": 409, "replace_refused": 422,
           "unsupported_order": 422}
_FIELD = {"unknown_account": "account", "unknown_symbol": "symbol"}


def _amount(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


#: The enums' members by value: a dict look-up, where calling the enum costs a few microseconds per order.
_SIDES = {m.value: m for m in OrderSide}
_TYPES = {m.value: m for m in OrderType}
_TIFS = {m.value: m for m in TimeInForce}


def _command(body: NewOrderBody) -> SubmitOrder:
    """The order command a new-order body asks for; a 400 ``invalid_request`` if its terms do not hold."""
    try:
        return SubmitOrder(
            cl_ord_id=body.client_order_id, symbol=body.symbol, side=_SIDES.get(body.side) or OrderSide(body.side),
            order_type=_TYPES.get(body.type) or OrderType(body.type), ts_ns=0, quantity=_amount(body.quantity),
            quote_quantity=_amount(body.quote_quantity), price=_amount(body.price),
            trigger_price=_amount(body.trigger_price),
            time_in_force=_TIFS.get(body.time_in_force) or TimeInForce(body.time_in_force),
            post_only=body.post_only, display_quantity=_amount(body.display_quantity))
    except OrderError as exc:
        raise ApiError(400, "invalid_request", printable(str(exc))[:200]) from None


def _refusal(answer: Any) -> ApiError:
    if answer.code in _FIELD:
        return ApiError(400, "invalid_request", f"{_FIELD[answer.code]}: {answer.text}")
    return ApiError(_STATUS.get(answer.code, 409), answer.code, printable(answer.text)[:300])


def _may_trade(request: Request | Scope, account: str) -> None:
    """Refuse (403) when the request's key does not name ``account`` (a bridge account's name)."""
    key = (request if isinstance(request, dict) else request.scope).get(SCOPE_KEY)
    if not isinstance(key, BridgeKey) or not key.allows_account(account):
        raise ApiError(403, "missing_permission", "this key may not trade in this account")


class OrderSteps(NamedTuple):
    """The route's order step for ``OrderLane``: ``place``, and its two halves ``admit`` and ``durable``."""

    place: Callable[[Scope, NewOrderBody], Awaitable[tuple[int, dict[str, Any]]]]
    admit: Callable[[Scope, NewOrderBody], Any]
    durable: GroupFlush


def install_order_routes(app: FastAPI, view: GatewayView, add_route: Any) -> OrderSteps:
    """Add the order entry and kill switch routes to ``app``; return the order steps (for ``OrderLane``)."""

    def route(path: str, endpoint: Any, method: str, permission: Permission, model: Any, summary: str,
              **kw: Any) -> None:
        add_route(app, path, endpoint, methods=[method], permission=permission, response_model=model,
                  responses=ERROR_RESPONSES, summary=summary, **kw)

    def desk() -> Any:
        d = view.order_desk()
        if d is None:
            raise ApiError(503, "not_ready", "the gateway is still starting")
        return d

    def located(request: Request, ident: str, account: str | None) -> tuple[Any, Any]:
        found = desk().find(ident, account)
        if found is None:
            raise ApiError(404, "not_found", "no such order in a bridge account")
        _may_trade(request, found[0].account.name)
        return found

    def current_flush() -> Callable[[], None]:
        d = view.order_desk()
        return d.flush if d is not None else (lambda: None)

    durable = GroupFlush(current_flush)

    def admit(scope: Scope, body: NewOrderBody) -> Any:
        """Submit the order: (status, row, None), or (0, None, the refusal); answer once flushed."""
        cmd = _command(body)
        d = desk()
        target = d.account(body.account)
        if target is not None:
            _may_trade(scope, target.account.name)
        answer = d.submit(body.account, cmd)
        if not answer.ok:
            return 0, None, _refusal(answer)
        return 201 if answer.created else 200, view.order_row(answer.ctx, answer.order), None  # as submitted

    async def place_order(scope: Scope, body: NewOrderBody) -> tuple[int, dict[str, Any]]:
        status, row, refusal = admit(scope, body)
        await durable()  # durable before the answer: the 201 promises the order is kept
        if refusal is not None:
            raise refusal
        return status, row

    async def place(request: Request, body: NewOrderBody, response: Response) -> dict[str, Any]:
        response.status_code, row = await place_order(request.scope, body)
        return row

    async def replace(request: Request, order_id: str, body: ReplaceBody,
                      account: Optional[str] = Query(None, max_length=16)) -> dict[str, Any]:
        if body.quantity is None and body.price is None and body.trigger_price is None:
            raise ApiError(400, "invalid_request", "give quantity, price or trigger_price")
        ctx, order = located(request, order_id, account)
        cl = body.client_order_id or f"{order.order_id}.m{len(order.cl_ord_ids)}"
        try:
            cmd = ReplaceOrder(cl_ord_id=cl, ts_ns=0, order_id=order.order_id, quantity=_amount(body.quantity),
                               price=_amount(body.price), trigger_price=_amount(body.trigger_price))
        except OrderError as exc:
            raise ApiError(400, "invalid_request", printable(str(exc))[:200]) from None
        d = desk()
        answer = d.replace(ctx.account.name, cmd)
        row = view.order_row(answer.ctx, answer.order) if answer.ok else None
        await durable()
        if row is None:
            raise _refusal(answer)
        return row

    async def cancel(request: Request, order_id: str, account: Optional[str] = Query(None, max_length=16)) -> dict[str, Any]:
        ctx, order = located(request, order_id, account)
        cmd = CancelOrder(cl_ord_id=f"{order.order_id}.c{len(order.cl_ord_ids)}", ts_ns=0, order_id=order.order_id)
        d = desk()
        answer = d.cancel(ctx.account.name, cmd)
        row = view.order_row(answer.ctx, answer.order) if answer.ok else None
        await durable()
        if row is None:
            raise _refusal(answer)
        return row

    async def mass_cancel(request: Request, symbol: Optional[str] = Query(None, min_length=1, max_length=64),
                          account: Optional[str] = Query(None, max_length=16)) -> dict[str, Any]:
        d = desk()
        contexts = d.accounts() if account is None else [c for c in d.accounts() if c.account.name == account]
        if account is not None and not contexts:
            raise ApiError(404, "not_found", "no such bridge account")
        if account is not None:
            _may_trade(request, account)
        key = request.scope.get(SCOPE_KEY)
        contexts = [c for c in contexts if isinstance(key, BridgeKey) and key.allows_account(c.account.name)]
        asked = d.mass_cancel(contexts, symbol)
        rows = [view.order_row(ctx, order) for ctx, order in asked]
        await durable()
        return {"orders": rows}

    def switch(target: str, engage: bool) -> dict[str, Any]:
        d = desk()
        name = "*" if target == GLOBAL_TARGET else target
        asked: list[Any] = []
        if engage:
            found = d.halt(name)
            if found is None:
                raise ApiError(404, "not_found", "no such account or session")
            asked = found
        elif not d.release(name):
            raise ApiError(404, "not_found", "no such account or session")
        d.flush()
        halted = [GLOBAL_TARGET if h == "*" else h for h in d.halted()]
        return {"target": target, "engaged": engage, "halted": halted,
                "canceled": [view.order_row(ctx, order) for ctx, order in asked]}

    async def halt(target: str) -> dict[str, Any]:
        return switch(target, True)

    async def release(target: str) -> dict[str, Any]:
        return switch(target, False)

    route("/orders", place, "POST", Permission.TRADE, Order,
          "Place an order in a bridge account (idempotent by client_order_id)", status_code=201)
    route("/orders/{order_id}", replace, "PATCH", Permission.TRADE, Order, "Replace a bridge account's order")
    route("/orders/{order_id}", cancel, "DELETE", Permission.TRADE, Order, "Cancel a bridge account's order")
    route("/orders", mass_cancel, "DELETE", Permission.TRADE, Canceled,
          "Cancel every open order of the bridge accounts (of one symbol, of one account)")
    route("/kill-switch/{target}", halt, "POST", Permission.ADMIN, KillSwitch,
          "Engage a kill switch ('global', a bridge account, a FIX session): cancel, refuse new orders")
    route("/kill-switch/{target}", release, "DELETE", Permission.ADMIN, KillSwitch, "Release a kill switch")
    return OrderSteps(place_order, admit, durable)
