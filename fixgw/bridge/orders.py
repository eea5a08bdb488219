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

Speed. ``POST /v1/orders`` is the hot route, so ``OrderLane`` (ASGI middleware inside the signature
guard) answers it without FastAPI's route machinery (dependencies, body parsing, response model): it
parses the body once (``orjson``), validates it with the same ``NewOrderBody`` model, runs the same
``place`` step and writes the ``Order`` JSON itself. It takes only what it answers exactly as the route
would (a signed ``trade`` key, ``application/json``, a body that validates); anything else goes on to
the route with its body untouched, so every error answer and the OpenAPI document stay the route's.
Before answering, a command waits for the store's flush (the answer promises the order is kept); the
flush is shared (``GroupFlush``): one per event-loop turn for every answer waiting in that turn.
ASGI answers in two messages (head, body), and uvicorn writes each to the socket at once: two system
calls and two segments per answer. Under uvicorn (``SCOPE_SEND``, see ``server.py``) the lane gathers
the two writes into one (``_Gathered``: the connection's transport, as uvicorn's request cycle sees it,
for the two sends only); under another server it sends the two messages as they are.
"""

from __future__ import annotations

import asyncio
import importlib
from decimal import Decimal
from typing import Any, Awaitable, Callable, Optional

from fastapi import FastAPI, Query, Request, Response
from pydantic import ValidationError

from fixgw.errors import OrderError
from fixgw.logsafe import printable
from fixgw.orders import CancelOrder, OrderSide, OrderType, ReplaceOrder, SubmitOrder, TimeInForce

from fixgw import jsonio

from .errors import ApiError
from .keys import BridgeKey, Permission
from .middleware import SCOPE_KEY, SCOPE_SEND, Receive, Scope, Send, error_response, replay_body
from .schemas import ERROR_RESPONSES, Canceled, KillSwitch, NewOrderBody, Order, ReplaceBody
from .view import GatewayView

__all__ = ["install_order_routes", "GLOBAL_TARGET", "OrderLane", "GroupFlush", "ORDERS_PATH"]

#: The hot route's path.
ORDERS_PATH = "/v1/orders"
_ORDER_FIELDS = tuple(Order.model_fields)

#: The kill switch target that covers every order.
GLOBAL_TARGET = "global"

_STATUS = {"not_found": 404, "order_conflict": 409, "order_not_open": 409, "replace_refused": 422,
           "unsupported_order": 422}
_FIELD = {"unknown_account": "account", "unknown_symbol": "symbol"}


def _amount(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _command(body: NewOrderBody) -> SubmitOrder:
    """The order command a new-order body asks for; a 400 ``invalid_request`` if its terms do not hold."""
    try:
        return SubmitOrder(
            cl_ord_id=body.client_order_id, symbol=body.symbol, side=OrderSide(body.side),
            order_type=OrderType(body.type), ts_ns=0, quantity=_amount(body.quantity),
            quote_quantity=_amount(body.quote_quantity), price=_amount(body.price),
            trigger_price=_amount(body.trigger_price), time_in_force=TimeInForce(body.time_in_force),
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


class GroupFlush:
    """``await durable()``: the store's flush has run since the call (module docstring, Speed).

    The first waiter of a loop turn schedules one flush (``call_soon``); every waiter of that turn is
    answered by it. A flush that fails raises its error in every waiter, as a flush of its own would.
    ``flush`` is read at each flush (``view.order_desk().flush``: the gateway sets it once started).
    """

    def __init__(self, flush: Callable[[], Callable[[], None]]) -> None:
        self._flush = flush
        self._waiters: list[asyncio.Future[None]] = []
        self.flushes = 0

    async def __call__(self) -> None:
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.append(waiter)
        if len(self._waiters) == 1:
            loop.call_soon(self._run)
        await waiter

    def _run(self) -> None:
        waiters, self._waiters = self._waiters, []
        self.flushes += 1
        try:
            self._flush()()
        except Exception as exc:  # noqa: BLE001 - handed to every waiter, as its own flush would raise it
            for w in waiters:
                if not w.done():
                    w.set_exception(exc)
            return
        for w in waiters:
            if not w.done():  # a cancelled waiter (its client went away) is done already
                w.set_result(None)


def _order_json(row: dict[str, Any]) -> bytes:
    """``row`` as the route's ``Order`` response model writes it (its fields, in its order)."""
    if tuple(row) != _ORDER_FIELDS:  # not the row's usual shape: through the model, as the route does
        row = Order.model_validate(row).model_dump(mode="json")
    return jsonio.dumps(row).encode("utf-8")


_JSON_TYPES = (b"application/json", b"application/json; charset=utf-8")


class OrderLane:
    """ASGI middleware answering ``POST /v1/orders`` without the route machinery (module docstring).

    ``place(scope, body)`` is the route's own step: it returns (status, order row) or raises ``ApiError``.
    ``counts``: ``answered`` (by the lane) and ``passed`` (to the route), for tests and curious operators."""

    def __init__(self, app: Any, *, place: Callable[[Scope, NewOrderBody], Awaitable[tuple[int, dict[str, Any]]]],
                 counts: dict[str, int] | None = None) -> None:
        self.app = app
        self.place = place
        self.counts = counts if counts is not None else {}
        self.counts.update(answered=0, passed=0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != ORDERS_PATH
                or scope.get("query_string") or not self._takes(scope)):
            await self.app(scope, receive, send)
            return
        message = await receive()
        body = message.get("body", b"") if message["type"] == "http.request" else b""
        new = None
        if message["type"] == "http.request" and not message.get("more_body", False):
            new = _validated(body)
        if new is None:  # the route answers it, with its own error
            self.counts["passed"] += 1
            await self.app(scope, replay_body(message, receive), send)
            return
        try:
            status, row = await self.place(scope, new)
        except ApiError as exc:
            await error_response(exc)(scope, receive, send)
            return
        content = _order_json(row)
        self.counts["answered"] += 1
        start = {"type": "http.response.start", "status": status,
                 "headers": [(b"content-length", str(len(content)).encode("ascii")),
                             (b"content-type", b"application/json")]}
        cycle = _cycle_of(scope)
        if cycle is None:
            await send(start)
            await send({"type": "http.response.body", "body": content})
            return
        real = cycle.transport
        gathered = cycle.transport = _Gathered(real)
        try:
            await send(start)
            await send({"type": "http.response.body", "body": content})
        finally:
            if cycle.transport is gathered:
                cycle.transport = real
            gathered.flush()

    @staticmethod
    def _takes(scope: Scope) -> bool:
        key = scope.get(SCOPE_KEY)
        if not isinstance(key, BridgeKey) or not key.allows(Permission.TRADE):
            return False  # the route's permission check answers it
        kind = [v for k, v in scope.get("headers", ()) if k.lower() == b"content-type"]
        return len(kind) == 1 and bytes(kind[0]).lower() in _JSON_TYPES


def _cycles() -> tuple[type, ...]:
    found = []
    for module in ("uvicorn.protocols.http.httptools_impl", "uvicorn.protocols.http.h11_impl"):
        try:
            found.append(importlib.import_module(module).RequestResponseCycle)
        except (ImportError, AttributeError):  # pragma: no cover - that parser is not installed
            pass
    return tuple(found)


_CYCLES = _cycles()


def _cycle_of(scope: Scope) -> Any:
    """uvicorn's request cycle under the request's ``send`` (``SCOPE_SEND``), or ``None``."""
    cycle = getattr(scope.get(SCOPE_SEND), "__self__", None)
    if type(cycle) not in _CYCLES or not hasattr(getattr(cycle, "transport", None), "write"):
        return None
    return cycle


class _Gathered:
    """Stands in for a connection's transport while one answer is sent: its writes become one (module
    docstring, Speed). Whatever else the cycle asks of it goes to the transport; a close writes first."""

    __slots__ = ("_transport", "_parts")

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self._parts.append(data)

    def flush(self) -> None:
        if self._parts:
            data = self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)
            self._parts.clear()
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _validated(body: bytes) -> NewOrderBody | None:
    """The body as the route's model, or ``None`` when the route must answer it (with its error)."""
    try:
        data = jsonio.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    try:
        return NewOrderBody.model_validate(data)
    except ValidationError:
        return None


def install_order_routes(app: FastAPI, view: GatewayView, add_route: Any) -> Callable[..., Any]:
    """Add the order entry and kill switch routes to ``app``; return the place step (for ``OrderLane``)."""

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

    async def place_order(scope: Scope, body: NewOrderBody) -> tuple[int, dict[str, Any]]:
        cmd = _command(body)
        d = desk()
        target = d.account(body.account)
        if target is not None:
            _may_trade(scope, target.account.name)
        answer = d.submit(body.account, cmd)
        row = view.order_row(answer.ctx, answer.order) if answer.ok else None  # as the submit left it
        await durable()  # durable before the answer: the 201 promises the order is kept
        if row is None:
            raise _refusal(answer)
        return 201 if answer.created else 200, row

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
    return place_order
