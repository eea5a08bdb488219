"""The REST/WebSocket bridge: signed HTTP access to the gateway for OMSs and operators (layer 6).

The pieces, one idea each:

- ``keys``: ``BridgeKey`` (id, secret, permissions, allowed networks), ``load_keys`` from config.
- ``auth``: the signing scheme (``canonical_request``, ``sign``, ``signed_headers``), ``Verifier`` and
  its replay cache; sans-I/O, time is an argument.
- ``middleware``: ``SignatureGuard``, the ASGI layer that lets only signed requests through.
- ``view``: ``GatewayView``, what the bridge needs from the gateway (``fixgw.gateway.LiveView`` over a
  running gateway).
- ``app``: ``create_app(view, keys)``, the FastAPI app, health, readiness, ``/metrics``, its one error shape.
- ``routes``: the ``/v1`` read routes (orders, fills) and admin routes (sessions, venues, session actions).
- ``orders``: order entry (``POST``/``PATCH``/``DELETE /v1/orders``) over the gateway's ``OrderDesk``, and
  the kill switch routes.
- ``lane``: ``OrderLane``, the hot ``POST /v1/orders`` answered without the route machinery, and the
  flush its answers share (``GroupFlush``).
- ``stream``: ``/v1/stream``, the drop copy of every order event (resumable by event id), heartbeats,
  the slow-consumer cut-off, the sessions' and venues' states.
- ``marketdata``: ``GET /v1/book/{symbol}``, ``GET /v1/candles/{symbol}`` and ``MarketWatch``, the bridge's
  shared holds on the gateway's market data; ``md_stream``: the stream's ``book``/``trades``/``candles`` channels.
- ``schemas``: the answers' and bodies' shapes (the OpenAPI document's components).
- ``metrics``: ``GatewayCollector``, the Prometheus series read at scrape time.
- ``openapi``: the document kept in ``specs/openapi.json`` (``python -m fixgw.bridge.openapi``).
- ``launch``: ``run_bridge`` beside the gateway (``fixgw run``), the config's keys, the demo's keys.
- ``client``: ``BridgeClient`` / ``AsyncBridgeClient``, signing Python clients.
- ``server``: ``serve`` (in a task group) and ``BridgeServer`` (in a thread) over uvicorn.
- ``errors``: ``ApiError`` (server side), ``BridgeRequestError`` (client side), the error codes.

docs/bridge.md describes the scheme for implementers in any language.
"""

from __future__ import annotations

from .app import add_route, add_websocket_route, create_app
from .auth import HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, Verifier, canonical_request, sign, signed_headers
from .client import AsyncBridgeClient, BridgeClient
from .errors import CODES, ApiError, BridgeRequestError, error_body
from .keys import BridgeKey, KeyRing, Permission, load_keys
from .server import BridgeServer, serve
from .view import GatewayView, Readiness, SessionInfo

__all__ = [
    "create_app",
    "add_route",
    "add_websocket_route",
    "GatewayView",
    "SessionInfo",
    "Readiness",
    "BridgeKey",
    "KeyRing",
    "Permission",
    "load_keys",
    "Verifier",
    "canonical_request",
    "sign",
    "signed_headers",
    "HEADER_KEY",
    "HEADER_TIMESTAMP",
    "HEADER_SIGNATURE",
    "BridgeClient",
    "AsyncBridgeClient",
    "BridgeServer",
    "serve",
    "ApiError",
    "BridgeRequestError",
    "CODES",
    "error_body",
]
