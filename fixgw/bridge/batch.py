"""``POST /v1/orders:batch``: several orders in one request (``trade``), each as ``POST /v1/orders`` places it.

The body is ``{"orders": [...]}``: 1 to ``BATCH_MAX`` items, each the body of ``POST /v1/orders``. A
body that does not validate (any item) is refused whole, 400 ``invalid_request`` naming the place
(``orders.3.price``), and nothing is placed.

Every item goes through the same steps as a single order (``OrderDesk.submit_batch``): idempotent by
its ``client_order_id`` (a retried batch answers the same orders, placing none again), the kill
switch, the limits, the venue's rules, the book, the journal and the state machine. The answer lists
one result per item, in request order: the order, as ``POST /v1/orders`` answers it (an order the
pre-trade checks refused is an order with ``status`` ``rejected``), or an error object of the one
shape ``{"error": {"code", "message"}}`` with the code a single order would get (``order_conflict``,
``invalid_request``, ``missing_permission``, ``unsupported_order``). One item's error never stops the
others.

Status: 201 when every result is an order and at least one was created; 200 when every result is an
order that already existed (a retried batch); 207 when at least one result is an error (the orders
beside it are placed all the same). Every order is kept (the store flushed) before the answer.

Venue side: an account whose venue has a batch entry (Kraken ``AddOrderBatch``: up to 15 orders of one
pair per request) sends its new orders in as few requests as that allows; other venues get one
request per order, sent concurrently within their rate limits.
"""

from __future__ import annotations

from typing import Any, Union

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from fixgw.orders import SubmitOrder

from .errors import ApiError
from .keys import BridgeKey, Permission
from .middleware import SCOPE_KEY
from .orders import _command, _refusal
from .schemas import ERROR_RESPONSES, ErrorBody, NewOrderBody, Order
from .view import GatewayView

__all__ = ["install_batch_routes", "BATCH_MAX", "BATCH_PATH", "BatchBody", "BatchResults"]

#: The most orders one batch request may carry.
BATCH_MAX = 50
BATCH_PATH = "/orders:batch"


class BatchBody(BaseModel):
    """``POST /v1/orders:batch``: the orders, each the body of ``POST /v1/orders``."""

    model_config = ConfigDict(extra="forbid")
    orders: list[NewOrderBody] = Field(min_length=1, max_length=BATCH_MAX,
                                       description=f"1 to {BATCH_MAX} orders, placed in this order")


class BatchResults(BaseModel):
    """One result per order of the request, in its order: the order, or the error it alone met."""

    results: list[Union[Order, ErrorBody]]


def install_batch_routes(app: FastAPI, view: GatewayView, add_route: Any) -> None:
    """Add ``POST /v1/orders:batch`` to ``app`` (``add_route``: ``app.add_route`` of this package)."""

    async def place_batch(request: Request, body: BatchBody, response: Response) -> dict[str, Any]:
        desk = view.order_desk()
        if desk is None:
            raise ApiError(503, "not_ready", "the gateway is still starting")
        key = request.scope.get(SCOPE_KEY)
        results: list[Any] = [None] * len(body.orders)
        wanted: list[tuple[int, str | None, SubmitOrder]] = []
        for i, item in enumerate(body.orders):
            try:
                cmd = _command(item)
                target = desk.account(item.account)
                if target is not None and not (isinstance(key, BridgeKey) and key.allows_account(target.account.name)):
                    raise ApiError(403, "missing_permission", "this key may not trade in this account")
            except ApiError as exc:
                results[i] = exc
                continue
            wanted.append((i, item.account, cmd))
        created = 0
        answers = desk.submit_batch([(account, cmd) for _, account, cmd in wanted])
        for (i, _, _), answer in zip(wanted, answers):
            # the order as its submit left it (no venue event can come in before this loop ends)
            results[i] = view.order_row(answer.ctx, answer.order) if answer.ok else _refusal(answer)
            created += bool(answer.ok and answer.created)
        desk.flush()  # kept before answered
        errors = sum(isinstance(r, ApiError) for r in results)
        response.status_code = 207 if errors else 201 if created else 200
        return {"results": [r.body() if isinstance(r, ApiError) else r for r in results]}

    add_route(app, BATCH_PATH, place_batch, methods=["POST"], permission=Permission.TRADE,
              response_model=BatchResults, status_code=201,
              responses={**ERROR_RESPONSES, 200: {"model": BatchResults, "description": "every order already existed"},
                         207: {"model": BatchResults, "description": "at least one result is an error"}},
              summary=f"Place up to {BATCH_MAX} orders in bridge accounts (each idempotent by client_order_id)")
