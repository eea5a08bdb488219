"""The configuration's shape: frozen dataclasses, their defaults, and the embedded demo.

Plain data with no TOML in sight: ``fixgw.config._load`` builds these from a file, tests and embedders
may build them by hand. Secrets sit in ``repr=False`` fields, so printing a config never shows them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from typing import Any

__all__ = [
    "TLSConfig",
    "GatewayConfig",
    "StoreConfig",
    "STORE_KINDS",
    "ClusterConfig",
    "DEFAULT_LEASE_TTL",
    "Credentials",
    "Schedule",
    "Limits",
    "SessionSettings",
    "VenueConfig",
    "BridgeAccount",
    "Config",
    "BridgeConfig",
    "default_config",
    "DEFAULT_BRIDGE_PORT",
    "DEFAULT_PORT",
    "DEMO_PASSWORD",
    "VENUE_KINDS",
    "ORDER_ENTRY_MODES",
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_GC_FREEZE_INTERVAL",
    "DEFAULT_TERMINAL_ORDER_RETENTION",
    "DEFAULT_MAX_PENDING_CONNECTIONS",
    "DEFAULT_MAX_PENDING_PER_ADDRESS",
    "DEFAULT_LOGON_FAILURE_DELAY",
    "DEFAULT_LOGON_FAILURE_MAX_DELAY",
    "DEFAULT_LOGON_FAILURE_FORGET",
    "DEFAULT_RESEND_CHUNK_SIZE",
    "DEFAULT_MAX_HEARTBEAT_INTERVAL",
    "BEGIN_STRINGS",
]

#: The documented port of ``fixgw run`` (the embedded demo).
DEFAULT_PORT = 9878
#: The documented port of the REST/WebSocket bridge that ``fixgw run`` starts beside the acceptor.
DEFAULT_BRIDGE_PORT = 9880
#: The password of the demo sessions of ``default_config()``; for the loopback demo only.
DEMO_PASSWORD = "demo"
VENUE_KINDS = ("binance", "coinbase", "kraken")
ORDER_ENTRY_MODES = ("ws", "rest")
#: Default ``max_in_flight`` of a venue. A WebSocket API connection pipelines requests, so the bound
#: only has to stop a stalled venue from collecting an unbounded backlog of calls.
DEFAULT_MAX_IN_FLIGHT = 256
DEFAULT_GC_FREEZE_INTERVAL = 0.1
DEFAULT_TERMINAL_ORDER_RETENTION = 1_000
#: Connections not yet logged on, in total and from one host (the acceptor's defaults).
DEFAULT_MAX_PENDING_CONNECTIONS = 256
DEFAULT_MAX_PENDING_PER_ADDRESS = 16
#: The brake on failed Logons from one host (the acceptor's defaults), seconds: the first wait, its cap
#: (it doubles per failure in a row), and how long a quiet host keeps its count.
DEFAULT_LOGON_FAILURE_DELAY = 0.5
DEFAULT_LOGON_FAILURE_MAX_DELAY = 30.0
DEFAULT_LOGON_FAILURE_FORGET = 300.0
#: Messages resent per write when answering a ResendRequest (the session engine's default).
DEFAULT_RESEND_CHUNK_SIZE = 1000
#: Largest HeartBtInt (108) a client's Logon may ask for, seconds (the session engine's default).
DEFAULT_MAX_HEARTBEAT_INTERVAL = 300
BEGIN_STRINGS = ("FIX.4.2", "FIX.4.4")


@dataclass(frozen=True, slots=True)
class TLSConfig:
    """Server certificate and key; with ``client_ca`` the gateway also requires client certificates."""

    cert: Path
    key: Path
    client_ca: Path | None = None


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """The ``[gateway]`` table: where to listen and where to keep state."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    tls: TLSConfig | None = None
    #: One SQLite file holding the message store and the order journal; ``None`` keeps state in memory.
    store_path: Path | None = None
    #: How clients spell symbols; ``{base}`` and ``{quote}`` are replaced by the instrument's assets.
    symbol_format: str = "{base}/{quote}"
    #: Deprecated and ignored (the gateway froze its heap periodically while its books were unbounded);
    #: still read, so an old file loads, with a ``DeprecationWarning``.
    gc_freeze_interval: float | None = DEFAULT_GC_FREEZE_INTERVAL
    #: How many finished orders each book keeps in memory (the most recent); the others are answered
    #: from the journal. ``None`` keeps every order in memory.
    terminal_order_retention: int | None = DEFAULT_TERMINAL_ORDER_RETENTION
    #: Connections accepted but not yet handed to a session (before their Logon), in total and per host;
    #: past either the acceptor closes a new connection at once.
    max_pending_connections: int = DEFAULT_MAX_PENDING_CONNECTIONS
    max_pending_per_address: int = DEFAULT_MAX_PENDING_PER_ADDRESS
    #: After failed Logons a host's next Logon is answered after ``logon_failure_delay`` seconds, doubled
    #: per failure in a row up to ``logon_failure_max_delay``; a host quiet for ``logon_failure_forget``
    #: seconds starts afresh. A delay of 0 turns the brake off.
    logon_failure_delay: float = DEFAULT_LOGON_FAILURE_DELAY
    logon_failure_max_delay: float = DEFAULT_LOGON_FAILURE_MAX_DELAY
    logon_failure_forget: float = DEFAULT_LOGON_FAILURE_FORGET

    def client_symbol(self, base: str, quote: str) -> str:
        """Return the client-side spelling of the instrument ``base``/``quote``."""
        return self.symbol_format.format(base=base, quote=quote)


#: The ``[store]`` kinds: ``sqlite`` (the file ``gateway.store_path``), ``memory``, ``postgres``.
STORE_KINDS = ("sqlite", "memory", "postgres")


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """The ``[store]`` table: where the message store and the order journals live.

    ``kind`` ``""`` (no table) keeps the older rule: SQLite at ``gateway.store_path``, else memory.
    ``postgres`` needs ``dsn``: a libpq connection string read from the environment variable
    (``dsn_env``) or the file (``dsn_file``) the config names, never written in the file; it may hold
    a password, so it is not shown in a repr.
    """

    kind: str = ""
    dsn: str = field(default="", repr=False)


#: Seconds a node's lease on a session lives without renewal (``[cluster] lease_ttl``).
DEFAULT_LEASE_TTL = 6.0


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """The ``[cluster]`` table: this node's part in a group of gateways sharing one PostgreSQL store.

    ``node_id`` ``""`` (no table): a single gateway, no leases. Otherwise each session is owned by one
    node at a time through a lease of ``lease_ttl`` seconds, renewed every third of it
    (``fixgw.gateway._ownership``); ``advertise`` is the address (``host:port``) clients are told to use
    when they log on to a node that does not own their session.
    """

    node_id: str = ""
    lease_ttl: float = DEFAULT_LEASE_TTL
    advertise: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.node_id)


@dataclass(frozen=True, slots=True)
class Credentials:
    """Logon credentials a session must present (Username 553 / Password 554)."""

    username: str
    password: str = field(repr=False)

    def matches(self, username: str | None, password: str | None) -> bool:
        """Return whether the given pair is the configured one (constant-time on the password)."""
        return self.refusal(username, password) is None

    def refusal(self, username: str | None, password: str | None) -> str | None:
        """Return ``None`` for the configured pair, else why it is refused: ``"missing credentials"``
        (no Username, or no Password), ``"unknown user"`` or ``"invalid password"`` (compared in
        constant time). The reason goes back to the peer in the Logout's Text; it never echoes a value."""
        import hmac

        if username is None:
            return "missing credentials"
        if username != self.username:
            return "unknown user"
        if password is None:
            return "missing credentials"
        if not hmac.compare_digest(password.encode("utf-8"), self.password.encode("utf-8")):
            return "invalid password"
        return None


@dataclass(frozen=True, slots=True)
class Schedule:
    """The hours a session may be logged on: ``start``..``end`` local time on ``weekdays`` (0 = Monday).

    Plain data: the session engine's ``SessionSchedule`` (built from it by the gateway) applies it; an
    ``end`` at or before ``start`` wraps past midnight."""

    start: time
    end: time
    timezone: str = "UTC"
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)


@dataclass(frozen=True, slots=True)
class Limits:
    """Pre-trade limits of one session; ``None`` means no limit."""

    max_order_qty: Decimal | None = None
    max_notional: Decimal | None = None
    max_open_orders: int | None = None
    #: Client-side symbols the session may trade; ``None`` allows every listed instrument.
    allowed_symbols: frozenset[str] | None = None
    #: Refuse limit prices further than this percentage from the last trade.
    price_band_pct: Decimal | None = None
    kill_switch: bool = False


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """One ``[[sessions]]`` entry. CompIDs are from the gateway's view: we are ``sender_comp_id``."""

    begin_string: str
    sender_comp_id: str
    target_comp_id: str
    venue: str
    account: str
    heartbeat_interval: int = 30
    credentials: Credentials | None = None
    #: Networks a client may connect from; empty allows any address.
    allowed_addresses: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    schedule: Schedule | None = None
    reset_on_logon: bool = False
    limits: Limits = Limits()
    # Session engine settings (``fixgw.session.SessionConfig`` documents each); times in seconds.
    #: Put NextExpectedMsgSeqNum (789) on our Logon; FIX 4.4 only.
    send_next_expected_msg_seq_num: bool = False
    logon_timeout: float = 10.0
    logout_timeout: float = 10.0
    #: SendingTime (52) tolerance; ``None`` turns the check off.
    max_sending_time_skew: float | None = 120.0
    #: Most resent messages per write when answering a ResendRequest; 0 = all at once.
    resend_chunk_size: int = DEFAULT_RESEND_CHUNK_SIZE
    #: How long a ResendRequest of ours may go unanswered before we ask again; ``None``: never again.
    gap_fill_timeout: float | None = 30.0
    #: Unanswered ResendRequests in a row for one gap before we log out.
    max_resend_requests: int = 3
    #: Validate inbound messages against the FIX dictionary (rejects carry 373 reasons).
    validate: bool = True
    #: Largest HeartBtInt (108) the client's Logon may ask for; a larger one is refused.
    max_heartbeat_interval: int = DEFAULT_MAX_HEARTBEAT_INTERVAL
    #: With ``validate``: check user-defined tags (>= 5000) like any other; False lets them through.
    validate_user_defined_fields: bool = True
    #: With ``validate``: let through tags the dictionary does not know or the message type does not define.
    allow_unknown_message_fields: bool = False
    #: A drop-copy session: it gets an ExecutionReport for every order of ``copies`` and may send
    #: nothing but session messages (an application message is answered BusinessMessageReject).
    drop_copy: bool = False
    #: The accounts a drop-copy session copies: sessions' ``account`` values and bridge account names;
    #: empty copies every account.
    copies: tuple[str, ...] = ()

    def address_allowed(self, address: str | None) -> bool:
        """Return whether a client at ``address`` may log on to this session."""
        if not self.allowed_addresses:
            return True
        if address is None:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.allowed_addresses)


@dataclass(frozen=True, slots=True)
class VenueConfig:
    """One ``[[venues]]`` entry. With ``simulated`` the command line starts the simulator and fills the URLs."""

    name: str
    kind: str
    rest_url: str = ""
    ws_url: str = ""
    api_key: str = field(default="", repr=False)
    api_secret: str = field(default="", repr=False)
    simulated: bool = False
    #: Our own ceilings under the venue's published rate limits (``None``: the adapter's defaults).
    orders_per_10s: int | None = None
    weight_per_minute: int | None = None
    #: Venue requests the gateway keeps in flight at once; more wait their turn in the gateway.
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    #: How orders reach the venue: "ws" (its WebSocket API, REST while that is down) or "rest".
    order_entry: str = "ws"
    #: The day the venue API key expires, when the venue gives keys an end (the bridge counts the days).
    api_key_expires: date | None = None
    #: The passphrase a Coinbase Exchange key was created with (sent as CB-ACCESS-PASSPHRASE).
    api_passphrase: str = field(default="", repr=False)
    #: With ``simulated``: where the simulator's market maker starts each instrument, as
    #: (``BASE/QUOTE``, mid price) pairs; an instrument not named keeps the simulator's default.
    sim_prices: tuple[tuple[str, Decimal], ...] = ()

    def sim_price(self, symbol: str) -> Decimal | None:
        """The configured starting mid price of ``BASE/QUOTE`` on the simulator, or ``None``."""
        for name, price in self.sim_prices:
            if name == symbol:
                return price
        return None


@dataclass(frozen=True, slots=True)
class BridgeAccount:
    """One ``[[bridge.accounts]]`` entry: an order account entered over REST, on one venue.

    The gateway holds a book and a journal for it as for a FIX session (recovered and reconciled at
    restart); ``limits`` are its pre-trade limits, as a session's.
    """

    name: str
    venue: str
    limits: Limits = Limits()


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    """The ``[bridge]`` section: where the REST/WebSocket bridge listens and whom it lets in.

    ``keys`` are the ``[[bridge.keys]]`` entries as written (id, where the secret lives, permissions,
    networks; a relative ``secret_file`` already taken from the config file's folder): no secret is read
    here. ``fixgw.bridge.load_keys`` reads and checks them when the bridge starts.
    """

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = DEFAULT_BRIDGE_PORT
    tls: TLSConfig | None = None
    window: float = 10.0
    keys: tuple[tuple[tuple[str, Any], ...], ...] = ()
    #: The ``[[bridge.accounts]]``: the order accounts REST order entry trades in (each with a book).
    accounts: tuple["BridgeAccount", ...] = ()

    def key_entries(self) -> list[dict[str, Any]]:
        """Return the key entries as tables (what ``load_keys`` takes)."""
        return [{k: (list(v) if isinstance(v, tuple) else v) for k, v in entry} for entry in self.keys]


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration."""

    gateway: GatewayConfig
    sessions: tuple[SessionSettings, ...]
    venues: tuple[VenueConfig, ...]
    bridge: BridgeConfig = field(default_factory=BridgeConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)

    def venue(self, name: str) -> VenueConfig:
        """Return the venue called ``name`` (``KeyError`` if none)."""
        for v in self.venues:
            if v.name == name:
                return v
        raise KeyError(name)

    def with_venue(self, name: str, **changes: Any) -> "Config":
        """Return a copy with fields of venue ``name`` replaced (used to fill in a simulator's URLs)."""
        venues = tuple(replace(v, **changes) if v.name == name else v for v in self.venues)
        return replace(self, venues=venues)


def default_config(*, port: int = DEFAULT_PORT, store_path: Path | None = None) -> Config:
    """Return the embedded demo: FIX 4.4 and FIX 4.2 sessions on one simulated venue.

    Clients log on as ``CLIENT44`` (FIX.4.4) or ``CLIENT42`` (FIX.4.2) to ``FIXGW``, with username
    ``demo`` and password ``DEMO_PASSWORD``. The venue's URLs and keys are filled in by whoever starts
    the simulator (``Config.with_venue``). Orders entered over the bridge go to account ``oms``.
    """
    limits = Limits(max_order_qty=Decimal("100"), max_notional=Decimal("1000000"), max_open_orders=1000)
    creds = Credentials("demo", DEMO_PASSWORD)
    sessions = tuple(
        SessionSettings(
            begin_string=begin,
            sender_comp_id="FIXGW",
            target_comp_id=target,
            venue="sim",
            account="demo",
            heartbeat_interval=30,
            credentials=creds,
            limits=limits,
        )
        for begin, target in (("FIX.4.4", "CLIENT44"), ("FIX.4.2", "CLIENT42"))
    )
    return Config(
        gateway=GatewayConfig(port=port, store_path=store_path),
        sessions=sessions,
        venues=(VenueConfig(name="sim", kind="binance", simulated=True),),
        # One account for orders entered over the bridge's REST face.
        bridge=BridgeConfig(accounts=(BridgeAccount(name="oms", venue="sim", limits=limits),)),
    )
