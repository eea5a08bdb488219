"""No secret reaches any log record while the gateway logs on a client and trades."""

from __future__ import annotations

import logging

import pytest

from fixgw.sim import SimServer

from .conftest import API_SECRET, gateway_config, running_gateway
from .fixclient import FixClient

pytestmark = pytest.mark.anyio


async def test_gateway_logs_at_debug_never_contain_password_or_api_secret(sim: SimServer, caplog) -> None:
    with caplog.at_level(logging.DEBUG):
        async with running_gateway(gateway_config(sim)) as gw:
            c = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
            await c.connect(gw.port)
            await c.new_order("S1", "1", "0.01", price="50000")
            await c.reports("S1", 1)
            await c.logout()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "553=demo" in text  # the wire log did record the Logon ...
    assert "554=demo" not in text and "554=***" in text  # ... without its password
    assert API_SECRET not in text
