"""The venue's JSON shapes: orders, fills, products, accounts, time; and its order ids.

Decimals are strings with eight places, integer ids bare numbers, times ISO 8601 with microseconds
in UTC. Orders are named by UUIDs: each engine order (``symbol``, ``order_id``) gets a fixed one, and
``OrderIds`` finds the engine order again. Fees are in the quote currency, as the venue charges them:
a buyer's commission, which the shared engine takes in the base asset, is shown at the trade price.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from ..instruments import InstrumentSpec, fmt
from ..model import Fill, Order
from .symbols import canonical_asset

__all__ = ["OrderIds", "iso", "order_json", "fill_json", "product_json", "account_rows", "UUID_RE", "fee_in_quote",
           "profile_id", "user_id", "fill_fee"]

_NS = uuid.UUID("5f0c8a7e-2b1d-4c55-9a43-6e1f0d2c7b90")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_ENDED = {"FILLED": "filled", "CANCELED": "canceled", "EXPIRED": "canceled", "EXPIRED_IN_MATCH": "canceled",
          "REJECTED": "rejected"}


def iso(ms: int) -> str:
    """Epoch milliseconds as the venue's ISO 8601 time (microseconds, ``Z``)."""
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{(ms % 1000) * 1000:06d}Z"


def profile_id(account: str) -> str:
    return str(uuid.uuid5(_NS, f"profile/{account}"))


def user_id(account: str) -> str:
    return uuid.uuid5(_NS, f"user/{account}").hex[:24]


class OrderIds:
    """UUIDs of engine orders, both ways; and each account's orders in the order they were placed."""

    def __init__(self) -> None:
        self._by_uuid: dict[str, tuple[str, int]] = {}
        self._seq: dict[tuple[str, int], int] = {}
        self.of_account: dict[str, list[tuple[str, int]]] = {}
        self.client_oids: set[tuple[str, int]] = set()  # orders placed with a client_oid

    def uuid_of(self, symbol: str, order_id: int) -> str:
        u = str(uuid.uuid5(_NS, f"{symbol}/{order_id}"))
        self._by_uuid.setdefault(u, (symbol, order_id))
        return u

    def register(self, account: str, symbol: str, order_id: int, with_client_oid: bool) -> str:
        key = (symbol, order_id)
        self._seq[key] = len(self._seq) + 1
        self.of_account.setdefault(account, []).append(key)
        if with_client_oid:
            self.client_oids.add(key)
        return self.uuid_of(symbol, order_id)

    def seq(self, symbol: str, order_id: int) -> int:
        return self._seq.get((symbol, order_id), 0)

    def find(self, text: str) -> tuple[str, int] | None:
        """The engine order of a UUID (with or without dashes, any case)."""
        if not UUID_RE.match(text):
            return None
        return self._by_uuid.get(str(uuid.UUID(text)))


def fee_in_quote(commission: Decimal, commission_asset: str | None, price: Decimal, spec: InstrumentSpec) -> Decimal:
    if commission_asset is not None and commission_asset == spec.base_asset:
        return commission * price
    return commission


def fill_fee(f: Fill, spec: InstrumentSpec) -> Decimal:
    return fee_in_quote(f.commission, f.commission_asset, f.price, spec)


def order_json(o: Order, pid: str, oid: str, fees: Decimal, has_client_oid: bool) -> dict[str, Any]:
    """An order as ``GET /orders/{id}`` shows it."""
    done = o.is_done
    market = o.type == "MARKET"
    out: dict[str, Any] = {"id": oid}
    if not market:
        out["price"] = fmt(o.price)
    if o.orig_qty > 0 or not market:
        out["size"] = fmt(o.orig_qty)
    out["product_id"] = pid
    out["profile_id"] = profile_id(o.account_id)
    out["side"] = o.side.lower()
    if market and o.quote_order_qty > 0:
        out["funds"] = fmt(o.quote_order_qty)
        out["specified_funds"] = fmt(o.quote_order_qty)
    out["type"] = "market" if market else "limit"
    if not market:
        out["time_in_force"] = "GTC" if o.type == "LIMIT_MAKER" else o.time_in_force
    out["post_only"] = o.type == "LIMIT_MAKER"
    out["created_at"] = iso(o.time)
    if done:
        out["done_at"] = iso(o.update_time)
        out["done_reason"] = _ENDED.get(o.status, "canceled")
    out["fill_fees"] = f"{fees.quantize(Decimal('1e-16')):f}"
    out["filled_size"] = fmt(o.executed_qty)
    out["executed_value"] = f"{o.cum_quote.quantize(Decimal('1e-16')):f}"
    out["status"] = "done" if done else "open"
    out["settled"] = done
    if has_client_oid:
        out["client_oid"] = o.client_order_id
    return out


def fill_json(f: Fill, pid: str, oid: str, account: str, spec: InstrumentSpec) -> dict[str, Any]:
    """One of the account's fills as ``GET /fills`` shows it."""
    return {
        "created_at": iso(f.time),
        "trade_id": f.trade_id,
        "product_id": pid,
        "order_id": oid,
        "user_id": user_id(account),
        "profile_id": profile_id(account),
        "liquidity": "M" if f.is_maker else "T",
        "price": fmt(f.price),
        "size": fmt(f.qty),
        "fee": f"{fill_fee(f, spec).quantize(Decimal('1e-16')):f}",
        "side": "buy" if f.is_buyer else "sell",
        "settled": True,
        "usd_volume": fmt(f.quote_qty),
    }


def product_json(spec: InstrumentSpec, pid: str) -> dict[str, Any]:
    """A product: tick (``quote_increment``), step (``base_increment``), notional floor (``min_market_funds``)."""
    trading = spec.status == "TRADING"
    base, quote = pid.split("-", 1)
    return {
        "id": pid,
        "base_currency": base,
        "quote_currency": quote,
        "quote_increment": fmt(spec.tick_size),
        "base_increment": fmt(spec.step_size),
        "display_name": f"{base}/{quote}",
        "min_market_funds": fmt(spec.min_notional),
        "margin_enabled": False,
        "post_only": False,
        "limit_only": False,
        "cancel_only": False,
        "status": "online" if trading else "offline",
        "status_message": "",
        "trading_disabled": not trading,
        "fx_stablecoin": False,
        "max_slippage_percentage": "0.10000000",
        "auction_mode": False,
        "high_bid_limit_percentage": "",
    }


def account_rows(account: str, balances: dict[str, list[Decimal]]) -> list[dict[str, Any]]:
    """``GET /accounts``: every asset of the account with its balance, hold and available amount."""
    out = []
    for asset in sorted(balances):
        free, locked = balances[asset]
        out.append({
            "id": str(uuid.uuid5(_NS, f"account/{account}/{asset}")),
            "currency": canonical_asset(asset),
            "balance": f"{(free + locked).quantize(Decimal('1e-16')):f}",
            "hold": f"{locked.quantize(Decimal('1e-16')):f}",
            "available": f"{free.quantize(Decimal('1e-16')):f}",
            "profile_id": profile_id(account),
            "trading_enabled": True,
        })
    return out
