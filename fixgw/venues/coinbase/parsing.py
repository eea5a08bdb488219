"""Pure functions between Coinbase Exchange payloads and the normalised port."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from fixgw.clock import datetime_to_ns
from fixgw.errors import FixgwError, VenueAuthError, VenueRateLimited, VenueRejected, VenueUnknownOutcome
from fixgw.orders.enums import OrderStatus, OrderType, TimeInForce
from fixgw.venues.base import Instrument, NewOrder
from fixgw.venues._common.signing import format_param
from fixgw.venues._common.tracker import OrderUpdate, UpdateKind
from fixgw.venues.coinbase.enums import DONE_REASON, SIDE_IN, SIDE_OUT, STATUS, TIF_OUT, TYPE_IN, TYPE_OUT

__all__ = ["parse_products", "order_body", "parse_order", "error_from_response", "iso_to_ns"]


def _d(v: Any) -> Decimal | None:
    return Decimal(str(v)) if v not in (None, "") else None


def iso_to_ns(text: str | None) -> int:
    if not text:
        return 0
    return datetime_to_ns(datetime.fromisoformat(text.replace("Z", "+00:00")))


def parse_products(products: list[Mapping[str, Any]]) -> list[Instrument]:
    out = []
    for p in products:
        out.append(
            Instrument(
                symbol=f"{p['base_currency']}/{p['quote_currency']}",
                venue_symbol=p["id"],
                base=p["base_currency"],
                quote=p["quote_currency"],
                tick_size=_d(p.get("quote_increment")),
                lot_step=_d(p.get("base_increment")),
                min_notional=_d(p.get("min_market_funds")),
                order_types=frozenset({OrderType.LIMIT, OrderType.MARKET}),
                time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTD}),
                post_only_allowed=True,
                quote_qty_market_allowed=True,
                trading=p.get("status", "online") == "online" and not p.get("trading_disabled", False),
            )
        )
    return out


def order_body(order: NewOrder, product_id: str) -> dict[str, str | bool]:
    """JSON body of POST /orders (client_oid must be a UUID at Coinbase)."""
    if order.order_type not in TYPE_OUT:
        raise VenueRejected("UNSUPPORTED", f"order type {order.order_type.name} not supported")
    if order.side not in SIDE_OUT:
        raise VenueRejected("UNSUPPORTED", f"side {order.side.value} not supported", reason="unsupported")
    body: dict[str, str | bool] = {
        "client_oid": order.client_order_id,
        "product_id": product_id,
        "side": SIDE_OUT[order.side],
        "type": TYPE_OUT[order.order_type],
    }
    if order.quantity is not None:
        body["size"] = format_param(order.quantity)
    if order.quote_quantity is not None:
        body["funds"] = format_param(order.quote_quantity)
    if order.price is not None:
        body["price"] = format_param(order.price)
    if order.order_type is OrderType.LIMIT:
        body["time_in_force"] = TIF_OUT[order.time_in_force or TimeInForce.GTC]
        if order.post_only:
            body["post_only"] = True
    return body


def parse_order(p: Mapping[str, Any], symbol: str) -> OrderUpdate:
    status_text = p.get("status", "pending")
    status = DONE_REASON.get(p.get("done_reason", ""), OrderStatus.CANCELED) if status_text == "done" else \
        STATUS.get(status_text, OrderStatus.NEW)
    filled = _d(p.get("filled_size")) or Decimal(0)
    if status is OrderStatus.NEW and filled:
        status = OrderStatus.PARTIALLY_FILLED  # no partial-fill status at Coinbase: derive it
    return OrderUpdate(
        symbol=symbol,
        venue_order_id=str(p["id"]),
        client_order_id=p.get("client_oid", ""),
        status=status,
        kind=UpdateKind.SNAPSHOT,
        ts_ns=iso_to_ns(p.get("done_at") or p.get("created_at")),
        side=SIDE_IN.get(p.get("side", "")),
        order_type=TYPE_IN.get(p.get("type", "")),
        quantity=_d(p.get("size")),
        price=_d(p.get("price")),
        cum_qty=filled,
        cum_quote=_d(p.get("executed_value")) or Decimal(0),
    )


def error_from_response(status: int, body: Any) -> FixgwError | None:
    msg = body.get("message", "") if isinstance(body, Mapping) else ""
    if status < 400:
        return None
    if status == 429:
        return VenueRateLimited(msg or "rate limited")
    if status >= 500:
        return VenueUnknownOutcome(f"HTTP {status}: {msg}")
    if status in (401, 403):
        return VenueAuthError(msg or f"HTTP {status}")
    lowered = msg.lower()
    reason = (
        "unknown_order" if status == 404 or "not found" in lowered
        else "insufficient_balance" if "insufficient" in lowered
        else "would_take" if "post only" in lowered
        else "other"
    )
    return VenueRejected(status, msg, reason=reason)
