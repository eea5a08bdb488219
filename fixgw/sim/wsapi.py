"""WebSocket endpoints: the WebSocket API (requests, sessions, user-data subscriptions) and the
public market streams.

WebSocket API requests are ``{"id", "method", "params"}``; answers ``{"id", "status", "result" |
"error", "rateLimits"}``. User-data events arrive as ``{"subscriptionId": n, "event": {...}}`` after
``userDataStream.subscribe.signature`` (any key type) or ``session.logon`` (Ed25519 keys only)
followed by ``userDataStream.subscribe``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Awaitable, Callable

from fastapi import WebSocket, WebSocketDisconnect

from fixgw.logsafe import printable

from .errors import ApiError
from .jsonio import loads_request
from .ops import WS_METHODS, Context, Params
from .signing import verify, ws_payload
from .state import Outbox, SimState

__all__ = ["serve_ws_api", "serve_market_stream"]

_TIMEOUT_ERROR = {
    "code": -1007,
    "msg": "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
}


class _Session:
    """Per-connection state of the WebSocket API."""

    def __init__(self, state: SimState, outbox: Outbox, ip: str) -> None:
        self.state = state
        self.outbox = outbox
        self.ip = ip
        self.account: str | None = None
        self.api_key: str | None = None
        self.authorized_since: int | None = None
        self.connected_since = state.now_ms()
        self.subscriptions: dict[str, int] = {}  # account -> subscription id
        self.next_sub_id = 0

    def rate_limits(self, used: int, order_counts: tuple[int, int] | None = None) -> list[dict[str, Any]]:
        cfg = self.state.config.limits
        weight = {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                  "limit": cfg.weight_per_minute, "count": used}
        if order_counts is None:
            return [weight]
        return [{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
                 "limit": cfg.orders_per_10s, "count": order_counts[0]},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1,
                 "limit": cfg.orders_per_day, "count": order_counts[1]},
                weight]

    def _read(self, text: str) -> dict[str, Any] | None:
        """The request as a JSON object, or None once the invalid request is answered."""
        try:
            msg = loads_request(text)
        except ValueError:
            msg = None
        if not isinstance(msg, dict):
            self.outbox.send({"id": None, "status": 400, "error": {"code": -1135, "msg": "Invalid JSON Request"}})
            return None
        return msg

    async def handle(self, text: str) -> None:
        """Answer one request (the latency fault delays it, with other requests running meanwhile)."""
        state = self.state
        now = state.now_ms()
        msg = self._read(text)
        if msg is None:
            return
        used = 0
        if state.faults.latency_ms > 0:  # other requests run during the delay: note it before
            used = state.limiter.used_weight(self.ip, now)
            await state.delay()
        self._run(msg, now, used)

    def handle_now(self, text: str) -> None:
        """``handle`` when no latency fault is set: it then never waits, so it runs as a plain call."""
        now = self.state.now_ms()
        msg = self._read(text)
        if msg is not None:
            self._run(msg, now, 0)

    def _run(self, msg: dict[str, Any], now: int, used: int) -> None:
        """Run a request and answer it; ``used``: the weight found before a latency fault's delay."""
        state = self.state
        req_id = msg.get("id")
        method = msg.get("method")
        raw = msg.get("params") or {}
        order_counts = None
        # ``used``: the weight this request finds; an error answer reads it again (nothing runs between)
        try:
            if not isinstance(raw, dict):
                raise ApiError(-1135, "Invalid JSON Request")
            params = Params.from_json(raw)
            local = _LOCAL.get(method)  # type: ignore[arg-type]
            if local is not None:
                used = state.charge(self.ip, 2, now)
                result = local(self, raw, params, now)
            else:
                op = WS_METHODS.get(method)  # type: ignore[arg-type]
                if op is None:
                    raise ApiError(-1020, "This operation is not supported.")
                used = state.charge(self.ip, op.weight(params), now)
                account = None
                if op.signed:
                    account = state.authenticate_ws(raw, params, now, self.account)
                if op.places_order:
                    assert account is not None
                    for _ in range(op.places_order):  # an order list counts each of its orders
                        order_counts = state.limiter.charge_order(account, now)
                ctx = Context(state.engine, account, now, True, state.rate_limits_json, state.market)
                result = op.fn(ctx, params)
                state.publish()
                if op.places_order and state.faults.order_timeouts > 0:
                    self._lost_answer(req_id)
                    return
        except ApiError as err:
            state.publish()
            error: dict[str, Any] = {"code": err.code, "msg": err.msg}
            if err.data is not None:
                error["data"] = err.data
            if err.retry_after_ms is not None:
                error["data"] = {"retryAfter": err.retry_after_ms}
            used = max(used, state.limiter.used_weight(self.ip, now))
            self.outbox.send({"id": req_id, "status": err.status, "error": error,
                              "rateLimits": self.rate_limits(used, order_counts)})
            return
        self.outbox.send({"id": req_id, "status": 200, "result": result,
                          "rateLimits": self.rate_limits(used, order_counts)})

    def _lost_answer(self, req_id: Any) -> None:
        """The order is in the book, but its answer is lost (fault injection). A hung answer holds
        back only itself: later requests on the connection are answered meanwhile, as at the venue."""
        faults = self.state.faults
        faults.order_timeouts -= 1
        if faults.order_timeout_mode == "drop":
            self.outbox.drop()
            return
        if faults.order_timeout_mode == "drop_all":  # before any queued event of this order is written
            self.state.drop_websockets()
            return
        answer = {"id": req_id, "status": 503, "error": dict(_TIMEOUT_ERROR)}
        if faults.order_timeout_mode == "hang":
            asyncio.get_running_loop().call_later(faults.hang_seconds, self.outbox.send, answer)
            return
        self.outbox.send(answer)

    # -- session and user-data methods ---------------------------------------------------------
    def _status(self, now: int) -> dict[str, Any]:
        return {
            "apiKey": self.api_key,
            "authorizedSince": self.authorized_since,
            "connectedSince": self.connected_since,
            "returnRateLimits": True,
            "serverTime": now,
            "userDataStream": bool(self.subscriptions),
        }

    def logon(self, raw: dict[str, Any], params: Params, now: int) -> Any:
        key = self.state.key_for(raw.get("apiKey"))
        if not key.is_ed25519:
            raise ApiError(-4056, "HMAC_SHA256 API key is not supported.")
        params.str("timestamp", True)
        if not raw.get("signature") or not verify(key, ws_payload(raw), str(raw["signature"])):
            raise ApiError(-1022, "Signature for this request is not valid.")
        self.state.check_timestamp(params, now)
        self.account, self.api_key, self.authorized_since = key.account_id, key.api_key, now
        return self._status(now)

    def session_status(self, raw: dict[str, Any], params: Params, now: int) -> Any:
        return self._status(now)

    def logout(self, raw: dict[str, Any], params: Params, now: int) -> Any:
        self.account = self.api_key = self.authorized_since = None
        return self._status(now)

    def _subscribe(self, account: str) -> dict[str, Any]:
        if account in self.subscriptions:
            raise ApiError(-2035, "User Data Stream subscription already active.")
        sub_id = self.next_sub_id
        self.next_sub_id += 1
        self.subscriptions[account] = sub_id
        self.state.user_subs.setdefault(account, []).append((self.outbox, sub_id))
        return {"subscriptionId": sub_id}

    def subscribe(self, raw: dict[str, Any], params: Params, now: int) -> Any:
        if self.account is None:
            raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
        return self._subscribe(self.account)

    def subscribe_signature(self, raw: dict[str, Any], params: Params, now: int) -> Any:
        if "signature" not in raw:
            raise ApiError(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        account = self.state.authenticate_ws(raw, params, now, None)
        return self._subscribe(account)

    def unsubscribe(self, raw: dict[str, Any], params: Params, now: int) -> Any:
        sub_id = params.int("subscriptionId")
        if sub_id is not None and sub_id not in self.subscriptions.values():
            raise ApiError(-2036, "User Data Stream subscription not active.")
        for account, sid in list(self.subscriptions.items()):
            if sub_id is None or sid == sub_id:
                del self.subscriptions[account]
                self.state.unsubscribe_user(self.outbox, sid)
        return {}

    def list_subscriptions(self, raw: dict[str, Any], params: Params, now: int) -> Any:
        return [{"subscriptionId": sid} for sid in sorted(self.subscriptions.values())]


_LOCAL = {
    "session.logon": _Session.logon,
    "session.status": _Session.session_status,
    "session.logout": _Session.logout,
    "userDataStream.subscribe": _Session.subscribe,
    "userDataStream.subscribe.signature": _Session.subscribe_signature,
    "userDataStream.unsubscribe": _Session.unsubscribe,
    "session.subscriptions": _Session.list_subscriptions,
}


_FAILED = "fixgw.sim.failed"  # an inbox message: a request run at once raised this (``error``)
_ENDED = "fixgw.sim.ended"  # an inbox message: a request run at once closed the connection


def _text_receiver(websocket: WebSocket, outbox: Outbox, run_now: Callable[[str], None] | None = None,
                   can_run_now: Callable[[], bool] | None = None) -> Callable[[], Awaitable[str | None]]:
    """A function that waits for the peer's next text message; None once the peer is gone.

    On uvicorn's sans-I/O protocol the messages are taken from its queue directly and the socket is
    never paused between them: through ASGI ``receive`` every message costs a pause and a resume of
    reading (two system calls), though requests are handled as soon as they are read.

    ``run_now`` (with ``can_run_now``): on that protocol, a text message that finds the reader idle
    (waiting, nothing queued before it) and ``can_run_now()`` true is not queued: ``run_now(text)``
    handles it at once, where the protocol reads it, without the wake-up of the reading task and the
    extra event-loop turn that queueing costs (for a request that never waits, the same work in the
    same order). Everything else queues as before, behind what is queued. Should a request run at
    once raise, or close the connection, the reading task hears it next and ends as it would have.
    """
    proto = outbox.sansio_protocol
    if proto is None:
        async def receive_text() -> str | None:
            try:
                return await websocket.receive_text()
            except (WebSocketDisconnect, RuntimeError, KeyError):  # KeyError: a binary message
                return None

        return receive_text
    queue = proto.queue
    if proto.read_paused:  # uvicorn paused reading for the app: take over with reading on
        proto.read_paused = False
        proto.transport.resume_reading()
    proto.read_paused = True  # so uvicorn never pauses it again
    idle = [False]  # the reading task waits on an empty queue

    if run_now is not None and can_run_now is not None:
        queue_put = queue.put_nowait

        def put_nowait(message: Any) -> None:
            if idle[0] and not queue.qsize() and not outbox.closed and message.get("type") == "websocket.receive":
                text = message.get("text")
                if isinstance(text, str) and can_run_now():
                    try:
                        run_now(text)
                    except Exception as exc:  # the reading task raises it, as if it had run the request
                        queue_put({"type": _FAILED, "error": exc})
                        return
                    if outbox.closed:  # the reading task stops here, as after a request it ran itself
                        queue_put({"type": _ENDED})
                    return
            queue_put(message)

        queue.put_nowait = put_nowait  # what uvicorn calls for every message it reads

    async def receive_direct() -> str | None:
        if queue.qsize():
            message = queue.get_nowait()
        else:
            idle[0] = True
            try:
                message = await queue.get()
            finally:
                idle[0] = False
        kind = message["type"]
        if kind == _FAILED:
            raise message["error"]
        text = message.get("text") if kind == "websocket.receive" else None
        return text if isinstance(text, str) else None

    return receive_direct


async def _serve(state: SimState, websocket: WebSocket, on_text: Any, outbox: Outbox,
                 on_text_now: Callable[[str], None] | None = None) -> None:
    state.connections.add(outbox)
    writer = asyncio.create_task(outbox.run())
    receive = _text_receiver(websocket, outbox, on_text_now, lambda: state.faults.latency_ms <= 0)
    try:
        while not outbox.closed:
            text = await receive()
            if text is None:
                break
            await on_text(text)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        state.unsubscribe_user(outbox)
        state.unsubscribe_market(outbox)
        state.connections.discard(outbox)
        outbox.close()
        try:
            await asyncio.wait_for(writer, timeout=1)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            writer.cancel()


async def serve_ws_api(state: SimState, websocket: WebSocket) -> None:
    """Serve one WebSocket API connection."""
    await websocket.accept()
    outbox = Outbox(websocket)
    session = _Session(state, outbox, websocket.client.host if websocket.client else "unknown")
    await _serve(state, websocket, session.handle, outbox, session.handle_now)


async def serve_market_stream(state: SimState, websocket: WebSocket, names: list[str], combined: bool) -> None:
    """Serve raw (``/ws/<stream>``) or combined (``/stream?streams=``) market data.

    Control frames: ``SUBSCRIBE`` / ``UNSUBSCRIBE`` (params: stream names), ``LIST_SUBSCRIPTIONS``,
    ``SET_PROPERTY ["combined", bool]`` and ``GET_PROPERTY ["combined"]``; answers ``{"result", "id"}``
    or ``{"error": {"code", "msg"}, "id"}``.
    """
    await websocket.accept()
    outbox = Outbox(websocket)
    wrapped = [combined]  # the "combined" property of the connection
    for name in names:
        state.subscribe_market(outbox, name, combined)

    def error(code: int, msg: str, req_id: Any) -> None:
        outbox.send({"error": {"code": code, "msg": msg}, "id": req_id})

    async def on_text(text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError as e:
            error(3, f"Invalid JSON: {e}", None)
            return
        if not isinstance(msg, dict):
            error(2, "Invalid request: request must be a JSON object", None)
            return
        req_id = msg.get("id")
        method, params = msg.get("method"), msg.get("params", [])
        if not isinstance(params, list):
            error(2, "Invalid request: params must be an array", req_id)
            return
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not all(isinstance(n, str) for n in params):
                error(2, "Invalid request: stream names must be strings", req_id)
                return
            if method == "SUBSCRIBE":
                unknown = [n for n in params if state.market.spec(n) is None]
                if unknown:
                    error(2, f"Invalid request: unknown stream {printable(unknown[0])}", req_id)
                    return
                for name in params:
                    state.subscribe_market(outbox, name, wrapped[0])
            else:
                for name in params:
                    state.unsubscribe_market(outbox, name)
            outbox.send({"result": None, "id": req_id})
        elif method == "LIST_SUBSCRIPTIONS":
            outbox.send({"result": state.market.streams_of(outbox), "id": req_id})
        elif method == "SET_PROPERTY":
            if len(params) != 2 or params[0] != "combined":
                error(0, "Unknown property", req_id)
            elif not isinstance(params[1], bool):
                error(1, "Invalid value type: expected Boolean", req_id)
            else:
                wrapped[0] = params[1]
                for name in state.market.streams_of(outbox):  # the new form for every stream
                    state.unsubscribe_market(outbox, name)
                    state.subscribe_market(outbox, name, params[1])
                outbox.send({"result": None, "id": req_id})
        elif method == "GET_PROPERTY":
            if params != ["combined"]:
                error(0, "Unknown property", req_id)
            else:
                outbox.send({"result": wrapped[0], "id": req_id})
        else:
            error(2, "Invalid request: unknown method", req_id)

    await _serve(state, websocket, on_text, outbox)
