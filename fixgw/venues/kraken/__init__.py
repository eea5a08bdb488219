"""Kraken spot adapter: REST order entry (with AmendOrder), the WebSocket v2 executions feed,
reconciliation, instruments, balances."""

from fixgw.venues.kraken.adapter import KRAKEN_CAPABILITIES, KrakenAdapter
from fixgw.venues.kraken.config import KrakenConfig

__all__ = ["KrakenAdapter", "KrakenConfig", "KRAKEN_CAPABILITIES"]
