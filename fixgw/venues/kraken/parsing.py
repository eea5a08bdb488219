"""Pure functions between Kraken spot payloads and the normalised port.

REST amounts are decimal strings; WebSocket v2 amounts are JSON numbers, which the feed decodes
straight to ``Decimal`` (never through a float). Fill ids are the venue's trade txids
(``TXXXXX-XXXXX-XXXXXX``): the REST trade list keys trades by them and the feed's ``exec_id`` carries
them, so a trade seen both ways is one fill.
"""

from __future__ import annotations

import datetime as _dt
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from fixgw.errors import (
    FixgwError,
    VenueAuthError,
    VenueBanned,
    VenueRateLimited,
    VenueRejected,
    VenueUnknownOutcome,
)
from fixgw.orders.enums import OrderStatus, TimeInForce
from fixgw.venues._common.signing import format_param
from fixgw.venues._common.tracker import Fill, OrderUpdate, UpdateKind
from fixgw.venues.base import Instrument, NewOrder
from fixgw.venues.kraken.enums import ASSET_ALIASES, SIDE_IN, SIDE_OUT, STATUS, TIF_OUT, TYPE_IN, TYPE_OUT, WS_STATUS

__all__ = ["parse_asset_pairs", "add_order_params", "parse_order", "parse_trade", "parse_execution",
           "error_from_envelope", "asset", "valid_client_id", "venue_client_id", "ws_time_ns"]

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


def asset(code: str) -> str:
    return ASSET_ALIASES.get(code, code)


def valid_client_id(cid: str) -> bool:
    """Kraken's ``cl_ord_id``: a UUID (with or without dashes) or up to 18 printable ASCII characters."""
    return bool(_UUID.match(cid)) or (0 < len(cid) <= 18 and cid.isascii() and cid.isprintable())


#: the namespace of the UUIDs that stand for client order ids Kraken cannot carry
_CLIENT_ID_NAMESPACE = uuid.UUID("5f0c8a2e-2d0b-4c1e-9a57-6b4f3f1c8d21")


def venue_client_id(cid: str) -> str:
    """The ``cl_ord_id`` sent for our client order id: itself when Kraken can carry it, else a UUID
    made from it (the same every time, so a restarted gateway finds its orders by asking)."""
    return cid if valid_client_id(cid) else str(uuid.uuid5(_CLIENT_ID_NAMESPACE, cid))


def _d(v: Any) -> Decimal | None:
    if v in (None, ""):
        return None
    try:
        return Decimal(str(v))
    except InvalidOperation:
        return None


def ws_time_ns(text: Any) -> int:
    """An RFC 3339 timestamp (``2023-09-22T10:33:05.709950Z``) as epoch ns; 0 if unreadable."""
    if not isinstance(text, str) or not text:
        return 0
    head, _, frac = text.rstrip("Z").partition(".")
    try:
        t = _dt.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=_dt.timezone.utc)
    except ValueError:
        return 0
    digits = (frac + "000000000")[:9] if frac.isdigit() else "0"
    return int(t.timestamp()) * 1_000_000_000 + int(digits)


def _seconds_ns(v: Any) -> int:
    d = _d(v)
    return int(d * 1_000_000_000) if d is not None else 0


def parse_asset_pairs(result: Mapping[str, Mapping[str, Any]]) -> list[Instrument]:
    out = []
    for pair, p in result.items():
        ws = p.get("wsname") or f"{p.get('base')}/{p.get('quote')}"
        base, quote = (asset(x) for x in ws.split("/", 1))
        lot = p.get("lot_decimals")
        out.append(
            Instrument(
                symbol=f"{base}/{quote}",
                venue_symbol=p.get("altname", pair),
                base=base,
                quote=quote,
                tick_size=_d(p.get("tick_size")),
                lot_step=Decimal(1).scaleb(-int(lot)) if lot is not None else None,
                min_qty=_d(p.get("ordermin")),
                min_notional=_d(p.get("costmin")),
                order_types=frozenset(TYPE_OUT),
                time_in_force=frozenset(TIF_OUT),
                post_only_allowed=True,
                quote_qty_market_allowed=False,
                amend_allowed=True,
                trading=p.get("status", "online") == "online",
            )
        )
    return out


def add_order_params(order: NewOrder, pair: str) -> list[tuple[str, str]]:
    """Form fields of POST /0/private/AddOrder (the client puts the nonce first)."""
    if order.order_type not in TYPE_OUT:
        raise VenueRejected("UNSUPPORTED", f"order type {order.order_type.name} is not offered by Kraken here",
                            reason="unsupported")
    if order.side not in SIDE_OUT:
        raise VenueRejected("UNSUPPORTED", f"side {order.side.value} not supported", reason="unsupported")
    if order.quantity is None:
        raise VenueRejected("UNSUPPORTED", "Kraken spot needs a base quantity", reason="unsupported")
    params = [("ordertype", TYPE_OUT[order.order_type]), ("pair", pair)]
    if order.stop_price is not None:
        params.append(("price", format_param(order.stop_price)))
        if order.price is not None:
            params.append(("price2", format_param(order.price)))
    elif order.price is not None:
        params.append(("price", format_param(order.price)))
    params.append(("type", SIDE_OUT[order.side]))
    params.append(("volume", format_param(order.quantity)))
    params.append(("cl_ord_id", venue_client_id(order.client_order_id)))
    tif = order.time_in_force
    if tif is not None and tif is not TimeInForce.GTC:
        if tif not in TIF_OUT:
            raise VenueRejected("UNSUPPORTED", f"time in force {tif.name} is not offered by Kraken here",
                                reason="unsupported")
        params.append(("timeinforce", TIF_OUT[tif]))
    if order.post_only:
        params.append(("oflags", "post"))
    return params


def parse_order(txid: str, o: Mapping[str, Any], symbol: str, fills: tuple[Fill, ...] = ()) -> OrderUpdate:
    """A REST order (QueryOrders, OpenOrders, ClosedOrders) as a snapshot."""
    status = STATUS.get(o.get("status", "open"), OrderStatus.NEW)
    filled = _d(o.get("vol_exec")) or Decimal(0)
    qty = _d(o.get("vol"))
    if status is OrderStatus.NEW and filled:
        status = OrderStatus.PARTIALLY_FILLED
    if status is OrderStatus.FILLED and qty is not None and filled < qty:
        status = OrderStatus.EXPIRED
    descr = o.get("descr") or {}
    ordertype = descr.get("ordertype", "")
    price = _d(descr.get("price2")) if ordertype.endswith("-limit") and ordertype != "limit" else _d(descr.get("price"))
    return OrderUpdate(
        symbol=symbol,
        venue_order_id=txid,
        client_order_id=o.get("cl_ord_id") or (str(o["userref"]) if o.get("userref") else ""),
        status=status,
        kind=UpdateKind.SNAPSHOT,
        ts_ns=_seconds_ns(o.get("closetm") or o.get("opentm")),
        side=SIDE_IN.get(descr.get("type", "")),
        order_type=TYPE_IN.get(ordertype),
        quantity=qty,
        price=price if price else None,
        cum_qty=filled,
        cum_quote=_d(o.get("cost")) or Decimal(0),
        fills=fills,
        reason=o.get("reason") or "",
    )


def parse_trade(trade_txid: str, t: Mapping[str, Any]) -> Fill:
    """A REST trade (QueryTrades, TradesHistory); its fee is in the quote currency."""
    return Fill(trade_id=trade_txid, qty=Decimal(str(t["vol"])), price=Decimal(str(t["price"])),
                fee=_d(t.get("fee")) or Decimal(0), fee_asset=None, is_maker=t.get("maker"),
                ts_ns=_seconds_ns(t.get("time")))


_WS_KIND = {"pending_new": UpdateKind.NEW, "new": UpdateKind.NEW, "trade": UpdateKind.TRADE,
            "filled": UpdateKind.TRADE, "canceled": UpdateKind.CANCELED, "expired": UpdateKind.EXPIRED,
            "amended": UpdateKind.AMENDED, "restated": UpdateKind.SNAPSHOT, "status": UpdateKind.SNAPSHOT,
            "iceberg_refill": UpdateKind.SNAPSHOT}


def parse_execution(e: Mapping[str, Any], symbol: str, client_order_id: str, snapshot: bool = False) -> OrderUpdate | None:
    """One entry of the ``executions`` channel; None for one that says nothing about an order's state.

    Entries are sparse (only ``exec_type`` is guaranteed), so the caller passes the symbol and client
    order id it knows the order by.
    """
    exec_type = e.get("exec_type")
    kind = _WS_KIND.get(exec_type) if isinstance(exec_type, str) else None
    if kind is None or not e.get("order_id"):
        return None
    status = WS_STATUS.get(e.get("order_status", ""), None)
    if exec_type in ("canceled", "expired", "filled"):
        status = WS_STATUS[exec_type]
    if status is None:
        status = OrderStatus.NEW
    fills: tuple[Fill, ...] = ()
    if exec_type == "trade":
        fees = e.get("fees") or []
        fee = sum((_d(f.get("qty")) or Decimal(0) for f in fees), Decimal(0))
        fee_asset = asset(fees[0]["asset"]) if fees and fees[0].get("asset") else None
        fills = (Fill(trade_id=str(e.get("exec_id") or f"trade:{e.get('trade_id')}"), qty=Decimal(str(e["last_qty"])),
                      price=Decimal(str(e["last_price"])), fee=fee, fee_asset=fee_asset,
                      is_maker=e.get("liquidity_ind") == "m" if e.get("liquidity_ind") else None,
                      ts_ns=ws_time_ns(e.get("timestamp"))),)
        if status is OrderStatus.FILLED:  # a trade's status may say filled; the filled entry ends it
            status = OrderStatus.PARTIALLY_FILLED
    limit = _d(e.get("limit_price"))
    return OrderUpdate(
        symbol=symbol,
        venue_order_id=str(e["order_id"]),
        client_order_id=client_order_id,
        status=status,
        kind=UpdateKind.SNAPSHOT if snapshot else kind,
        ts_ns=ws_time_ns(e.get("timestamp")),
        side=SIDE_IN.get(e.get("side", "")),
        order_type=TYPE_IN.get(e.get("order_type", "")),
        quantity=_d(e.get("order_qty")),
        price=limit if limit else None,
        cum_qty=_d(e.get("cum_qty")),
        cum_quote=_d(e.get("cum_cost")),
        fills=fills,
        reason=str(e.get("cancel_reason") or e.get("reason") or ""),
    )


def error_from_envelope(http_status: int, body: Any, *, now_ns: int = 0) -> FixgwError | None:
    """The typed failure of a Kraken answer, or None when it succeeded."""
    errors = body.get("error", []) if isinstance(body, Mapping) else []
    if not isinstance(errors, list):
        errors = [str(errors)]
    text = "; ".join(str(e) for e in errors)
    if any("Rate limit" in e or "Throttled" in e for e in errors) or http_status == 429:
        return VenueRateLimited(text or f"HTTP {http_status}")
    if any(e.startswith("EGeneral:Temporary lockout") for e in errors):
        return VenueBanned(text, until_ns=None)
    if any(e.startswith(("EAPI:Invalid key", "EAPI:Invalid signature", "EAPI:Invalid nonce",
                         "EGeneral:Permission denied")) for e in errors):
        return VenueAuthError(text)
    if http_status >= 500 or any(e.startswith(("EService:Unavailable", "EService:Busy", "EGeneral:Internal error"))
                                 for e in errors):
        return VenueUnknownOutcome(text or f"HTTP {http_status}")
    if not errors:
        return None if http_status < 400 else VenueUnknownOutcome(f"HTTP {http_status}")
    reason = (
        "unknown_order" if "Invalid order" in text or "Unknown order" in text else
        "insufficient_balance" if "Insufficient funds" in text else
        "unknown_symbol" if "Unknown asset pair" in text else
        "would_take" if "Post only" in text else
        "duplicate_order" if "Duplicate" in text else
        "filter:ordermin" if "Order minimum not met" in text else
        "filter:costmin" if "Cost minimum not met" in text else
        "filter:tick_size" if "Tick size" in text else
        "market_closed" if "cancel_only" in text or "post_only" in text else
        "invalid_order" if text.startswith("EGeneral:Invalid arguments") else "other"
    )
    return VenueRejected(str(errors[0]), text, reason=reason)
