"""The bridge's contract and start-up: the OpenAPI file, the [bridge] config, the demo keys, the cursors."""

from __future__ import annotations

import json
import os
import ssl
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixgw.bridge.launch import bridge_keys, demo_keys
from fixgw.bridge.openapi import openapi_document, openapi_text
from fixgw.config import DEFAULT_BRIDGE_PORT, build_config, default_config
from fixgw.errors import ConfigError
from fixgw.gateway import decode_cursor
from fixgw.gateway._snapshots import encode_cursor

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "openapi.json"
BASE = {
    "venues": [{"name": "v", "kind": "binance", "simulated": True}],
    "sessions": [{"begin_string": "FIX.4.4", "sender_comp_id": "GW", "target_comp_id": "C", "venue": "v"}],
}


def test_openapi_file_equals_the_apps_document() -> None:
    # Regenerate with: python -m fixgw.bridge.openapi > specs/openapi.json
    assert SPEC.read_text(encoding="utf-8") == openapi_text()


def test_openapi_every_v1_route_documents_the_error_shape() -> None:
    doc = openapi_document()
    assert "ErrorBody" in doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if path.startswith("/v1/"):
                assert {"401", "403", "400"} <= set(op["responses"]), (method, path)


def test_openapi_module_prints_the_document() -> None:
    out = subprocess.run([sys.executable, "-m", "fixgw.bridge.openapi"], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert out.returncode == 0 and json.loads(out.stdout)["info"]["title"] == "fixgw bridge"


def test_bridge_config_absent_section_leaves_bridge_off_demo_on() -> None:
    assert build_config(BASE).bridge.enabled is False
    demo = default_config().bridge
    assert (demo.enabled, demo.host, demo.port, demo.window) == (True, "127.0.0.1", DEFAULT_BRIDGE_PORT, 10.0)


def test_bridge_config_section_read_with_relative_secret_file(tmp_path: Path) -> None:
    cfg = build_config({**BASE, "bridge": {"port": 9999, "window": 5, "keys": [
        {"id": "oms", "secret_file": "oms.secret", "permissions": ["read", "trade"]}]}}, base_dir=tmp_path)
    b = cfg.bridge
    assert (b.enabled, b.port, b.window) == (True, 9999, 5.0)
    assert b.key_entries() == [{"id": "oms", "secret_file": str(tmp_path / "oms.secret"),
                                "permissions": ["read", "trade"]}]
    (tmp_path / "oms.secret").write_text("s" * 40 + "\n")
    (key,) = list(bridge_keys(b, {}))
    assert key.key_id == "oms" and key.secret == "s" * 40


@pytest.mark.parametrize(("section", "where", "needle"), [
    ({"window": 4.9}, "bridge.window", "from 5 to 30"),
    ({"window": 31}, "bridge.window", "from 5 to 30"),
    ({"window": True}, "bridge.window", "from 5 to 30"),
    ({"port": 70000}, "bridge.port", "at most 65535"),
    ({"tls": {"cert": "c.pem"}}, "bridge.tls.key", "is required"),
    ({"secret": "x"}, "bridge.secret", "unknown key"),
])
def test_bridge_config_bad_setting_names_its_key(section: dict, where: str, needle: str) -> None:
    with pytest.raises(ConfigError) as e:
        build_config({**BASE, "bridge": section})
    assert e.value.key == where and needle in str(e.value)


def test_bridge_keys_bad_entry_is_a_config_error_without_the_secret() -> None:
    cfg = build_config({**BASE, "bridge": {"keys": [{"id": "k", "secret_env": "K_SECRET", "permissions": ["read"]}]}})
    with pytest.raises(ConfigError, match="not set"):
        bridge_keys(cfg.bridge, {})
    with pytest.raises(ConfigError) as e:
        bridge_keys(cfg.bridge, {"K_SECRET": "short-secret"})
    assert "short-secret" not in str(e.value)


def test_venue_api_key_expires_read_as_a_date() -> None:
    from datetime import date

    venue = {**BASE["venues"][0], "api_key_expires": date(2027, 3, 31)}
    assert build_config({**BASE, "venues": [venue]}).venues[0].api_key_expires == date(2027, 3, 31)
    with pytest.raises(ConfigError, match="venues\\[0\\].api_key_expires"):
        build_config({**BASE, "venues": [{**venue, "api_key_expires": "next spring"}]})


def test_demo_keys_secrets_in_files_of_mode_0600(tmp_path: Path) -> None:
    old = tmp_path / "demo-read.secret"
    old.write_text("old")
    os.chmod(old, 0o644)  # an earlier file with a looser mode is tightened
    ring, shown = demo_keys(tmp_path)
    assert [(k.key_id, k.permissions) for k in shown] == [
        ("demo-read", ("read",)), ("demo-trade", ("read", "trade")), ("demo-admin", ("read", "admin"))]
    for k in shown:
        assert stat.S_IMODE(k.secret_file.stat().st_mode) == 0o600
        assert ring.get(k.key_id).secret == k.secret_file.read_text().strip()
        assert ring.get(k.key_id).secret not in repr(k)


@given(st.integers(min_value=0, max_value=2**63), st.text(min_size=1, max_size=40))
def test_cursor_round_trips(ts: int, ident: str) -> None:
    assert decode_cursor(encode_cursor(ts, ident)) == (ts, ident)


@given(st.text(max_size=60))
def test_cursor_decode_of_anything_never_raises(text: str) -> None:
    got = decode_cursor(text)
    assert got is None or isinstance(got[0], int)


@pytest.mark.anyio
async def test_bridge_tls_from_config_serves_https(tmp_path: Path) -> None:
    import anyio
    import httpx
    import trustme

    from fixgw.bridge import KeyRing
    from fixgw.bridge.launch import run_bridge
    from fixgw.config import BridgeConfig, TLSConfig
    from fixgw.gateway import Gateway

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(cert_file)
    cert.private_key_pem.write_to_path(key_file)
    config = BridgeConfig(port=0, tls=TLSConfig(cert=cert_file, key=key_file))
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            port = await tg.start(run_bridge, Gateway(default_config(port=0)), config, KeyRing([]))
            trust = ssl.create_default_context()
            ca.configure_trust(trust)
            async with httpx.AsyncClient(verify=trust) as h:
                r = await h.get(f"https://127.0.0.1:{port}/healthz")
            assert r.json() == {"status": "ok"}
            tg.cancel_scope.cancel()
