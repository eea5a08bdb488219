"""Kraken spot configuration: frozen, secrets hidden from repr, read from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fixgw.venues._common.env import require_env

__all__ = ["KrakenConfig"]


@dataclass(frozen=True, slots=True)
class KrakenConfig:
    """Kraken spot REST credentials; ``api_secret`` is the base64 private key as issued."""

    rest_url: str
    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    ws_url: str = ""
    name: str = "kraken"
    request_timeout_s: float = 10.0
    counter_limit: int = 15  # the private-call counter of a starter account
    counter_decay_per_s: float = 0.33

    @classmethod
    def from_env(cls, rest_url: str, *, api_key_env: str = "KRAKEN_API_KEY",
                 api_secret_env: str = "KRAKEN_API_SECRET", **options: Any) -> KrakenConfig:
        key, secret = require_env(api_key_env, api_secret_env)
        return cls(rest_url=rest_url, api_key=key, api_secret=secret, **options)
