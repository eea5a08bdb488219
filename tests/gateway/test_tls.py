"""FIX over TLS: the gateway's [gateway.tls] section, with and without client certificates."""

from __future__ import annotations

import ssl
from dataclasses import replace
from pathlib import Path

import pytest
import trustme

from fixgw.config import TLSConfig
from fixgw.sim import SimServer

from .conftest import gateway_config, running_gateway
from .fixclient import FixClient

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def test_tls_order_round_trip_with_client_certificate(sim: SimServer, tmp_path: Path) -> None:
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1")
    server_cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    cfg = gateway_config(sim)
    tls = TLSConfig(cert=tmp_path / "server.pem", key=tmp_path / "server.pem", client_ca=tmp_path / "ca.pem")
    cfg = replace(cfg, gateway=replace(cfg.gateway, tls=tls))
    client_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(client_ctx)
    ca.issue_cert("client").configure_cert(client_ctx)
    async with running_gateway(cfg) as gw:
        c = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await c.connect(gw.port, ssl_context=client_ctx)
        await c.new_order("T1", "1", "0.1", price="50000")
        assert (await c.reports("T1", 1))[0][39] == b"0"
        await c.logout()
        no_cert = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        ca.configure_trust(no_cert)
        stranger = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        with pytest.raises(Exception):
            await stranger.connect(gw.port, ssl_context=no_cert, timeout=3)
