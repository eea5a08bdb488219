"""Bridge keys: loading from environment and files, refusing literal secrets, permissions, networks."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from fixgw.bridge import BridgeKey, KeyRing, Permission, load_keys
from fixgw.errors import ConfigError

SECRET = "k" * 20 + "0123456789abcdef"


def entry(**kw: object) -> dict[str, object]:
    out: dict[str, object] = {"id": "oms-1", "secret_env": "OMS1_SECRET", "permissions": ["read"]}
    out.update(kw)
    return {k: v for k, v in out.items() if v is not None}


def test_load_keys_secret_from_environment_loaded() -> None:
    ring = load_keys([entry(permissions=["read", "trade"])], {"OMS1_SECRET": SECRET})
    key = ring.get("oms-1")
    assert key is not None and key.secret == SECRET
    assert key.permissions == {Permission.READ, Permission.TRADE}


def test_load_keys_secret_file_trailing_newline_dropped(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")
    ring = load_keys([entry(secret_env=None, secret_file=str(path))], {})
    assert ring.get("oms-1").secret == SECRET  # type: ignore[union-attr]


def test_load_keys_literal_secret_refused() -> None:
    with pytest.raises(ConfigError) as e:
        load_keys([entry(secret=SECRET)], {"OMS1_SECRET": SECRET})
    assert e.value.key == "bridge.keys[0].secret"
    assert SECRET not in str(e.value)


@pytest.mark.parametrize(
    ("changes", "environ", "where"),
    [
        ({"secret_env": None}, {}, "bridge.keys[0]"),                              # neither source
        ({"secret_file": "/x"}, {"OMS1_SECRET": SECRET}, "bridge.keys[0]"),        # both sources
        ({}, {}, "bridge.keys[0].secret_env"),                                     # variable not set
        ({}, {"OMS1_SECRET": "short"}, "bridge.keys[0].secret_env"),               # too short
        ({}, {"OMS1_SECRET": SECRET + "\n"}, "bridge.keys[0].secret_env"),         # control character
        ({"id": "bad id!"}, {"OMS1_SECRET": SECRET}, "bridge.keys[0].id"),
        ({"id": None}, {"OMS1_SECRET": SECRET}, "bridge.keys[0].id"),
        ({"permissions": []}, {"OMS1_SECRET": SECRET}, "bridge.keys[0].permissions"),
        ({"permissions": ["write"]}, {"OMS1_SECRET": SECRET}, "bridge.keys[0].permissions"),
        ({"permissions": "read"}, {"OMS1_SECRET": SECRET}, "bridge.keys[0].permissions"),
        ({"allowed_networks": []}, {"OMS1_SECRET": SECRET}, "bridge.keys[0].allowed_networks"),
        ({"allowed_networks": ["10.0.0.1/8"]}, {"OMS1_SECRET": SECRET}, "bridge.keys[0].allowed_networks"),
        ({"allowed_networks": ["nowhere"]}, {"OMS1_SECRET": SECRET}, "bridge.keys[0].allowed_networks"),
        ({"colour": "red"}, {"OMS1_SECRET": SECRET}, "bridge.keys[0].colour"),
    ],
)
def test_load_keys_bad_entry_config_error_names_key(changes: dict, environ: dict, where: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_keys([entry(**changes)], environ)
    assert e.value.key == where
    assert SECRET not in str(e.value)


def test_load_keys_missing_file_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load_keys([entry(secret_env=None, secret_file=str(tmp_path / "absent"))], {})
    assert e.value.key == "bridge.keys[0].secret_file"


def test_load_keys_duplicate_id_refused() -> None:
    with pytest.raises(ConfigError) as e:
        load_keys([entry(), entry()], {"OMS1_SECRET": SECRET})
    assert e.value.key == "bridge.keys[1].id"


def test_bridge_key_repr_and_str_hide_secret() -> None:
    key = BridgeKey("oms-1", SECRET, {Permission.TRADE})
    ring = KeyRing([key])
    for text in (repr(key), str(key), repr(ring), repr([key]), f"{key}"):
        assert SECRET not in text
        assert "oms-1" in text


def test_bridge_key_short_secret_refused() -> None:
    with pytest.raises(ValueError):
        BridgeKey("oms-1", "too-short", {Permission.READ})


def test_bridge_key_default_networks_loopback_only() -> None:
    key = BridgeKey("oms-1", SECRET, {Permission.READ})
    assert key.allows_address("127.0.0.1") and key.allows_address("::1")
    assert not key.allows_address("10.0.0.1")
    assert not key.allows_address("192.168.1.5")


def test_bridge_key_ipv4_mapped_address_judged_as_ipv4() -> None:
    key = BridgeKey("oms-1", SECRET, {Permission.READ}, allowed_networks=("10.0.0.0/8",))
    assert key.allows_address("::ffff:10.1.2.3")
    assert not key.allows_address("::ffff:11.1.2.3")


@pytest.mark.parametrize("host", [None, "", "localhost", "not-an-ip", "127.0.0.1:80"])
def test_bridge_key_unparseable_peer_refused(host: str | None) -> None:
    key = BridgeKey("oms-1", SECRET, {Permission.READ}, allowed_networks=("0.0.0.0/0", "::/0"))
    assert not key.allows_address(host)


def test_bridge_key_open_networks_allow_any_address() -> None:
    key = BridgeKey("oms-1", SECRET, {Permission.READ}, allowed_networks=("0.0.0.0/0", "::/0"))
    assert key.allows_address("203.0.113.9") and key.allows_address("2001:db8::1")


def test_permissions_do_not_imply_each_other() -> None:
    key = BridgeKey("ops", SECRET, {Permission.ADMIN})
    assert key.allows(Permission.ADMIN)
    assert not key.allows(Permission.READ) and not key.allows(Permission.TRADE)


def test_load_keys_logs_nothing_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    load_keys([entry()], {"OMS1_SECRET": SECRET})
    with pytest.raises(ConfigError):
        load_keys([entry()], {"OMS1_SECRET": SECRET[:10]})
    assert all(SECRET[:10] not in r.getMessage() for r in caplog.records)
