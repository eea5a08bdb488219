"""A FIX drop-copy session: ExecutionReports for every order of its accounts, REST or FIX; it may only listen."""

from __future__ import annotations

import pytest
from gateway.fixclient import FixClient
from test_bridge_gateway import sim, stack  # noqa: F401  (sim: a fixture)
from test_bridge_orders import buy, trader, until

from fixgw.config import DEMO_PASSWORD, Credentials, SessionSettings
from fixgw.sim import SimServer

pytestmark = [pytest.mark.anyio]


def drop_copy(*copies: str) -> SessionSettings:
    return SessionSettings(begin_string="FIX.4.4", sender_comp_id="FIXGW", target_comp_id="DROPCOPY", venue="sim",
                           account="watch", credentials=Credentials("demo", DEMO_PASSWORD), drop_copy=True,
                           copies=copies)


async def test_bridge_drop_copy_gets_rest_and_fix_orders_and_may_send_nothing(sim: SimServer) -> None:
    async with stack(sim, sessions=(drop_copy(),)) as (gw, url), trader(url) as t:
        dc = FixClient("FIX.4.4", "DROPCOPY", "FIXGW")
        await dc.connect(gw.port)
        fix = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await fix.connect(gw.port)
        await t.post("/v1/orders", buy("DC-REST"))
        await until(t, "DC-REST", lambda o: o["status"] == "new")
        await fix.new_order("DC-FIX", "1", "0.1", price="50000")
        await fix.reports("DC-FIX", 1)
        (rest,) = await dc.reports("DC-REST", 1)
        (fixed,) = await dc.reports("DC-FIX", 1)
        assert (rest.get(39), rest.get(150), rest.get(55)) == (b"0", b"0", b"BTC/USDT")
        assert (fixed.get(39), fixed.get(38)) == (b"0", b"0.1")

        await dc.new_order("DC-OWN", "1", "0.1", price="50000")  # a listener may not trade
        reject = await dc.wait_for(lambda m: m.msg_type == b"j")
        assert (reject.get(380), reject.get(372)) == (b"4", b"D")
        assert dc.exec_reports("DC-OWN") == []
        assert all(o["client_order_id"] != "DC-OWN" for o in (await t.get("/v1/orders"))["orders"])
        await fix.logout()
        await dc.logout()


async def test_bridge_drop_copy_copies_only_its_accounts(sim: SimServer) -> None:
    async with stack(sim, sessions=(drop_copy("oms"),)) as (gw, url), trader(url) as t:
        dc = FixClient("FIX.4.4", "DROPCOPY", "FIXGW")
        await dc.connect(gw.port)
        fix = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await fix.connect(gw.port)
        await fix.new_order("NOT-COPIED", "1", "0.1", price="50000")
        await fix.reports("NOT-COPIED", 1)
        await t.post("/v1/orders", buy("COPIED"))
        await dc.reports("COPIED", 1)
        await dc.pump(0.2)
        assert dc.exec_reports("NOT-COPIED") == []
        await fix.logout()
        await dc.logout()
