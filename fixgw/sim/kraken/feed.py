"""Kraken WebSocket v2 (``/v2``): the private ``executions`` channel and order methods.

Requests are ``{"method", "params", "req_id"}``; answers ``{"method", "req_id", "success", "result" |
"error", "time_in", "time_out"}`` (an error is one string). A ``status`` frame greets each
connection. ``subscribe`` to ``executions`` needs a token from REST ``GetWebSocketsToken`` (unused
tokens expire after 15 minutes; one in use stays valid); it answers with a snapshot of the open
orders (``snap_orders``, default true) and the last 50 fills (``snap_trades``, default false), then
every order event of the account as ``{"channel": "executions", "type": "update", "data": [...],
"sequence": n}``. ``add_order``, ``amend_order``, ``cancel_order`` and ``cancel_all`` place and
change orders with the same rules as REST. ``ping`` answers ``pong``. Fault switches
``duplicate_events``, ``reorder_events`` and ``drop_user_streams_after`` apply to executions.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from ..model import Event, ExecutionReport
from ..outbox import Outbox
from ..state import SimState
from . import formats
from .errors import INVALID_TOKEN, UNAVAILABLE, KrakenError, invalid_arguments
from .venue import KrakenVenue

__all__ = ["FeedHub"]

_IDS = itertools.count(1)


class _Conn:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.account: str | None = None
        self.token: str | None = None
        self.sequence = 0

    def send_data(self, kind: str, data: list[dict[str, Any]]) -> None:
        self.sequence += 1
        self.outbox.send_json(formats.dumps_numbers(
            {"channel": "executions", "type": kind, "data": data, "sequence": self.sequence}))


class FeedHub:
    """Every WebSocket v2 connection of one simulator, and the executions fan-out."""

    def __init__(self, state: SimState, venue: KrakenVenue) -> None:
        self.state = state
        self.venue = venue
        self.subs: dict[str, list[_Conn]] = {}
        state.event_hooks.append(self.on_events)

    # == fan-out ==================================================================================
    def on_events(self, events: list[Event]) -> None:
        per_account: dict[str, list[list[dict[str, Any]]]] = {}
        venue = self.venue
        for ev in events:
            if type(ev) is not ExecutionReport or not self.subs.get(ev.account_id):
                continue
            o = ev.order
            fill_txid = venue.fill_txid(o.symbol, ev.trade_id, o.order_id) if ev.exec_type == "TRADE" else None
            entries = formats.execution_entries(ev, venue.pairs.engine(o.symbol), venue.txid(o), fill_txid,
                                                venue.userref(o))
            if entries:
                per_account.setdefault(ev.account_id, []).append(entries)
        faults = self.state.faults
        for account, batches in per_account.items():
            if faults.reorder_events:
                batches = list(reversed(batches))
            for data in batches:
                for conn in list(self.subs.get(account, ())):
                    conn.send_data("update", data)
                    if faults.duplicate_events:
                        conn.send_data("update", data)
                self._count_for_drop()

    def _count_for_drop(self) -> None:
        state = self.state
        if state._events_until_drop <= 0:
            return
        state._events_until_drop -= 1
        if state._events_until_drop == 0:
            state.faults.drop_user_streams_after = 0
            for conns in list(self.subs.values()):
                for conn in list(conns):
                    conn.outbox.drop()

    def _unsubscribe(self, conn: _Conn) -> None:
        if conn.account is not None:
            conns = self.subs.get(conn.account, [])
            if conn in conns:
                conns.remove(conn)

    # == one connection ===========================================================================
    async def serve(self, websocket: WebSocket) -> None:
        await websocket.accept()
        outbox = Outbox(websocket)
        conn = _Conn(outbox)
        state = self.state
        state.connections.add(outbox)
        writer = asyncio.create_task(outbox.run())
        outbox.send({"channel": "status", "type": "update", "data": [
            {"version": "2.0.10", "system": "online", "api_version": "v2", "connection_id": next(_IDS)}]})
        try:
            while not outbox.closed:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None and message.get("bytes") is not None:
                    text = message["bytes"].decode("utf-8", "replace")
                if text is not None:
                    await self._handle(conn, text)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self._unsubscribe(conn)
            state.connections.discard(outbox)
            outbox.close()
            try:
                await asyncio.wait_for(writer, timeout=1)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                writer.cancel()

    async def _handle(self, conn: _Conn, text: str) -> None:
        state = self.state
        time_in = formats.rfc3339(state.now_ms())
        try:
            msg = json.loads(text, parse_float=str)
        except ValueError:
            conn.outbox.send({"error": "EGeneral:Invalid arguments", "success": False, "time_in": time_in,
                              "time_out": time_in})
            return
        if not isinstance(msg, dict):
            msg = {}
        method, req_id = msg.get("method"), msg.get("req_id")
        params = msg.get("params") if isinstance(msg.get("params"), dict) else {}
        reply: dict[str, Any] = {"method": method}
        if req_id is not None:
            reply["req_id"] = req_id
        await state.delay()
        lost = False
        try:
            if method == "ping":
                reply["method"] = "pong"
                reply.update(time_in=time_in, time_out=formats.rfc3339(state.now_ms()))
                conn.outbox.send(reply)
                return
            if method == "subscribe":
                result = self._subscribe(conn, params)
            elif method == "unsubscribe":
                self._unsubscribe(conn)
                result = {"channel": "executions"}
            elif method in ("add_order", "amend_order", "cancel_order", "cancel_all"):
                account = self._account(conn, params)
                now = state.now_ms()
                result = getattr(self, "_" + method)(account, params, now)
                lost = method == "add_order" and state.faults.order_timeouts > 0 and not params.get("validate")
            else:
                raise KrakenError("EGeneral:Invalid arguments:method")
            state.publish()
        except KrakenError as err:
            state.publish()
            reply.update(success=False, error=err.error, time_in=time_in, time_out=formats.rfc3339(state.now_ms()))
            conn.outbox.send(reply)
            return
        if lost:
            await self._lose_answer(conn, reply, time_in)
            return
        reply.update(result=result, success=True, time_in=time_in, time_out=formats.rfc3339(state.now_ms()))
        conn.outbox.send(reply)
        if method == "subscribe":
            self._snapshot(conn, params)

    async def _lose_answer(self, conn: _Conn, reply: dict[str, Any], time_in: str) -> None:
        faults = self.state.faults
        faults.order_timeouts -= 1
        mode = faults.order_timeout_mode
        if mode in ("drop", "drop_all"):
            if mode == "drop_all":
                self.state.drop_websockets()
            else:
                conn.outbox.drop()
            return
        if mode == "hang":
            await asyncio.sleep(faults.hang_seconds)
        reply.update(success=False, error=UNAVAILABLE, time_in=time_in, time_out=formats.rfc3339(self.state.now_ms()))
        conn.outbox.send(reply)

    def _account(self, conn: _Conn, params: dict[str, Any]) -> str:
        token = params.get("token")
        account = self.venue.token_account(token, self.state.now_ms(), connected=token == conn.token)
        if account is None:
            raise KrakenError(INVALID_TOKEN)
        return account

    def _subscribe(self, conn: _Conn, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel") != "executions":
            raise invalid_arguments("channel")
        account = self._account(conn, params)
        self._unsubscribe(conn)
        conn.account, conn.token = account, params.get("token")
        self.subs.setdefault(account, []).append(conn)
        return {"channel": "executions", "maxratecount": int(self.venue.limits.trade_max), "snapshot": True}

    def _snapshot(self, conn: _Conn, params: dict[str, Any]) -> None:
        venue, account, now = self.venue, conn.account, self.state.now_ms()
        assert account is not None
        data: list[dict[str, Any]] = []
        if params.get("snap_orders", True) is not False:
            for o in venue.engine.open_orders(account):
                data.append(formats.order_entry(o, venue.pairs.engine(o.symbol), venue.txid(o), "new", now,
                                                venue.userref(o)))
        if params.get("snap_trades") is True:
            for f in venue.engine.fills[account][-50:]:
                o = venue.engine.orders[f.symbol][f.order_id]
                data.append(formats.trade_entry(
                    o, venue.pairs.engine(f.symbol), venue.txid(o), venue.fill_txid(f.symbol, f.trade_id, f.order_id),
                    f.trade_id, f.qty, f.price, f.commission, f.commission_asset, f.is_maker, f.time,
                    venue.userref(o), formats.WS_STATUS.get(o.status, "new")))
        conn.send_data("snapshot", data)

    # == order methods (WS v2 names mapped to the REST fields) ====================================
    def _add_order(self, account: str, p: dict[str, Any], now: int) -> dict[str, Any]:
        pair = self.venue.pairs.v2(str(p.get("symbol") or ""))
        if pair is None:
            raise KrakenError("EQuery:Unknown asset pair")
        fields = {"pair": pair.pair_id, "type": p.get("side"), "ordertype": p.get("order_type"),
                  "volume": p.get("order_qty")}
        triggers = p.get("triggers") if isinstance(p.get("triggers"), dict) else {}
        if triggers.get("price") is not None:
            fields["price"], fields["price2"] = triggers["price"], p.get("limit_price")
        else:
            fields["price"] = p.get("limit_price")
        if p.get("time_in_force"):
            fields["timeinforce"] = str(p["time_in_force"]).upper()
        if p.get("post_only") is True:
            fields["oflags"] = "post"
        if p.get("cl_ord_id") is not None:
            fields["cl_ord_id"] = p["cl_ord_id"]
        if p.get("order_userref") is not None:
            fields["userref"] = p["order_userref"]
        if p.get("validate") is True:
            fields["validate"] = "true"
        clean = {k: str(v) for k, v in fields.items() if v is not None}
        result = self.venue.add_order(account, clean, now)
        out: dict[str, Any] = {"order_id": (result.get("txid") or [""])[0]}
        if "cl_ord_id" in clean:
            out["cl_ord_id"] = clean["cl_ord_id"]
        if "userref" in clean:
            out["order_userref"] = int(clean["userref"])
        return out

    def _amend_order(self, account: str, p: dict[str, Any], now: int) -> dict[str, Any]:
        fields = {k: str(p[k]) for k in ("cl_ord_id", "order_qty", "limit_price", "trigger_price") if p.get(k) is not None}
        if p.get("order_id") is not None:
            fields["txid"] = str(p["order_id"])
        result = self.venue.amend(account, fields, now)
        out = {"amend_id": result["amend_id"]}
        for k in ("order_id", "cl_ord_id"):
            if p.get(k) is not None:
                out[k] = p[k]
        return out

    def _cancel_order(self, account: str, p: dict[str, Any], now: int) -> dict[str, Any]:
        ids = p.get("order_id") or []
        cids = p.get("cl_ord_id") or []
        if not isinstance(ids, list) or not isinstance(cids, list) or not (ids or cids):
            raise invalid_arguments("order_id")
        count = 0
        for txid in ids:
            count += self.venue.cancel(account, {"txid": str(txid)}, now)["count"]
        for cid in cids:
            count += self.venue.cancel(account, {"cl_ord_id": str(cid)}, now)["count"]
        out: dict[str, Any] = {}
        if ids:
            out["order_id"] = ids[0]
        if cids:
            out["cl_ord_id"] = cids[0]
        return out

    def _cancel_all(self, account: str, p: dict[str, Any], now: int) -> dict[str, Any]:
        return {"count": self.venue.cancel_all(account, now)["count"]}
