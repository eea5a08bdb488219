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
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Optional

from fastapi import FastAPI, Query, Request, Response

from fixgw.errors import OrderError
from fixgw.logsafe import printable
from fixgw.orders import CancelOrder, OrderSide, OrderType, ReplaceOrder, SubmitOrder, TimeInForce

from .errors import ApiError
from .keys import BridgeKey, Permission
from .middleware import SCOPE_KEY
from .schemas import ERROR_RESPONSES, Canceled, KillSwitch, NewOrderBody, Order, ReplaceBody
from .view import GatewayView

__all__ = ["install_order_routes", "GLOBAL_TARGET"]

#: The kill switch target that covers every order.
GLOBAL_TARGET = "global"

_STATUS = {"not_found": 404, "order_conflict": 409, "order_not_open": 409, "replace_refused": 422}
_FIELD = {"unknown_account": "account", "unknown_symbol": "symbol"}


def _amount(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _refusal(answer: Any) -> ApiError:
    if answer.code in _FIELD:
        return ApiError(400, "invalid_request", f"{_FIELD[answer.code]}: {answer.text}")
    return ApiError(_STATUS.get(answer.code, 409), answer.code, printable(answer.text)[:300])


def _may_trade(request: Request, account: str) -> None:
    """Refuse (403) when the request's key does not name ``account`` (a bridge account's name)."""
    key = request.scope.get(SCOPE_KEY)
    if not isinstance(key, BridgeKey) or not key.allows_account(account):
        raise ApiError(403, "missing_permission", "this key may not trade in this account")


def install_order_routes(app: FastAPI, view: GatewayView, add_route: Any) -> None:
    """Add the order entry and kill switch routes to ``app``."""

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

    async def place(request: Request, body: NewOrderBody, response: Response) -> dict[str, Any]:
        try:
            cmd = SubmitOrder(
                cl_ord_id=body.client_order_id, symbol=body.symbol, side=OrderSide(body.side),
                order_type=OrderType(body.type), ts_ns=0, quantity=_amount(body.quantity),
                quote_quantity=_amount(body.quote_quantity), price=_amount(body.price),
                trigger_price=_amount(body.trigger_price), time_in_force=TimeInForce(body.time_in_force),
                post_only=body.post_only)
        except OrderError as exc:
            raise ApiError(400, "invalid_request", printable(str(exc))[:200]) from None
        d = desk()
        target = d.account(body.account)
        if target is not None:
            _may_trade(request, target.account.name)
        answer = d.submit(body.account, cmd)
        d.flush()  # durable before the answer: the 201 promises the order is kept
        if not answer.ok:
            raise _refusal(answer)
        response.status_code = 201 if answer.created else 200
        return view.order_row(answer.ctx, answer.order)

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
        d.flush()
        if not answer.ok:
            raise _refusal(answer)
        return view.order_row(answer.ctx, answer.order)

    async def cancel(request: Request, order_id: str, account: Optional[str] = Query(None, max_length=16)) -> dict[str, Any]:
        ctx, order = located(request, order_id, account)
        cmd = CancelOrder(cl_ord_id=f"{order.order_id}.c{len(order.cl_ord_ids)}", ts_ns=0, order_id=order.order_id)
        d = desk()
        answer = d.cancel(ctx.account.name, cmd)
        d.flush()
        if not answer.ok:
            raise _refusal(answer)
        return view.order_row(answer.ctx, answer.order)

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
        d.flush()
        return {"orders": [view.order_row(ctx, order) for ctx, order in asked]}

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
