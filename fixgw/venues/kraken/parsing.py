"""Pure functions between Kraken spot payloads and the normalised port."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fixgw.errors import FixgwError, VenueAuthError, VenueRateLimited, VenueRejected, VenueUnknownOutcome
from fixgw.orders.enums import OrderStatus, TimeInForce
from fixgw.venues.base import Instrument, NewOrder
from fixgw.venues._common.signing import format_param
from fixgw.venues._common.tracker import OrderUpdate, UpdateKind
from fixgw.venues.kraken.enums import ASSET_ALIASES, SIDE_IN, SIDE_OUT, STATUS, TIF_OUT, TYPE_IN, TYPE_OUT

__all__ = ["parse_asset_pairs", "add_order_params", "parse_order", "error_from_envelope", "asset"]


def asset(code: str) -> str:
    return ASSET_ALIASES.get(code, code)


def _d(v: Any) -> Decimal | None:
    return Decimal(str(v)) if v not in (None, "") else None


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


def add_order_params(order: NewOrder, pair: str, nonce: int) -> list[tuple[str, str]]:
    """Form fields of POST /0/private/AddOrder, nonce first (it is signed as the prefix too)."""
    if order.order_type not in TYPE_OUT:
        raise VenueRejected("UNSUPPORTED", f"order type {order.order_type.name}")
    if order.side not in SIDE_OUT:
        raise VenueRejected("UNSUPPORTED", f"side {order.side.value} not supported", reason="unsupported")
    params = [("nonce", str(nonce)), ("ordertype", TYPE_OUT[order.order_type]), ("pair", pair)]
    if order.price is not None:
        params.append(("price", format_param(order.stop_price if order.stop_price is not None else order.price)))
    if order.stop_price is not None and order.price is not None:
        params.append(("price2", format_param(order.price)))
    params.append(("type", SIDE_OUT[order.side]))
    if order.quantity is None:
        raise VenueRejected("UNSUPPORTED", "Kraken spot needs a base quantity")
    params.append(("volume", format_param(order.quantity)))
    params.append(("cl_ord_id", order.client_order_id))
    tif = order.time_in_force
    if tif is not None and tif is not TimeInForce.GTC:
        if tif not in TIF_OUT:
            raise VenueRejected("UNSUPPORTED", f"time in force {tif.name}")
        params.append(("timeinforce", TIF_OUT[tif]))
    if order.post_only:
        params.append(("oflags", "post"))
    return params


def parse_order(txid: str, o: Mapping[str, Any], symbol: str) -> OrderUpdate:
    status = STATUS.get(o.get("status", "open"), OrderStatus.NEW)
    filled = _d(o.get("vol_exec")) or Decimal(0)
    qty = _d(o.get("vol"))
    if status is OrderStatus.NEW and filled:
        status = OrderStatus.PARTIALLY_FILLED
    if status is OrderStatus.FILLED and qty is not None and filled < qty:
        status = OrderStatus.EXPIRED
    descr = o.get("descr") or {}
    ts = o.get("closetm") or o.get("opentm") or 0
    return OrderUpdate(
        symbol=symbol,
        venue_order_id=txid,
        client_order_id=o.get("cl_ord_id") or o.get("userref") and str(o["userref"]) or "",
        status=status,
        kind=UpdateKind.SNAPSHOT,
        ts_ns=int(Decimal(str(ts)) * 1_000_000_000),
        side=SIDE_IN.get(descr.get("type", "")),
        order_type=TYPE_IN.get(descr.get("ordertype", "")),
        quantity=qty,
        price=_d(descr.get("price")),
        cum_qty=filled,
        cum_quote=_d(o.get("cost")) or Decimal(0),
    )


def error_from_envelope(http_status: int, body: Any) -> FixgwError | None:
    errors = body.get("error", []) if isinstance(body, Mapping) else []
    if http_status >= 500:
        return VenueUnknownOutcome(f"HTTP {http_status}")
    if not errors:
        return None
    text = "; ".join(errors)
    if any(e.startswith("EAPI:Invalid key") or e.startswith("EAPI:Invalid signature") or
           e.startswith("EAPI:Invalid nonce") for e in errors):
        return VenueAuthError(text)
    if any("Rate limit" in e or "Throttled" in e for e in errors):
        return VenueRateLimited(text)
    if any(e.startswith("EService:Unavailable") or e.startswith("EService:Busy") for e in errors):
        return VenueUnknownOutcome(text)
    reason = (
        "unknown_order" if "Unknown order" in text else
        "insufficient_balance" if "Insufficient funds" in text else
        "unknown_symbol" if "Unknown asset pair" in text else
        "would_take" if "Post only" in text else "other"
    )
    return VenueRejected(errors[0], text, reason=reason)
