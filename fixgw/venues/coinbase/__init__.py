"""Coinbase Exchange adapter (partial: signing, instruments, order entry and queries over REST)."""

from fixgw.venues.coinbase.adapter import COINBASE_CAPABILITIES, CoinbaseExchangeAdapter
from fixgw.venues.coinbase.config import CoinbaseConfig

__all__ = ["CoinbaseExchangeAdapter", "CoinbaseConfig", "COINBASE_CAPABILITIES"]
