"""Coinbase Exchange authenticated feed — the subscribe message only (the stream is not wired yet).

The feed authenticates a subscription with the REST scheme over ``GET /users/self/verify``.
"""

from __future__ import annotations

from fixgw.venues._common.signing import coinbase_exchange_signature
from fixgw.venues.coinbase.config import CoinbaseConfig

__all__ = ["subscribe_message"]


def subscribe_message(config: CoinbaseConfig, product_ids: list[str], timestamp: str) -> dict:
    """Build a signed ``subscribe`` to the ``user`` channel of the given products."""
    return {
        "type": "subscribe",
        "product_ids": product_ids,
        "channels": ["user"],
        "signature": coinbase_exchange_signature(config.api_secret, timestamp, "GET", "/users/self/verify", ""),
        "key": config.api_key,
        "passphrase": config.passphrase,
        "timestamp": timestamp,
    }
