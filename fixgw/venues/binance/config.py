"""Binance spot adapter configuration: frozen, secrets hidden from repr, read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from fixgw.errors import ConfigError

__all__ = ["BinanceConfig"]


@dataclass(frozen=True, slots=True)
class BinanceConfig:
    """Where and how to reach Binance spot (or a compatible server such as the simulator).

    ``ws_api_url`` is the WebSocket API endpoint (``.../ws-api/v3``) used for the user-data
    subscription (``userDataStream.subscribe.signature``, which accepts HMAC keys).
    """

    rest_url: str
    ws_api_url: str
    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    name: str = "binance"
    recv_window_ms: int = 5000
    request_timeout_s: float = 10.0
    weight_limit_per_minute: int = 6000
    orders_per_10s: int = 50
    weight_reserve: int = 50  # kept free for cancels
    max_429_retries: int = 5
    unknown_outcome_wait_s: float = 15.0  # how long submit waits to learn an unknown outcome
    unknown_poll_s: float = 0.25
    ws_backoff_base_s: float = 0.5
    ws_backoff_cap_s: float = 30.0
    ws_ping_interval_s: float | None = 20.0
    clock_resync_s: float = 300.0

    def __post_init__(self) -> None:
        if not 0 < self.recv_window_ms <= 60000:
            raise ConfigError("recv_window_ms", "must be in 1..60000 (venue maximum)")
        if not self.rest_url:
            raise ConfigError("rest_url", "required")

    @classmethod
    def from_env(
        cls,
        rest_url: str,
        ws_api_url: str,
        *,
        api_key_env: str = "BINANCE_API_KEY",
        api_secret_env: str = "BINANCE_API_SECRET",
        **options: Any,
    ) -> BinanceConfig:
        """Build a config whose key and secret come from the named environment variables."""
        key, secret = os.environ.get(api_key_env), os.environ.get(api_secret_env)
        if not key:
            raise ConfigError(api_key_env, "environment variable not set")
        if not secret:
            raise ConfigError(api_secret_env, "environment variable not set")
        return cls(rest_url=rest_url, ws_api_url=ws_api_url, api_key=key, api_secret=secret, **options)

    @classmethod
    def from_venue_config(cls, venue: Any, **options: Any) -> BinanceConfig:
        """Build from a ``fixgw.config.VenueConfig`` (name, rest_url, ws_url, api_key, api_secret)."""
        return cls(
            rest_url=venue.rest_url,
            ws_api_url=venue.ws_url,
            api_key=venue.api_key,
            api_secret=venue.api_secret,
            name=venue.name,
            **options,
        )
