"""Kraken spot configuration: frozen, secrets hidden from repr, read from the environment or the
gateway's ``[[venues]]`` entry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fixgw.venues._common.env import require_env

__all__ = ["KrakenConfig"]


@dataclass(frozen=True, slots=True)
class KrakenConfig:
    """Kraken spot credentials and tuning; ``api_secret`` is the base64 private key as issued.

    ``ws_url`` is the authenticated WebSocket v2 endpoint (``wss://ws-auth.kraken.com/v2`` at the
    venue); empty means ``rest_url`` with a ``ws`` scheme and ``/v2`` (the simulator's layout).
    ``counter_limit`` / ``counter_decay_per_s`` model the REST counter of the key's tier (starter
    15 at 0.33/s); ``trade_limit`` / ``trade_decay_per_s`` the per-pair trading counter (starter 60 at 1/s).
    """

    rest_url: str
    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    ws_url: str = ""
    name: str = "kraken"
    request_timeout_s: float = 10.0
    counter_limit: int = 15
    counter_decay_per_s: float = 0.33
    trade_limit: int = 60
    trade_decay_per_s: float = 1.0
    #: venue time after a lost AddOrder during which the order may still appear (Kraken has no
    #: receive window); only then is it reported as not placed
    accept_window_s: float = 10.0
    unknown_poll_s: float = 0.25
    #: how long a command waits for the feed to report its effect before asking over REST
    stream_wait_s: float = 1.0
    ws_backoff_base_s: float = 0.5
    ws_backoff_cap_s: float = 30.0
    clock_resync_s: float = 300.0
    #: while the feed is down, reconcile (open orders, then the tracked ones no longer open) this often
    poll_while_down_s: float = 5.0
    #: retries of a request the venue refused for its rate limit or a nonce out of order (never placed)
    max_retries: int = 5

    @property
    def feed_url(self) -> str:
        if self.ws_url:
            return self.ws_url
        base = self.rest_url.rstrip("/")
        return ("wss://" + base[8:] if base.startswith("https://") else "ws://" + base.removeprefix("http://")) + "/v2"

    @classmethod
    def from_env(cls, rest_url: str, *, api_key_env: str = "KRAKEN_API_KEY",
                 api_secret_env: str = "KRAKEN_API_SECRET", **options: Any) -> KrakenConfig:
        key, secret = require_env(api_key_env, api_secret_env)
        return cls(rest_url=rest_url, api_key=key, api_secret=secret, **options)

    @classmethod
    def from_venue_config(cls, venue: Any, **options: Any) -> KrakenConfig:
        """Build from a ``fixgw.config.VenueConfig`` (name, rest_url, ws_url, api_key, api_secret)."""
        return cls(rest_url=venue.rest_url, ws_url=venue.ws_url, api_key=venue.api_key,
                   api_secret=venue.api_secret, name=venue.name, **options)
