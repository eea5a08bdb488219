"""The ASGI layer that lets only signed requests reach the bridge's routes.

``SignatureGuard`` wraps the whole app. A request to a public route (``GET``/``HEAD`` of ``/healthz``
and ``/readyz``) passes as it is; every other HTTP request and every WebSocket upgrade — unknown paths
included, so an unsigned caller cannot map the routes — must carry a valid signature (``auth``). The
guard checks the headers first (so a stranger's body is never read), then reads the body (at most
``max_body`` bytes, 413 beyond), verifies the signature, puts the key in the scope (``SCOPE_KEY``) for
the routes' permission checks and hands the body on unchanged.

A refused WebSocket upgrade gets the same JSON error answer as HTTP when the server offers the
``websocket.http.response`` extension (uvicorn does), and a close (HTTP 403) otherwise.

Peer addresses come from the connection (ASGI ``client``). Forwarded-for headers are not trusted:
behind a proxy, allow the proxy's address.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Iterable
from urllib.parse import quote

from starlette.responses import JSONResponse

from fixgw.clock import Clock
from fixgw.logsafe import printable

from .auth import Verifier, websocket_credentials
from .errors import ApiError

__all__ = ["SignatureGuard", "SCOPE_KEY", "SCOPE_SEND", "DEFAULT_MAX_BODY", "error_response", "send_error",
           "replay_body"]

SCOPE_KEY = "fixgw.bridge.key"
#: The server's own ``send`` of a request or WebSocket, before any framework wraps it (``server.py`` puts it in
#: the scope; ``fanout.DirectLine`` and ``lane.OrderLane`` reach the connection through it).
SCOPE_SEND = "fixgw.bridge.send"
DEFAULT_MAX_BODY = 1 << 20

log = logging.getLogger("fixgw.bridge")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def error_response(error: ApiError) -> JSONResponse:
    """Return the JSON answer of ``error``."""
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


async def send_error(scope: Scope, receive: Receive, send: Send, error: ApiError) -> None:
    """Answer an HTTP request or refuse a WebSocket upgrade with ``error``."""
    if scope["type"] == "websocket" and "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008, "reason": error.code})
        return
    await error_response(error)(scope, receive, send)


class SignatureGuard:
    """ASGI middleware: verify the signature of every non-public request (see the module docstring)."""

    def __init__(
        self,
        app: Any,
        *,
        verifier: Verifier,
        clock: Clock,
        public_paths: Iterable[str] = ("/healthz", "/readyz"),
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.clock = clock
        self.public_paths = frozenset(public_paths)
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET") if kind == "http" else "GET"
        if kind == "http" and method in ("GET", "HEAD") and scope.get("path") in self.public_paths:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        peer = client[0] if client else None
        headers = scope.get("headers", ())
        query = scope.get("query_string", b"")
        if kind == "websocket":  # a browser signs its upgrade in the query (auth.websocket_credentials)
            headers, query = websocket_credentials(headers, query)
        try:
            body = b""
            claim = None
            if kind == "http":
                claim = self.verifier.precheck(headers, self.clock.now_ns() // 1_000_000)
                body = await self._read_body(scope, receive)
                if body is None:
                    return  # the client went away
            key = self.verifier.verify(
                headers,
                method,
                _raw_path(scope),
                query,
                body,
                peer,
                self.clock.now_ns() // 1_000_000,
                claim,
            )
        except ApiError as e:
            log.info(
                "bridge: refused %s %s from %s: %s %s (key %s)",
                method, printable(scope.get("path")), printable(peer), e.status, e.code,
                printable(_header(scope, b"x-fixgw-key")),
            )
            await send_error(scope, receive, send, e)
            return
        if log.isEnabledFor(logging.DEBUG):  # the arguments cost, even when the record is dropped
            log.debug("bridge: %s %s from %s by key %s", method, printable(scope.get("path")), printable(peer),
                      key.key_id)
        scope = dict(scope)
        scope[SCOPE_KEY] = key
        if kind == "http":
            receive = replay_body({"type": "http.request", "body": body, "more_body": False}, receive)
        await self.app(scope, receive, send)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_body
            except ValueError:
                raise ApiError(400, "invalid_request", "bad Content-Length") from None
            if too_big:
                raise ApiError(413, "body_too_large", f"the body is over {self.max_body} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise ApiError(413, "body_too_large", f"the body is over {self.max_body} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _raw_path(scope: Scope) -> bytes:
    raw = scope.get("raw_path")
    if raw:
        return bytes(raw)
    return quote(scope.get("path", "/"), safe="/:@!$&'()*+,;=-._~").encode("ascii")


def _header(scope: Scope, name: bytes) -> bytes | None:
    for k, v in scope.get("headers", ()):
        if k.lower() == name:
            return bytes(v)
    return None


def replay_body(message: dict[str, Any], receive: Receive) -> Receive:
    """A ``receive`` that gives ``message`` (a request's body, already read) first, then ``receive``'s."""
    given = False

    async def replay() -> dict[str, Any]:
        nonlocal given
        if not given:
            given = True
            return message
        return await receive()

    return replay
