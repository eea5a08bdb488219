"""The scaffolding every dialect's ASGI app shares: lifespan, error handler, middleware, admin API.

A dialect (``coinbase/app.py``, ``kraken/app.py``) asks ``dialect_app`` for its FastAPI app, adds its
own routes and the text of ``app.state.endpoints``, then calls ``finish``. The app runs the market
maker while it serves (when the state has one and an interval), closes every open connection on
shutdown, answers unknown paths as ``fixgw.sim.app`` does, cuts connections a handler marks as dropped,
guards ``/sim`` with the control token, and serves the ``/sim`` admin API.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException

from ._lifespan import serving_lifespan
from .app import _admin_routes, _ControlAuth, _DropConnection, _http_error
from .state import SimState

__all__ = ["dialect_app", "finish"]


def dialect_app(state: SimState, title: str) -> FastAPI:
    """Return a FastAPI app over ``state`` with the shared lifespan, error handler and middleware."""
    app = FastAPI(title=title, lifespan=serving_lifespan(state), docs_url=None, redoc_url=None, openapi_url=None)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.state.sim = state
    app.add_middleware(_DropConnection)
    app.add_middleware(_ControlAuth, token=state.control_token)
    return app


def finish(app: FastAPI, state: SimState) -> FastAPI:
    """Add the ``/sim`` admin API after the dialect's own routes; return ``app``."""
    _admin_routes(app, state)
    return app
