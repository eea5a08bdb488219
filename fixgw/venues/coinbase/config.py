"""Coinbase Exchange configuration: frozen, secrets hidden from repr, read from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fixgw.venues._common.env import require_env

__all__ = ["CoinbaseConfig"]


@dataclass(frozen=True, slots=True)
class CoinbaseConfig:
    """Coinbase Exchange REST credentials. ``api_secret`` is the base64 secret as issued."""

    rest_url: str
    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    passphrase: str = field(repr=False)
    ws_url: str = ""
    name: str = "coinbase"
    request_timeout_s: float = 10.0
    requests_per_second: int = 10

    @classmethod
    def from_env(
        cls,
        rest_url: str,
        *,
        api_key_env: str = "COINBASE_API_KEY",
        api_secret_env: str = "COINBASE_API_SECRET",
        passphrase_env: str = "COINBASE_API_PASSPHRASE",
        **options: Any,
    ) -> CoinbaseConfig:
        key, secret, passphrase = require_env(api_key_env, api_secret_env, passphrase_env)
        return cls(rest_url=rest_url, api_key=key, api_secret=secret, passphrase=passphrase, **options)
