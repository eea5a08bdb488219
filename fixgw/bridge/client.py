"""A Python client of the bridge that signs every request (sync ``BridgeClient``, async ``AsyncBridgeClient``).

::

    with BridgeClient("http://127.0.0.1:8080", "oms-1", secret) as bridge:
        bridge.get("/v1/sessions")                      # decoded JSON
        with bridge.stream("/v1/stream") as events:
            first = events.recv()

    async with AsyncBridgeClient(url, "oms-1", secret) as bridge:
        await bridge.get("/v1/sessions")
        async with bridge.stream("/v1/stream") as events:
            first = await events.recv()

The client builds each request first and signs the bytes it is about to send (the path and query as
they will appear on the request line, the body as encoded), so what it signs is what the server
checks. Its timestamps increase strictly, so two identical requests are never one signature (which
the bridge would refuse as a replay). An error answer raises ``BridgeRequestError(status, code,
message)``; a network failure raises ``TransportError``; no httpx or websockets exception escapes.
The secret is never in a repr.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import threading
from typing import Any, AsyncIterator, Iterator, Mapping

import httpx
from websockets.asyncio.client import ClientConnection as AsyncConnection
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.sync.client import ClientConnection as SyncConnection
from websockets.sync.client import connect as sync_connect
from websockets.uri import parse_uri

from fixgw.clock import Clock, SystemClock
from fixgw.errors import TransportError
from fixgw.logsafe import printable

from .auth import signed_headers
from .errors import BridgeRequestError

__all__ = ["BridgeClient", "AsyncBridgeClient", "SyncStream", "AsyncStream"]

Params = Mapping[str, Any] | None


class _Signer:
    def __init__(self, base_url: str, key_id: str, secret: str, clock: Clock | None) -> None:
        self.base_url = httpx.URL(base_url)
        self.key_id = key_id
        self._secret = secret
        self.clock = clock or SystemClock()
        self._last_ms = 0
        self._lock = threading.Lock()

    def _timestamp_ms(self) -> int:
        # Strictly increasing: two identical requests in one millisecond would otherwise carry one
        # signature, and the bridge would refuse the second as a replay.
        with self._lock:
            self._last_ms = max(self.clock.now_ns() // 1_000_000, self._last_ms + 1)
            return self._last_ms

    def headers(self, method: str, raw_path: bytes, body: bytes) -> dict[str, str]:
        path, _, query = raw_path.partition(b"?")
        return signed_headers(self.key_id, self._secret, self._timestamp_ms(), method, path, query, body)

    def sign_request(self, request: httpx.Request) -> None:
        request.headers.update(self.headers(request.method, request.url.raw_path, request.read()))

    def ws_target(self, path: str, params: Params) -> tuple[str, dict[str, str]]:
        url = self.base_url.join(path)
        if params:
            url = url.copy_merge_params(dict(params))
        scheme = {"http": "ws", "https": "wss"}.get(url.scheme, url.scheme)
        text = str(url.copy_with(scheme=scheme))
        # Sign the request target exactly as the WebSocket library will write it.
        resource = parse_uri(text).resource_name.encode("ascii")
        return text, self.headers("GET", resource, b"")


def _result(response: httpx.Response) -> Any:
    if response.is_success:
        return response.json() if response.content else None
    raise _error(response.status_code, response.content)


def _error(status: int, body: bytes) -> BridgeRequestError:
    try:
        err = jsonlib.loads(body)["error"]
        return BridgeRequestError(status, str(err["code"]), str(err["message"]))
    except (ValueError, KeyError, TypeError):
        return BridgeRequestError(status, "http_error", printable(body[:200]))


def _transport_error(e: BaseException) -> TransportError:
    return TransportError(f"bridge unreachable: {type(e).__name__}: {printable(str(e))}")


class BridgeClient:
    """A synchronous client: ``get/post/patch/delete`` return decoded JSON; ``stream`` opens a WebSocket."""

    def __init__(
        self, base_url: str, key_id: str, secret: str, *, timeout: float = 10.0, clock: Clock | None = None,
        verify: Any = True,
    ) -> None:
        self._signer = _Signer(base_url, key_id, secret, clock)
        self._timeout = timeout
        self._http = httpx.Client(base_url=base_url, timeout=timeout, verify=verify)

    def __repr__(self) -> str:
        return f"BridgeClient({str(self._signer.base_url)!r}, key_id={self._signer.key_id!r})"

    def request(self, method: str, path: str, *, params: Params = None, json: Any = None,
                content: bytes | None = None) -> Any:
        """Send a signed request; return its decoded JSON body (None when empty)."""
        request = self._http.build_request(method, path, params=params, json=json, content=content)
        self._signer.sign_request(request)
        try:
            response = self._http.send(request)
        except httpx.HTTPError as e:
            raise _transport_error(e) from None
        return _result(response)

    def get(self, path: str, *, params: Params = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any = None, *, params: Params = None) -> Any:
        return self.request("POST", path, params=params, json=json)

    def patch(self, path: str, json: Any = None, *, params: Params = None) -> Any:
        return self.request("PATCH", path, params=params, json=json)

    def put(self, path: str, json: Any = None, *, params: Params = None) -> Any:
        return self.request("PUT", path, params=params, json=json)

    def delete(self, path: str, *, params: Params = None) -> Any:
        return self.request("DELETE", path, params=params)

    @contextlib.contextmanager
    def stream(self, path: str, *, params: Params = None) -> Iterator["SyncStream"]:
        """Open a signed WebSocket to ``path``; yield a ``SyncStream`` of JSON messages."""
        url, headers = self._signer.ws_target(path, params)
        try:
            conn = sync_connect(url, additional_headers=headers, open_timeout=self._timeout)
        except InvalidStatus as e:
            raise _error(e.response.status_code, e.response.body or b"") from None
        except (OSError, TimeoutError, WebSocketException) as e:
            raise _transport_error(e) from None
        with conn:
            yield SyncStream(conn)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "BridgeClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SyncStream:
    """An open bridge WebSocket: ``recv()`` returns the next JSON message."""

    def __init__(self, connection: SyncConnection) -> None:
        self.connection = connection

    def recv(self, timeout: float | None = None) -> Any:
        try:
            return jsonlib.loads(self.connection.recv(timeout))
        except TimeoutError:
            raise
        except (OSError, WebSocketException) as e:
            raise _transport_error(e) from None

    def send(self, message: Any) -> None:
        try:
            self.connection.send(jsonlib.dumps(message))
        except (OSError, WebSocketException) as e:
            raise _transport_error(e) from None


class AsyncBridgeClient:
    """The asynchronous twin of ``BridgeClient``."""

    def __init__(
        self, base_url: str, key_id: str, secret: str, *, timeout: float = 10.0, clock: Clock | None = None,
        verify: Any = True,
    ) -> None:
        self._signer = _Signer(base_url, key_id, secret, clock)
        self._timeout = timeout
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, verify=verify)

    def __repr__(self) -> str:
        return f"AsyncBridgeClient({str(self._signer.base_url)!r}, key_id={self._signer.key_id!r})"

    async def send(self, method: str, path: str, *, params: Params = None, json: Any = None,
                   content: bytes | None = None) -> httpx.Response:
        """Send a signed request; return the response as it is (any status: 201 and 200 tell a new
        order from a retried one)."""
        request = self._http.build_request(method, path, params=params, json=json, content=content)
        self._signer.sign_request(request)
        try:
            return await self._http.send(request)
        except httpx.HTTPError as e:
            raise _transport_error(e) from None

    async def request(self, method: str, path: str, *, params: Params = None, json: Any = None,
                      content: bytes | None = None) -> Any:
        """Send a signed request; return its decoded JSON body (None when empty)."""
        return _result(await self.send(method, path, params=params, json=json, content=content))

    async def get(self, path: str, *, params: Params = None) -> Any:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, json: Any = None, *, params: Params = None) -> Any:
        return await self.request("POST", path, params=params, json=json)

    async def patch(self, path: str, json: Any = None, *, params: Params = None) -> Any:
        return await self.request("PATCH", path, params=params, json=json)

    async def put(self, path: str, json: Any = None, *, params: Params = None) -> Any:
        return await self.request("PUT", path, params=params, json=json)

    async def delete(self, path: str, *, params: Params = None) -> Any:
        return await self.request("DELETE", path, params=params)

    @contextlib.asynccontextmanager
    async def stream(self, path: str, *, params: Params = None) -> AsyncIterator["AsyncStream"]:
        """Open a signed WebSocket to ``path``; yield an ``AsyncStream`` of JSON messages."""
        url, headers = self._signer.ws_target(path, params)
        try:
            conn = await async_connect(url, additional_headers=headers, open_timeout=self._timeout)
        except InvalidStatus as e:
            raise _error(e.response.status_code, e.response.body or b"") from None
        except (OSError, TimeoutError, WebSocketException) as e:
            raise _transport_error(e) from None
        async with conn:
            yield AsyncStream(conn)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncBridgeClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class AsyncStream:
    """An open bridge WebSocket: ``await recv()`` returns the next JSON message."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def recv(self) -> Any:
        try:
            return jsonlib.loads(await self.connection.recv())
        except (OSError, WebSocketException) as e:
            raise _transport_error(e) from None

    async def send(self, message: Any) -> None:
        try:
            await self.connection.send(jsonlib.dumps(message))
        except (OSError, WebSocketException) as e:
            raise _transport_error(e) from None
