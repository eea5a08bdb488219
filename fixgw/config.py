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

import ipaddress
import os
from dataclasses import dataclass, field, replace
from datetime import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError

try:  # Python 3.11+
    import tomllib as _toml
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as _toml  # type: ignore[no-redef]

__all__ = [
    "TLSConfig",
    "GatewayConfig",
    "Credentials",
    "Schedule",
    "Limits",
    "SessionSettings",
    "VenueConfig",
    "Config",
    "load_config",
    "build_config",
    "default_config",
    "DEFAULT_PORT",
    "DEMO_PASSWORD",
    "VENUE_KINDS",
    "BEGIN_STRINGS",
]

#: The documented port of ``fixgw run`` (the embedded demo).
DEFAULT_PORT = 9878
#: The password of the demo sessions of ``default_config()``; for the loopback demo only.
DEMO_PASSWORD = "demo"
VENUE_KINDS = ("binance", "coinbase", "kraken")
BEGIN_STRINGS = ("FIX.4.2", "FIX.4.4")
_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


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

    def client_symbol(self, base: str, quote: str) -> str:
        """Return the client-side spelling of the instrument ``base``/``quote``."""
        return self.symbol_format.format(base=base, quote=quote)


@dataclass(frozen=True, slots=True)
class Credentials:
    """Logon credentials a session must present (Username 553 / Password 554)."""

    username: str
    password: str = field(repr=False)

    def matches(self, username: str | None, password: str | None) -> bool:
        """Return whether the given pair is the configured one (constant-time on the password)."""
        import hmac

        if username != self.username or password is None:
            return False
        return hmac.compare_digest(password.encode("utf-8"), self.password.encode("utf-8"))


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


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration."""

    gateway: GatewayConfig
    sessions: tuple[SessionSettings, ...]
    venues: tuple[VenueConfig, ...]

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


# ----------------------------------------------------------------------------------------------------
# Building


def load_config(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the TOML file at ``path``; relative paths in it are taken from its folder."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            data = _toml.load(f)
    except FileNotFoundError:
        raise ConfigError(str(p), "file not found") from None
    except _toml.TOMLDecodeError as e:
        raise ConfigError(str(p), f"not valid TOML: {e}") from None
    return build_config(data, base_dir=p.parent, environ=environ)


def build_config(
    data: Mapping[str, Any], *, base_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Validate a parsed TOML table and return the frozen ``Config``."""
    env = os.environ if environ is None else environ
    base = base_dir or Path(".")
    r = _Reader(data, "", env, base)
    r.only({"gateway", "sessions", "venues"})
    gateway = _gateway(r.table("gateway"))
    venues = tuple(_venue(v) for v in r.array("venues"))
    if not venues:
        raise ConfigError("venues", "at least one [[venues]] entry is required")
    names = [v.name for v in venues]
    for i, n in enumerate(names):
        if n in names[:i]:
            raise ConfigError(f"venues[{i}].name", f"duplicate venue name {n!r}")
    sessions = tuple(_session(s, set(names)) for s in r.array("sessions"))
    if not sessions:
        raise ConfigError("sessions", "at least one [[sessions]] entry is required")
    seen: dict[tuple[str, str, str], int] = {}
    for i, s in enumerate(sessions):
        key = (s.begin_string, s.sender_comp_id, s.target_comp_id)
        if key in seen:
            raise ConfigError(f"sessions[{i}]", f"same session id as sessions[{seen[key]}]")
        seen[key] = i
    return Config(gateway=gateway, sessions=sessions, venues=venues)


class _Reader:
    """A table plus its key path; typed getters raise ``ConfigError`` naming the full key."""

    def __init__(self, data: Any, path: str, env: Mapping[str, str], base: Path) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(path or "(root)", "must be a table")
        self.data = data
        self.path = path
        self.env = env
        self.base = base

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def only(self, allowed: set[str]) -> None:
        for k in self.data:
            if k not in allowed:
                raise ConfigError(self.key(k), f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def table(self, name: str) -> "_Reader":
        return _Reader(self.data.get(name, {}), self.key(name), self.env, self.base)

    def array(self, name: str) -> list["_Reader"]:
        v = self.data.get(name, [])
        if not isinstance(v, list):
            raise ConfigError(self.key(name), "must be an array of tables ([[...]])")
        return [_Reader(item, f"{self.key(name)}[{i}]", self.env, self.base) for i, item in enumerate(v)]

    def has(self, name: str) -> bool:
        return name in self.data

    def str(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        v = self.data.get(name, default)
        if v is None:
            if required or default is None:
                raise ConfigError(self.key(name), "is required")
        if not isinstance(v, str):
            raise ConfigError(self.key(name), f"must be a string, not {type(v).__name__}")
        return v

    def opt_str(self, name: str) -> str | None:
        if name not in self.data:
            return None
        return self.str(name)

    def int(self, name: str, default: int | None = None, *, lo: int | None = None, hi: int | None = None) -> int:
        v = self.data.get(name, default)
        if v is None:
            raise ConfigError(self.key(name), "is required")
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(self.key(name), f"must be an integer, not {type(v).__name__}")
        if lo is not None and v < lo:
            raise ConfigError(self.key(name), f"must be at least {lo}, not {v}")
        if hi is not None and v > hi:
            raise ConfigError(self.key(name), f"must be at most {hi}, not {v}")
        return v

    def opt_int(self, name: str, *, lo: int | None = None) -> int | None:
        return self.int(name, lo=lo) if name in self.data else None

    def bool(self, name: str, default: bool = False) -> bool:
        v = self.data.get(name, default)
        if not isinstance(v, bool):
            raise ConfigError(self.key(name), f"must be true or false, not {v!r}")
        return v

    def decimal(self, name: str) -> Decimal | None:
        if name not in self.data:
            return None
        v = self.data[name]
        if isinstance(v, float):
            raise ConfigError(self.key(name), "write money as a string (\"0.5\") or an integer, not a float")
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise ConfigError(self.key(name), f"must be a decimal string, not {type(v).__name__}")
        try:
            d = Decimal(v)
        except InvalidOperation:
            raise ConfigError(self.key(name), f"not a decimal number: {v!r}") from None
        if not d.is_finite() or d <= 0:
            raise ConfigError(self.key(name), f"must be a positive number, not {v!r}")
        return d

    def str_list(self, name: str) -> list[str] | None:
        if name not in self.data:
            return None
        v = self.data[name]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise ConfigError(self.key(name), "must be an array of strings")
        return list(v)

    def path_(self, name: str) -> Path | None:
        v = self.opt_str(name)
        if v is None or v == "":
            return None
        p = Path(v).expanduser()
        return p if p.is_absolute() else self.base / p

    def secret(self, env_key: str, file_key: str, *, required: bool) -> str:
        """Read a secret from the environment variable or file the config names."""
        env_name = self.opt_str(env_key)
        file_name = self.path_(file_key)
        if env_name and file_name:
            raise ConfigError(self.key(env_key), f"give {env_key} or {file_key}, not both")
        if env_name:
            value = self.env.get(env_name)
            if not value:
                raise ConfigError(self.key(env_key), f"environment variable {env_name} is not set")
            return value
        if file_name:
            try:
                return file_name.read_text(encoding="utf-8").strip()
            except OSError as e:
                raise ConfigError(self.key(file_key), f"cannot read {file_name}: {e.strerror}") from None
        if required:
            raise ConfigError(self.key(env_key), "is required (the name of an environment variable)")
        return ""


def _gateway(r: _Reader) -> GatewayConfig:
    r.only({"host", "port", "tls", "store_path", "symbol_format"})
    tls = None
    if r.has("tls"):
        t = r.table("tls")
        t.only({"cert", "key", "client_ca"})
        cert, key = t.path_("cert"), t.path_("key")
        if cert is None:
            raise ConfigError(t.key("cert"), "is required")
        if key is None:
            raise ConfigError(t.key("key"), "is required")
        tls = TLSConfig(cert=cert, key=key, client_ca=t.path_("client_ca"))
    fmt = r.str("symbol_format", "{base}/{quote}")
    if "{base}" not in fmt or "{quote}" not in fmt:
        raise ConfigError(r.key("symbol_format"), "must contain {base} and {quote}")
    try:
        fmt.format(base="B", quote="Q")
    except (KeyError, IndexError, ValueError):
        raise ConfigError(r.key("symbol_format"), "may contain only {base} and {quote}") from None
    return GatewayConfig(
        host=r.str("host", "127.0.0.1"),
        port=r.int("port", DEFAULT_PORT, lo=0, hi=65535),
        tls=tls,
        store_path=r.path_("store_path"),
        symbol_format=fmt,
    )


def _venue(r: _Reader) -> VenueConfig:
    r.only({"name", "kind", "rest_url", "ws_url", "api_key_env", "api_secret_env", "api_key_file",
            "api_secret_file", "simulated", "orders_per_10s", "weight_per_minute"})
    name = r.str("name", required=True)
    if not name:
        raise ConfigError(r.key("name"), "must not be empty")
    kind = r.str("kind", required=True)
    if kind not in VENUE_KINDS:
        raise ConfigError(r.key("kind"), f"must be one of {', '.join(VENUE_KINDS)}, not {kind!r}")
    simulated = r.bool("simulated", False)
    if simulated and kind != "binance":
        raise ConfigError(r.key("simulated"), "the simulator speaks the binance API only")
    rest_url = r.str("rest_url", "")
    ws_url = r.str("ws_url", "")
    if not simulated:
        for k, v in (("rest_url", rest_url), ("ws_url", ws_url)):
            if not v:
                raise ConfigError(r.key(k), "is required unless simulated = true")
            if not v.startswith(("http://", "https://", "ws://", "wss://")):
                raise ConfigError(r.key(k), f"must be a URL, not {v!r}")
    return VenueConfig(
        name=name,
        kind=kind,
        rest_url=rest_url,
        ws_url=ws_url,
        api_key=r.secret("api_key_env", "api_key_file", required=not simulated),
        api_secret=r.secret("api_secret_env", "api_secret_file", required=not simulated),
        simulated=simulated,
        orders_per_10s=r.opt_int("orders_per_10s", lo=1),
        weight_per_minute=r.opt_int("weight_per_minute", lo=1),
    )


def _comp_id(r: _Reader, name: str) -> str:
    v = r.str(name, required=True)
    if not v or "\x01" in v or "=" in v or not v.isprintable():
        raise ConfigError(r.key(name), f"not a usable CompID: {v!r}")
    return v


def _session(r: _Reader, venue_names: set[str]) -> SessionSettings:
    r.only({"begin_string", "sender_comp_id", "target_comp_id", "heartbeat_interval", "username",
            "password_env", "password_file", "allowed_addresses", "schedule", "reset_on_logon", "venue",
            "account", "limits"})
    begin = r.str("begin_string", required=True)
    if begin not in BEGIN_STRINGS:
        raise ConfigError(r.key("begin_string"), f"must be one of {', '.join(BEGIN_STRINGS)}, not {begin!r}")
    venue = r.str("venue", required=True)
    if venue not in venue_names:
        raise ConfigError(r.key("venue"), f"no [[venues]] entry named {venue!r}")
    credentials = None
    username = r.opt_str("username")
    if username is not None:
        credentials = Credentials(username, r.secret("password_env", "password_file", required=True))
    elif r.has("password_env") or r.has("password_file"):
        raise ConfigError(r.key("username"), "is required when a password is configured")
    nets = []
    for i, a in enumerate(r.str_list("allowed_addresses") or []):
        try:
            nets.append(ipaddress.ip_network(a, strict=False))
        except ValueError:
            raise ConfigError(f"{r.key('allowed_addresses')}[{i}]", f"not an address or network: {a!r}") from None
    schedule = _schedule(r.table("schedule")) if r.has("schedule") else None
    return SessionSettings(
        begin_string=begin,
        sender_comp_id=_comp_id(r, "sender_comp_id"),
        target_comp_id=_comp_id(r, "target_comp_id"),
        venue=venue,
        account=r.str("account", "default"),
        heartbeat_interval=r.int("heartbeat_interval", 30, lo=1, hi=3600),
        credentials=credentials,
        allowed_addresses=tuple(nets),
        schedule=schedule,
        reset_on_logon=r.bool("reset_on_logon", False),
        limits=_limits(r.table("limits")),
    )


def _clock_time(r: _Reader, name: str) -> time:
    v = r.data.get(name)
    if isinstance(v, time):
        return v
    if not isinstance(v, str):
        raise ConfigError(r.key(name), "is required (\"HH:MM\" or \"HH:MM:SS\")")
    try:
        return time.fromisoformat(v)
    except ValueError:
        raise ConfigError(r.key(name), f"not a time of day: {v!r}") from None


def _schedule(r: _Reader) -> Schedule:
    r.only({"start", "end", "timezone", "weekdays"})
    tz = r.str("timezone", "UTC")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(tz)
    except Exception:  # ZoneInfoNotFoundError, ValueError for malformed keys
        raise ConfigError(r.key("timezone"), f"unknown time zone {tz!r}") from None
    days = r.str_list("weekdays")
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
    if days is not None:
        try:
            weekdays = tuple(sorted({_WEEKDAYS[d.lower()[:3]] for d in days}))
        except KeyError:
            raise ConfigError(r.key("weekdays"), f"days are mon..sun, not {days!r}") from None
    return Schedule(start=_clock_time(r, "start"), end=_clock_time(r, "end"), timezone=tz, weekdays=weekdays)


def _limits(r: _Reader) -> Limits:
    r.only({"max_order_qty", "max_notional", "max_open_orders", "allowed_symbols", "price_band_pct",
            "kill_switch"})
    symbols = r.str_list("allowed_symbols")
    return Limits(
        max_order_qty=r.decimal("max_order_qty"),
        max_notional=r.decimal("max_notional"),
        max_open_orders=r.opt_int("max_open_orders", lo=0),
        allowed_symbols=frozenset(symbols) if symbols is not None else None,
        price_band_pct=r.decimal("price_band_pct"),
        kill_switch=r.bool("kill_switch", False),
    )


def default_config(*, port: int = DEFAULT_PORT, store_path: Path | None = None) -> Config:
    """Return the embedded demo: FIX 4.4 and FIX 4.2 sessions on one simulated venue.

    Clients log on as ``CLIENT44`` (FIX.4.4) or ``CLIENT42`` (FIX.4.2) to ``FIXGW``, with username
    ``demo`` and password ``DEMO_PASSWORD``. The venue's URLs and keys are filled in by whoever starts
    the simulator (``Config.with_venue``).
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
    )
