"""Kraken spot adapter (partial: signing, instruments, order entry and queries over REST)."""

from fixgw.venues.kraken.adapter import KRAKEN_CAPABILITIES, KrakenAdapter
from fixgw.venues.kraken.config import KrakenConfig

__all__ = ["KrakenAdapter", "KrakenConfig", "KRAKEN_CAPABILITIES"]
