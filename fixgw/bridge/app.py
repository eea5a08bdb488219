"""The bridge's FastAPI application: health, readiness and the versioned, signed ``/v1`` routes.

``create_app(view, keys)`` builds it. ``/healthz``, ``/readyz``, ``/metrics`` and the web console's static
files (``/console``; the page signs its own requests) are public (probes and scrapers cannot sign;
``/metrics`` answers only the ``metrics_networks``); everything else passes the ``SignatureGuard`` and then the route's own permission check. A route under
``/v1`` is added with ``add_route`` / ``add_websocket_route``, which demand a ``Permission``, so no route
can be added without one (a test walks the routes to hold this).

Every error answer has the one shape of ``errors.error_body``: the handlers below translate FastAPI's
and Starlette's own errors (404, 405, request validation) and any unexpected exception (500, with no
detail in the answer) into it.
"""

from __future__ import annotations

import inspect
import ipaddress
import logging
from typing import Any, Callable, Iterable, Sequence

from fastapi import Depends, FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import JSONResponse, PlainTextResponse, Response

from fixgw.clock import Clock, SystemClock
from fixgw.logsafe import printable

from .accounts import install_account_routes
from .auth import DEFAULT_REPLAY_CAPACITY, DEFAULT_WINDOW, Verifier
from .batch import install_batch_routes
from .errors import CODES, ApiError, error_body
from .keys import BridgeKey, KeyRing, Permission, address_allowed
from .marketdata import install_marketdata
from .metrics import registry_for
from .lane import OrderLane
from .middleware import DEFAULT_MAX_BODY, SCOPE_KEY, SignatureGuard, error_response
from .orderlists import install_order_list_routes
from .orders import install_order_routes
from .routes import install_routes
from .schemas import ErrorBody
from .console import install_console
from .stream import stream_endpoint
from .view import GatewayView

__all__ = ["create_app", "add_route", "add_websocket_route", "PermissionCheck", "API_PREFIX", "PUBLIC_PATHS"]

API_PREFIX = "/v1"
#: Answered without a signature: probes and scrapers cannot sign (``/metrics`` checks the address instead).
PUBLIC_PATHS = ("/healthz", "/readyz", "/metrics", "/console", "/console/console.js", "/console/console.css")
log = logging.getLogger("fixgw.bridge")
#: FastAPI's OpenTelemetry hooks off, where this FastAPI has them (newer releases).
_NO_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters else {})
_STATUS_CODES = {status: code for code, (status, _) in CODES.items() if code != "invalid_request"}


class PermissionCheck:
    """A route dependency: the signed request's key must hold ``permission``; returns the key."""

    def __init__(self, permission: Permission) -> None:
        self.permission = Permission(permission)

    async def __call__(self, conn: HTTPConnection) -> BridgeKey:  # async: FastAPI runs a sync one in a thread
        key = conn.scope.get(SCOPE_KEY)
        if not isinstance(key, BridgeKey):  # only reachable if a route escaped the guard
            raise ApiError(401, "missing_credentials", "this route needs a signed request")
        if not key.allows(self.permission):
            raise ApiError(
                403, "missing_permission", f"this key lacks the {self.permission.value} permission"
            )
        return key


def add_route(
    app: FastAPI, path: str, endpoint: Callable[..., Any], *, methods: Sequence[str], permission: Permission,
    **options: Any,
) -> None:
    """Add an HTTP route under ``/v1`` that needs ``permission`` (``options`` go to FastAPI's ``add_api_route``)."""
    app.add_api_route(
        API_PREFIX + path, endpoint, methods=list(methods), dependencies=[Depends(PermissionCheck(permission))],
        **options,
    )


def add_websocket_route(app: FastAPI, path: str, endpoint: Callable[..., Any], *, permission: Permission) -> None:
    """Add a WebSocket route under ``/v1`` that needs ``permission`` (checked before the upgrade)."""
    app.add_api_websocket_route(
        API_PREFIX + path, endpoint, dependencies=[Depends(PermissionCheck(permission))]
    )


def create_app(
    gateway_view: GatewayView,
    keys: KeyRing | Iterable[BridgeKey],
    *,
    window: float = DEFAULT_WINDOW,
    clock: Clock | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    replay_capacity: int = DEFAULT_REPLAY_CAPACITY,
    metrics_networks: Iterable[str] = ("127.0.0.0/8", "::1/128"),
    stream_heartbeat: float = 10.0,
    stream_queue: int = 10_000,
    fast_orders: bool = True,
) -> FastAPI:
    """Return the bridge app over ``gateway_view``, accepting requests signed by ``keys``.

    ``window``: how far (seconds, 5-30) a request's timestamp may be from ``clock`` either way.
    ``metrics_networks``: who may read the unsigned ``/metrics`` (a scraper cannot sign).
    ``stream_heartbeat``: seconds between the stream's heartbeats; ``stream_queue``: the events a stream
    client may fall behind before it is cut off. ``fast_orders``: answer ``POST /v1/orders`` by
    ``OrderLane`` (the same answers, less work; off only to compare the two).
    Raises ``ConfigError`` for a window out of range.
    """
    verifier = Verifier(keys, window=window, replay_capacity=replay_capacity)
    # FastAPI's own OpenTelemetry hooks off: the bridge reports through /metrics, and asking the global
    # providers on every request is a visible share of a request's cost.
    app = FastAPI(title="fixgw bridge", version="1", docs_url=None, redoc_url=None, openapi_url=None,
                  description="Signed REST access to the fixgw FIX gateway; see docs/bridge.md for the signature.",
                  **_NO_TELEMETRY)
    _install_error_handlers(app)
    allowed = tuple(ipaddress.ip_network(n) for n in metrics_networks)
    registry = registry_for(gateway_view)

    @app.get("/healthz", summary="Alive (unsigned)")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok"}

    @app.get("/metrics", summary="Prometheus metrics (unsigned; from metrics_networks only)",
             response_class=PlainTextResponse, responses={403: {"model": ErrorBody}})
    async def metrics(request: Request) -> Response:
        peer = request.client.host if request.client else None
        if not address_allowed(peer, allowed):
            raise ApiError(403, "forbidden_address", "metrics are not served to this address")
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/readyz", summary="Ready: acceptor listening, venues connected (unsigned)",
             responses={503: {"model": ErrorBody}})
    async def readyz() -> dict[str, Any]:
        r = gateway_view.readiness()
        down = [name for name, up in r.venues if not up]
        if not r.ready:
            problems = ([] if r.acceptor_listening else ["the FIX acceptor is not listening"]) + (
                [f"{len(down)} of {len(r.venues)} venues not connected"] if down else []
            )
            raise ApiError(503, "not_ready", "; ".join(problems))
        return {"ready": True, "acceptor_listening": True, "venues_connected": len(r.venues)}

    install_console(app)
    install_routes(app, gateway_view, add_route)
    steps = install_order_routes(app, gateway_view, add_route)
    market = install_marketdata(app, gateway_view, add_route, clock or SystemClock())
    install_account_routes(app, gateway_view, add_route)
    install_batch_routes(app, gateway_view, add_route)
    install_order_list_routes(app, gateway_view, add_route)

    stream = stream_endpoint(gateway_view, stream_heartbeat, stream_queue, market)
    add_websocket_route(app, "/stream", stream, permission=Permission.READ)
    app.state.order_lane = {}
    if fast_orders:  # inside the guard: it sees signed requests only (orders.py, Speed)
        app.add_middleware(OrderLane, place=steps.place, admit=steps.admit, durable=steps.durable,
                           counts=app.state.order_lane)
    app.add_middleware(SignatureGuard, verifier=verifier, clock=clock or SystemClock(), max_body=max_body,
                       public_paths=PUBLIC_PATHS)
    app.state.verifier = verifier
    app.state.market = market
    return app


def _install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(conn: HTTPConnection, exc: Exception) -> JSONResponse | None:
        assert isinstance(exc, ApiError)
        if isinstance(conn, WebSocket) and "websocket.http.response" not in conn.scope.get("extensions", {}):
            await conn.close(code=1008, reason=exc.code)  # the server answers the upgrade with 403
            return None
        return error_response(exc)

    async def on_http_error(conn: HTTPConnection, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        message = CODES[code][1] if code in CODES else f"HTTP {exc.status_code}"
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)

    async def on_validation_error(conn: HTTPConnection, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        # Only where and what: the offending input is not echoed back.
        message = f"{where}: {first.get('msg', 'invalid')}" if where else "the request is invalid"
        return JSONResponse(error_body("invalid_request", message), status_code=400)

    async def on_unexpected(conn: HTTPConnection, exc: Exception) -> JSONResponse:
        log.error("bridge: %s failed: %s", printable(conn.url.path), type(exc).__name__)
        return JSONResponse(error_body("internal_error", CODES["internal_error"][1]), status_code=500)

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
