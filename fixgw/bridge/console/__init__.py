"""The web console: one static page (HTML, JS, CSS from this package's data, no build step, nothing remote).

``install_console(app)`` serves ``GET /console``, ``/console/console.js`` and ``/console/console.css``,
unsigned (a browser must load the page before it can sign), out of the OpenAPI document. The page asks
for a key id and secret, turns the secret into a non-extractable WebCrypto HMAC key held in memory only,
and signs each ``/v1`` request as ``auth.py`` says; its WebSocket upgrade carries the signature in the
query (``auth.websocket_credentials``). It reads sessions, venues, open orders, fills (a ``read`` key
suffices), the latency histograms of ``/metrics`` (served to ``metrics_networks`` only), and follows
``/v1/stream`` live. Every answer has a strict Content-Security-Policy: scripts, styles and connections to
this origin only, no framing.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from starlette.responses import Response

__all__ = ["install_console", "CONSOLE_FILES"]

#: URL path -> (file in this package, media type).
CONSOLE_FILES = {
    "/console": ("index.html", "text/html; charset=utf-8"),
    "/console/console.js": ("console.js", "text/javascript; charset=utf-8"),
    "/console/console.css": ("console.css", "text/css; charset=utf-8"),
}
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def install_console(app: FastAPI) -> None:
    """Serve the console's files on ``app`` (read once, at start)."""
    package = files(__name__)
    for path, (name, media_type) in CONSOLE_FILES.items():
        app.add_api_route(path, _endpoint(package.joinpath(name).read_bytes(), media_type), methods=["GET"],
                          include_in_schema=False)


def _endpoint(content: bytes, media_type: str):  # type: ignore[no-untyped-def]
    async def serve() -> Response:  # no parameters: nothing from the request reaches it
        return Response(content, media_type=media_type, headers=_HEADERS)

    return serve
