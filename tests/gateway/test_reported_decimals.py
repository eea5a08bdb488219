"""What a client reads: every decimal of a report in plain notation with bounded decimals (FIX 4.2 and 4.4)."""

from __future__ import annotations

import pytest

from fixgw.sim import SimServer

from .conftest import gateway_config, place, running_gateway
from .fixclient import FixClient

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
VERSIONS = [("FIX.4.2", "CLIENT42"), ("FIX.4.4", "CLIENT44")]
DECIMAL_TAGS = (6, 14, 151, 31, 32, 38, 44, 99)


@pytest.mark.parametrize(("begin", "comp"), VERSIONS)
async def test_reported_avg_px_repeating_quotient_ten_decimals_half_even(sim: SimServer, begin: str, comp: str) -> None:
    async with running_gateway(gateway_config(sim)) as gw:
        c = FixClient(begin, comp, "FIXGW")
        await c.connect(gw.port)
        place(sim, "SELL", "0.1", "60000")
        place(sim, "SELL", "0.2", "60001")
        await c.new_order("A1", "1", "0.3", price="60001")
        reports = await c.reports("A1", 3)
        final = reports[-1]
        assert final[39] == b"2"
        # (6000 + 12000.2) / 0.3 = 60000.6666...: ten decimals, rounded half-even, no exponent.
        assert final[6] == b"60000.6666666667"
        for m in reports:
            for tag in DECIMAL_TAGS:
                if tag in m:
                    assert b"E" not in m[tag] and not m[tag].endswith(b".")
                    assert not (b"." in m[tag] and m[tag].endswith(b"0"))  # no padding zeros
        await c.logout()


@pytest.mark.parametrize(("begin", "comp"), VERSIONS)
async def test_reported_tiny_quantity_refusal_text_plain_notation(sim: SimServer, begin: str, comp: str) -> None:
    async with running_gateway(gateway_config(sim)) as gw:
        c = FixClient(begin, comp, "FIXGW")
        await c.connect(gw.port)
        await c.new_order("Q1", "1", "0.0000001", price="60000")
        rejected = (await c.reports("Q1", 1))[0]
        assert rejected[39] == b"8"
        text = rejected[58].decode()
        assert "quantity 0.0000001 below minimum" in text and "E-" not in text, text
        assert rejected[38] == b"0.0000001"
        await c.logout()
