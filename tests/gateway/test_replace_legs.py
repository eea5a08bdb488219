"""Cancel-replace legs through the gateway: the old leg's end is held by the order, journaled, and
reported only once the replace fails, across a restart too."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from fixgw.errors import VenueUnknownOutcome
from fixgw.orders import OrderStatus
from fixgw.session import SessionID
from fixgw.venues import base as V

from .fixclient import FixClient
from .test_routing import ScriptedVenue, gateway_with

pytestmark = pytest.mark.anyio
SESSION = SessionID("FIX.4.4", "FIXGW", "CLIENT44")


class CancelFirstVenue(ScriptedVenue):
    """Replaces by cancel-and-new: the old leg is canceled at once, and the call then times out before
    the new leg is placed (the venue never hears of it)."""

    async def replace(self, request: V.ReplaceOrder) -> V.OrderReport:
        old = request.orig_client_order_id or ""
        self.open.pop(old, None)
        self.emit(V.VenueCanceled(**self._base(old, request.venue_order_id or "?")))
        raise VenueUnknownOutcome("timed out")


async def test_replace_old_leg_end_held_across_restart_reported_when_replace_fails(tmp_path: Path) -> None:
    store = tmp_path / "gw.db"
    venue = CancelFirstVenue()
    c = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
    async with gateway_with(venue, store) as gw:
        await c.connect(gw.port)
        await c.new_order("a1", "1", "0.5", price="100")
        await c.reports("a1", 1)
        await c.replace("a2", "a1", "1", "0.6", "101")
        await c.wait_for(lambda m: m.get(11) == b"a2" and m.get(150) == b"E")
        order = gw.book(SESSION).find(cl_ord_id="a1")
        assert order is not None
        with anyio.fail_after(10):
            while order.held_end is None:
                await anyio.sleep(0.01)
        await c.pump(0.3)
        # Held: not reported while the replace may still land.
        assert order.status is OrderStatus.PENDING_REPLACE
        assert not [m for m in c.inbox if m.get(39) == b"4"]
    await c.close()

    # Restart: the venue never placed leg 1. Reconciliation refuses it, so the replace fails, and the
    # held end (read back from the journal) then ends the order.
    again = CancelFirstVenue()
    again.open = dict(venue.open)
    async with gateway_with(again, store) as gw:
        order = gw.book(SESSION).find(cl_ord_id="a1")
        assert order is not None and order.status is OrderStatus.CANCELED
        await c.connect(gw.port)
        rej = await c.wait_for(lambda m: m.msg_type == b"9" and m.get(11) == b"a2")
        assert (rej[434], rej[41], rej[39]) == (b"2", b"a1", b"0")
        canceled = await c.wait_for(lambda m: m.msg_type == b"8" and m.get(39) == b"4")
        assert (canceled[11], canceled[150]) == (b"a1", b"4")
        await c.pump(0.3)
        assert len([m for m in c.inbox if m.get(39) == b"4"]) == 1
        await c.logout()


async def test_legs_order_refused_by_venue_while_cancel_pending_reported_rejected() -> None:
    # The order is refused on the venue's stream after the client asked to cancel it, before any ack: the
    # order never worked, so it is reported rejected (before, the refusal was dropped and the order
    # stayed pending cancel for good).
    venue = ScriptedVenue()
    venue.on_submit = "unknown"  # sent, no answer yet
    venue.on_cancel = "unknown"
    async with gateway_with(venue) as gw:
        c = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await c.connect(gw.port)
        await c.new_order("b1", "1", "0.5", price="100")
        await c.cancel("b2", "b1", "1")
        await c.wait_for(lambda m: m.get(11) == b"b2" and m.get(150) == b"6")
        order = gw.book(SESSION).find(cl_ord_id="b1")
        assert order is not None and order.status is OrderStatus.PENDING_CANCEL
        venue.emit(V.VenueOrderRejected(**venue._base(order.order_id, "", "0"), reason="post only would cross"))
        rejected = await c.wait_for(lambda m: m.msg_type == b"8" and m.get(39) == b"8")
        assert (rejected[11], rejected[150], rejected[58]) == (b"b1", b"8", b"post only would cross")
        assert order.status is OrderStatus.REJECTED
        await c.logout()
