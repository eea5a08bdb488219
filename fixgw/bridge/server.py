"""Serve the bridge app with uvicorn: inside a running event loop (``serve``) or in a thread (``BridgeServer``).

``serve`` is what the gateway's task group runs (``port = await tg.start(serve, app, host, port)``);
``BridgeServer`` owns a loop in a background thread, for tests and for embedding in synchronous code.
Both bind the socket themselves first, so port 0 gives a free port that is known before the first
request. uvicorn's access log is off: the bridge logs what matters itself, with values made safe.

HTTP/1.1 is parsed by httptools when it is installed (``HTTP_IMPL``; a third of h11's cost per request
on the order entry benchmark, ``bench/bridge.py``), else by h11; both answer alike.

The app is served under ``ServerSend``, which puts uvicorn's own ``send`` in the scope (``SCOPE_SEND``)
before Starlette wraps it: the order lane answers in one write through it, and the stream's fan-out
writes its frames straight to the sockets (``orders.py``, ``fanout.py``).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import anyio
import uvicorn
from anyio.abc import TaskStatus

from .middleware import SCOPE_SEND, Receive, Scope, Send

__all__ = ["serve", "BridgeServer", "HTTP_IMPL", "ServerSend"]


def _http_impl() -> str:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"


#: uvicorn's HTTP/1.1 protocol: ``httptools`` where it is installed (the C parser), else ``h11``.
HTTP_IMPL = _http_impl()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"bridge: cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


class ServerSend:
    """The outermost ASGI layer: the server's ``send`` into the scope, as ``SCOPE_SEND`` (module docstring)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, SCOPE_SEND: send}
        await self.app(scope, receive, send)


def _server(app: Any, log_level: str, **options: Any) -> uvicorn.Server:
    config = uvicorn.Config(
        ServerSend(app),
        http=options.pop("http", HTTP_IMPL),
        ws="websockets-sansio",
        lifespan="off",
        log_config=None,
        log_level=log_level,
        access_log=False,
        # The peer is the TCP connection's (docs/configuration.md, allowed_networks): uvicorn would
        # otherwise take X-Forwarded-For from a loopback peer as the client, and a local process could
        # pass a key's address check by naming an allowed address.
        proxy_headers=False,
        server_header=False,
        ws_max_size=64 * 1024,  # clients send small control messages only
        # No permessage-deflate: compressing each event once per client costs more CPU than the bytes
        # saved on small JSON messages, and the stream's cost is per client (bench/bridge.py --fanout).
        ws_per_message_deflate=False,
        limit_concurrency=1000,
        timeout_graceful_shutdown=2,
        **options,
    )
    if config.ssl_certfile:
        config.load()  # a bad certificate or key fails here, before the socket is bound
    return uvicorn.Server(config)


async def serve(
    app: Any, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning",
    task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED, ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
) -> None:
    """Serve ``app`` on ``host:port`` until cancelled; report the bound port through ``task_status``.

    With ``ssl_certfile`` and ``ssl_keyfile`` (PEM files) it serves HTTPS and WSS."""
    tls = {"ssl_certfile": ssl_certfile, "ssl_keyfile": ssl_keyfile} if ssl_certfile else {}
    server = _server(app, log_level, **tls)
    sock = _bind(host, port)
    async def run() -> None:
        # Shielded: a cancelled uvicorn server leaves the event loop unable to serve the next one
        # (its requests go unanswered), so it is stopped by ``should_exit`` and left to shut down.
        with anyio.CancelScope(shield=True):
            await server.serve([sock])

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            while not server.started:
                await anyio.sleep(0.005)
            task_status.started(sock.getsockname()[1])
            try:
                await anyio.sleep_forever()
            finally:
                server.should_exit = True  # ``run`` returns within the graceful shutdown timeout
    finally:
        sock.close()


class BridgeServer:
    """``app`` served on a loopback port from a background thread: ``with BridgeServer(app) as s: s.base_url``."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning") -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server = _server(app, log_level)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> "BridgeServer":
        """Bind, serve in a thread and return once connections are accepted."""
        if self._thread is not None:
            raise RuntimeError("bridge server already started")
        sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._run, args=(sock,), name="fixgw-bridge", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"bridge server failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                raise TimeoutError("bridge server did not start in time")
            time.sleep(0.005)
        return self

    def _run(self, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._server.serve(sockets=[sock]))
        except BaseException as e:  # reported to start()
            self._error = e
        finally:
            sock.close()
            loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving; idempotent."""
        if self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> "BridgeServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
