"""Binance spot adapter configuration: frozen, secrets hidden from repr, read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from fixgw.errors import ConfigError
from fixgw.venues._common.env import require_env
from fixgw.venues._common.signing import load_ed25519_private_key

__all__ = ["BinanceConfig", "ORDER_ENTRY_MODES"]

ORDER_ENTRY_MODES = ("ws", "rest")

_ED25519_OPTIONS = ("ed25519_private_key_pem", "ed25519_private_key_file", "ed25519_private_key_env")


def _read_ed25519_pem(path: str, env: str) -> str:
    """Return the PEM named by a file path or an environment variable ("" when neither is given)."""
    if path and env:
        raise ConfigError("ed25519_private_key_file", "give a key file or an environment variable, not both")
    if path:
        try:
            with open(path, encoding="ascii") as f:
                return f.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError("ed25519_private_key_file", f"cannot read {path}: {exc}") from None
    if env:
        pem = os.environ.get(env)
        if not pem:
            raise ConfigError(env, "environment variable not set")
        return pem
    return ""


@dataclass(frozen=True, slots=True)
class BinanceConfig:
    """Where and how to reach Binance spot (or a compatible server such as the simulator).

    ``ws_api_url`` is the WebSocket API endpoint (``.../ws-api/v3``) used for the user-data
    subscription (``userDataStream.subscribe.signature``, which accepts every key type) and, with
    ``order_entry="ws"`` (the default), for placing, canceling, replacing and amending orders on a
    second, long-lived connection; REST carries them while that connection is down, and always with
    ``order_entry="rest"``. Queries, open orders and cancel-all use REST either way.

    Requests are signed with ``api_secret`` (an HMAC key) or, instead, with an Ed25519 private key
    (PKCS#8 PEM): give the PEM itself, ``ed25519_private_key_file`` (a path to read it from) or
    ``ed25519_private_key_env`` (the name of an environment variable holding it). The PEM is read
    once, when the config is built.
    """

    rest_url: str
    ws_api_url: str
    api_key: str = field(repr=False)
    api_secret: str = field(default="", repr=False)
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
    ed25519_private_key_pem: str = field(default="", repr=False)
    ed25519_private_key_file: str = ""
    ed25519_private_key_env: str = ""
    order_entry: str = "ws"  # "ws": WebSocket API, REST while it is down; "rest": REST only

    def __post_init__(self) -> None:
        if not 0 < self.recv_window_ms <= 60000:
            raise ConfigError("recv_window_ms", "must be in 1..60000 (venue maximum)")
        if self.order_entry not in ORDER_ENTRY_MODES:
            raise ConfigError("order_entry", f"must be one of {', '.join(ORDER_ENTRY_MODES)}")
        if not self.rest_url:
            raise ConfigError("rest_url", "required")
        pem = self.ed25519_private_key_pem or _read_ed25519_pem(self.ed25519_private_key_file,
                                                                 self.ed25519_private_key_env)
        if pem:
            if self.api_secret:
                raise ConfigError("api_secret", "give an HMAC secret or an Ed25519 private key, not both")
            try:
                load_ed25519_private_key(pem)
            except (ValueError, TypeError) as exc:
                raise ConfigError("ed25519_private_key", f"not a PKCS#8 PEM Ed25519 private key ({exc})") from None
            object.__setattr__(self, "ed25519_private_key_pem", pem)  # frozen: set once, here

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
        """Build a config whose key and secret come from the named environment variables.

        With an Ed25519 key in ``options`` (``ed25519_private_key_file`` / ``_env`` / ``_pem``)
        only the API key is read from the environment.
        """
        if any(options.get(k) for k in _ED25519_OPTIONS):
            (key,), secret = require_env(api_key_env), ""
        else:
            key, secret = require_env(api_key_env, api_secret_env)
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
