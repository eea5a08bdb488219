"""Coinbase Exchange configuration: frozen, secrets hidden from repr, read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from fixgw.errors import ConfigError
from fixgw.venues._common.env import require_env

__all__ = ["CoinbaseConfig", "PASSPHRASE_ENV"]

#: where ``from_venue_config`` finds the passphrase when the venue entry has none
PASSPHRASE_ENV = "COINBASE_API_PASSPHRASE"


@dataclass(frozen=True, slots=True)
class CoinbaseConfig:
    """Where and how to reach Coinbase Exchange (or a server speaking its API, such as the simulator).

    ``api_secret`` is the base64 secret as issued; ``passphrase`` the one the key was created with.
    ``ws_url`` is the feed (``wss://ws-feed.exchange.coinbase.com``): the adapter subscribes to the
    authenticated ``user`` channel of every product there. ``requests_per_second`` stays under the
    venue's private limit (15/s per profile); ``fills_per_second`` under the ``/fills`` limit (10/s).
    """

    rest_url: str
    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    passphrase: str = field(repr=False)
    ws_url: str = ""
    name: str = "coinbase"
    request_timeout_s: float = 10.0
    requests_per_second: int = 10
    fills_per_second: int = 8
    max_429_retries: int = 5
    accept_window_s: float = 30.0  # the venue accepts a request up to 30 s after its timestamp
    unknown_outcome_wait_s: float = 15.0
    unknown_poll_s: float = 0.25
    ws_backoff_base_s: float = 0.5
    ws_backoff_cap_s: float = 30.0
    ws_ping_interval_s: float | None = 20.0
    clock_resync_s: float = 300.0
    gap_grace_s: float = 1.0  # let the feed deliver a missing match before asking REST for the fills

    def __post_init__(self) -> None:
        if not self.rest_url:
            raise ConfigError("rest_url", "required")
        if self.requests_per_second <= 0 or self.fills_per_second <= 0:
            raise ConfigError("requests_per_second", "must be positive")

    @classmethod
    def from_env(
        cls,
        rest_url: str,
        *,
        api_key_env: str = "COINBASE_API_KEY",
        api_secret_env: str = "COINBASE_API_SECRET",
        passphrase_env: str = PASSPHRASE_ENV,
        **options: Any,
    ) -> CoinbaseConfig:
        key, secret, passphrase = require_env(api_key_env, api_secret_env, passphrase_env)
        return cls(rest_url=rest_url, api_key=key, api_secret=secret, passphrase=passphrase, **options)

    @classmethod
    def from_venue_config(cls, venue: Any, **options: Any) -> CoinbaseConfig:
        """Build from a ``fixgw.config.VenueConfig`` (name, rest_url, ws_url, api_key, api_secret and
        ``api_passphrase``, else the ``COINBASE_API_PASSPHRASE`` environment variable)."""
        passphrase = getattr(venue, "api_passphrase", "") or os.environ.get(PASSPHRASE_ENV, "")
        if not passphrase:
            raise ConfigError(f"venues.{venue.name}.api_passphrase",
                              f"a Coinbase key needs its passphrase (or {PASSPHRASE_ENV})")
        return cls(rest_url=venue.rest_url, ws_url=venue.ws_url, api_key=venue.api_key, api_secret=venue.api_secret,
                   passphrase=passphrase, name=venue.name, **options)
