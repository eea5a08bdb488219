"""The Coinbase Exchange dialect's ASGI app: the venue's REST paths, its feed at ``/`` and the ``/sim`` admin API.

Every REST answer goes through one handler: fault latency, the forced-429 fault, authentication of
private paths (``auth.py``), the per-second limits (``limits.py``), the operation (``ops.py``), then
``state.publish()`` so the feed (``feed.py``) sends what the engine did. A lost answer
(``order_timeouts``) applies to ``POST /orders``: ``hang`` (then 503), ``drop`` (the connection is cut),
``drop_all`` (feed connections too) or ``error`` (503 at once); the order is in the book either way.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any, Callable
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, Response

from .._appkit import dialect_app, finish
from ..app import _DROP_HEADER
from ..errors import ApiError
from ..state import SimState
from . import FEED_PATH, PASSPHRASE_ENV, passphrase
from .auth import authenticate
from .errors import CoinbaseError, from_engine
from .feed import FeedHub, serve_feed
from .limits import Buckets
from .ops import CoinbaseOps, Query

__all__ = ["build_app", "CoinbaseVenue"]

_UNAVAILABLE = {"message": "service unavailable"}


class CoinbaseVenue:
    """This dialect's state beside the shared ``SimState``: operations, limits, feed (``state.coinbase``)."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.passphrase = passphrase()
        self.ops = CoinbaseOps(state.engine)
        self.ops.publish = state.publish
        self.buckets = Buckets()
        self.feed = FeedHub(state, self.ops, self.passphrase)
        state.event_hooks.append(self.feed.on_events)


Handler = Callable[[CoinbaseVenue, str | None, dict[str, str], Query, Any, int], Any]


def build_app(state: SimState) -> FastAPI:
    """Return the ASGI app serving ``state`` in the Coinbase Exchange dialect."""
    venue = CoinbaseVenue(state)
    state.coinbase = venue  # type: ignore[attr-defined]  # for tests and operators: limits, ids

    app = dialect_app(state, "fixgw simulated exchange (Coinbase Exchange dialect)")
    shown = f"<the value of {PASSPHRASE_ENV}>" if os.environ.get(PASSPHRASE_ENV) else repr(venue.passphrase)
    app.state.endpoints = ("(Coinbase Exchange dialect) REST http://{host}:{port}  feed ws://{host}:{port}" + FEED_PATH
                           + f"  passphrase {shown} (demo-only; override with {PASSPHRASE_ENV})")

    def route(method: str, path: str, fn: Handler, kind: str, *, places_order: bool = False) -> None:
        app.add_api_route(path, _handler(venue, fn, kind, places_order), methods=[method],
                          include_in_schema=False, name=f"{method} {path}")

    route("GET", "/time", lambda v, a, p, q, b, now: v.ops.time(now), "public")
    route("GET", "/products", lambda v, a, p, q, b, now: v.ops.products_list(), "public")
    route("GET", "/products/{pid}", lambda v, a, p, q, b, now: v.ops.product_one(p["pid"]), "public")
    route("GET", "/products/{pid}/book", lambda v, a, p, q, b, now: v.ops.book(p["pid"], q, now), "public")
    route("GET", "/products/{pid}/ticker", lambda v, a, p, q, b, now: v.ops.ticker(p["pid"], now), "public")
    route("POST", "/orders", lambda v, a, p, q, b, now: v.ops.place(a, b, now)[0], "private", places_order=True)
    route("DELETE", "/orders", lambda v, a, p, q, b, now: v.ops.cancel_all(a, q, now), "private")
    route("GET", "/orders", lambda v, a, p, q, b, now: v.ops.list_orders(a, q), "private")
    route("DELETE", "/orders/{ref}", lambda v, a, p, q, b, now: v.ops.cancel(a, p["ref"], q, now), "private")
    route("GET", "/orders/{ref}", lambda v, a, p, q, b, now: v.ops.get_order(a, p["ref"], q), "private")
    route("GET", "/fills", lambda v, a, p, q, b, now: v.ops.fills(a, q), "fills")
    route("GET", "/accounts", lambda v, a, p, q, b, now: v.ops.accounts(a), "private")
    route("GET", "/accounts/{aid}", lambda v, a, p, q, b, now: v.ops.account_one(a, p["aid"]), "private")
    route("GET", "/fees", lambda v, a, p, q, b, now: v.ops.fees_json(), "private")

    @app.websocket(FEED_PATH)
    async def feed(websocket: WebSocket) -> None:
        await serve_feed(venue.feed, websocket)

    return finish(app, state)


def _handler(venue: CoinbaseVenue, fn: Handler, kind: str, places_order: bool) -> Any:
    state = venue.state

    async def handler(request: Request) -> Response:
        ip = request.client.host if request.client else "unknown"
        await state.delay()
        now = state.now_ms()
        headers: dict[str, str] = {}
        try:
            if state.faults.rate_limit_burst > 0:
                state.faults.rate_limit_burst -= 1
                retry = state.faults.rate_limit_retry_after_s or 1
                raise CoinbaseError(429, ("Public" if kind == "public" else "Private") + " rate limit exceeded",
                                    retry_after_s=retry)
            raw = await request.body()
            try:
                body_text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise CoinbaseError(400, "Invalid request body") from None
            query = request.url.query
            account = None
            if kind == "public":
                venue.buckets.take("public", ip, now)
            else:
                raw_path = request.scope.get("raw_path") or request.url.path.encode()
                path = raw_path.decode("latin-1")
                paths = (path + "?" + query, path) if query else (path,)
                h = request.headers
                key = authenticate(state.keys, venue.passphrase, key=h.get("cb-access-key"),
                                   sign_b64=h.get("cb-access-sign"), timestamp=h.get("cb-access-timestamp"),
                                   phrase=h.get("cb-access-passphrase"), method=request.method, paths=paths,
                                   body=body_text, now_ms=now)
                account = key.account_id
                venue.buckets.take(kind, account, now)
            body: Any = None
            if request.method == "POST":
                try:
                    body = json.loads(body_text) if body_text else None
                except ValueError:
                    raise CoinbaseError(400, "Invalid request body") from None
            q = parse_qsl(query, keep_blank_values=True)
            try:
                result = fn(venue, account, dict(request.path_params), q, body, now)
            except ApiError as err:
                raise from_engine(err) from None
            if isinstance(result, tuple):
                result, page = result
                headers.update(page)
            state.publish()
        except CoinbaseError as err:
            state.publish()
            if err.retry_after_s is not None:
                headers["Retry-After"] = str(err.retry_after_s)
            return JSONResponse(err.body(), status_code=err.status, headers=headers)
        if places_order and state.faults.order_timeouts > 0:
            return await _lost_answer(state)
        return JSONResponse(result, headers=headers)

    return handler


async def _lost_answer(state: SimState) -> Response:
    """The order is in the book, but its answer never arrives (fault injection)."""
    state.faults.order_timeouts -= 1
    mode = state.faults.order_timeout_mode
    if mode in ("drop", "drop_all"):
        if mode == "drop_all":
            state.drop_websockets()
        return Response(status_code=500, headers={_DROP_HEADER.decode(): "1"})
    if mode == "hang":
        await asyncio.sleep(state.faults.hang_seconds)
    return JSONResponse(_UNAVAILABLE, status_code=503)
