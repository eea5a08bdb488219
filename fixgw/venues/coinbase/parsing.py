"""Pure functions between Coinbase Exchange payloads and the normalised port.

Orders travel under ``client_oid``, which the venue wants as a UUID: ``ClientIds`` names each of our
client order ids by a fixed UUID (the id itself when it is one, else a name-based UUID of it) and
finds our id again from the UUID. Because the UUID follows from the id, an order is found by
``client:<uuid>`` after a restart too.

Feed messages (``received``/``open``/``match``/``done``) and REST snapshots become ``OrderUpdate``s
for the tracker. A ``done`` carries ``remaining_size``, so for a sized order its cumulative quantity
is known and a match that never arrived shows as a gap; the adapter then reads ``/fills``.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from fixgw.clock import datetime_to_ns
from fixgw.errors import FixgwError, VenueAuthError, VenueRateLimited, VenueRejected, VenueUnknownOutcome
from fixgw.orders.enums import OrderStatus, OrderType, TimeInForce
from fixgw.venues.assets import canonical_asset
from fixgw.venues.base import Instrument, NewOrder, OrderReport
from fixgw.venues._common.signing import format_param
from fixgw.venues._common.tracker import Fill, OrderUpdate, UpdateKind
from fixgw.venues.coinbase.enums import (
    DONE_REASON, SIDE_IN, SIDE_OUT, STATUS, TIF_OUT, TYPE_IN, TYPE_OUT, VENUE_CANCELS,
)

__all__ = ["ClientIds", "parse_products", "order_body", "parse_order", "parse_fills", "parse_feed",
           "error_from_response", "iso_to_ns", "update_to_report", "VENUE"]

VENUE = "coinbase"
_NS = uuid.UUID("3c1d6a55-94f2-4e3b-8f0d-0b7a2e6c9d41")
_ZERO = Decimal(0)


def _d(v: Any) -> Decimal | None:
    return Decimal(str(v)) if v not in (None, "") else None


def iso_to_ns(text: str | None) -> int:
    if not text:
        return 0
    try:
        return datetime_to_ns(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return 0


class ClientIds:
    """Our client order ids <-> the UUIDs the venue knows them by (the most recent ``keep`` remembered)."""

    def __init__(self, keep: int = 100_000) -> None:
        self._keep = keep
        self._back: OrderedDict[str, str] = OrderedDict()

    def to_venue(self, client_order_id: str) -> str:
        try:
            u = str(uuid.UUID(client_order_id))
        except ValueError:
            u = str(uuid.uuid5(_NS, client_order_id))
        self._back[u] = client_order_id
        self._back.move_to_end(u)
        while len(self._back) > self._keep:
            self._back.popitem(last=False)
        return u

    def from_venue(self, client_oid: str | None) -> str:
        """Our id of a venue ``client_oid`` ("" when the order carries none)."""
        if not client_oid:
            return ""
        return self._back.get(client_oid.lower(), client_oid)


def parse_products(products: list[Mapping[str, Any]]) -> list[Instrument]:
    out = []
    for p in products:
        base, quote = canonical_asset(p["base_currency"]), canonical_asset(p["quote_currency"])
        out.append(
            Instrument(
                symbol=f"{base}/{quote}",
                venue_symbol=p["id"],
                base=p["base_currency"],
                quote=p["quote_currency"],
                tick_size=_d(p.get("quote_increment")),
                lot_step=_d(p.get("base_increment")),
                min_qty=_d(p.get("base_increment")),
                min_notional=_d(p.get("min_market_funds")),
                min_notional_applies_to_market=True,
                order_types=frozenset({OrderType.LIMIT, OrderType.MARKET}),
                time_in_force=frozenset(TIF_OUT),
                post_only_allowed=True,
                quote_qty_market_allowed=not p.get("limit_only", False),
                trading=p.get("status", "online") == "online" and not p.get("trading_disabled", False)
                and not p.get("cancel_only", False),
            )
        )
    return out


def order_body(order: NewOrder, product_id: str, client_oid: str) -> dict[str, str | bool]:
    """JSON body of POST /orders."""
    if order.order_type not in TYPE_OUT:
        raise VenueRejected("UNSUPPORTED", f"order type {order.order_type.name} is not supported by Coinbase Exchange",
                            reason="unsupported")
    if order.side not in SIDE_OUT:
        raise VenueRejected("UNSUPPORTED", f"side {order.side.value} is not supported", reason="unsupported")
    body: dict[str, str | bool] = {
        "client_oid": client_oid,
        "product_id": product_id,
        "side": SIDE_OUT[order.side],
        "type": TYPE_OUT[order.order_type],
    }
    if order.quantity is not None:
        body["size"] = format_param(order.quantity)
    if order.quote_quantity is not None:
        body["funds"] = format_param(order.quote_quantity)
    if order.price is not None and order.order_type is OrderType.LIMIT:
        body["price"] = format_param(order.price)
    if order.order_type is OrderType.LIMIT:
        tif = order.time_in_force or TimeInForce.GTC
        if tif not in TIF_OUT:
            raise VenueRejected("UNSUPPORTED", f"time in force {tif.name} is not supported by Coinbase Exchange",
                                reason="unsupported")
        body["time_in_force"] = TIF_OUT[tif]
        if order.post_only:
            body["post_only"] = True
    return body


def parse_order(p: Mapping[str, Any], symbol: str, ids: ClientIds | None = None) -> OrderUpdate:
    """A REST order (``POST``/``GET /orders``) as a snapshot."""
    status_text = p.get("status", "pending")
    status = DONE_REASON.get(p.get("done_reason", ""), OrderStatus.CANCELED) if status_text == "done" else \
        STATUS.get(status_text, OrderStatus.NEW)
    if status is OrderStatus.CANCELED and (p.get("type") == "market" or p.get("time_in_force") in ("IOC", "FOK")):
        status = OrderStatus.EXPIRED  # nobody cancels these but the venue: what was left expired
    filled = _d(p.get("filled_size")) or _ZERO
    if status is OrderStatus.NEW and filled:
        status = OrderStatus.PARTIALLY_FILLED  # no partial-fill status at Coinbase: derive it
    oid = p.get("client_oid", "")
    return OrderUpdate(
        symbol=symbol,
        venue_order_id=str(p["id"]),
        client_order_id=ids.from_venue(oid) if ids is not None else oid,
        status=status,
        kind=UpdateKind.SNAPSHOT,
        ts_ns=iso_to_ns(p.get("done_at") or p.get("created_at")),
        side=SIDE_IN.get(p.get("side", "")),
        order_type=TYPE_IN.get(p.get("type", "")),
        quantity=_d(p.get("size")),
        price=_d(p.get("price")) if p.get("type", "limit") == "limit" else None,
        cum_qty=filled,
        cum_quote=_d(p.get("executed_value")) or _ZERO,
        reason=str(p.get("reject_reason") or p.get("done_reason") or ""),
    )


def parse_fills(rows: list[Mapping[str, Any]], venue_order_id: str, quote: str | None) -> tuple[Fill, ...]:
    """``GET /fills`` rows of one order, oldest first (the venue lists the newest first)."""
    fills = [
        Fill(trade_id=str(r["trade_id"]), qty=Decimal(str(r["size"])), price=Decimal(str(r["price"])),
             fee=_d(r.get("fee")) or _ZERO, fee_asset=quote, is_maker=r.get("liquidity") == "M",
             ts_ns=iso_to_ns(r.get("created_at")))
        for r in rows if str(r.get("order_id")) == venue_order_id
    ]
    fills.sort(key=lambda f: (f.ts_ns, int(f.trade_id) if f.trade_id.isdigit() else 0))
    return tuple(fills)


def parse_feed(msg: Mapping[str, Any], symbol: str, ids: ClientIds, quote: str | None,
               quantity: Decimal | None, mine: Any) -> list[OrderUpdate]:
    """The updates a ``user``-channel message says about our orders.

    ``quantity`` is the tracked order size (to turn ``remaining_size`` into a cumulative quantity);
    ``mine(order_id)`` tells whether an order id is ours (a match names both sides).
    """
    kind = msg.get("type")
    ts = iso_to_ns(msg.get("time"))
    oid = str(msg.get("order_id", ""))
    if kind == "received":
        return [OrderUpdate(
            symbol=symbol, venue_order_id=oid, client_order_id=ids.from_venue(msg.get("client_oid")
                                                                              or msg.get("client-oid")),
            status=OrderStatus.NEW, kind=UpdateKind.NEW, ts_ns=ts, side=SIDE_IN.get(msg.get("side", "")),
            order_type=TYPE_IN.get(msg.get("order_type", "")), quantity=_d(msg.get("size")),
            price=_d(msg.get("price")), cum_qty=_ZERO)]
    if kind == "open":
        return [OrderUpdate(symbol=symbol, venue_order_id=oid, client_order_id="", status=OrderStatus.NEW,
                            kind=UpdateKind.NEW, ts_ns=ts, side=SIDE_IN.get(msg.get("side", "")),
                            price=_d(msg.get("price")))]
    if kind == "match":
        out = []
        size, price = Decimal(str(msg["size"])), Decimal(str(msg["price"]))
        maker_side = msg.get("side")
        for role in ("taker", "maker"):
            vid = str(msg.get(f"{role}_order_id", ""))
            if not (msg.get(f"{role}_user_id") or msg.get(f"{role}_profile_id") or mine(vid)):
                continue
            rate = _d(msg.get(f"{role}_fee_rate")) or _ZERO
            side = maker_side if role == "maker" else ("sell" if maker_side == "buy" else "buy")
            fill = Fill(trade_id=str(msg["trade_id"]), qty=size, price=price, fee=size * price * rate,
                        fee_asset=quote, is_maker=role == "maker", ts_ns=ts)
            out.append(OrderUpdate(symbol=symbol, venue_order_id=vid, client_order_id="",
                                   status=OrderStatus.PARTIALLY_FILLED, kind=UpdateKind.TRADE, ts_ns=ts,
                                   side=SIDE_IN.get(side or ""), fills=(fill,)))
        return out
    if kind == "done":
        reason = msg.get("reason")
        remaining = _d(msg.get("remaining_size"))
        cum = quantity - remaining if quantity is not None and remaining is not None else None
        if reason == "filled":
            status, kind_, why = OrderStatus.FILLED, UpdateKind.TRADE, "filled"
            cum = quantity if quantity is not None else None
        else:
            code = msg.get("cancel_reason")
            expired = code is not None
            status = OrderStatus.EXPIRED if expired else OrderStatus.CANCELED
            kind_ = UpdateKind.EXPIRED if expired else UpdateKind.CANCELED
            why = VENUE_CANCELS.get(int(code), str(code)) if expired and str(code).isdigit() else (
                str(code) if expired else "canceled")
        return [OrderUpdate(symbol=symbol, venue_order_id=oid, client_order_id="", status=status, kind=kind_,
                            ts_ns=ts, side=SIDE_IN.get(msg.get("side", "")), cum_qty=cum, reason=why)]
    return []


def update_to_report(u: OrderUpdate) -> OrderReport:
    return OrderReport(venue=VENUE, symbol=u.symbol, client_order_id=u.client_order_id,
                       venue_order_id=u.venue_order_id, status=u.status, side=u.side, order_type=u.order_type,
                       quantity=u.quantity, price=u.price, cum_qty=u.cum_qty or _ZERO, cum_quote=u.cum_quote or _ZERO,
                       ts_ns=u.ts_ns)


def error_from_response(status: int, body: Any, retry_after: str | None = None) -> FixgwError | None:
    """The typed error of an answer (``None`` for a success), with a reason key on refusals."""
    msg = body.get("message", "") if isinstance(body, Mapping) else ""
    if status < 400:
        return None
    if status == 429:
        try:
            wait = float(retry_after) if retry_after else None
        except ValueError:
            wait = None
        return VenueRateLimited(msg or "rate limited", retry_after=wait)
    if status >= 500:
        return VenueUnknownOutcome(f"HTTP {status}: {msg}")
    if status in (401, 403):
        if "timestamp" in msg.lower():
            return VenueRejected(status, msg, reason="stale_timestamp")
        return VenueAuthError(f"HTTP {status}: {msg}" if msg else f"HTTP {status}")
    lowered = msg.lower()
    reason = (
        "unknown_order" if status == 404 or "not found" in lowered or lowered == "order already done"
        else "insufficient_balance" if "insufficient" in lowered
        else "would_take" if "post only" in lowered
        else "duplicate_order" if "duplicate" in lowered
        else "unknown_symbol" if "product" in lowered
        else "bad_precision" if "too accurate" in lowered
        else "filter:MIN_NOTIONAL" if "too small" in lowered
        else "market_closed" if "disabled" in lowered or "cancel only" in lowered
        else "unsupported" if "not supported" in lowered
        else "invalid_order" if lowered.startswith("invalid")
        else "other"
    )
    return VenueRejected(status, msg, reason=reason)
