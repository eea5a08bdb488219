"""The WebSocket feed: ``subscribe`` with channels, the ``full`` and authenticated ``user`` channels, heartbeats.

Theory of operation: the feed hook (``FeedHub.on_events``, in ``state.event_hooks``) turns every
batch of engine events into the venue's ``full`` messages, in order: ``received`` when an order
arrives, ``match`` per trade (``side`` is the maker's), ``done`` when it fills or ends (``reason``
``filled``/``canceled``; an authenticated cancel the venue made adds ``cancel_reason``: 101 time in
force, 102 self-trade prevention, 106 insufficient liquidity) and, at the end of the batch, ``open``
for the orders of the batch now resting. Each message takes the product's next ``sequence``. A
``full`` subscriber gets them all; a ``user`` subscriber (authenticated) the ones about its own
orders, with ``user_id``/``profile_id`` (and ``maker_*``/``taker_*`` ids plus fee rates on matches).

A connection must subscribe within 5 seconds or it is closed. Subscribing to ``user`` or ``full``
needs the key, passphrase, timestamp and signature over ``timestamp + "GET/users/self/verify"``.
``heartbeat`` sends ``{sequence, last_trade_id, product_id, time}`` each second per product.
Faults: ``duplicate_events``, ``reorder_events`` and ``drop_user_streams_after`` act on the private
messages; ``/sim/websockets/drop`` and the ``drop_all`` lost answer cut feed connections too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from decimal import Decimal
from typing import Any

from fastapi import WebSocket

from fixgw.logsafe import printable

from ..instruments import fmt
from ..jsonio import dumps
from ..model import Event, ExecutionReport, PublicTrade
from ..outbox import Outbox
from ..state import SimState
from .auth import FEED_PATH_SIGNED, authenticate
from .errors import CoinbaseError
from .formats import iso, profile_id, user_id
from .ops import CoinbaseOps

__all__ = ["FeedHub", "serve_feed", "SUBSCRIBE_TIMEOUT_S"]

SUBSCRIBE_TIMEOUT_S = 5.0
_CHANNELS = ("full", "user", "heartbeat")
_PRIVATE = ("full", "user")
_CANCEL_REASON = {"UNFILLED_IOC_QUANTITY_EXPIRED": 101, "UNFILLED_FOK_ORDER_EXPIRED": 101,
                  "INSUFFICIENT_LIQUIDITY": 106, "INSUFFICIENT_BALANCE": 105}


class _Conn:
    """One feed connection's subscriptions."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.account: str | None = None
        self.channels: dict[str, set[str]] = {}  # channel -> product ids
        self.subscribed = asyncio.Event()


class FeedHub:
    """Formats engine events as feed messages and sends them to the subscribers."""

    def __init__(self, state: SimState, ops: CoinbaseOps, passphrase: str) -> None:
        self.state = state
        self.ops = ops
        self.passphrase = passphrase
        self.conns: set[_Conn] = set()
        self.sequence: dict[str, int] = {pid: 0 for pid in ops.products.by_product}
        self._until_drop = 0
        self._drop_armed = 0

    # -- engine events -> messages -------------------------------------------------------------
    def on_events(self, events: list[Event]) -> None:
        ops, engine = self.ops, self.ops.engine
        messages: list[tuple[dict[str, Any], tuple[str, ...]]] = []  # (message, accounts it is about)
        received: list[tuple[str, int]] = []
        for ev in events:
            if isinstance(ev, PublicTrade):
                messages.append(self._match(ev))
            elif isinstance(ev, ExecutionReport):
                o = ev.order
                if ev.exec_type == "TRADE":
                    ops.note_fee(o.symbol, o.order_id, ev.commission, ev.commission_asset, ev.last_price)
                    if o.status == "FILLED":
                        messages.append(self._done(ev, "filled", None))
                elif ev.exec_type == "NEW":
                    received.append((o.symbol, o.order_id))
                    messages.append(self._received(ev))
                elif ev.exec_type in ("CANCELED", "EXPIRED"):
                    code = 102 if o.status == "EXPIRED_IN_MATCH" else _CANCEL_REASON.get(o.expiry_reason or "")
                    if ev.exec_type == "EXPIRED" and code is None:
                        code = 101
                    messages.append(self._done(ev, "canceled", code))
        for symbol, order_id in received:
            o = engine.orders[symbol].get(order_id)
            if o is not None and not o.is_done and o in engine.books[symbol]:
                messages.append(self._open(o))
        if messages and self.conns:
            self._fan_out(messages)

    def _base(self, kind: str, symbol: str, now_ms: int) -> dict[str, Any]:
        pid = self.ops.products.product_of[symbol]
        self.sequence[pid] += 1
        return {"type": kind, "time": iso(now_ms), "product_id": pid, "sequence": self.sequence[pid]}

    def _received(self, ev: ExecutionReport) -> tuple[dict[str, Any], tuple[str, ...]]:
        o = ev.order
        msg = self._base("received", o.symbol, ev.event_time)
        msg["order_id"] = self.ops.ids.uuid_of(o.symbol, o.order_id)
        msg["order_type"] = "market" if o.type == "MARKET" else "limit"
        if o.orig_qty > 0:
            msg["size"] = fmt(o.orig_qty)
        if o.type != "MARKET":
            msg["price"] = fmt(o.price)
        elif o.quote_order_qty > 0:
            msg["funds"] = fmt(o.quote_order_qty)
        msg["side"] = o.side.lower()
        if (o.symbol, o.order_id) in self.ops.ids.client_oids:
            msg["client_oid"] = o.client_order_id
        return msg, (o.account_id,)

    def _open(self, o: Any) -> tuple[dict[str, Any], tuple[str, ...]]:
        msg = self._base("open", o.symbol, o.update_time)
        msg.update(order_id=self.ops.ids.uuid_of(o.symbol, o.order_id), price=fmt(o.price),
                   remaining_size=fmt(o.remaining), side=o.side.lower())
        return msg, (o.account_id,)

    def _done(self, ev: ExecutionReport, reason: str, code: int | None) -> tuple[dict[str, Any], tuple[str, ...]]:
        o = ev.order
        msg = self._base("done", o.symbol, ev.event_time)
        msg["order_id"] = self.ops.ids.uuid_of(o.symbol, o.order_id)
        if o.type != "MARKET":
            msg["price"] = fmt(o.price)
            msg["remaining_size"] = fmt(max(o.remaining, Decimal(0)) if reason != "filled" else Decimal(0))
        msg["side"] = o.side.lower()
        msg["reason"] = reason
        if code is not None:
            msg["cancel_reason"] = code  # only authenticated subscribers see it (``_private``)
        return msg, (o.account_id,)

    def _match(self, t: PublicTrade) -> tuple[dict[str, Any], tuple[str, ...]]:
        engine = self.ops.engine
        maker_id, taker_id = (t.buyer_order_id, t.seller_order_id) if t.buyer_is_maker else \
            (t.seller_order_id, t.buyer_order_id)
        maker, taker = engine.orders[t.symbol].get(maker_id), engine.orders[t.symbol].get(taker_id)
        msg = self._base("match", t.symbol, t.time)
        msg.update(trade_id=t.trade_id, maker_order_id=self.ops.ids.uuid_of(t.symbol, maker_id),
                   taker_order_id=self.ops.ids.uuid_of(t.symbol, taker_id),
                   side="buy" if t.buyer_is_maker else "sell", size=fmt(t.qty), price=fmt(t.price))
        accounts = tuple(o.account_id for o in (maker, taker) if o is not None)
        return msg, accounts

    def _private(self, msg: dict[str, Any], account: str) -> dict[str, Any]:
        """The message as the account's authenticated subscription sees it."""
        out = dict(msg)
        out["user_id"], out["profile_id"] = user_id(account), profile_id(account)
        if msg["type"] == "match":
            engine = self.ops.engine
            for role in ("maker", "taker"):
                found = self.ops.ids.find(msg[f"{role}_order_id"])
                o = engine.orders[found[0]].get(found[1]) if found else None
                if o is not None and o.account_id == account:
                    out[f"{role}_user_id"], out[f"{role}_profile_id"] = user_id(account), profile_id(account)
            out["maker_fee_rate"] = fmt(engine.maker_commission)
            out["taker_fee_rate"] = fmt(engine.taker_commission)
        return out

    def _fan_out(self, messages: list[tuple[dict[str, Any], tuple[str, ...]]]) -> None:
        faults = self.state.faults
        public_cache: dict[int, bytes] = {}
        per_conn: dict[_Conn, list[bytes]] = {}
        for i, (msg, accounts) in enumerate(messages):
            pid = msg["product_id"]
            for conn in list(self.conns):
                user_products = conn.channels.get("user")
                full_products = conn.channels.get("full")
                if conn.account is not None and conn.account in accounts and user_products is not None \
                        and pid in user_products:
                    per_conn.setdefault(conn, []).append(dumps(self._private(msg, conn.account)))
                elif full_products is not None and pid in full_products:
                    if conn.account is not None and conn.account in accounts:
                        per_conn.setdefault(conn, []).append(dumps(self._private(msg, conn.account)))
                    else:
                        public = public_cache.get(i)
                        if public is None:
                            public = public_cache[i] = dumps({k: v for k, v in msg.items() if k != "cancel_reason"})
                        per_conn.setdefault(conn, []).append(public)
        for conn, payloads in per_conn.items():
            if faults.reorder_events:
                payloads.reverse()
            for payload in payloads:
                conn.outbox.send_json(payload)
                if faults.duplicate_events:
                    conn.outbox.send_json(payload)
                self._count_for_drop(conn)

    def _count_for_drop(self, conn: _Conn) -> None:
        faults = self.state.faults
        if faults.drop_user_streams_after <= 0:
            self._drop_armed = 0
            return
        if self._drop_armed != faults.drop_user_streams_after:  # newly set: count from here
            self._drop_armed = self._until_drop = faults.drop_user_streams_after
        if conn.account is None:
            return
        self._until_drop -= 1
        if self._until_drop <= 0:
            faults.drop_user_streams_after = 0
            self._drop_armed = 0
            loop = asyncio.get_running_loop()
            for c in list(self.conns):
                if c.account is not None:
                    loop.call_soon(c.outbox.drop)  # after this turn's messages are written

    # -- subscriptions ---------------------------------------------------------------------------
    def subscribe(self, conn: _Conn, msg: dict[str, Any]) -> dict[str, Any]:
        """Apply a ``subscribe``/``unsubscribe``; return the ``subscriptions`` answer or raise ``CoinbaseError``."""
        root = msg.get("product_ids") or []
        channels = msg.get("channels")
        if not isinstance(root, list) or not isinstance(channels, list) or not channels:
            raise CoinbaseError(400, "Failed to subscribe: channels and product_ids must be lists")
        wanted: dict[str, list[str]] = {}
        for ch in channels:
            if isinstance(ch, str):
                name, products = ch, root
            elif isinstance(ch, dict) and isinstance(ch.get("name"), str):
                name, products = ch["name"], ch.get("product_ids") or root
            else:
                raise CoinbaseError(400, "Failed to subscribe: a channel is a name or {name, product_ids}")
            if name not in _CHANNELS:
                raise CoinbaseError(400, f"Failed to subscribe: {printable(name)} is not a valid channel")
            if not isinstance(products, list) or not products:
                raise CoinbaseError(400, f"Failed to subscribe: {name} needs product_ids")
            for pid in products:
                if self.ops.products.spec(pid) is None:
                    raise CoinbaseError(400, f"Failed to subscribe: {printable(str(pid))} is not a valid product")
            wanted.setdefault(name, []).extend(self.ops.products.product_of[self.ops.products.spec(p).symbol]
                                               for p in products)  # type: ignore[union-attr]
        if msg.get("type") == "unsubscribe":
            for name, products in wanted.items():
                conn.channels.get(name, set()).difference_update(products)
        else:
            if any(name in _PRIVATE for name in wanted) and conn.account is None:
                key = authenticate(self.state.keys, self.passphrase, key=_s(msg.get("key")),
                                   sign_b64=_s(msg.get("signature")), timestamp=_s(msg.get("timestamp")),
                                   phrase=_s(msg.get("passphrase")), method="GET", paths=(FEED_PATH_SIGNED,),
                                   body="", now_ms=self.state.now_ms())
                conn.account = key.account_id
            for name, products in wanted.items():
                conn.channels.setdefault(name, set()).update(products)
            conn.subscribed.set()
        return {"type": "subscriptions", "channels": [
            {"name": name, "product_ids": sorted(products)} for name, products in conn.channels.items() if products]}

    async def heartbeats(self, conn: _Conn) -> None:
        while not conn.outbox.closed:
            await asyncio.sleep(1.0)
            products = conn.channels.get("heartbeat")
            if not products:
                continue
            now = self.state.now_ms()
            for pid in sorted(products):
                spec = self.ops.products.by_product[pid]
                trades = self.ops.engine.trades[spec.symbol]
                conn.outbox.send({"type": "heartbeat", "sequence": self.sequence[pid],
                                  "last_trade_id": trades[-1].trade_id if trades else 0, "product_id": pid,
                                  "time": iso(now)})


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) else None


async def serve_feed(hub: FeedHub, websocket: WebSocket) -> None:
    """Serve one feed connection until it closes."""
    await websocket.accept()
    state = hub.state
    outbox = Outbox(websocket)
    conn = _Conn(outbox)
    hub.conns.add(conn)
    state.connections.add(outbox)
    tasks = [asyncio.create_task(outbox.run()), asyncio.create_task(hub.heartbeats(conn))]

    async def deadline() -> None:
        try:
            await asyncio.wait_for(conn.subscribed.wait(), SUBSCRIBE_TIMEOUT_S)
        except asyncio.TimeoutError:
            outbox.send({"type": "error", "message": "Failed to subscribe", "reason": "subscribe within 5 seconds"})
            outbox.close()  # the error leaves first, then the close
            await asyncio.sleep(0)
            with contextlib.suppress(RuntimeError):
                await websocket.close(code=1000)

    tasks.append(asyncio.create_task(deadline()))
    try:
        while not outbox.closed:
            try:
                text = await websocket.receive_text()
            except (RuntimeError, KeyError):
                break
            try:
                msg = json.loads(text)
            except ValueError:
                outbox.send({"type": "error", "message": "Malformed JSON", "reason": "the message is not JSON"})
                continue
            if not isinstance(msg, dict) or msg.get("type") not in ("subscribe", "unsubscribe"):
                outbox.send({"type": "error", "message": "Failed to subscribe",
                             "reason": "type must be subscribe or unsubscribe"})
                continue
            try:
                outbox.send(hub.subscribe(conn, msg))
            except CoinbaseError as err:
                outbox.send({"type": "error", "message": "Failed to subscribe", "reason": err.message})
    except Exception:  # the peer went away (WebSocketDisconnect and the like)
        pass
    finally:
        hub.conns.discard(conn)
        state.connections.discard(outbox)
        outbox.close()
        for t in tasks[1:]:
            t.cancel()
        try:
            await asyncio.wait_for(tasks[0], timeout=1)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            tasks[0].cancel()
