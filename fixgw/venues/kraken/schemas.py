"""Kraken spot payload shapes (plain data). Every answer is ``{"error": [...], "result": {...}}``."""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = ["Envelope", "AssetPair", "OrderInfo"]


class Envelope(TypedDict):
    error: list[str]
    result: Any


class AssetPair(TypedDict, total=False):
    altname: str
    wsname: str  # "XBT/USD"
    base: str
    quote: str
    pair_decimals: int
    lot_decimals: int
    tick_size: str
    ordermin: str
    costmin: str
    status: str


class OrderInfo(TypedDict, total=False):
    status: str
    cl_ord_id: str
    opentm: float
    closetm: float
    descr: dict[str, str]  # pair, type, ordertype, price
    vol: str
    vol_exec: str
    cost: str
    fee: str
    price: str
