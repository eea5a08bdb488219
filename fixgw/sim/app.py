"""The FastAPI application: REST API, WebSocket API, market streams and the ``/sim`` admin API.

Routes mirror the venue's paths (``/api/v3/...``, ``/ws-api/v3``, ``/ws/<stream>``,
``/stream?streams=a/b``). Every REST answer carries ``X-MBX-USED-WEIGHT-1M``; successful orders also
``X-MBX-ORDER-COUNT-10S`` and ``X-MBX-ORDER-COUNT-1D``; 418 and 429 carry ``Retry-After``.

The ``/sim`` admin API is not the venue's: it changes faults, balances and connections, so it answers
only ``Authorization: Bearer <state.control_token>`` (compared in constant time) and gives 401 with
a JSON body otherwise. The venue's own paths never look at that header.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import urllib.parse
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ._lifespan import serving_lifespan
from .errors import ApiError
from .ops import REST_ROUTES, Context, Operation, Params
from .state import SimState
from .wsapi import serve_market_stream, serve_ws_api

__all__ = ["build_app"]

_TIMEOUT_BODY = {
    "code": -1007,
    "msg": "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
}
_DROP_HEADER = b"x-fixgw-sim-drop"


_CONTROL_PREFIX = "/sim"


class _ControlAuth:
    """ASGI middleware: ``/sim`` and ``/sim/...`` need the control token; every other path passes."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self._expected = token.encode("ascii")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] not in ("http", "websocket") or not (
            path == _CONTROL_PREFIX or path.startswith(_CONTROL_PREFIX + "/")
        ):
            await self.app(scope, receive, send)
            return
        problem = self._problem(scope)
        if problem is None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":  # nothing is served there; refuse the handshake
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps({"error": "unauthorized", "detail": problem}).encode()
        await send({"type": "http.response.start", "status": 401, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", b'Bearer realm="fixgw-sim"')]})
        await send({"type": "http.response.body", "body": body})

    def _problem(self, scope: dict[str, Any]) -> str | None:
        values = [v for k, v in scope.get("headers", []) if k == b"authorization"]
        if not values:
            return "the /sim control endpoints need 'Authorization: Bearer <token>' (see fixgw sim's start-up banner)"
        scheme, _, token = values[0].partition(b" ")
        if len(values) > 1 or scheme.lower() != b"bearer":
            return "expected one 'Authorization: Bearer <token>' header"
        if not hmac.compare_digest(token.strip(), self._expected):
            return "wrong control token"
        return None


class _DropConnection:
    """ASGI middleware: a response marked with the drop header is never sent; the socket is cut."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        dropped = False

        async def guarded_send(message: dict[str, Any]) -> None:
            nonlocal dropped
            if dropped:
                return
            if message["type"] == "http.response.start" and any(
                k == _DROP_HEADER for k, _ in message.get("headers", [])
            ):
                dropped = True
                transport = getattr(getattr(receive, "__self__", None), "transport", None)
                if transport is not None:
                    transport.abort()
                return
            await send(message)

        await self.app(scope, receive, guarded_send)


def build_app(state: SimState) -> FastAPI:
    """Return the ASGI application serving ``state``."""

    app = FastAPI(title="fixgw simulated exchange", lifespan=serving_lifespan(state, market_ticks=True),
                  docs_url=None, redoc_url=None, openapi_url=None)
    # an unknown path gets what the venue's front end sends: 404 with an empty body, not JSON
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.state.sim = state
    app.add_middleware(_DropConnection)
    app.add_middleware(_ControlAuth, token=state.control_token)

    for (method, path), op in REST_ROUTES.items():
        app.add_api_route(path, _rest_handler(state, op), methods=[method], include_in_schema=False,
                          name=f"{method} {path}")

    @app.websocket("/ws-api/v3")
    async def ws_api(websocket: WebSocket) -> None:
        await serve_ws_api(state, websocket)

    @app.websocket("/ws/{streams:path}")
    async def ws_raw(websocket: WebSocket, streams: str) -> None:
        await serve_market_stream(state, websocket, [s for s in streams.split("/") if s], combined=False)

    @app.websocket("/ws")
    async def ws_bare(websocket: WebSocket) -> None:
        await serve_market_stream(state, websocket, [], combined=False)

    @app.websocket("/stream")
    async def ws_combined(websocket: WebSocket) -> None:
        names = websocket.query_params.get("streams", "")
        await serve_market_stream(state, websocket, [s for s in names.split("/") if s], combined=True)

    _admin_routes(app, state)
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    return Response(status_code=404 if status in (404, 405) else status)


def _retry_after(err: ApiError, now_ms: int) -> dict[str, str]:
    if err.retry_after_ms is None:
        return {}
    return {"Retry-After": str(max(1, math.ceil((err.retry_after_ms - now_ms) / 1000)))}


def _rest_handler(state: SimState, op: Operation) -> Any:
    async def handler(request: Request) -> Response:
        ip = request.client.host if request.client else "unknown"
        now = state.now_ms()
        headers: dict[str, str] = {}
        await state.delay()
        try:
            query = request.url.query
            body = ""
            if request.method in ("POST", "PUT", "DELETE"):
                body = (await request.body()).decode("utf-8", errors="replace")
            try:
                items = urllib.parse.parse_qsl(query, keep_blank_values=True) + urllib.parse.parse_qsl(
                    body, keep_blank_values=True
                )
            except ValueError:
                raise ApiError(-1100, "Illegal characters found in a parameter.") from None
            params = Params(items)
            used = state.charge(ip, op.weight(params), now)
            headers["X-MBX-USED-WEIGHT-1M"] = str(used)
            account = None
            if op.signed:
                account = state.authenticate_rest(request.headers.get("X-MBX-APIKEY"), query, body, params, now)
            if op.places_order:
                assert account is not None
                for _ in range(op.places_order):  # an order list counts each of its orders
                    n10, nday = state.limiter.charge_order(account, now)
                headers["X-MBX-ORDER-COUNT-10S"] = str(n10)
                headers["X-MBX-ORDER-COUNT-1D"] = str(nday)
            ctx = Context(state.engine, account, now, rate_limits=state.rate_limits_json, market=state.market)
            result = op.fn(ctx, params)
            state.publish()
        except ApiError as err:
            state.publish()
            headers.setdefault("X-MBX-USED-WEIGHT-1M", str(state.limiter.used_weight(ip, now)))
            headers.update(_retry_after(err, now))
            return JSONResponse(err.body(), status_code=err.status, headers=headers)
        if op.places_order and state.faults.order_timeouts > 0:
            return await _lost_answer(state, headers)
        return JSONResponse(result, headers=headers)

    return handler


async def _lost_answer(state: SimState, headers: dict[str, str]) -> Response:
    """The order is in the book, but its answer never arrives (fault injection)."""
    state.faults.order_timeouts -= 1
    mode = state.faults.order_timeout_mode
    if mode in ("drop", "drop_all"):
        if mode == "drop_all":  # before any queued event of this order is written
            state.drop_websockets()
        return Response(status_code=500, headers={_DROP_HEADER.decode(): "1"})
    if mode == "hang":
        await asyncio.sleep(state.faults.hang_seconds)
    return JSONResponse(_TIMEOUT_BODY, status_code=503, headers=headers)


# == admin ========================================================================================
def _admin_routes(app: FastAPI, state: SimState) -> None:
    @app.get("/sim/faults")
    async def get_faults() -> dict[str, Any]:
        """Current fault switches."""
        return state.faults_json()

    @app.post("/sim/faults")
    async def set_faults(request: Request) -> Response:
        """Change fault switches: a JSON object of name -> value (see ``Faults``)."""
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object")
            return JSONResponse(state.set_faults(changes))
        except ValueError as e:
            return JSONResponse({"error": str(e)}, status_code=400)

    @app.post("/sim/faults/reset")
    async def reset_faults() -> dict[str, Any]:
        return state.reset_faults()

    @app.post("/sim/websockets/drop")
    async def drop_websockets() -> dict[str, Any]:
        """Cut every WebSocket connection now."""
        return {"dropped": state.drop_websockets()}

    @app.post("/sim/market-maker/step")
    async def step_maker(steps: int = 1) -> dict[str, Any]:
        state.step_market_maker(steps)
        return {"steps": state.maker.steps if state.maker else 0}

    @app.post("/sim/balances")
    async def credit(request: Request) -> Response:
        """Credit an account: {"account": "demo", "asset": "USDT", "amount": "100"} (negative debits)."""
        try:
            body = await request.json()
            amount = Decimal(str(body["amount"]))
            state.engine.credit(body.get("account", "demo"), body["asset"], amount, state.now_ms())
        except (KeyError, ValueError, InvalidOperation, TypeError) as e:
            return JSONResponse({"error": f"bad request: {e}"}, status_code=400)
        except ApiError as e:
            return JSONResponse(e.body(), status_code=e.status)
        state.publish()
        return JSONResponse({"ok": True})

    @app.get("/sim/state")
    async def sim_state() -> dict[str, Any]:
        """Prices and counts, for people looking at the simulator."""
        engine = state.engine
        return {
            "serverTime": state.now_ms(),
            "symbols": {
                s: {
                    "last": str(engine.last_price[s]) if engine.last_price[s] is not None else None,
                    "bestBid": str(engine.books[s].best("BUY")),
                    "bestAsk": str(engine.books[s].best("SELL")),
                    "lastTradeId": engine.trades[s][-1].trade_id if engine.trades[s] else 0,
                }
                for s in engine.instruments
            },
            "connections": len(state.connections),
        }

