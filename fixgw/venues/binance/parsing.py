"""Pure functions between Binance spot payloads and the normalised port. No I/O, no clock."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fixgw.errors import (
    FixgwError,
    VenueAuthError,
    VenueBanned,
    VenueError,
    VenueRateLimited,
    VenueRejected,
    VenueUnknownOutcome,
)
from fixgw.orders.enums import OrderStatus, TimeInForce
from fixgw.venues.base import (
    AmendOrder,
    CancelOrder,
    Instrument,
    NewOrder,
    OrderReport,
)
from fixgw.venues._common.tracker import Fill, OrderTracker, OrderUpdate, UpdateKind
from fixgw.venues.assets import normalized_symbol
from fixgw.venues.binance.enums import (
    EXEC_TYPE,
    ORDER_TYPE_IN,
    ORDER_TYPE_OUT,
    REJECT_MSG_REASON,
    SIDE_IN,
    SIDE_OUT,
    STATUS,
    TIF_OUT,
)

__all__ = [
    "VENUE",
    "normalise_symbol",
    "dec",
    "ms_to_ns",
    "parse_exchange_info",
    "parse_rate_limits",
    "rate_limit_counts",
    "new_order_params",
    "order_ref_params",
    "cancel_params",
    "amend_params",
    "parse_order",
    "parse_amend",
    "parse_execution_report",
    "known_execution_report",
    "known_order",
    "parse_trades",
    "update_to_report",
    "error_from_response",
    "error_from_ws_api",
    "reject_reason",
    "used_weight_headers",
]

VENUE = "binance"
_ZERO = Decimal(0)


def normalise_symbol(base: str, quote: str) -> str:
    return normalized_symbol(base, quote)  # the one asset table (fixgw.venues.assets)


#: Wire strings already read (``"0.00000000"``, a symbol's prices ...): an order's answer and events
#: repeat the same few amounts; emptied when full, so any input keeps it bounded.
_DECIMALS: dict[str, Decimal] = {}
_DECIMALS_MAX = 4096


def dec(value: Any) -> Decimal:
    """Exact Decimal from a wire string (never through float)."""
    if type(value) is str:
        d = _DECIMALS.get(value)
        if d is not None:
            return d
        if not value:
            return _ZERO
        d = Decimal(value)
        if len(_DECIMALS) >= _DECIMALS_MAX:
            _DECIMALS.clear()
        _DECIMALS[value] = d
        return d
    if value is None:
        return _ZERO
    if isinstance(value, float):
        raise TypeError("float amount on the wire")
    return Decimal(str(value))


def _opt_dec(value: Any) -> Decimal | None:
    d = dec(value)
    return d if d else None


def ms_to_ns(ms: Any) -> int:
    return int(ms or 0) * 1_000_000


# -- instruments ---------------------------------------------------------------------------------


def parse_exchange_info(payload: Mapping[str, Any]) -> list[Instrument]:
    """Turn exchangeInfo into instruments; a filter parameter of 0 disables its rule."""
    out = []
    for s in payload.get("symbols", []):
        f = {flt.get("filterType"): flt for flt in s.get("filters", [])}
        price = f.get("PRICE_FILTER", {})
        lot = f.get("LOT_SIZE", {})
        mlot = f.get("MARKET_LOT_SIZE", {})
        notional = f.get("NOTIONAL")
        legacy = f.get("MIN_NOTIONAL")
        min_notional = max_notional = None
        min_mkt = max_mkt = False
        if notional is not None:
            min_notional = _opt_dec(notional.get("minNotional"))
            max_notional = _opt_dec(notional.get("maxNotional"))
            min_mkt = bool(notional.get("applyMinToMarket", False))
            max_mkt = bool(notional.get("applyMaxToMarket", False))
        elif legacy is not None:
            min_notional = _opt_dec(legacy.get("minNotional"))
            min_mkt = bool(legacy.get("applyToMarket", False))
        band = f.get("PERCENT_PRICE_BY_SIDE")
        if band is not None:
            bands = [_opt_dec(band.get(k)) for k in
                     ("bidMultiplierUp", "bidMultiplierDown", "askMultiplierUp", "askMultiplierDown")]
        elif "PERCENT_PRICE" in f:
            up, down = _opt_dec(f["PERCENT_PRICE"].get("multiplierUp")), _opt_dec(f["PERCENT_PRICE"].get("multiplierDown"))
            bands = [up, down, up, down]
        else:
            bands = [None] * 4
        types = frozenset(ORDER_TYPE_IN[t] for t in s.get("orderTypes", []) if t in ORDER_TYPE_IN)
        parts = f.get("ICEBERG_PARTS", {}).get("limit")
        out.append(
            Instrument(
                symbol=normalise_symbol(s["baseAsset"], s["quoteAsset"]),
                venue_symbol=s["symbol"],
                base=s["baseAsset"],
                quote=s["quoteAsset"],
                tick_size=_opt_dec(price.get("tickSize")),
                min_price=_opt_dec(price.get("minPrice")),
                max_price=_opt_dec(price.get("maxPrice")),
                lot_step=_opt_dec(lot.get("stepSize")),
                min_qty=_opt_dec(lot.get("minQty")),
                max_qty=_opt_dec(lot.get("maxQty")),
                market_lot_step=_opt_dec(mlot.get("stepSize")),
                market_min_qty=_opt_dec(mlot.get("minQty")),
                market_max_qty=_opt_dec(mlot.get("maxQty")),
                min_notional=min_notional,
                max_notional=max_notional,
                min_notional_applies_to_market=min_mkt,
                max_notional_applies_to_market=max_mkt,
                bid_multiplier_up=bands[0],
                bid_multiplier_down=bands[1],
                ask_multiplier_up=bands[2],
                ask_multiplier_down=bands[3],
                order_types=types,
                time_in_force=frozenset(TIF_OUT),
                post_only_allowed="LIMIT_MAKER" in s.get("orderTypes", []),
                iceberg_allowed=bool(s.get("icebergAllowed", False)),
                iceberg_parts=int(parts) if parts else None,
                quote_qty_market_allowed=bool(s.get("quoteOrderQtyMarketAllowed", False)),
                amend_allowed=bool(s.get("amendAllowed", False)),
                cancel_replace_allowed=bool(s.get("cancelReplaceAllowed", False)),
                trading=s.get("status", "TRADING") == "TRADING",
            )
        )
    return out


_INTERVAL_S = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}


def _bucket_name(rl: Mapping[str, Any]) -> str | None:
    """``REQUEST_WEIGHT:1M``, ``ORDERS:10S`` ... for one ``rateLimits`` entry (None if unreadable)."""
    kind, interval, num = rl.get("rateLimitType"), rl.get("interval"), rl.get("intervalNum")
    if not kind or interval not in _INTERVAL_S or not num:
        return None
    return f"{kind}:{num}{interval[0]}"


def parse_rate_limits(payload: Mapping[str, Any]) -> list[tuple[str, int, float]]:
    """Return (bucket name, limit, interval seconds); names like ``REQUEST_WEIGHT:1M``, ``ORDERS:10S``."""
    out = []
    for rl in payload.get("rateLimits", []):
        name = _bucket_name(rl)
        if name is None or "limit" not in rl:
            continue
        out.append((name, int(rl["limit"]), float(_INTERVAL_S[rl["interval"]] * int(rl["intervalNum"]))))
    return out


#: (rateLimitType, interval, intervalNum) -> bucket name: every answer repeats the same few limits.
_BUCKET_NAMES: dict[tuple[Any, Any, Any], str | None] = {}


def rate_limit_counts(rate_limits: Any) -> list[tuple[str, int]]:
    """Read a WebSocket API answer's ``rateLimits`` into (bucket name, used): its ``count`` per limit."""
    out = []
    for rl in rate_limits if isinstance(rate_limits, list) else ():
        if not isinstance(rl, Mapping):
            continue
        count = rl.get("count")
        if not isinstance(count, int):
            continue
        key = (rl.get("rateLimitType"), rl.get("interval"), rl.get("intervalNum"))
        try:
            name = _BUCKET_NAMES[key]
        except KeyError:
            name = _bucket_name(rl)
            if len(_BUCKET_NAMES) < 256:  # a venue has a handful; odd input never grows it past this
                _BUCKET_NAMES[key] = name
        except TypeError:  # an unhashable field: not a limit we can read
            name = None
        if name is not None:
            out.append((name, count))
    return out


def used_weight_headers(headers: Mapping[str, str]) -> list[tuple[str, int]]:
    """Read ``X-MBX-USED-WEIGHT-1M`` / ``X-MBX-ORDER-COUNT-10S`` into (bucket name, used)."""
    out = []
    for key, value in headers.items():
        k = key.upper()
        for prefix, kind in (("X-MBX-USED-WEIGHT-", "REQUEST_WEIGHT"), ("X-MBX-ORDER-COUNT-", "ORDERS")):
            if k.startswith(prefix) and k[len(prefix):]:
                try:
                    out.append((f"{kind}:{k[len(prefix):]}", int(value)))
                except ValueError:
                    pass
    return out


# -- requests ------------------------------------------------------------------------------------


def new_order_params(order: NewOrder, venue_symbol: str) -> list[tuple[str, object]]:
    """Parameters of POST /api/v3/order (or the new-order half of cancelReplace), in a fixed order."""
    key = (order.order_type, order.post_only)
    if key not in ORDER_TYPE_OUT:
        raise VenueRejected("UNSUPPORTED", f"order type {order.order_type.name} post_only={order.post_only}")
    vtype = ORDER_TYPE_OUT[key]
    side = SIDE_OUT.get(order.side)
    if side is None:
        raise VenueRejected("UNSUPPORTED", f"side {order.side.value} not supported", reason="unsupported")
    params: list[tuple[str, object]] = [("symbol", venue_symbol), ("side", side), ("type", vtype)]
    if vtype in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
        tif = order.time_in_force or TimeInForce.GTC
        if tif not in TIF_OUT:
            raise VenueRejected("UNSUPPORTED", f"time in force {tif.name} not supported")
        params.append(("timeInForce", TIF_OUT[tif]))
    elif order.time_in_force not in (None, TimeInForce.GTC) and vtype != "MARKET":
        raise VenueRejected("UNSUPPORTED", f"time in force {order.time_in_force.name} not supported")
    if order.quantity is not None:
        params.append(("quantity", order.quantity))
    if order.quote_quantity is not None:
        params.append(("quoteOrderQty", order.quote_quantity))
    if order.price is not None:
        params.append(("price", order.price))
    if order.stop_price is not None:
        params.append(("stopPrice", order.stop_price))
    if order.display_quantity is not None:
        params.append(("icebergQty", order.display_quantity))  # LIMIT, LIMIT_MAKER, *_LIMIT; GTC only
    params.append(("newClientOrderId", order.client_order_id))
    params.append(("newOrderRespType", "FULL"))
    return params


def order_ref_params(
    what: str, venue_symbol: str, venue_order_id: str | None, client_order_id: str | None
) -> list[tuple[str, object]]:
    """Name one order: by venue order id when known (the cheaper lookup), else by client order id."""
    params: list[tuple[str, object]] = [("symbol", venue_symbol)]
    if venue_order_id is not None:
        params.append(("orderId", venue_order_id))
    elif client_order_id is not None:
        params.append(("origClientOrderId", client_order_id))
    else:
        raise VenueRejected("INVALID", f"{what} needs a client order id or a venue order id")
    return params


def cancel_params(req: CancelOrder, venue_symbol: str) -> list[tuple[str, object]]:
    params = order_ref_params("cancel", venue_symbol, req.venue_order_id, req.client_order_id)
    if req.cancel_client_order_id:
        params.append(("newClientOrderId", req.cancel_client_order_id))
    return params


def amend_params(req: AmendOrder, venue_symbol: str) -> list[tuple[str, object]]:
    params = order_ref_params("amend", venue_symbol, req.venue_order_id, req.orig_client_order_id)
    # without newClientOrderId the venue would give the order a random new id; keep ours instead
    new_id = req.new_client_order_id or req.orig_client_order_id
    if new_id:
        params.append(("newClientOrderId", new_id))
    params.append(("newQty", req.new_quantity))
    return params


# -- responses -----------------------------------------------------------------------------------


def _fills(raw: list[Mapping[str, Any]] | None, ts_ns: int) -> tuple[Fill, ...]:
    out = []
    for f in raw or []:
        if f.get("tradeId") is None:
            continue
        out.append(
            Fill(
                trade_id=str(f["tradeId"]),
                qty=dec(f.get("qty")),
                price=dec(f.get("price")),
                fee=dec(f.get("commission")),
                fee_asset=f.get("commissionAsset") or None,
                ts_ns=ts_ns,
            )
        )
    return tuple(out)


def parse_order(p: Mapping[str, Any], symbol: str) -> OrderUpdate:
    """Read an order payload (new order RESULT/FULL, cancel, query, open orders) as a snapshot.

    An ACK-shaped payload (no ``status``) reads as NEW with unknown cumulative quantity.
    """
    ts_ns = ms_to_ns(p.get("transactTime") or p.get("updateTime") or p.get("time"))
    status = STATUS.get(p.get("status", "NEW"), OrderStatus.NEW)
    has_state = "executedQty" in p
    client_id = p.get("origClientOrderId") or p.get("clientOrderId", "")
    vtype = p.get("type")
    return OrderUpdate(
        symbol=symbol,
        venue_order_id=str(p["orderId"]),
        client_order_id=client_id,
        status=status,
        kind=UpdateKind.SNAPSHOT,
        ts_ns=ts_ns,
        side=SIDE_IN.get(p.get("side", "")),
        order_type=ORDER_TYPE_IN.get(vtype) if vtype else None,
        quantity=_opt_dec(p.get("origQty")),
        price=_opt_dec(p.get("price")),
        cum_qty=dec(p.get("executedQty")) if has_state else None,
        cum_quote=dec(p.get("cummulativeQuoteQty", p.get("cumulativeQuoteQty"))) if has_state else None,
        fills=_fills(p.get("fills"), ts_ns),
    )


def parse_amend(p: Mapping[str, Any], symbol: str) -> OrderUpdate:
    """Read an amend/keepPriority response (its own field names: ``qty``, ``cumulativeQuoteQty``)."""
    o = p.get("amendedOrder", p)
    return OrderUpdate(
        symbol=symbol,
        venue_order_id=str(o["orderId"]),
        client_order_id=o.get("clientOrderId", ""),
        orig_client_order_id=o.get("origClientOrderId"),
        status=STATUS.get(o.get("status", "NEW"), OrderStatus.NEW),
        kind=UpdateKind.AMENDED,
        ts_ns=ms_to_ns(p.get("transactTime")),
        side=SIDE_IN.get(o.get("side", "")),
        order_type=ORDER_TYPE_IN.get(o.get("type", "")),
        quantity=_opt_dec(o.get("qty")),
        price=_opt_dec(o.get("price")),
        cum_qty=dec(o.get("executedQty")),
        cum_quote=dec(o.get("cumulativeQuoteQty")),
    )


_NEW_KIND, _CANCELED_KIND, _AMENDED_KIND, _REJECTED_KIND, _SNAPSHOT_KIND = (
    UpdateKind.NEW, UpdateKind.CANCELED, UpdateKind.AMENDED, UpdateKind.REJECTED, UpdateKind.SNAPSHOT)


def parse_execution_report(e: Mapping[str, Any], symbol: str) -> OrderUpdate:
    """Read one executionReport (the bare event, without the subscription envelope)."""
    get = e.get  # every order brings two or more of these: each field read once, amounts from the cache
    x = get("x", "")
    kind = EXEC_TYPE.get(x, _SNAPSHOT_KIND)
    # On a cancel, "c" is the cancel request's own id and "C" the order's; on an amend, "c" is the
    # order's new id and "C" the old one.
    orig = get("C") or None
    if kind is _CANCELED_KIND and orig:
        client_id, orig_id = orig, None
    else:
        client_id, orig_id = get("c", ""), (orig if kind is _AMENDED_KIND else None)
    ms = get("T") or get("E")
    ts_ns = int(ms) * 1_000_000 if ms else 0
    fills: tuple[Fill, ...] = ()
    if x == "TRADE" and int(get("t", -1)) >= 0:
        fills = (Fill(trade_id=str(e["t"]), qty=dec(get("l")), price=dec(get("L")), fee=dec(get("n")),
                      fee_asset=get("N") or None, is_maker=get("m"), ts_ns=ts_ns),)
    r = get("r")
    amounts = _DECIMALS  # ``dec``'s cache, looked up here first: the same few strings every time
    q, p, z = get("q"), get("p"), get("z")
    quantity = amounts.get(q) if type(q) is str else None
    price = amounts.get(p) if type(p) is str else None
    cum_qty = amounts.get(z) if type(z) is str else None
    if "Z" in e:
        cz = get("Z")
        cum_quote = (amounts.get(cz) if type(cz) is str else None) or dec(cz)
    else:
        cum_quote = None
    return OrderUpdate(
        symbol=symbol,
        venue_order_id=str(e["i"]),
        client_order_id=client_id,
        orig_client_order_id=orig_id,
        status=STATUS.get(get("X", ""), OrderStatus.NEW),
        kind=kind,
        ts_ns=ts_ns,
        side=SIDE_IN.get(get("S", "")),
        order_type=ORDER_TYPE_IN.get(get("o", "")),
        quantity=quantity or _opt_dec(q),  # a zero amount is None, as ``_opt_dec`` reads it
        price=price or _opt_dec(p),
        cum_qty=cum_qty if cum_qty is not None else dec(z),
        cum_quote=cum_quote,
        fills=fills,
        reason=get("eR") or (r if r not in (None, "NONE") else "") or "",
        code=r if kind is _REJECTED_KIND else None,
    )


def known_execution_report(tracker: OrderTracker, e: Mapping[str, Any], symbol: str) -> bool:
    """Return ``True`` when ``tracker`` already knows all that executionReport ``e`` says (an order's
    stream events after its answer told the same): read only the fields that decide it, no update built
    (``OrderTracker.redundant``; its time is folded in). Reads the fields as ``parse_execution_report`` does."""
    x = e.get("x", "")
    vid, status, rejected = str(e["i"]), STATUS.get(e.get("X", ""), OrderStatus.NEW), x == "REJECTED"
    if not tracker.may_be_redundant(symbol, vid, status, rejected):
        return False
    trade = int(e.get("t", -1)) if x == "TRADE" else -1
    return tracker.redundant(
        symbol, vid, status, cum_qty=dec(e.get("z")), quantity=_opt_dec(e.get("q")), price=_opt_dec(e.get("p")),
        trade_ids=(str(trade),) if trade >= 0 else (), ts_ns=ms_to_ns(e.get("T") or e.get("E")), rejected=rejected,
    )


def known_order(tracker: OrderTracker, p: Mapping[str, Any], symbol: str) -> bool:
    """Return ``True`` when ``tracker`` already knows all that order payload ``p`` says (an order's answer
    after its stream events told the same); reads the fields as ``parse_order`` does, builds no update."""
    vid, status = str(p["orderId"]), STATUS.get(p.get("status", "NEW"), OrderStatus.NEW)
    if not tracker.may_be_redundant(symbol, vid, status):
        return False
    has_state = "executedQty" in p
    trades = tuple(str(f["tradeId"]) for f in p.get("fills") or () if f.get("tradeId") is not None)
    return tracker.redundant(
        symbol, vid, status,
        cum_qty=dec(p.get("executedQty")) if has_state else None, quantity=_opt_dec(p.get("origQty")),
        price=_opt_dec(p.get("price")), trade_ids=trades,
        ts_ns=ms_to_ns(p.get("transactTime") or p.get("updateTime") or p.get("time")),
    )


def parse_trades(trades: list[Mapping[str, Any]], venue_order_id: str) -> tuple[Fill, ...]:
    """Read GET /api/v3/myTrades entries of one order, oldest first."""
    rows = [t for t in trades if str(t.get("orderId")) == venue_order_id]
    rows.sort(key=lambda t: (int(t.get("time", 0)), int(t.get("id", 0))))
    return tuple(
        Fill(
            trade_id=str(t["id"]),
            qty=dec(t.get("qty")),
            price=dec(t.get("price")),
            fee=dec(t.get("commission")),
            fee_asset=t.get("commissionAsset") or None,
            is_maker=t.get("isMaker"),
            ts_ns=ms_to_ns(t.get("time")),
        )
        for t in rows
    )


def update_to_report(u: OrderUpdate) -> OrderReport:
    return OrderReport(
        venue=VENUE,
        symbol=u.symbol,
        client_order_id=u.client_order_id,
        venue_order_id=u.venue_order_id,
        status=u.status,
        side=u.side,
        order_type=u.order_type,
        quantity=u.quantity,
        price=u.price,
        cum_qty=u.cum_qty or _ZERO,
        cum_quote=u.cum_quote or _ZERO,
        ts_ns=u.ts_ns,
    )


# -- errors --------------------------------------------------------------------------------------

_AUTH_CODES = frozenset({-1002, -1022, -2014, -2015, -2008})
_BAN_UNTIL = re.compile(r"banned until (\d{10,16})")


def reject_reason(code: int | str | None, msg: str) -> str:
    """Return a stable, venue-neutral reason key for a refusal (the gateway maps it to FIX 103/102)."""
    if msg in REJECT_MSG_REASON:
        return REJECT_MSG_REASON[msg]
    if msg.startswith("Filter failure:"):
        return "filter:" + msg.split(":", 1)[1].strip()
    return {
        -1121: "unknown_symbol",
        -1111: "bad_precision",
        -1013: "invalid_order",
        -1021: "stale_timestamp",
        -2013: "unknown_order",
        -2011: "cancel_rejected",
        -2038: "amend_rejected",
        -2026: "unknown_order",
    }.get(code if isinstance(code, int) else 0, "other")


def rejected(code: int | str | None, msg: str) -> VenueRejected:
    """Build a ``VenueRejected`` carrying a ``reason`` key (see ``reject_reason``)."""
    return VenueRejected(code, msg, reason=reject_reason(code, msg))


def _retry_after(headers: Mapping[str, str]) -> float | None:
    for k, v in headers.items():
        if k.lower() == "retry-after":
            try:
                return float(v)
            except ValueError:
                return None
    return None


def error_from_response(
    http_status: int, body: Any, headers: Mapping[str, str], now_ns: int, *, retry_after_s: float | None = None
) -> FixgwError | None:
    """Map an HTTP answer to a typed error, or ``None`` if it is a success.

    ``retry_after_s`` stands in for the ``Retry-After`` header (the WebSocket API has no headers).
    """
    code = body.get("code") if isinstance(body, Mapping) else None
    msg = str(body.get("msg", "")) if isinstance(body, Mapping) else ""
    retry = retry_after_s if retry_after_s is not None else _retry_after(headers)
    if http_status == 418:
        until = None
        m = _BAN_UNTIL.search(msg)
        if m:
            raw = int(m.group(1))
            until = raw * 1_000_000 if raw < 10**14 else raw * 1_000
        elif retry is not None:
            until = now_ns + int(retry * 1e9)
        return VenueBanned(msg or "IP banned", until_ns=until)
    if http_status == 429:
        return VenueRateLimited(msg or "rate limited", retry_after=retry)
    if http_status >= 500 or code == -1007:
        return VenueUnknownOutcome(f"HTTP {http_status}: {msg or 'execution status unknown'}")
    if http_status in (401,) or code in _AUTH_CODES:
        return VenueAuthError(f"{code}: {msg}")
    if http_status == 403:
        return VenueError(f"HTTP 403 (WAF): {msg}")
    if http_status >= 400:
        if code == -1015:
            return VenueRateLimited(msg, retry_after=retry)
        return rejected(code, msg or f"HTTP {http_status}")
    return None


def error_from_ws_api(status: int, error: Any, now_ns: int) -> FixgwError | None:
    """Map a WebSocket API answer's ``status`` and ``error`` to a typed error (``None``: success).

    The same statuses and codes as REST; ``error.data.retryAfter`` is an epoch timestamp in ms,
    not a number of seconds.
    """
    data = error.get("data") if isinstance(error, Mapping) else None
    retry_ms = data.get("retryAfter") if isinstance(data, Mapping) else None
    retry_s = max((int(retry_ms) * 1_000_000 - now_ns) / 1e9, 0.0) if isinstance(retry_ms, int) else None
    return error_from_response(status, error if isinstance(error, Mapping) else {}, {}, now_ns, retry_after_s=retry_s)
