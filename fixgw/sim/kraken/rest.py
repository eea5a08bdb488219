"""Kraken's REST API: ``GET|POST /0/public/<Method>`` and ``POST /0/private/<Method>``.

Every answer is the envelope ``{"error": [...], "result": ...}``. Private calls are authenticated
(``signing.py``) and charged to the key's REST counter (``limits.py``); order entry is charged to the
trading counter instead (``venue.py``). Bodies may be form-encoded or JSON; the signature covers the
raw bytes either way. Fault switches apply as on the other dialects: latency, forced rate limits
(429 ``EAPI:Rate limit exceeded``), a ban (``EGeneral:Temporary lockout``), lost AddOrder answers.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import urllib.parse
from decimal import Decimal
from typing import Any, Callable

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from ..state import SimState
from .errors import (
    INVALID_KEY,
    INVALID_NONCE,
    INVALID_SIGNATURE,
    LOCKOUT,
    RATE_LIMIT,
    UNAVAILABLE,
    KrakenError,
    invalid_arguments,
)
from .limits import REST_COST
from .names import alt_asset, rest_asset
from .signing import NonceBook, verify_sign
from .venue import KrakenVenue, decimals

__all__ = ["RestApi", "DROP_HEADER"]

DROP_HEADER = "x-fixgw-sim-drop"  # the shared middleware cuts the connection of such a response
Params = dict[str, Any]


def _form(body: bytes) -> Params:
    out: Params = {}
    for k, v in urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        if k.endswith("]") and "[" in k:  # orders[0]=..., orders[]=...
            out.setdefault(k[:k.index("[")], []).append(v)
        else:
            out[k] = v
    return out


def _json(body: bytes) -> Params:
    try:
        raw = json.loads(body or b"{}", parse_float=str)
    except ValueError:
        raise invalid_arguments("body") from None
    if not isinstance(raw, dict):
        raise invalid_arguments("body")
    return _fields(raw)


def _fields(raw: dict[str, Any]) -> Params:
    """A JSON object's fields as text, as a form would carry them (lists of ids stay lists)."""
    out: Params = {}
    for k, v in raw.items():
        if isinstance(v, list):  # a list of ids, or AddOrderBatch's orders (objects of fields)
            out[k] = [_fields(x) if isinstance(x, dict) else str(x) for x in v]
        elif isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif v is not None and not isinstance(v, dict):
            out[k] = str(v)
    return out


class RestApi:
    """The REST methods of one simulator."""

    def __init__(self, state: SimState, venue: KrakenVenue) -> None:
        self.state = state
        self.venue = venue
        self.nonces = NonceBook()
        v = venue
        self.public: dict[str, Callable[[Params, int], Any]] = {
            "Time": self._time,
            "SystemStatus": lambda p, now: {"status": "online", "timestamp": _rfc(now)},
            "AssetPairs": self._asset_pairs,
            "Assets": self._assets,
            "Depth": self._depth,
        }
        self.private: dict[str, Callable[[str, Params, int], Any]] = {
            "Balance": lambda a, p, now: v.balance(a),
            "BalanceEx": lambda a, p, now: v.balance_ex(a),
            "AddOrder": v.add_order,
            "AddOrderBatch": v.add_order_batch,
            "AmendOrder": v.amend,
            "CancelOrder": v.cancel,
            "CancelAll": lambda a, p, now: v.cancel_all(a, now),
            "CancelOrderBatch": lambda a, p, now: v.cancel_batch(a, _list(p, "orders"), _list(p, "cl_ord_ids"), now),
            "QueryOrders": lambda a, p, now: v.query_orders(a, p),
            "OpenOrders": lambda a, p, now: v.open_orders(a, p),
            "ClosedOrders": lambda a, p, now: v.closed_orders(a, p),
            "TradesHistory": lambda a, p, now: v.trades_history(a, p),
            "QueryTrades": lambda a, p, now: v.query_trades(a, p),
            "GetWebSocketsToken": lambda a, p, now: v.issue_token(a, now),
        }

    # == the handler ==============================================================================
    async def handle(self, request: Request, kind: str, method: str) -> Response:
        state = self.state
        await state.delay()
        body = await request.body()
        now = state.now_ms()
        is_add = False
        try:
            if state.limiter.forced_ban_until > now:
                raise KrakenError(LOCKOUT)
            if state.faults.rate_limit_burst > 0:
                state.faults.rate_limit_burst -= 1
                raise KrakenError(RATE_LIMIT, 429)
            if kind == "public":
                fn = self.public.get(method)
                if fn is None:
                    raise KrakenError("EGeneral:Unknown method", 404)
                params: Params = dict(request.query_params)
                if request.method == "POST":
                    params.update(_form(body))
                result = fn(params, now)
            else:
                pfn = self.private.get(method)
                if pfn is None or request.method != "POST":
                    raise KrakenError("EGeneral:Unknown method", 404)
                json_body = "json" in request.headers.get("content-type", "")
                params = _json(body) if json_body else _form(body)
                account, api_key = self._authenticate(request, method, params, body)
                lim = self.venue.limits
                cost = REST_COST.get(method, 1)
                if cost and not self.venue.counters.charge(("rest", api_key), cost, lim.rest_max, lim.rest_decay, now):
                    raise KrakenError(RATE_LIMIT, 429)
                is_add = method in ("AddOrder", "AddOrderBatch") and \
                    (params.get("validate") or "").lower() not in ("true", "1")
                self.venue.calls[method] += 1
                result = pfn(account, params, now)
            state.publish()
        except KrakenError as err:
            state.publish()
            return JSONResponse(err.body(), status_code=err.status)
        if is_add and state.faults.order_timeouts > 0:
            return await self.lost_answer()
        return JSONResponse({"error": [], "result": result})

    async def lost_answer(self) -> Response:
        """The order is in the book, but its answer never arrives (fault injection)."""
        faults = self.state.faults
        faults.order_timeouts -= 1
        mode = faults.order_timeout_mode
        if mode in ("drop", "drop_all"):
            if mode == "drop_all":
                self.state.drop_websockets()
            return Response(status_code=500, headers={DROP_HEADER: "1"})
        if mode == "hang":
            await asyncio.sleep(faults.hang_seconds)
        return JSONResponse({"error": [UNAVAILABLE]}, status_code=503)

    def _authenticate(self, request: Request, method: str, params: Params, body: bytes) -> tuple[str, str]:
        api_key = request.headers.get("API-Key")
        key = self.state.keys.get(api_key or "")
        if key is None or key.secret is None:
            raise KrakenError(INVALID_KEY)
        nonce_text = params.get("nonce")
        if not isinstance(nonce_text, str) or not nonce_text.isdigit() or len(nonce_text) > 20:
            raise KrakenError(INVALID_NONCE)
        sign = request.headers.get("API-Sign") or ""
        if not verify_sign(key.secret, f"/0/private/{method}", nonce_text, body, sign):
            raise KrakenError(INVALID_SIGNATURE)
        nonce = int(nonce_text)
        if not self.nonces.fresh(key.api_key, nonce):
            raise KrakenError(INVALID_NONCE)
        self.nonces.accept(key.api_key, nonce)
        return key.account_id, key.api_key

    # == public methods ===========================================================================
    def _time(self, p: Params, now: int) -> dict[str, Any]:
        return {"unixtime": now // 1000, "rfc1123": _dt.datetime.fromtimestamp(now / 1000, _dt.timezone.utc)
                .strftime("%a, %d %b %y %H:%M:%S +0000")}

    def _asset_pairs(self, p: Params, now: int) -> dict[str, Any]:
        wanted = [x for x in (p.get("pair") or "").split(",") if x]
        pairs = self.venue.pairs.pairs
        if wanted:
            pairs = [self.venue.pair(w) for w in wanted]
        engine = self.state.engine
        taker, maker = engine.taker_commission * 100, engine.maker_commission * 100
        out = {}
        for pn in pairs:
            s = pn.spec
            out[pn.pair_id] = {
                "altname": pn.altname, "wsname": pn.wsname,
                "aclass_base": "currency", "base": _rest(s.base_asset),
                "aclass_quote": "currency", "quote": _rest(s.quote_asset), "lot": "unit",
                "cost_decimals": decimals(s.tick_size) + decimals(s.step_size),
                "pair_decimals": decimals(s.tick_size), "lot_decimals": decimals(s.step_size),
                "lot_multiplier": 1, "leverage_buy": [], "leverage_sell": [],
                "fees": [[0, float(taker)]], "fees_maker": [[0, float(maker)]],
                "fee_volume_currency": "ZUSD", "margin_call": 80, "margin_stop": 40,
                "ordermin": _plain(s.min_qty), "costmin": _plain(s.min_notional), "tick_size": _plain(s.tick_size),
                "status": "online" if s.status == "TRADING" else "cancel_only",
            }
        return out

    def _assets(self, p: Params, now: int) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for pn in self.venue.pairs.pairs:
            for a in (pn.spec.base_asset, pn.spec.quote_asset):
                seen[_rest(a)] = {"aclass": "currency", "altname": alt_asset(a), "decimals": 10,
                                  "display_decimals": 5, "status": "enabled"}
        return seen

    def _depth(self, p: Params, now: int) -> dict[str, Any]:
        pn = self.venue.pair(p.get("pair"))
        raw = p.get("count") or "100"
        if not raw.isdigit() or not 1 <= int(raw) <= 500:
            raise invalid_arguments("count")
        book = self.state.engine.books[pn.spec.symbol]
        ts = now // 1000

        def rows(side: str) -> list[list[Any]]:
            return [[_plain(px), _plain(q), ts] for px, q in book.levels(side, int(raw))]

        return {pn.pair_id: {"asks": rows("SELL"), "bids": rows("BUY")}}


def _list(p: Params, name: str) -> list[str]:
    v = p.get(name)
    if v is None:
        return []
    return v if isinstance(v, list) else [x for x in str(v).split(",") if x]


def _rest(asset: str) -> str:
    return rest_asset(asset)


def _plain(v: Decimal) -> str:
    return format(v.normalize(), "f") if v else "0"


def _rfc(ms: int) -> str:
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
