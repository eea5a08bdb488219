"""Coinbase Exchange payload shapes (plain data). Amounts are strings; times are ISO 8601."""

from __future__ import annotations

from typing import TypedDict

__all__ = ["Product", "OrderPayload"]


class Product(TypedDict, total=False):
    id: str  # "BTC-USD"
    base_currency: str
    quote_currency: str
    quote_increment: str
    base_increment: str
    min_market_funds: str
    status: str
    post_only: bool
    trading_disabled: bool


class OrderPayload(TypedDict, total=False):
    id: str
    client_oid: str
    product_id: str
    side: str
    type: str
    price: str
    size: str
    funds: str
    time_in_force: str
    post_only: bool
    status: str
    done_reason: str
    filled_size: str
    executed_value: str
    fill_fees: str
    created_at: str
    done_at: str
