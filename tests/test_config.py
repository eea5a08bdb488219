"""Configuration: TOML -> frozen dataclasses, errors naming the key, secrets kept out of repr."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from fixgw.config import (
    DEFAULT_PORT,
    build_config,
    default_config,
    load_config,
)
from fixgw.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gateway.toml"
ENV = {"FIXGW_CLIENT44_PASSWORD": "s3cret-44", "FIXGW_CLIENT42_PASSWORD": "s3cret-42", "K": "key", "S": "sec"}


def minimal(**session: object) -> dict:
    s = {"begin_string": "FIX.4.4", "sender_comp_id": "GW", "target_comp_id": "C1", "venue": "v"}
    s.update(session)
    return {"venues": [{"name": "v", "kind": "binance", "simulated": True}], "sessions": [s]}


def test_config_example_file_loads_all_sections() -> None:
    cfg = load_config(EXAMPLE, environ=ENV)
    assert cfg.gateway.port == DEFAULT_PORT
    assert cfg.gateway.store_path == EXAMPLE.parent / "fixgw.db"
    s44, s42 = cfg.sessions
    assert (s44.begin_string, s44.sender_comp_id, s44.target_comp_id) == ("FIX.4.4", "FIXGW", "CLIENT44")
    assert s44.limits.max_order_qty == Decimal("100")
    assert s44.limits.allowed_symbols == frozenset({"BTC/USDT", "ETH/USDT"})
    assert s44.credentials is not None and s44.credentials.matches("demo", "s3cret-44")
    assert s42.credentials is not None and not s42.credentials.matches("demo42", "wrong")
    assert s44.address_allowed("127.0.0.1") and not s44.address_allowed("10.0.0.1")
    assert s42.address_allowed("10.0.0.1")
    assert cfg.venue("sim").simulated
    assert (s44.max_sending_time_skew, s44.gap_fill_timeout, s44.validate) == (120.0, 30.0, True)
    assert (s44.resend_chunk_size, s44.max_resend_requests, s44.send_next_expected_msg_seq_num) == (1000, 3, False)
    assert (s44.max_heartbeat_interval, s44.validate_user_defined_fields, s44.allow_unknown_message_fields) == (
        300, True, False)
    assert (cfg.gateway.max_pending_connections, cfg.gateway.max_pending_per_address) == (256, 16)


def test_config_repr_secret_values_never_shown() -> None:
    data = minimal(username="u", password_env="P")
    data["venues"].append({"name": "real", "kind": "binance", "rest_url": "http://127.0.0.1:1",
                           "ws_url": "ws://127.0.0.1:1", "api_key_env": "K", "api_secret_env": "S"})
    cfg = build_config(data, environ={"P": "hunter2-password", "K": "the-api-key", "S": "the-api-secret"})
    text = repr(cfg) + str(cfg)
    for secret in ("hunter2-password", "the-api-key", "the-api-secret"):
        assert secret not in text
    assert cfg.venue("real").api_secret == "the-api-secret"


def test_config_frozen_assignment_raises() -> None:
    cfg = default_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.gateway.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("patch", "key", "fragment"),
    [
        ({"heartbeat_interval": 0}, "sessions[0].heartbeat_interval", "at least 1"),
        ({"heartbeat_interval": "30"}, "sessions[0].heartbeat_interval", "integer"),
        ({"begin_string": "FIX.5.0"}, "sessions[0].begin_string", "FIX.4.2"),
        ({"venue": "nope"}, "sessions[0].venue", "no [[venues]]"),
        ({"sender_comp_id": ""}, "sessions[0].sender_comp_id", "CompID"),
        ({"username": "u", "password_env": "MISSING"}, "sessions[0].password_env", "not set"),
        ({"password_env": "P"}, "sessions[0].username", "required"),
        ({"allowed_addresses": ["not-an-ip"]}, "sessions[0].allowed_addresses[0]", "not an address"),
        ({"limits": {"max_notional": 1.5}}, "sessions[0].limits.max_notional", "float"),
        ({"limits": {"max_order_qty": "-1"}}, "sessions[0].limits.max_order_qty", "positive"),
        ({"limits": {"max_order_qty": "abc"}}, "sessions[0].limits.max_order_qty", "decimal"),
        ({"limits": {"kill_swich": True}}, "sessions[0].limits.kill_swich", "unknown key"),
        ({"schedule": {"start": "25:00", "end": "10:00"}}, "sessions[0].schedule.start", "time of day"),
        ({"schedule": {"start": "08:00", "end": "10:00", "timezone": "Mars/Base"}}, "sessions[0].schedule.timezone",
         "time zone"),
        ({"schedule": {"start": "08:00", "end": "10:00", "weekdays": ["funday"]}}, "sessions[0].schedule.weekdays",
         "mon..sun"),
        ({"hearbeat_interval": 30}, "sessions[0].hearbeat_interval", "unknown key"),
        ({"logon_timeout": 0}, "sessions[0].logon_timeout", "positive"),
        ({"logout_timeout": "10"}, "sessions[0].logout_timeout", "number of seconds"),
        ({"logon_timeout": False}, "sessions[0].logon_timeout", "number of seconds"),
        ({"max_sending_time_skew": -1}, "sessions[0].max_sending_time_skew", "positive"),
        ({"max_sending_time_skew": True}, "sessions[0].max_sending_time_skew", "or false (off)"),
        ({"gap_fill_timeout": "30s"}, "sessions[0].gap_fill_timeout", "number of seconds"),
        ({"gap_fill_timeout": float("inf")}, "sessions[0].gap_fill_timeout", "positive"),
        ({"max_resend_requests": 0}, "sessions[0].max_resend_requests", "at least 1"),
        ({"resend_chunk_size": -1}, "sessions[0].resend_chunk_size", "at least 0"),
        ({"resend_chunk_size": 1.5}, "sessions[0].resend_chunk_size", "integer"),
        ({"validate": "yes"}, "sessions[0].validate", "true or false"),
        ({"max_heartbeat_interval": -1}, "sessions[0].max_heartbeat_interval", "at least 0"),
        ({"max_heartbeat_interval": 30.5}, "sessions[0].max_heartbeat_interval", "integer"),
        ({"validate_user_defined_fields": "no"}, "sessions[0].validate_user_defined_fields", "true or false"),
        ({"allow_unknown_message_fields": 1}, "sessions[0].allow_unknown_message_fields", "true or false"),
        ({"send_next_expected_msg_seq_num": 1}, "sessions[0].send_next_expected_msg_seq_num", "true or false"),
        ({"begin_string": "FIX.4.2", "send_next_expected_msg_seq_num": True},
         "sessions[0].send_next_expected_msg_seq_num", "FIX.4.4 only"),
    ],
)
def test_config_invalid_session_key_raises_naming_key(patch: dict, key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as ei:
        build_config(minimal(**patch), environ={})
    assert ei.value.key == key
    assert fragment in ei.value.problem


def test_config_session_engine_settings_read() -> None:
    s = build_config(minimal(
        gap_fill_timeout=5, max_resend_requests=7, logon_timeout=2.5, logout_timeout=4, max_sending_time_skew=30,
        resend_chunk_size=500, send_next_expected_msg_seq_num=True, validate=False, max_heartbeat_interval=60,
        validate_user_defined_fields=False, allow_unknown_message_fields=True,
    ), environ={}).sessions[0]
    assert (s.gap_fill_timeout, s.max_resend_requests, s.logon_timeout, s.logout_timeout) == (5.0, 7, 2.5, 4.0)
    assert (s.max_sending_time_skew, s.resend_chunk_size, s.max_heartbeat_interval) == (30.0, 500, 60)
    assert s.send_next_expected_msg_seq_num is True and s.validate is False
    assert s.validate_user_defined_fields is False and s.allow_unknown_message_fields is True


def test_config_session_engine_settings_false_turns_check_off() -> None:
    s = build_config(minimal(gap_fill_timeout=False, max_sending_time_skew=False), environ={}).sessions[0]
    assert (s.gap_fill_timeout, s.max_sending_time_skew) == (None, None)


def test_config_session_engine_settings_absent_equal_engine_defaults() -> None:
    from fixgw.session import SessionConfig, SessionID

    s = build_config(minimal(), environ={}).sessions[0]
    engine = SessionConfig(SessionID("FIX.4.4", "GW", "C1"))
    names = ("gap_fill_timeout", "max_resend_requests", "logon_timeout", "logout_timeout", "max_sending_time_skew",
             "resend_chunk_size", "send_next_expected_msg_seq_num", "max_heartbeat_interval",
             "validate_user_defined_fields", "allow_unknown_message_fields")
    assert {n: getattr(s, n) for n in names} == {n: getattr(engine, n) for n in names}
    assert s.max_sending_time_skew == 120.0 and s.validate is True
    assert s.resend_chunk_size > 0  # a configured gateway streams big resends in chunks by default


def test_config_gateway_pending_connection_limits_read_default_and_checked() -> None:
    from fixgw.transport.acceptor import DEFAULT_MAX_PENDING_CONNECTIONS, DEFAULT_MAX_PENDING_PER_ADDRESS

    gw = build_config(minimal(), environ={}).gateway
    assert (gw.max_pending_connections, gw.max_pending_per_address) == (
        DEFAULT_MAX_PENDING_CONNECTIONS, DEFAULT_MAX_PENDING_PER_ADDRESS)
    data = minimal()
    data["gateway"] = {"max_pending_connections": 64, "max_pending_per_address": 4}
    gw = build_config(data, environ={}).gateway
    assert (gw.max_pending_connections, gw.max_pending_per_address) == (64, 4)
    for key, value in (("max_pending_connections", 0), ("max_pending_per_address", "4")):
        data = minimal()
        data["gateway"] = {key: value}
        with pytest.raises(ConfigError) as ei:
            build_config(data, environ={})
        assert ei.value.key == f"gateway.{key}"


def test_config_real_venue_without_secret_env_raises() -> None:
    data = minimal()
    data["venues"] = [{"name": "v", "kind": "binance", "rest_url": "http://127.0.0.1:1", "ws_url": "ws://127.0.0.1:1",
                       "api_key_env": "K"}]
    with pytest.raises(ConfigError) as ei:
        build_config(data, environ={"K": "k"})
    assert ei.value.key == "venues[0].api_secret_env"


def test_config_venue_unknown_kind_raises() -> None:
    data = minimal()
    data["venues"][0]["kind"] = "ftx"
    with pytest.raises(ConfigError) as ei:
        build_config(data, environ={})
    assert ei.value.key == "venues[0].kind"


def test_config_duplicate_session_id_raises() -> None:
    data = minimal()
    data["sessions"].append(dict(data["sessions"][0]))
    with pytest.raises(ConfigError) as ei:
        build_config(data, environ={})
    assert ei.value.key == "sessions[1]"


def test_config_secret_file_read_and_stripped(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("from-file\n")
    cfg = build_config(minimal(username="u", password_file="pw"), base_dir=tmp_path, environ={})
    assert cfg.sessions[0].credentials is not None
    assert cfg.sessions[0].credentials.password == "from-file"


def test_config_missing_file_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_config(tmp_path / "none.toml")


def test_config_bad_toml_raises_config_error(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text("[gateway\nport=1")
    with pytest.raises(ConfigError) as ei:
        load_config(p)
    assert "TOML" in ei.value.problem


def test_config_schedule_parsed_with_weekdays_and_zone() -> None:
    data = minimal(schedule={"start": "22:00", "end": "06:00", "weekdays": ["mon", "Tuesday"],
                             "timezone": "Europe/London"})
    sched = build_config(data, environ={}).sessions[0].schedule
    assert sched is not None
    from datetime import time

    assert (sched.start, sched.end, sched.timezone, sched.weekdays) == (time(22), time(6), "Europe/London", (0, 1))


def test_config_venue_rate_ceilings_read() -> None:
    data = minimal()
    data["venues"][0].update(orders_per_10s=5000, weight_per_minute=100000)
    v = build_config(data, environ={}).venues[0]
    assert (v.orders_per_10s, v.weight_per_minute) == (5000, 100000)


def test_config_venue_order_entry_and_in_flight_defaults_ws_and_256() -> None:
    v = build_config(minimal(), environ={}).venues[0]
    assert (v.order_entry, v.max_in_flight) == ("ws", 256)


def test_config_venue_order_entry_and_in_flight_read() -> None:
    data = minimal()
    data["venues"][0].update(order_entry="rest", max_in_flight=32)
    v = build_config(data, environ={}).venues[0]
    assert (v.order_entry, v.max_in_flight) == ("rest", 32)


@pytest.mark.parametrize("key,value", [("order_entry", "fix"), ("max_in_flight", 0), ("max_in_flight", "8")])
def test_config_venue_bad_order_entry_or_in_flight_raises_with_key(key: str, value: object) -> None:
    data = minimal()
    data["venues"][0][key] = value
    with pytest.raises(ConfigError) as ei:
        build_config(data, environ={})
    assert ei.value.key == f"venues[0].{key}"


def test_config_gateway_logon_failure_brake_defaults_to_acceptor_reads_seconds_and_checked() -> None:
    import inspect

    from fixgw.transport import Acceptor

    params = inspect.signature(Acceptor).parameters
    names = ("logon_failure_delay", "logon_failure_max_delay", "logon_failure_forget")
    gw = build_config(minimal(), environ={}).gateway
    assert tuple(getattr(gw, n) for n in names) == tuple(params[n].default for n in names) == (0.5, 30.0, 300.0)
    data = minimal()
    data["gateway"] = {"logon_failure_delay": 0.05, "logon_failure_max_delay": 2, "logon_failure_forget": 60}
    gw = build_config(data, environ={}).gateway
    assert tuple(getattr(gw, n) for n in names) == (0.05, 2.0, 60.0)
    for off in (0, False):  # the brake off
        data = minimal()
        data["gateway"] = {"logon_failure_delay": off}
        assert build_config(data, environ={}).gateway.logon_failure_delay == 0.0
    for key, value in (("logon_failure_delay", -1), ("logon_failure_delay", "0.5"), ("logon_failure_max_delay", 0),
                       ("logon_failure_max_delay", 0.1), ("logon_failure_forget", 0),
                       ("logon_failure_forget", False)):
        data = minimal()
        data["gateway"] = {key: value}  # 0.1 s max is below the default 0.5 s first wait
        with pytest.raises(ConfigError) as ei:
            build_config(data, environ={})
        assert ei.value.key == f"gateway.{key}"


def test_config_gc_freeze_interval_defaults_on_reads_seconds_and_false() -> None:
    assert build_config(minimal(), environ={}).gateway.gc_freeze_interval == 0.1
    for value, expected in ((0.25, 0.25), (False, None)):
        data = minimal()
        data["gateway"] = {"gc_freeze_interval": value}
        assert build_config(data, environ={}).gateway.gc_freeze_interval == expected
    data = minimal()
    data["gateway"] = {"gc_freeze_interval": 0}
    with pytest.raises(ConfigError) as ei:
        build_config(data, environ={})
    assert ei.value.key == "gateway.gc_freeze_interval"


def test_config_default_has_44_and_42_demo_sessions_on_simulated_venue() -> None:
    cfg = default_config()
    assert {s.begin_string for s in cfg.sessions} == {"FIX.4.4", "FIX.4.2"}
    assert cfg.venues[0].simulated
    filled = cfg.with_venue("sim", rest_url="http://127.0.0.1:5", ws_url="ws://127.0.0.1:5")
    assert filled.venue("sim").rest_url == "http://127.0.0.1:5"
    assert cfg.venue("sim").rest_url == ""


# -- several venues: simulated dialects, their starting prices, the Coinbase passphrase -------------


def test_config_sim_prices_read_as_decimals_per_instrument() -> None:
    data = minimal()
    data["venues"][0]["sim_prices"] = {"BTC/USDT": "41000.50", "eth/usdt": 3000}
    venue = build_config(data).venue("v")
    assert venue.sim_prices == (("BTC/USDT", Decimal("41000.50")), ("ETH/USDT", Decimal("3000")))
    assert venue.sim_price("BTC/USDT") == Decimal("41000.50") and venue.sim_price("SOL/USDT") is None


@pytest.mark.parametrize("prices,key,words", [
    ({"BTC/USDT": 41000.5}, "venues[0].sim_prices.BTC/USDT", "not a float"),
    ({"BTC/USDT": "-1"}, "venues[0].sim_prices.BTC/USDT", "positive"),
    ({"BTCUSDT": "41000"}, "venues[0].sim_prices.BTCUSDT", "BASE/QUOTE"),
    ({"BTC/USDT/X": "41000"}, "venues[0].sim_prices.BTC/USDT/X", "BASE/QUOTE"),
    ("41000", "venues[0].sim_prices", "table"),
])
def test_config_sim_prices_bad_value_names_the_key(prices: object, key: str, words: str) -> None:
    data = minimal()
    data["venues"][0]["sim_prices"] = prices
    with pytest.raises(ConfigError) as info:
        build_config(data)
    assert info.value.key == key and words in str(info.value)


def test_config_sim_prices_on_a_real_venue_refused() -> None:
    data = minimal()
    data["venues"][0] = {"name": "v", "kind": "binance", "rest_url": "http://127.0.0.1:1", "ws_url": "ws://127.0.0.1:1",
                         "api_key_env": "K", "api_secret_env": "S", "sim_prices": {"BTC/USDT": "1"}}
    with pytest.raises(ConfigError) as info:
        build_config(data, environ=ENV)
    assert info.value.key == "venues[0].sim_prices" and "simulated" in str(info.value)


@pytest.mark.parametrize("kind", ["binance", "coinbase", "kraken"])
def test_config_simulated_venue_of_every_kind_accepted(kind: str) -> None:
    data = minimal()
    data["venues"][0]["kind"] = kind
    assert build_config(data).venue("v").kind == kind


def test_config_coinbase_venue_needs_its_passphrase_kept_out_of_repr() -> None:
    venue = {"name": "v", "kind": "coinbase", "rest_url": "http://127.0.0.1:1", "ws_url": "ws://127.0.0.1:1",
             "api_key_env": "K", "api_secret_env": "S"}
    data = minimal()
    data["venues"][0] = dict(venue)
    with pytest.raises(ConfigError) as info:
        build_config(data, environ=ENV)
    assert info.value.key == "venues[0].api_passphrase_env"
    data["venues"][0] = {**venue, "api_passphrase_env": "PP"}
    cfg = build_config(data, environ={**ENV, "PP": "the-passphrase"})
    assert cfg.venue("v").api_passphrase == "the-passphrase" and "the-passphrase" not in repr(cfg)


def test_config_arbitrage_demo_two_simulated_venues_priced_apart() -> None:
    from fixgw.config import arbitrage_config, demo_config

    cfg = demo_config("arbitrage", port=0)
    assert cfg == arbitrage_config(port=0)
    alpha, beta = cfg.venues
    assert (alpha.name, beta.name, alpha.simulated, beta.simulated) == ("alpha", "beta", True, True)
    assert alpha.sim_price("BTC/USDT") == Decimal("41000.00") and beta.sim_price("BTC/USDT") == Decimal("41200.00")
    assert {(a.name, a.venue) for a in cfg.bridge.accounts} == {("alpha", "alpha"), ("beta", "beta")}
    assert demo_config("basic", port=0) == default_config(port=0)
