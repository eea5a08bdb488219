"""Coinbase Exchange adapter: signed REST order entry, the authenticated ``user`` feed, reconciliation."""

from fixgw.venues.coinbase.adapter import COINBASE_CAPABILITIES, CoinbaseExchangeAdapter
from fixgw.venues.coinbase.config import CoinbaseConfig

__all__ = ["CoinbaseExchangeAdapter", "CoinbaseConfig", "COINBASE_CAPABILITIES"]
