"""Ed25519 API keys for Binance: loaded from a file or the environment, accepted by the simulator."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from fixgw.errors import ConfigError
from fixgw.sim import DEMO_ACCOUNT, ApiKey
from fixgw.orders.enums import OrderSide, OrderStatus, OrderType
from fixgw.venues.base import (
    CancelOrder,
    NewOrder,
    StreamState,
    VenueAccepted,
)
from fixgw.venues.binance import BinanceAdapter, BinanceConfig
from .simharness import book_top, collect, start_sim

ED_KEY = "conformanceEd25519Key00000000000000000000000000000000000000000001"


def _keypair() -> tuple[str, bytes]:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode("ascii")
    public = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return pem, public


def _config(pem_file: str = "", pem_env: str = "", **kw) -> BinanceConfig:
    return BinanceConfig(rest_url="http://x", ws_api_url="ws://x", api_key="k", ed25519_private_key_file=pem_file,
                         ed25519_private_key_env=pem_env, **kw)


def test_ed25519_config_key_file_read_and_hidden_from_repr(tmp_path):
    pem, _ = _keypair()
    path = tmp_path / "key.pem"
    path.write_text(pem)
    cfg = _config(str(path))
    assert cfg.ed25519_private_key_pem == pem and cfg.api_secret == ""
    assert "PRIVATE KEY" not in repr(cfg)


def test_ed25519_config_key_env_read(monkeypatch):
    pem, _ = _keypair()
    monkeypatch.setenv("MY_ED_PEM", pem)
    assert _config(pem_env="MY_ED_PEM").ed25519_private_key_pem == pem


def test_ed25519_config_from_env_needs_no_hmac_secret(monkeypatch):
    pem, _ = _keypair()
    monkeypatch.setenv("MY_KEY", "k1")
    monkeypatch.setenv("MY_ED_PEM", pem)
    monkeypatch.delenv("BINANCE_API_SECRET", raising=False)
    cfg = BinanceConfig.from_env("http://x", "ws://x", api_key_env="MY_KEY", ed25519_private_key_env="MY_ED_PEM")
    assert (cfg.api_key, cfg.api_secret, cfg.ed25519_private_key_pem) == ("k1", "", pem)


@pytest.mark.parametrize("case", ["missing_file", "unset_env", "not_a_key", "both_secrets", "file_and_env"])
def test_ed25519_config_bad_key_source_config_error(case, tmp_path, monkeypatch):
    pem, _ = _keypair()
    monkeypatch.delenv("UNSET_ED_PEM", raising=False)
    monkeypatch.setenv("MY_ED_PEM", pem)
    with pytest.raises(ConfigError):
        if case == "missing_file":
            _config(str(tmp_path / "absent.pem"))
        elif case == "unset_env":
            _config(pem_env="UNSET_ED_PEM")
        elif case == "not_a_key":
            _config(ed25519_private_key_pem="-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        elif case == "both_secrets":
            _config(pem_env="MY_ED_PEM", api_secret="s")
        else:
            path = tmp_path / "key.pem"
            path.write_text(pem)
            _config(str(path), "MY_ED_PEM")


@pytest.mark.anyio
@pytest.mark.slow
async def test_ed25519_signed_rest_and_stream_accepted_by_simulator(tmp_path):
    pem, public = _keypair()
    path = tmp_path / "key.pem"
    path.write_text(pem)
    sim, warp = start_sim(extra_keys=(ApiKey(api_key=ED_KEY, account_id=DEMO_ACCOUNT, ed25519_public_key_pem=public),))
    try:
        cfg = BinanceConfig(rest_url=sim.base_url, ws_api_url=sim.ws_api_url, api_key=ED_KEY,
                            ed25519_private_key_file=str(path), ws_backoff_base_s=0.05, ws_backoff_cap_s=0.2)
        async with BinanceAdapter(cfg, clock=warp, sleep=warp.sleep, maintenance_interval_s=0.1) as ad:
            assert ad.health().stream_state is StreamState.SUBSCRIBED  # the WS API subscription signed too
            bid, _ = await book_top(ad, "BTCUSDT")
            order = NewOrder("ed-1", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, quantity=D("0.001"), price=bid - 1000)
            report = await ad.submit(order)
            assert report.status is OrderStatus.NEW
            events = await collect(ad)
            assert [type(e) for e in events] == [VenueAccepted]
            canceled = await ad.cancel(CancelOrder("BTC/USDT", client_order_id="ed-1"))
            assert canceled.status is OrderStatus.CANCELED
    finally:
        sim.stop()
