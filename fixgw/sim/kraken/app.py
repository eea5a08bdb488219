"""The Kraken dialect's application: REST ``/0/public|private/<Method>``, WebSocket ``/v2``, ``/sim``.

The matching engine, fault switches, clock, market maker and the ``/sim`` admin API are the
simulator's own (``fixgw.sim.app``); this package writes only Kraken's protocol over them: names
(``names.py``), signing and nonces (``signing.py``), error strings (``errors.py``), rate-limit
counters (``limits.py``), the operations (``venue.py``), REST (``rest.py``) and WS v2 (``feed.py``).
``venue_of(state)`` reaches the dialect's state from a ``SimServer.call``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import Response

from .._appkit import dialect_app, finish
from ..state import SimState
from .feed import FeedHub
from .rest import RestApi
from .venue import KrakenVenue, venue_of

__all__ = ["build_app", "venue_of"]


def build_app(state: SimState) -> FastAPI:
    """Return the ASGI application speaking Kraken over ``state``."""
    venue = KrakenVenue(state)
    rest = RestApi(state, venue)
    hub = FeedHub(state, venue)

    app = dialect_app(state, "fixgw simulated exchange (Kraken dialect)")
    app.state.kraken = venue
    pairs = ", ".join(f"{p.altname} ({p.symbol})" for p in venue.pairs.pairs)
    app.state.endpoints = ("(Kraken dialect) REST http://{host}:{port}/0/public|private/<Method>  "
                           "WS v2 ws://{host}:{port}/v2 (executions; token from GetWebSocketsToken)\n"
                           f"pairs (REST, WS v2): {pairs}")

    @app.api_route("/0/public/{method}", methods=["GET", "POST"], include_in_schema=False)
    async def public(request: Request, method: str) -> Response:
        return await rest.handle(request, "public", method)

    @app.api_route("/0/private/{method}", methods=["GET", "POST"], include_in_schema=False)
    async def private(request: Request, method: str) -> Response:
        return await rest.handle(request, "private", method)

    @app.websocket("/v2")
    async def ws_v2(websocket: WebSocket) -> None:
        await hub.serve(websocket)

    return finish(app, state)
