"""Binance spot adapter."""

from fixgw.venues.binance.adapter import BINANCE_CAPABILITIES, BinanceAdapter
from fixgw.venues.binance.config import BinanceConfig

__all__ = ["BinanceAdapter", "BinanceConfig", "BINANCE_CAPABILITIES"]
