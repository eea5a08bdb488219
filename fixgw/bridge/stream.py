"""``/v1/stream``: the WebSocket drop copy of every order event, and the sessions' and venues' states.

Query parameters (all optional, part of the signed upgrade request):

- ``channels``: comma-separated, of ``orders`` (every order event, fills included; ``read``), ``fills``
  (fills only; ``read``), ``sessions`` and ``venues`` (their state, sent when it changes; ``read``),
  and the market-data channels ``book:<symbol>``, ``trades:<symbol>``, ``candles:<symbol>`` (``read``;
  not journal-backed, conflated, also asked for with ``subscribe`` messages: ``md_stream.py``).
  Default ``orders``.
- ``fixgw_key``, ``fixgw_timestamp``, ``fixgw_signature``: the signature in the query, for a browser
  (which cannot set the upgrade's headers); see ``auth.websocket_credentials``.
- ``since``: the last event id the client has; the events after it are sent first, then live ones,
  with no gap and no duplicate. Without it: live events only. An id older than the bridge still holds
  closes the stream with reason ``since_too_old`` (read the gap with ``GET /v1/orders``).

Order events are those of the accounts the key names (``BridgeKey.accounts``); the event ids still count
every event, so a key that reads some accounts sees gaps in them.

Messages are JSON objects with a ``type``: ``hello`` (first; ``last_id`` is the newest event id),
``event`` (``id``, ``account``, ``order_id``, ``kind``, ``event``: the journaled event, amounts as
decimal strings), ``heartbeat`` (every ``heartbeat`` seconds, with ``last_id``), ``pong`` (the answer to
a client's ``{"type": "ping"}``), ``sessions``, ``venues``. The client must send something (a ping) at
least every three heartbeat intervals, or it is closed (``heartbeat_timeout``). A client that falls
``queue`` events behind is closed (``slow_consumer``): the gateway never waits for a reader.
Close codes: 4400 bad parameters, 4403 a channel the key may not read, 4408 heartbeat timeout,
4409 slow consumer, 4410 ``since`` too old, 1013 the gateway still starting.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from typing import Any

import anyio
from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

from fixgw.logsafe import printable

from .auth import QUERY_PARAMS
from .errors import ApiError
from .fanout import DirectLine, FanOut, Reader
from .keys import BridgeKey, Permission
from .md_stream import MarketStream, is_market_channel
from .middleware import SCOPE_KEY, SCOPE_SEND
from .view import GatewayView

__all__ = ["stream_endpoint", "CHANNELS"]

log = logging.getLogger("fixgw.bridge")

#: Channel -> the permission it needs.
CHANNELS = {"orders": Permission.READ, "fills": Permission.READ, "sessions": Permission.READ,
            "venues": Permission.READ}
_MAX_SINCE = 2**62


class _Closed(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _params(websocket: WebSocket, key: BridgeKey) -> tuple[set[str], int | None, list[str]]:
    q = websocket.query_params
    unknown = set(q.keys()) - {"channels", "since"} - QUERY_PARAMS  # the signature in the query: auth.py
    if unknown:
        raise _Closed(4400, "unknown parameter")
    names = [c for c in (q.get("channels") or "orders").split(",") if c]
    market = [c for c in names if is_market_channel(c)]  # book:, trades:, candles: (md_stream.py; read)
    channels = set(names) - set(market)
    if not channels and not market or not channels <= set(CHANNELS):
        raise _Closed(4400, "channels: orders, fills, sessions, venues, book:, trades:, candles:")
    if any(not key.allows(CHANNELS[c]) for c in channels):
        raise _Closed(4403, "missing_permission")
    since = q.get("since")
    if since is None:
        return channels, None, market
    if not since.isdigit() or len(since) > 18 or int(since) > _MAX_SINCE:
        raise _Closed(4400, "since: an event id")
    return channels, int(since), market


def stream_endpoint(view: GatewayView, heartbeat: float, queue: int, market: Any = None, *,
                    direct: bool = True) -> Any:
    """The WebSocket endpoint over ``view`` (``heartbeat`` seconds, ``queue`` events of slack);
    ``market``: the ``MarketWatch`` serving the market-data channels (``md_stream.py``); ``direct``: order
    events written by the feed's ``FanOut`` where the server allows it (``fanout.py``; off only to compare)."""
    fanouts: weakref.WeakKeyDictionary[Any, FanOut] = weakref.WeakKeyDictionary()

    def fanout_of(feed: Any) -> FanOut | None:
        if not direct:
            return None
        try:
            found = fanouts.get(feed)
            if found is None:
                found = fanouts[feed] = FanOut(feed)
        except TypeError:  # a feed that cannot be weakly referenced: the ASGI send only
            return None
        return found

    async def stream(websocket: WebSocket) -> None:
        key: BridgeKey = websocket.scope[SCOPE_KEY]
        await websocket.accept()
        line = DirectLine.of(websocket.scope.get(SCOPE_SEND))  # None: not a server fanout.py knows
        sub = md = None
        feed = view.event_feed()
        try:
            channels, since, md_specs = _params(websocket, key)
            if feed is None:
                raise _Closed(1013, "not_ready")
            md = MarketStream(market) if market is not None else None
            if md is not None and md_specs:
                try:
                    md.subscribe(md_specs)
                except ApiError as exc:
                    raise _Closed(1013 if exc.status == 503 else 4400, exc.code) from None
            subscribed = feed.subscribe(since, queue)
            if subscribed is None:
                raise _Closed(4410, "since_too_old")
            replay, sub = subscribed
            hello = {"type": "hello", "key": key.key_id, "channels": sorted(channels),
                     "permissions": sorted(p.value for p in key.permissions), "last_id": feed.last_id}
            if md is not None and md.channels:  # market data: no event ids, never replayed by since=
                hello["market_data"] = {"channels": sorted(md.channels), "replay": False}
            await websocket.send_json(hello)
            fan = fanout_of(feed) if line is not None else None
            await _serve(websocket, view, feed, sub, replay, channels, heartbeat, _account_filter(view, key), md,
                         (fan, line) if fan is not None and line is not None else None)
        except _Closed as closed:
            log.info("bridge stream of key %s closed: %s", printable(key.key_id), closed.reason)
            await _close(websocket, closed.code, closed.reason, line)
        except WebSocketDisconnect:
            pass
        finally:
            if sub is not None and feed is not None:
                feed.unsubscribe(sub)
            if md is not None:
                md.close()

    stream.fanouts = fanouts  # type: ignore[attr-defined]  # for tests: the feed's FanOut and its counts
    return stream


def _account_filter(view: GatewayView, key: BridgeKey) -> Any:
    """``None`` for a key that reads every account, else the order account keys (``oms_R``,
    ``CLIENT44_44``) whose events it may read (accounts are fixed while the gateway runs)."""
    if key.accounts is None:
        return None
    return frozenset(k for k, name in view.account_names().items() if key.allows_account(name))


async def _close(websocket: WebSocket, code: int, reason: str, line: DirectLine | None = None) -> None:
    if line is not None:  # without waiting for the socket: a slow consumer's may never drain
        line.close(code, reason)
        return
    try:
        await websocket.close(code=code, reason=reason)
    except (RuntimeError, WebSocketDisconnect):  # already closed by the peer
        pass


async def _serve(websocket: WebSocket, view: GatewayView, feed: Any, sub: Any, replay: list[Any],
                 channels: set[str], heartbeat: float, accounts: frozenset[str] | None = None,
                 md: MarketStream | None = None, direct: tuple[FanOut, DirectLine] | None = None) -> None:
    wanted_all = "orders" in channels
    wanted_fills = "fills" in channels

    def wanted(event: Any) -> bool:
        if accounts is not None and event.account not in accounts:
            return False
        return wanted_all or (wanted_fills and event.is_fill)

    # The writer sleeps on a bare future, woken by the feed (``sub.wake``), the market data or a ticker
    # every ``tick`` seconds: with many clients every event wakes every writer, so a wake must be cheap
    # (a cancel scope and a fresh event per wake cost several times the send itself).
    loop = asyncio.get_running_loop()
    tick = min(heartbeat, 1.0)
    waiter: asyncio.Future[None] | None = None
    pending = True  # events may have queued before the writer started: look at once
    outcome: list[BaseException] = []
    group: anyio.CancelScope | None = None

    def wake() -> None:
        nonlocal pending
        pending = True
        if sub.overflowed and group is not None and not outcome:
            # Cut off now, even while the writer waits for a socket that does not drain.
            outcome.append(_Closed(4409, "slow_consumer"))
            group.cancel()
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def ticked() -> None:
        nonlocal ticker
        wake()
        ticker = loop.call_later(tick, ticked)

    ticker = loop.call_later(tick, ticked)
    # Direct (fanout.py): once caught up, the queue is the fan-out's, which writes its events itself and
    # wakes this task only to hand the queue back (socket not writable, overflow, closing).
    reader: Reader | None = direct[0].reader(sub, wanted, direct[1], wake) if direct is not None else None
    sub.wake = reader.wake if reader is not None else wake
    if md is not None:
        md.wake = wake
    heard = anyio.current_time()
    states: dict[str, Any] = {}

    async def send_events(events: list[Any]) -> None:
        if not events:
            return
        feed.flush()  # nothing leaves before it is durable
        for event in events:
            if wanted(event):
                await websocket.send_text(event.text())  # encoded once for every client

    async def send_states() -> None:
        for name, read in (("sessions", view.sessions), ("venues", view.venues)):
            if name in channels:
                rows = [r.as_json() for r in read()]
                if states.get(name) != rows:
                    states[name] = rows
                    await websocket.send_json({"type": name, name: rows})

    async def receive() -> None:
        nonlocal heard
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            heard = anyio.current_time()
            text = message.get("text")
            try:
                kind = json.loads(text).get("type") if text is not None else None
            except (ValueError, AttributeError):
                kind = None
            if kind == "ping":
                await websocket.send_json({"type": "pong", "last_id": feed.last_id})
            elif kind in ("subscribe", "unsubscribe") and md is not None:
                await websocket.send_json(md.answer(json.loads(text)))

    async def send() -> None:
        nonlocal waiter, pending
        await send_events(replay)
        await send_states()
        for text in md.messages() if md is not None else ():
            await websocket.send_text(text)
        next_beat = anyio.current_time() + heartbeat
        while True:
            if not pending:  # a wake since the last turn: go on at once
                waiter = loop.create_future()
                try:
                    await waiter
                finally:
                    waiter = None
            pending = False
            if sub.overflowed:
                raise _Closed(4409, "slow_consumer")
            if reader is None or not reader.direct:
                events = list(sub.queue)
                sub.queue.clear()
                await send_events(events)
                if reader is not None and not sub.queue and reader.line.ready():
                    reader.direct = True  # caught up: the fan-out writes the next events
            if md is not None:  # market data: made now from the current state (conflated), not queued
                for text in md.messages():
                    await websocket.send_text(text)
            now = anyio.current_time()
            if now - heard > 3 * heartbeat:
                raise _Closed(4408, "heartbeat_timeout")
            if now >= next_beat:
                next_beat = now + heartbeat
                await websocket.send_json({"type": "heartbeat", "last_id": feed.last_id})
                await send_states()

    async def guarded(fn: Any, scope: anyio.CancelScope) -> None:
        try:
            await fn()
        except (_Closed, WebSocketDisconnect) as exc:
            outcome.append(exc)
        finally:
            scope.cancel()  # either side ending ends the stream

    try:
        async with anyio.create_task_group() as tg:
            group = tg.cancel_scope
            tg.start_soon(guarded, receive, tg.cancel_scope)
            tg.start_soon(guarded, send, tg.cancel_scope)
    finally:
        ticker.cancel()
        sub.wake = None
        if reader is not None:
            reader.direct = False  # the fan-out writes nothing more to this client
    if outcome:
        raise outcome[0]
