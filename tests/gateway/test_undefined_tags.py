"""End to end, the demo configuration's strict default (issue 10, Rejects; FIX Session Layer Test Case 14):
a tag the dictionary does not define for the message, the user-defined range (>= 5000) included, gets a
session Reject 373=0 naming it, the order never reaches the venue, and the session carries on."""

from __future__ import annotations

import pytest

from fixgw.sim import SimServer

from .conftest import gateway_config, running_gateway
from .fixclient import FixClient

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.mark.parametrize(("begin", "comp"), [("FIX.4.2", "CLIENT42"), ("FIX.4.4", "CLIENT44")])
@pytest.mark.parametrize("tag", [5001, 4999])
async def test_gateway_undefined_tag_in_order_rejected_373_0_order_not_placed(sim: SimServer, begin: str, comp: str,
                                                                               tag: int) -> None:
    async with running_gateway(gateway_config(sim)) as gw:
        c = FixClient(begin, comp, "FIXGW")
        await c.connect(gw.port)
        await c.new_order("U1", "1", "0.01", price="30000", extra=[(tag, "x")])
        seq = c.next_out - 1
        rej = await c._read_until(lambda m: m.msg_type == b"3", 10)
        assert (rej[45], rej[373], rej[371]) == (str(seq).encode(), b"0", str(tag).encode())
        # The session goes on: the next order is taken; the rejected one was never placed.
        await c.new_order("U2", "1", "0.01", price="30000")
        (ack,) = await c.reports("U2", 1)
        assert (ack[150], ack[39]) == (b"0", b"0")
        assert c.exec_reports("U1") == []
        assert [o.price for o in sim.call(lambda st: st.engine.open_orders("gw"))] == [ack.get_decimal(44)]
        await c.logout()
