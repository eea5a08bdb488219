"""Building a ``Config`` from TOML: one function per section, every error naming its key."""

from __future__ import annotations

import ipaddress
import os
import re
import warnings
from dataclasses import fields
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError
from ._reader import Reader
from .schema import (
    BEGIN_STRINGS,
    BridgeAccount,
    BridgeConfig,
    DEFAULT_GC_FREEZE_INTERVAL,
    DEFAULT_TERMINAL_ORDER_RETENTION,
    DEFAULT_LOGON_FAILURE_DELAY,
    DEFAULT_LOGON_FAILURE_FORGET,
    DEFAULT_LOGON_FAILURE_MAX_DELAY,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_MAX_PENDING_CONNECTIONS,
    DEFAULT_MAX_PENDING_PER_ADDRESS,
    DEFAULT_BRIDGE_PORT,
    DEFAULT_PORT,
    ORDER_ENTRY_MODES,
    VENUE_KINDS,
    Config,
    Credentials,
    GatewayConfig,
    Limits,
    Schedule,
    SessionSettings,
    TLSConfig,
    STORE_KINDS,
    StoreConfig,
    ClusterConfig,
    DEFAULT_LEASE_TTL,
    VenueConfig,
)

import tomllib as _toml

__all__ = ["load_config", "build_config"]

_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


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
    r = Reader(data, "", env, base)
    r.only({"gateway", "sessions", "venues", "bridge", "store", "cluster"})
    gateway = _gateway(r.table("gateway"))
    store = _store(r.table("store"), gateway)
    cluster = _cluster(r.table("cluster"), store)
    bridge = _bridge(r.table("bridge"))
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
    for i, a in enumerate(bridge.accounts):
        if a.venue not in names:
            raise ConfigError(f"bridge.accounts[{i}].venue", f"no [[venues]] entry named {a.venue!r}")
        if any(b.name == a.name for b in bridge.accounts[:i]):
            raise ConfigError(f"bridge.accounts[{i}].name", f"duplicate account name {a.name!r}")
    return Config(gateway=gateway, sessions=sessions, venues=venues, bridge=bridge, store=store, cluster=cluster)


#: The bridge's signature window, seconds: the default and the range allowed.
_BRIDGE_WINDOW = (10.0, 5.0, 30.0)
_BRIDGE_KEY_FIELDS = ("id", "secret_env", "secret_file", "permissions", "allowed_networks", "accounts")


def _bridge(r: Reader) -> BridgeConfig:
    r.only({"enabled", "host", "port", "tls", "window", "keys", "accounts"})
    tls = None
    if r.has("tls"):
        t = r.table("tls")
        t.only({"cert", "key"})
        cert, key = t.path_("cert"), t.path_("key")
        if cert is None or key is None:
            raise ConfigError(t.key("cert" if cert is None else "key"), "is required")
        tls = TLSConfig(cert=cert, key=key)
    default, lo, hi = _BRIDGE_WINDOW
    window = r.data.get("window", default)
    if isinstance(window, bool) or not isinstance(window, (int, float)) or not lo <= window <= hi:
        raise ConfigError(r.key("window"), f"must be a number of seconds from {lo:g} to {hi:g}, not {window!r}")
    keys = []
    for k in r.array("keys"):
        # Checked and read (secrets too) by fixgw.bridge.load_keys when the bridge starts; here only a
        # relative secret_file is taken from the config file's folder, like every path in the file.
        entry = dict(k.data)
        if "secret_file" in entry and isinstance(entry["secret_file"], str) and entry["secret_file"]:
            entry["secret_file"] = str(k.path_("secret_file"))
        keys.append(tuple((name, tuple(v) if isinstance(v, list) else v) for name, v in entry.items()))
    return BridgeConfig(
        # A config file without [bridge] leaves it off (no key, no one to serve); with it, on by default.
        enabled=r.bool("enabled", bool(r.data)),
        host=r.str("host", "127.0.0.1"),
        port=r.int("port", DEFAULT_BRIDGE_PORT, lo=0, hi=65535),
        tls=tls,
        window=float(window),
        keys=tuple(keys),
        accounts=tuple(_bridge_account(a) for a in r.array("accounts")),
    )


#: A bridge account's name: it starts its orders' ids, which the venue sees.
_ACCOUNT_NAME = re.compile(r"[A-Za-z0-9]{1,16}")


def _bridge_account(r: Reader) -> BridgeAccount:
    r.only({"name", "venue", "limits"})
    name = r.str("name", required=True)
    if not _ACCOUNT_NAME.fullmatch(name):
        raise ConfigError(r.key("name"), f"must be 1 to 16 letters or digits, not {name!r}")
    return BridgeAccount(name=name, venue=r.str("venue", required=True), limits=_limits(r.table("limits")))


def _store(r: Reader, gateway: GatewayConfig) -> StoreConfig:
    """``[store]``: ``kind`` and, for PostgreSQL, the connection string from ``dsn_env`` or ``dsn_file``."""
    r.only({"kind", "dsn_env", "dsn_file"})
    kind = r.str("kind", "")
    if kind and kind not in STORE_KINDS:
        raise ConfigError(r.key("kind"), f"must be one of {', '.join(STORE_KINDS)}, not {kind!r}")
    if kind == "sqlite" and gateway.store_path is None:
        raise ConfigError(r.key("kind"), "sqlite needs gateway.store_path (the file)")
    if kind in ("memory", "postgres") and gateway.store_path is not None:
        raise ConfigError(r.key("kind"), f"{kind} keeps no file: remove gateway.store_path")
    if kind != "postgres":
        if r.has("dsn_env") or r.has("dsn_file"):
            raise ConfigError(r.key("dsn_env" if r.has("dsn_env") else "dsn_file"), "applies only to kind = \"postgres\"")
        return StoreConfig(kind=kind)
    return StoreConfig(kind=kind, dsn=r.secret("dsn_env", "dsn_file", required=True))


def _cluster(r: Reader, store: StoreConfig) -> ClusterConfig:
    """``[cluster]``: this node's id, its lease time and the address clients are sent to."""
    r.only({"node_id", "lease_ttl", "advertise"})
    if not r.has("node_id"):
        if r.has("lease_ttl") or r.has("advertise"):
            raise ConfigError(r.key("node_id"), "is required in [cluster]")
        return ClusterConfig()
    node_id = r.str("node_id", required=True)
    if not node_id.strip() or not node_id.isprintable():
        raise ConfigError(r.key("node_id"), "must be printable text, not empty")
    if store.kind != "postgres":
        raise ConfigError(r.key("node_id"), 'a cluster shares one database: needs [store] kind = "postgres"')
    ttl = r.seconds("lease_ttl", DEFAULT_LEASE_TTL)
    assert ttl is not None
    if not 0.3 <= ttl <= 3600:
        raise ConfigError(r.key("lease_ttl"), "must be between 0.3 and 3600 seconds")
    advertise = r.str("advertise", "")
    if not advertise.isprintable():
        raise ConfigError(r.key("advertise"), "must be printable text")
    return ClusterConfig(node_id=node_id, lease_ttl=ttl, advertise=advertise)


def _gateway(r: Reader) -> GatewayConfig:
    r.only({"host", "port", "tls", "store_path", "symbol_format", "gc_freeze_interval", "max_pending_connections",
            "max_pending_per_address", "logon_failure_delay", "logon_failure_max_delay", "logon_failure_forget",
            "terminal_order_retention"})
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
    # The failed-Logon brake: 0 or false turns it off; its cap may not be below its first wait.
    failure_delay = 0.0 if r.data.get("logon_failure_delay") == 0 else _seconds(
        r, "logon_failure_delay", DEFAULT_LOGON_FAILURE_DELAY)
    failure_max = _seconds(r, "logon_failure_max_delay", DEFAULT_LOGON_FAILURE_MAX_DELAY)
    if failure_max < failure_delay:
        raise ConfigError(r.key("logon_failure_max_delay"),
                          f"must not be below logon_failure_delay ({failure_delay:g} s), not {failure_max:g}")
    return GatewayConfig(
        host=r.str("host", "127.0.0.1"),
        port=r.int("port", DEFAULT_PORT, lo=0, hi=65535),
        tls=tls,
        store_path=r.path_("store_path"),
        symbol_format=fmt,
        gc_freeze_interval=_deprecated_gc_freeze_interval(r),
        max_pending_connections=r.int("max_pending_connections", DEFAULT_MAX_PENDING_CONNECTIONS, lo=1),
        max_pending_per_address=r.int("max_pending_per_address", DEFAULT_MAX_PENDING_PER_ADDRESS, lo=1),
        logon_failure_delay=failure_delay,
        logon_failure_max_delay=failure_max,
        logon_failure_forget=_seconds(r, "logon_failure_forget", DEFAULT_LOGON_FAILURE_FORGET),
        # false keeps every finished order in memory; a count keeps that many (0: none).
        terminal_order_retention=None if r.data.get("terminal_order_retention") is False else r.int(
            "terminal_order_retention", DEFAULT_TERMINAL_ORDER_RETENTION, lo=0),
    )


def _deprecated_gc_freeze_interval(r: Reader) -> float | None:
    """Read the old heap-freeze interval (still checked), warn that it does nothing now."""
    value = r.seconds("gc_freeze_interval", DEFAULT_GC_FREEZE_INTERVAL, can_be_off=True)
    if "gc_freeze_interval" in r.data:
        warnings.warn(f"{r.key('gc_freeze_interval')} is deprecated and ignored: the order books are bounded "
                      "(terminal_order_retention), the gateway no longer freezes its heap periodically",
                      DeprecationWarning, stacklevel=2)
    return value


def _seconds(r: Reader, name: str, default: float) -> float:
    """A positive number of seconds, ``default`` when absent."""
    value = r.seconds(name, default)
    assert value is not None  # not absent (the default) and not off (not allowed here)
    return value


def _venue(r: Reader) -> VenueConfig:
    r.only({"name", "kind", "rest_url", "ws_url", "api_key_env", "api_secret_env", "api_key_file",
            "api_secret_file", "simulated", "orders_per_10s", "weight_per_minute", "max_in_flight",
            "order_entry", "api_key_expires", "api_passphrase_env", "api_passphrase_file", "sim_prices"})
    name = r.str("name", required=True)
    if not name:
        raise ConfigError(r.key("name"), "must not be empty")
    kind = r.str("kind", required=True)
    if kind not in VENUE_KINDS:
        raise ConfigError(r.key("kind"), f"must be one of {', '.join(VENUE_KINDS)}, not {kind!r}")
    simulated = r.bool("simulated", False)
    rest_url = r.str("rest_url", "")
    ws_url = r.str("ws_url", "")
    if not simulated:
        for k, v in (("rest_url", rest_url), ("ws_url", ws_url)):
            if not v:
                raise ConfigError(r.key(k), "is required unless simulated = true")
            if not v.startswith(("http://", "https://", "ws://", "wss://")):
                raise ConfigError(r.key(k), f"must be a URL, not {v!r}")
    order_entry = r.str("order_entry", "ws")
    if order_entry not in ORDER_ENTRY_MODES:
        raise ConfigError(r.key("order_entry"), f"must be one of {', '.join(ORDER_ENTRY_MODES)}, not {order_entry!r}")
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
        max_in_flight=r.int("max_in_flight", DEFAULT_MAX_IN_FLIGHT, lo=1),
        order_entry=order_entry,
        api_key_expires=_date(r, "api_key_expires"),
        # Coinbase keys carry a passphrase; the simulator makes its own for a simulated venue.
        api_passphrase=r.secret("api_passphrase_env", "api_passphrase_file",
                                required=kind == "coinbase" and not simulated),
        sim_prices=_sim_prices(r, simulated),
    )


def _sim_prices(r: Reader, simulated: bool) -> tuple[tuple[str, Decimal], ...]:
    """``sim_prices = { "BTC/USDT" = "41000" }``: the simulator's starting mid price per instrument."""
    if not r.has("sim_prices"):
        return ()
    if not simulated:
        raise ConfigError(r.key("sim_prices"), "applies only to a simulated venue (simulated = true)")
    t = r.table("sim_prices")
    out = []
    for name in t.data:
        base, sep, quote = name.partition("/")
        if not sep or not base or not quote or "/" in quote or not name.isprintable() or " " in name:
            raise ConfigError(t.key(name), f"name an instrument as BASE/QUOTE (\"BTC/USDT\"), not {name!r}")
        price = t.decimal(name)
        assert price is not None  # present: the loop reads the table's own keys
        out.append((name.upper(), price))
    return tuple(out)


def _date(r: Reader, name: str) -> date | None:
    """A calendar day: a TOML date (2027-03-31) or the same as a string."""
    v = r.data.get(name)
    if v is None:
        return None
    if isinstance(v, date) and not isinstance(v, datetime):
        return v
    if isinstance(v, str):
        try:
            return date.fromisoformat(v)
        except ValueError:
            pass
    raise ConfigError(r.key(name), f"must be a date (YYYY-MM-DD), not {v!r}")


def _comp_id(r: Reader, name: str) -> str:
    v = r.str(name, required=True)
    if not v or "\x01" in v or "=" in v or not v.isprintable():
        raise ConfigError(r.key(name), f"not a usable CompID: {v!r}")
    return v


def _session(r: Reader, venue_names: set[str]) -> SessionSettings:
    if r.has("password"):
        raise ConfigError(r.key("password"), "unknown key: a password never goes in the file; name the "
                          "environment variable that holds it with password_env (or a file with password_file)")
    r.only({"begin_string", "sender_comp_id", "target_comp_id", "heartbeat_interval", "username",
            "password_env", "password_file", "allowed_addresses", "schedule", "reset_on_logon", "venue",
            "account", "limits", "drop_copy", "copies", *_ENGINE_KEYS})
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
        drop_copy=r.bool("drop_copy", False),
        copies=tuple(r.str_list("copies") or ()),
        **_engine_settings(r, begin),
    )


#: ``SessionSettings``' defaults by name (a slotted dataclass keeps them out of class attributes).
_SESSION_DEFAULTS = {f.name: f.default for f in fields(SessionSettings)}
_ENGINE_KEYS = ("send_next_expected_msg_seq_num", "logon_timeout", "logout_timeout", "max_sending_time_skew",
                "resend_chunk_size", "gap_fill_timeout", "max_resend_requests", "validate", "max_heartbeat_interval",
                "validate_user_defined_fields", "allow_unknown_message_fields")


def _engine_settings(r: Reader, begin_string: str) -> dict[str, Any]:
    """The session engine's settings of one ``[[sessions]]`` entry (defaults: ``SessionSettings``)."""
    d = _SESSION_DEFAULTS
    next_expected = r.bool("send_next_expected_msg_seq_num", d["send_next_expected_msg_seq_num"])
    if next_expected and begin_string != "FIX.4.4":
        raise ConfigError(r.key("send_next_expected_msg_seq_num"), f"is FIX.4.4 only, not {begin_string}")
    return {
        "send_next_expected_msg_seq_num": next_expected,
        "logon_timeout": r.seconds("logon_timeout", d["logon_timeout"]),
        "logout_timeout": r.seconds("logout_timeout", d["logout_timeout"]),
        "max_sending_time_skew": r.seconds("max_sending_time_skew", d["max_sending_time_skew"], can_be_off=True),
        "resend_chunk_size": r.int("resend_chunk_size", d["resend_chunk_size"], lo=0),
        "gap_fill_timeout": r.seconds("gap_fill_timeout", d["gap_fill_timeout"], can_be_off=True),
        "max_resend_requests": r.int("max_resend_requests", d["max_resend_requests"], lo=1),
        "validate": r.bool("validate", d["validate"]),
        "max_heartbeat_interval": r.int("max_heartbeat_interval", d["max_heartbeat_interval"], lo=0, hi=86400),
        "validate_user_defined_fields": r.bool("validate_user_defined_fields", d["validate_user_defined_fields"]),
        "allow_unknown_message_fields": r.bool("allow_unknown_message_fields", d["allow_unknown_message_fields"]),
    }


def _clock_time(r: Reader, name: str) -> time:
    v = r.data.get(name)
    if isinstance(v, time):
        return v
    if not isinstance(v, str):
        raise ConfigError(r.key(name), "is required (\"HH:MM\" or \"HH:MM:SS\")")
    try:
        return time.fromisoformat(v)
    except ValueError:
        raise ConfigError(r.key(name), f"not a time of day: {v!r}") from None


def _schedule(r: Reader) -> Schedule:
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


def _limits(r: Reader) -> Limits:
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
