"""Gateway configuration: frozen dataclasses built once from one TOML file.

Theory of operation
-------------------
``load_config(path)`` reads the file with ``tomllib`` and hands the table to ``build_config``, which walks
it section by section. Every problem raises ``ConfigError`` whose ``key`` is the path of the offending
setting (``sessions[0].heartbeat_interval``), so an operator can find it without reading code. Unknown keys
are errors too: a typo must not silently fall back to a default.

Secrets never live in the file. A session names the environment variable (``password_env``) or the file
(``password_file``) that holds its password, a venue does the same for its API key and secret; the values
are read once while building and kept in ``repr=False`` fields, so printing a config never shows them.

Money limits are ``Decimal`` read from the TOML *string or integer* (a TOML float is refused: it has
already lost exactness). ``default_config()`` is the embedded demo: one FIX 4.4 and one FIX 4.2 session on
a simulated Binance-compatible venue whose URL the command line fills in when it starts the simulator.
"""

from __future__ import annotations

from . import _load, demos, schema
from ._load import build_config, load_config
from .demos import DEMOS, arbitrage_config, demo_config
from .schema import (
    BEGIN_STRINGS,
    DEFAULT_BRIDGE_PORT,
    DEFAULT_GC_FREEZE_INTERVAL,
    DEFAULT_TERMINAL_ORDER_RETENTION,
    DEFAULT_MAX_HEARTBEAT_INTERVAL,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_MAX_PENDING_CONNECTIONS,
    DEFAULT_MAX_PENDING_PER_ADDRESS,
    DEFAULT_PORT,
    DEFAULT_RESEND_CHUNK_SIZE,
    DEMO_PASSWORD,
    ORDER_ENTRY_MODES,
    VENUE_KINDS,
    BridgeAccount,
    BridgeConfig,
    Config,
    STORE_KINDS,
    StoreConfig,
    ClusterConfig,
    DEFAULT_LEASE_TTL,
    Credentials,
    GatewayConfig,
    Limits,
    Schedule,
    SessionSettings,
    TLSConfig,
    VenueConfig,
    default_config,
)

__all__ = [*schema.__all__, *_load.__all__, "DEMOS", "demo_config", "arbitrage_config"]
