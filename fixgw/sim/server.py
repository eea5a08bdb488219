"""Run the simulator in-process: uvicorn on a free loopback port, in a background thread.

The server owns its own event loop in its own thread, so the same object serves a synchronous test
(``with SimServer(cfg) as sim: ...``) and an async program of any loop (``async with running_sim(cfg)
as sim: ...``, which starts and stops it without blocking the caller's loop). Everything that touches
the engine from outside runs on the server's loop through ``call``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from dataclasses import replace
from typing import Any, AsyncIterator, Callable, TypeVar

import anyio
import uvicorn

from .dialects import build_app_for
from .config import SimConfig, resolve_control_token
from .state import SimState

__all__ = ["SimServer", "running_sim"]

T = TypeVar("T")


class SimServer:
    """A simulator on ``config.host``/``config.port`` (0 = a free port, chosen at ``start``).

    After ``start()``: ``base_url`` (REST), ``ws_api_url`` (``.../ws-api/v3``), ``ws_stream_url``
    (``.../ws``, append ``/<stream>``), ``ws_combined_url`` (``.../stream``). ``control_token`` (known
    from construction) is what the ``/sim/*`` endpoints want as ``Authorization: Bearer <token>``:
    ``control_token`` here, else the config's, else ``FIXGW_SIM_TOKEN``, else random per server.
    """

    def __init__(self, config: SimConfig | None = None, *, control_token: str | None = None) -> None:
        config = config or SimConfig()
        token = resolve_control_token(control_token if control_token is not None else config.control_token)
        self.config = replace(config, control_token=token)
        self.state: SimState | None = None
        self.port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> "SimServer":
        """Bind, serve in a background thread and return once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        # IPPROTO_TCP spelled out: asyncio turns Nagle off only on sockets it knows to be TCP.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.config.host, self.config.port))
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self.state = SimState(self.config)
        app = build_app_for(self.state)
        uv_config = uvicorn.Config(
            app,
            log_level=self.config.log_level,
            http="h11",
            ws="websockets-sansio",
            lifespan="on",
            ws_ping_interval=20.0,
            ws_ping_timeout=60.0,
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(uv_config)
        self._thread = threading.Thread(target=self._run, args=(sock,), name="fixgw-sim", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"simulator failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                raise TimeoutError("simulator did not start in time")
            time.sleep(0.01)
        return self

    def _run(self, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            assert self._server is not None
            loop.run_until_complete(self._server.serve(sockets=[sock]))
        except BaseException as e:  # reported to start()
            self._error = e
        finally:
            sock.close()
            loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Close connections and stop serving; idempotent."""
        if self._server is None or self._thread is None:
            return
        if self._loop is not None and self.state is not None and self._thread.is_alive():
            with contextlib.suppress(Exception):
                self.call(lambda st: [o.close() for o in list(st.connections)], timeout=2)
        self._server.should_exit = True
        self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> "SimServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------------------
    @property
    def control_token(self) -> str:
        """The bearer token of the ``/sim/*`` control endpoints."""
        assert self.config.control_token is not None
        return self.config.control_token

    @property
    def control_headers(self) -> dict[str, str]:
        """The header a ``/sim/*`` request needs."""
        return {"Authorization": f"Bearer {self.control_token}"}

    @property
    def host(self) -> str:
        return self.config.host

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_api_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws-api/v3"

    @property
    def ws_stream_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    @property
    def ws_combined_url(self) -> str:
        return f"ws://{self.host}:{self.port}/stream"

    # -- control (thread-safe) -------------------------------------------------------------------
    def call(self, fn: Callable[[SimState], T], timeout: float = 10.0) -> T:
        """Run ``fn(state)`` on the server's loop and return its result."""
        if self._loop is None or self.state is None:
            raise RuntimeError("simulator not started")
        state = self.state

        async def run() -> T:
            return fn(state)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change fault switches (see ``fixgw.sim.faults.Faults``); returns the new state."""
        return self.call(lambda st: st.set_faults(changes))

    def reset_faults(self) -> dict[str, Any]:
        return self.call(lambda st: st.reset_faults())

    def drop_websockets(self) -> int:
        """Cut every WebSocket connection now; returns how many were cut."""
        return self.call(lambda st: st.drop_websockets())

    def step_market_maker(self, steps: int = 1) -> None:
        """Advance the market maker by hand (deterministic under the seed)."""
        self.call(lambda st: st.step_market_maker(steps))


@contextlib.asynccontextmanager
async def running_sim(config: SimConfig | None = None, *, control_token: str | None = None
                      ) -> AsyncIterator[SimServer]:
    """Start a ``SimServer`` without blocking the caller's event loop; stop it on exit."""
    server = SimServer(config, control_token=control_token)
    await anyio.to_thread.run_sync(server.start)
    try:
        yield server
    finally:
        await anyio.to_thread.run_sync(server.stop)
