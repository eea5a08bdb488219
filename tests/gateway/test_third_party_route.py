"""Third-party routing end to end: a request on behalf of a party is answered to that party, and every
later report of its order too, across a gateway restart (FIX 4.2 and 4.4, real sockets, real SQLite)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from fixgw.codec import Message
from fixgw.orders import OrderStatus
from fixgw.session import SessionID
from fixgw.sim import SimServer

from .conftest import gateway_config, place, running_gateway
from .fixclient import FixClient, dec
from .test_routing import ScriptedVenue, gateway_with, logged_on

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
VERSIONS = [("FIX.4.2", "CLIENT42"), ("FIX.4.4", "CLIENT44")]
D = Decimal
ON_BEHALF = [(115, "BUREAU"), (116, "DESK7"), (144, "LDN")]
DELIVERED = {128: b"BUREAU", 129: b"DESK7", 145: b"LDN"}


def routed_to_bureau(m: Message) -> bool:
    return all(m.get(tag) == value for tag, value in DELIVERED.items()) and 115 not in m


@pytest.mark.parametrize(("begin", "comp"), VERSIONS)
async def test_route_on_behalf_of_every_report_delivered_to_party(sim: SimServer, begin: str, comp: str) -> None:
    async with running_gateway(gateway_config(sim)) as gw:
        c = FixClient(begin, comp, "FIXGW")
        await c.connect(gw.port)
        place(sim, "SELL", "0.1", "60000")
        await c.new_order("R1", "1", "0.3", price="60000", header=ON_BEHALF)
        new, trade = await c.reports("R1", 2)
        # The cancel names no party: the order's reports still go back by the order's route.
        await c.cancel("R2", "R1", "1")
        pending = await c.wait_for(lambda m: m.get(11) == b"R2" and m.get(39) == b"6")
        canceled = await c.wait_for(lambda m: m.get(11) == b"R2" and m.get(39) == b"4")
        for m in (new, trade, pending, canceled):
            assert routed_to_bureau(m), m
        assert (new[39], trade[39]) == (b"0", b"1")
        # A refused cancel is the answer to its own request: back by the request's route.
        await c.cancel("R3", "R1", "1", header=ON_BEHALF)
        reject = await c.wait_for(lambda m: m.msg_type == b"9" and m.get(11) == b"R3")
        assert routed_to_bureau(reject)
        # An order without a route gets reports without routing fields.
        await c.new_order("N1", "1", "0.1", price="50000")
        plain = (await c.reports("N1", 1))[0]
        assert not any(t in plain for t in (115, 116, 144, 128, 129, 145))
        await c.logout()


@pytest.mark.parametrize(("begin", "comp"), VERSIONS)
async def test_route_deliver_to_answered_on_behalf_of_party(sim: SimServer, begin: str, comp: str) -> None:
    async with running_gateway(gateway_config(sim)) as gw:
        c = FixClient(begin, comp, "FIXGW")
        await c.connect(gw.port)
        await c.new_order("T1", "1", "0.2", price="50000", header=[(128, "EXCH2"), (129, "BOOK"), (145, "NY")])
        new = (await c.reports("T1", 1))[0]
        assert (new[115], new[116], new[144]) == (b"EXCH2", b"BOOK", b"NY")
        assert not any(t in new for t in (128, 129, 145))
        # An order refused at once (unknown symbol) is answered the same way.
        await c.new_order("T2", "1", "0.2", price="50000", symbol="NOPE/USDT", header=[(128, "EXCH2")])
        rejected = (await c.reports("T2", 1))[0]
        assert (rejected[39], rejected[115]) == (b"8", b"EXCH2")
        await c.logout()


async def test_route_venue_refused_cancel_reject_goes_by_order_route() -> None:
    venue = ScriptedVenue()  # refuses every cancel
    async with gateway_with(venue) as gw:
        c = await logged_on(gw)
        await c.new_order("V1", "1", "0.5", price="100", header=ON_BEHALF)
        assert routed_to_bureau((await c.reports("V1", 1))[0])
        await c.cancel("V2", "V1", "1")  # no party named on the cancel itself
        reject = await c.wait_for(lambda m: m.msg_type == b"9" and m.get(11) == b"V2")
        assert (reject[434], reject[58]) == (b"1", b"Unknown order sent.")
        assert routed_to_bureau(reject)
        await c.logout()


@pytest.mark.parametrize(("begin", "comp"), VERSIONS)
async def test_route_late_fill_after_restart_still_delivered_to_party(sim: SimServer, tmp_path: Path, begin: str,
                                                                      comp: str) -> None:
    config = gateway_config(sim, store=tmp_path / "gw.db")
    c = FixClient(begin, comp, "FIXGW")
    async with running_gateway(config) as gw:
        await c.connect(gw.port)
        await c.new_order("L1", "1", "0.3", price="60000", header=ON_BEHALF)
        assert routed_to_bureau((await c.reports("L1", 1))[0])
        await c.logout()

    place(sim, "SELL", "0.3", "60000")  # fills L1 while the gateway is down

    async with running_gateway(config) as gw:
        book = gw.book(SessionID(begin, "FIXGW", comp))
        with anyio.fail_after(10):
            while book.find(cl_ord_id="L1").status is not OrderStatus.FILLED:  # type: ignore[union-attr]
                await anyio.sleep(0.05)
        await c.connect(gw.port)
        fill = await c.wait_for(lambda m: m.get(11) == b"L1" and m.get(39) == b"2", timeout=15)
        assert (dec(fill, 32), dec(fill, 14)) == (D("0.3"), D("0.3"))
        assert routed_to_bureau(fill)
        await c.logout()


async def test_route_party_not_text_business_reject_order_not_placed() -> None:
    venue = ScriptedVenue()
    async with gateway_with(venue) as gw:
        c = await logged_on(gw)
        await c.new_order("X1", "1", "0.5", price="100", header=[(115, b"\xff\xfe")])
        rej = await c.wait_for(lambda m: m.msg_type in (b"j", b"3"))
        assert rej.msg_type == b"j" and b"115" in rej[58]
        assert venue.submitted == [] and 115 not in rej and 128 not in rej
        await c.logout()
