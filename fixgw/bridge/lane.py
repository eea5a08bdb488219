"""The hot route's lane: ``POST /v1/orders`` answered without FastAPI's route machinery.

Speed. ``POST /v1/orders`` is the hot route, so ``OrderLane`` (ASGI middleware inside the signature
guard) answers it without FastAPI's route machinery (dependencies, body parsing, response model): it
parses the body once (``orjson``), validates it with the same ``NewOrderBody`` model, runs the same
``place`` step and writes the ``Order`` JSON itself. It takes only what it answers exactly as the route
would (a signed ``trade`` key, ``application/json``, a body that validates); anything else goes on to
the route with its body untouched, so every error answer and the OpenAPI document stay the route's.
Before answering, a command waits for the store's flush (the answer promises the order is kept); the
flush is shared (``GroupFlush``): one per event-loop turn for every answer waiting in that turn.
ASGI answers in two messages (head, body), and uvicorn writes each to the socket at once: two system
calls and two segments per answer. Under uvicorn (``SCOPE_SEND``, see ``server.py``) the lane gathers
the two writes into one (``_Gathered``: the connection's transport, as uvicorn's request cycle sees it,
for the two sends only); under another server it sends the two messages as they are.
With the route's step in two halves (``OrderLane(admit=, durable=)``, what ``create_app`` gives it), the
order is submitted in the request's task and, under uvicorn, its answer is written from the flush's own
callback (``GroupFlush.after``): the task that waited for the flush would only resume a loop turn later,
and when the gateway is busy (a burst, a garbage-collector pause behind it) a turn is long. Written there
only while the socket takes it (uvicorn's ``send`` then runs to its end without waiting); a full socket
leaves the answer to the task, which waits for it to drain.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any, Awaitable, Callable

from pydantic import ValidationError

from fixgw import jsonio

from .errors import ApiError
from .keys import BridgeKey, Permission
from .middleware import SCOPE_KEY, SCOPE_SEND, Receive, Scope, Send, error_response, replay_body
from .schemas import NewOrderBody, Order

__all__ = ["OrderLane", "GroupFlush", "ORDERS_PATH"]

#: The hot route's path.
ORDERS_PATH = "/v1/orders"
_ORDER_FIELDS = tuple(Order.model_fields)


class GroupFlush:
    """``await durable()``: the store's flush has run since the call (module docstring, Speed).

    The first waiter of a loop turn schedules one flush (``call_soon``); every waiter of that turn is
    answered by it. A flush that fails raises its error in every waiter, as a flush of its own would.
    ``flush`` is read at each flush (``view.order_desk().flush``: the gateway sets it once started).
    ``after(fn)``: ``fn(error)`` runs right after the next flush, in the flush's own callback (``error``:
    None, or what the flush raised), before any waiter's task resumes (that is a loop turn later).
    """

    def __init__(self, flush: Callable[[], Callable[[], None]]) -> None:
        self._flush = flush
        self._waiters: list[asyncio.Future[None]] = []
        self._after: list[Callable[[BaseException | None], None]] = []
        self._scheduled = False
        self.flushes = 0

    async def __call__(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._schedule()
        await waiter

    def after(self, fn: Callable[[BaseException | None], None]) -> None:
        """Call ``fn(error)`` right after the next flush (it must not raise)."""
        self._after.append(fn)
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._run)

    def _run(self) -> None:
        waiters, self._waiters = self._waiters, []
        after, self._after = self._after, []
        self._scheduled = False
        self.flushes += 1
        try:
            self._flush()()
        except Exception as exc:  # noqa: BLE001 - handed to every waiter, as its own flush would raise it
            for fn in after:
                fn(exc)
            for w in waiters:
                if not w.done():
                    w.set_exception(exc)
            return
        for fn in after:
            fn(None)
        for w in waiters:
            if not w.done():  # a cancelled waiter (its client went away) is done already
                w.set_result(None)


def _order_json(row: dict[str, Any]) -> bytes:
    """``row`` as the route's ``Order`` response model writes it (its fields, in its order)."""
    if tuple(row) != _ORDER_FIELDS:  # not the row's usual shape: through the model, as the route does
        row = Order.model_validate(row).model_dump(mode="json")
    return jsonio.dumps(row).encode("utf-8")


_JSON_TYPES = (b"application/json", b"application/json; charset=utf-8")


class OrderLane:
    """ASGI middleware answering ``POST /v1/orders`` without the route machinery (module docstring).

    ``place(scope, body)`` is the route's own step: it returns (status, order row) or raises ``ApiError``.
    ``admit`` and ``durable`` (optional, together): ``place`` in two halves, the order submitted now
    (``admit(scope, body)``: (status, row, None), or (0, None, the refusal); raises ``ApiError`` before
    submitting) and the answer sent once ``durable`` (the route's ``GroupFlush``) has flushed; under uvicorn
    the answer is then written from the flush's own callback, a loop turn before the request's task could
    resume to write it (module docstring, Speed).
    ``counts``: ``answered`` (by the lane) and ``passed`` (to the route), for tests and curious operators."""

    def __init__(self, app: Any, *, place: Callable[[Scope, NewOrderBody], Awaitable[tuple[int, dict[str, Any]]]],
                 counts: dict[str, int] | None = None,
                 admit: Callable[[Scope, NewOrderBody], Any] | None = None,
                 durable: GroupFlush | None = None) -> None:
        self.app = app
        self.place = place
        self.admit = admit if durable is not None else None
        self.durable = durable
        self.counts = counts if counts is not None else {}
        self.counts.update(answered=0, passed=0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != ORDERS_PATH
                or scope.get("query_string") or not self._takes(scope)):
            await self.app(scope, receive, send)
            return
        message = await receive()
        body = message.get("body", b"") if message["type"] == "http.request" else b""
        new = None
        if message["type"] == "http.request" and not message.get("more_body", False):
            new = _validated(body)
        if new is None:  # the route answers it, with its own error
            self.counts["passed"] += 1
            await self.app(scope, replay_body(message, receive), send)
            return
        cycle = _cycle_of(scope)
        try:
            if self.admit is not None and cycle is not None and hasattr(cycle, "flow"):
                status, row, refusal = self.admit(scope, new)
                if refusal is None:
                    content = _order_json(row)
                    if await self._answer_after_flush(cycle, scope[SCOPE_SEND], status, content):
                        self.counts["answered"] += 1
                        return
                    await self._send(cycle, send, status, content)  # the socket was full: as below
                    self.counts["answered"] += 1
                    return
                await self.durable()  # type: ignore[misc]
                raise refusal
            status, row = await self.place(scope, new)
        except ApiError as exc:
            await error_response(exc)(scope, receive, send)
            return
        content = _order_json(row)
        self.counts["answered"] += 1
        await self._send(cycle, send, status, content)

    @staticmethod
    async def _send(cycle: Any, send: Send, status: int, content: bytes) -> None:
        start, end = _messages(status, content)
        if cycle is None:
            await send(start)
            await send(end)
            return
        real = cycle.transport
        gathered = cycle.transport = _Gathered(real)
        try:
            await send(start)
            await send(end)
        finally:
            if cycle.transport is gathered:
                cycle.transport = real
            gathered.flush()

    def _answer_after_flush(self, cycle: Any, server_send: Send, status: int, content: bytes) -> "asyncio.Future[bool]":
        """A future: True once the answer was written right after the flush (``write_now``), False when the
        task must send it itself (the socket is over its high-water mark); the flush's error if it failed."""
        answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def write_now(error: BaseException | None) -> None:
            if answered.done():  # the request's task was cancelled
                return
            if error is not None:
                answered.set_exception(error)
                return
            if cycle.flow.write_paused or cycle.response_started:
                answered.set_result(False)
                return
            start, end = _messages(status, content)
            real = cycle.transport
            gathered = cycle.transport = _Gathered(real)  # the head and body are gathered: no write waits
            try:
                _at_once(server_send(start))
                _at_once(server_send(end))
            except Exception as exc:  # noqa: BLE001 - the request's task raises it, as its own send would
                answered.set_exception(exc)
                return
            finally:
                if cycle.transport is gathered:
                    cycle.transport = real
                gathered.flush()
            answered.set_result(True)

        self.durable.after(write_now)  # type: ignore[union-attr]
        return answered

    @staticmethod
    def _takes(scope: Scope) -> bool:
        key = scope.get(SCOPE_KEY)
        if not isinstance(key, BridgeKey) or not key.allows(Permission.TRADE):
            return False  # the route's permission check answers it
        kind = [v for k, v in scope.get("headers", ()) if k.lower() == b"content-type"]
        return len(kind) == 1 and bytes(kind[0]).lower() in _JSON_TYPES


def _cycles() -> tuple[type, ...]:
    found = []
    for module in ("uvicorn.protocols.http.httptools_impl", "uvicorn.protocols.http.h11_impl"):
        try:
            found.append(importlib.import_module(module).RequestResponseCycle)
        except (ImportError, AttributeError):  # pragma: no cover - that parser is not installed
            pass
    return tuple(found)


_CYCLES = _cycles()


def _cycle_of(scope: Scope) -> Any:
    """uvicorn's request cycle under the request's ``send`` (``SCOPE_SEND``), or ``None``."""
    cycle = getattr(scope.get(SCOPE_SEND), "__self__", None)
    if type(cycle) not in _CYCLES or not hasattr(getattr(cycle, "transport", None), "write"):
        return None
    return cycle


class _Gathered:
    """Stands in for a connection's transport while one answer is sent: its writes become one (module
    docstring, Speed). Whatever else the cycle asks of it goes to the transport; a close writes first."""

    __slots__ = ("_transport", "_parts")

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self._parts.append(data)

    def flush(self) -> None:
        if self._parts:
            data = self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)
            self._parts.clear()
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _messages(status: int, content: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ASGI messages of an order answer: its head and its body."""
    return ({"type": "http.response.start", "status": status,
             "headers": [(b"content-length", str(len(content)).encode("ascii")),
                         (b"content-type", b"application/json")]},
            {"type": "http.response.body", "body": content})


def _at_once(step: Any) -> None:
    """Run the server's ``send`` coroutine ``step`` to its end without the loop: uvicorn's send waits only
    for a paused socket, which the caller has ruled out; should it wait anyway, that is an error."""
    try:
        step.send(None)
    except StopIteration:
        return
    step.close()
    raise RuntimeError("the server's send waited")


def _validated(body: bytes) -> NewOrderBody | None:
    """The body as the route's model, or ``None`` when the route must answer it (with its error)."""
    try:
        data = jsonio.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    try:
        return NewOrderBody.model_validate(data)
    except ValidationError:
        return None
