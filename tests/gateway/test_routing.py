"""Gateway routing against a scripted venue: the event paths a real exchange produces only rarely."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any, AsyncIterator

import anyio
import pytest

from fixgw.config import default_config
from fixgw.errors import TransportError, VenueRejected, VenueUnknownOutcome
from fixgw.gateway import Gateway
from fixgw.gateway._ids import parse_venue_cl_id, session_key, venue_cl_id
from fixgw.gateway._venue_events import plain
from fixgw.orders import OrderStatus
from fixgw.venues import base as V

from .conftest import running_gateway
from .fixclient import FixClient, _now

pytestmark = pytest.mark.anyio
D = Decimal
BTC = V.Instrument(symbol="BTC/USDT", venue_symbol="BTCUSDT", base="BTC", quote="USDT", tick_size=D("0.01"),
                   lot_step=D("0.0001"), min_qty=D("0.0001"), min_notional=D("5"))


class ScriptedVenue(V.VenueAdapter):
    """A venue whose answers the test decides; events go out through ``emit``."""

    def __init__(self) -> None:
        self.name = "sim"
        self.capabilities = V.VenueCapabilities(stop_orders=True, cancel_replace_atomic=True)
        self.send, self.recv = anyio.create_memory_object_stream[V.VenueOrderEvent](math.inf)
        self.submitted: list[V.NewOrder] = []
        self.checked: list[V.NewOrder] = []
        self.replaced: list[V.ReplaceOrder] = []
        self.on_submit: Any = "accept"
        self.on_replace: Any = "accept"
        self.on_cancel: Any = "reject"
        self.open: dict[str, str] = {}  # client order id -> venue order id, for query
        self.next_id = 100

    def emit(self, event: V.VenueOrderEvent) -> None:
        self.send.send_nowait(event)

    def _base(self, cid: str, vid: str, cum: str = "0") -> dict[str, Any]:
        return dict(venue="sim", symbol="BTC/USDT", client_order_id=cid, venue_order_id=vid, cum_qty=D(cum), ts_ns=1)

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def load_instruments(self) -> dict[str, V.Instrument]:
        return {"BTC/USDT": BTC}

    def instrument(self, symbol: str) -> V.Instrument:
        if symbol != "BTC/USDT":
            raise VenueRejected(-1121, "Invalid symbol.")
        return BTC

    def check(self, order: V.NewOrder) -> Any:
        self.checked.append(order)
        return super().check(order)

    async def submit(self, order: V.NewOrder) -> V.OrderReport:
        self.refuse_unchecked(order)  # as the real adapters do
        self.submitted.append(order)
        if self.on_submit == "reject":
            raise VenueRejected(-2010, "Account has insufficient balance for requested action.")
        if self.on_submit == "unknown":
            raise VenueUnknownOutcome("timed out")
        self.next_id += 1
        self.open[order.client_order_id] = str(self.next_id)
        self.emit(V.VenueAccepted(**self._base(order.client_order_id, str(self.next_id))))
        return V.OrderReport(venue="sim", symbol=order.symbol, client_order_id=order.client_order_id,
                             venue_order_id=str(self.next_id), status=OrderStatus.NEW)

    async def cancel(self, request: V.CancelOrder) -> V.OrderReport:
        if isinstance(self.on_cancel, Exception):
            raise self.on_cancel
        if self.on_cancel == "unknown":
            raise VenueUnknownOutcome("timed out")
        if self.on_cancel == "accept":
            cid = request.client_order_id or ""
            self.emit(V.VenueCanceled(**self._base(cid, self.open.pop(cid, "?"))))
            return V.OrderReport(venue="sim", symbol="BTC/USDT", client_order_id=cid, venue_order_id="?",
                                 status=OrderStatus.CANCELED)
        raise VenueRejected(-2011, "Unknown order sent.")

    async def amend(self, request: V.AmendOrder) -> V.OrderReport:
        raise NotImplementedError

    async def replace(self, request: V.ReplaceOrder) -> V.OrderReport:
        self.refuse_unchecked(request.new)  # as the real adapters do
        self.replaced.append(request)
        old = request.orig_client_order_id or ""
        # The venue cancels the old leg first, then fails to place the new one.
        self.emit(V.VenueCanceled(**self._base(old, request.venue_order_id or "?")))
        if self.on_replace == "fail_new":
            raise VenueRejected(-2021, "Order cancel-replace partially failed.")
        self.next_id += 1
        self.emit(V.VenueAccepted(**self._base(request.new.client_order_id, str(self.next_id))))
        return V.OrderReport(venue="sim", symbol="BTC/USDT", client_order_id=request.new.client_order_id,
                             venue_order_id=str(self.next_id), status=OrderStatus.NEW)

    async def query(self, symbol: str, *, client_order_id: str | None = None,
                    venue_order_id: str | None = None) -> V.OrderReport:
        if client_order_id in self.open:
            return V.OrderReport(venue="sim", symbol=symbol, client_order_id=client_order_id,
                                 venue_order_id=self.open[client_order_id], status=OrderStatus.NEW)
        raise VenueRejected(-2013, "Order does not exist.")

    async def open_orders(self, symbol: str | None = None) -> list[V.OrderReport]:
        return []

    async def cancel_all(self, symbol: str) -> list[V.OrderReport]:
        return []

    async def reconcile(self) -> None: ...

    def events(self) -> AsyncIterator[V.VenueOrderEvent]:
        return self.recv

    def health(self) -> V.VenueHealth:  # pragma: no cover - not used
        raise NotImplementedError


def gateway_with(venue: ScriptedVenue, store: Path | None = None) -> Any:
    return running_gateway(default_config(port=0, store_path=store), adapter_factory=lambda vc: venue)


async def logged_on(gw: Gateway) -> FixClient:
    c = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
    await c.connect(gw.port)
    return c


async def test_routing_replace_failing_after_old_leg_canceled_reports_canceled_and_reject() -> None:
    venue = ScriptedVenue()
    venue.on_replace = "fail_new"
    async with gateway_with(venue) as gw:
        c = await logged_on(gw)
        await c.new_order("a1", "1", "0.5", price="100")
        await c.reports("a1", 1)
        await c.replace("a2", "a1", "1", "0.6", "101")
        rej = await c.wait_for(lambda m: m.msg_type == b"9" and m.get(11) == b"a2")
        assert (rej[434], rej[58]) == (b"2", b"Order cancel-replace partially failed.")
        canceled = await c.wait_for(lambda m: m.msg_type == b"8" and m.get(39) == b"4")
        assert (canceled[150], canceled[11]) == (b"4", b"a1")
        await c.logout()


async def test_routing_replace_succeeding_hides_old_leg_cancel() -> None:
    venue = ScriptedVenue()
    async with gateway_with(venue) as gw:
        c = await logged_on(gw)
        await c.new_order("b1", "1", "0.5", price="100")
        await c.reports("b1", 1)
        await c.replace("b2", "b1", "1", "0.6", "101")
        replaced = (await c.reports("b2", 2))[1]
        assert (replaced[150], replaced[39]) == (b"5", b"0")
        await c.pump(0.3)
        assert not [m for m in c.inbox if m.get(39) == b"4"]
        assert venue.submitted[0].client_order_id.endswith("-1")
        await c.logout()


async def test_routing_new_order_checked_once_on_the_venue_order_it_sends() -> None:
    venue = ScriptedVenue()
    async with gateway_with(venue) as gw:
        c = await logged_on(gw)
        await c.new_order("b1", "1", "0.5", price="100")
        await c.reports("b1", 1)
        assert len(venue.checked) == 1 and venue.submitted[0] is venue.checked[0]
        await c.logout()


async def test_routing_replace_checked_once_on_the_new_leg_it_sends() -> None:
    venue = ScriptedVenue()
    async with gateway_with(venue) as gw:
        c = await logged_on(gw)
        await c.new_order("k1", "1", "0.5", price="100")
        await c.reports("k1", 1)
        await c.replace("k2", "k1", "1", "0.6", "101")
        await c.reports("k2", 2)
        new = venue.replaced[0].new
        assert len(venue.checked) == 2 and new is venue.checked[1]  # the order's check, then the new leg's
        assert (new.client_order_id, new.quantity, new.price) == (venue.submitted[0].client_order_id + ".r1",
                                                                   D("0.6"), D("101"))
        await c.logout()


async def test_routing_quote_amount_order_filled_when_the_venue_says_done() -> None:
    venue = ScriptedVenue()
    venue.capabilities = V.VenueCapabilities(quote_qty_market=True)
    async with gateway_with(venue) as gw:
        c = await logged_on(gw)
        await c.send_raw("D", [(11, "q1"), (21, "1"), (55, "BTC/USDT"), (54, "1"), (60, _now()), (152, "60"),
                               (40, "1")])
        await c.reports("q1", 1)  # accepted
        cid = venue.submitted[0].client_order_id
        assert (venue.submitted[0].quote_quantity, venue.submitted[0].quantity) == (D("60"), None)
        # 0.5 at 100 is 50 of the 60: the venue's lot step left the rest, and it says the order is filled
        venue.emit(V.VenueFilled(**venue._base(cid, "101", "0.5"), last_qty=D("0.5"), last_px=D("100"),
                                 trade_id="t1", done=True))
        fill = (await c.reports("q1", 2))[1]
        assert (fill[150], fill[39], fill[14], fill[151]) == (b"F", b"2", b"0.5", b"0")
        await c.logout()


async def test_routing_venue_refusal_on_submit_rejected_with_venue_text() -> None:
    venue = ScriptedVenue()
    venue.on_submit = "reject"
    async with gateway_with(venue) as gw:
        c = await logged_on(gw)
        await c.new_order("r1", "1", "0.5", price="100")
        rej = (await c.reports("r1", 1))[0]
        assert (rej[39], rej[103]) == (b"8", b"3")
        assert rej[58] == b"Account has insufficient balance for requested action."
        await c.logout()


async def test_routing_unknown_outcome_then_venue_event_acknowledges() -> None:
    venue = ScriptedVenue()
    venue.on_submit = "unknown"
    async with gateway_with(venue) as gw:
        c = await logged_on(gw)
        await c.new_order("u1", "2", "0.5", price="100")
        await c.pump(0.2)
        assert c.exec_reports("u1") == []  # nothing is said while the outcome is unknown
        cid = venue.submitted[0].client_order_id
        venue.emit(V.VenueAccepted(**venue._base(cid, "7")))
        venue.emit(V.VenueFilled(**venue._base(cid, "7", "0.2"),
                                 last_qty=D("0.20000000"), last_px=D("100.00000000"), trade_id="t9"))
        venue.emit(V.VenueFilled(**venue._base(cid, "7", "0.2"),
                                 last_qty=D("0.2"), last_px=D("100"), trade_id="t9"))  # the same trade again
        reports = await c.reports("u1", 2)
        assert [m[39] for m in reports] == [b"0", b"1"]
        assert (reports[1][32], reports[1][31]) == (b"0.2", b"100")
        await c.pump(0.3)
        assert len(c.exec_reports("u1")) == 2
        await c.logout()


async def test_routing_cancel_refused_by_venue_order_cancel_reject() -> None:
    venue = ScriptedVenue()
    async with gateway_with(venue) as gw:
        c = await logged_on(gw)
        await c.new_order("k1", "1", "0.5", price="100")
        await c.reports("k1", 1)
        await c.cancel("k2", "k1", "1")
        rej = await c.wait_for(lambda m: m.msg_type == b"9")
        assert (rej[11], rej[41], rej[434], rej[39]) == (b"k2", b"k1", b"1", b"0")
        await c.logout()


async def test_routing_cancel_refused_as_unknown_order_still_open_at_venue_reject_with_venue_text() -> None:
    venue = ScriptedVenue()
    venue.on_cancel = VenueRejected(-2011, "Unknown order sent.", reason="unknown_order")
    async with gateway_with(venue) as gw:
        c = await logged_on(gw)
        await c.new_order("o1", "1", "0.5", price="100")
        await c.reports("o1", 1)
        await c.cancel("o2", "o1", "1")
        rej = await c.wait_for(lambda m: m.msg_type == b"9")
        # The venue's query says the order is open: the refusal stands, with the order's true status.
        assert (rej[11], rej[39], rej[58]) == (b"o2", b"0", b"Unknown order sent.")
        await c.logout()


async def test_routing_transport_error_text_logged_escaped_on_one_line(caplog: Any) -> None:
    import logging

    venue = ScriptedVenue()
    venue.on_cancel = TransportError("connection reset\n2026-01-01 CRITICAL forged")
    with caplog.at_level(logging.INFO, logger="fixgw.gateway"):
        async with gateway_with(venue) as gw:
            c = await logged_on(gw)
            await c.new_order("t1", "1", "0.5", price="100")
            await c.reports("t1", 1)
            await c.cancel("t2", "t1", "1")
            await c.reports("t2", 1)  # PendingCancel; the venue call fails after it
            await c.pump(0.2)
            await c.logout()
    lines = [r.getMessage() for r in caplog.records if "cancel of" in r.getMessage()]
    assert lines and all("reset\\x0a2026" in m and "\n" not in m for m in lines), lines


async def test_routing_poss_resend_of_known_order_answered_with_status_not_duplicate() -> None:
    venue = ScriptedVenue()
    async with gateway_with(venue) as gw:
        c = await logged_on(gw)
        await c.new_order("p1", "1", "0.5", price="100")
        await c.reports("p1", 1)
        await c.new_order("p1", "1", "0.5", price="100", poss_resend=True)
        status = (await c.reports("p1", 2))[1]
        assert (status[150], status[39]) == (b"I", b"0")
        assert len(venue.submitted) == 1
        await c.logout()


async def test_routing_cancel_lost_before_restart_sent_again_after_restart(tmp_path: Path) -> None:
    venue = ScriptedVenue()
    venue.on_cancel = "unknown"
    c = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
    async with gateway_with(venue, tmp_path / "gw.db") as gw:
        await c.connect(gw.port)
        await c.new_order("x1", "1", "0.5", price="100")
        await c.reports("x1", 1)
        await c.cancel("x2", "x1", "1")
        assert (await c.reports("x2", 1))[0][39] == b"6"
        await c.logout()
    venue.on_cancel = "accept"
    venue.send, venue.recv = anyio.create_memory_object_stream[V.VenueOrderEvent](math.inf)
    async with gateway_with(venue, tmp_path / "gw.db") as gw:
        await c.connect(gw.port)
        canceled = await c.wait_for(lambda m: m.get(11) == b"x2" and m.get(39) == b"4")
        assert (canceled[150], canceled[41]) == (b"4", b"x1")
        await c.logout()


async def test_routing_events_of_other_orders_ignored() -> None:
    venue = ScriptedVenue()
    async with gateway_with(venue) as gw:
        c = await logged_on(gw)
        venue.emit(V.VenueAccepted(**venue._base("someone-else", "1")))
        venue.emit(V.VenueAccepted(**venue._base("CLIENT44_44_zz-99", "2")))
        await c.pump(0.3)
        assert c.inbox == []
        await c.logout()


def test_routing_helpers_ids_and_decimals() -> None:
    cfg = default_config()
    assert session_key(cfg.sessions[0]) == "CLIENT44_44"
    assert session_key(cfg.sessions[1]) == "CLIENT42_42"

    class O:
        order_id = "CLIENT44_44-7"

    assert venue_cl_id(O(), 0) == "CLIENT44_44-7" and venue_cl_id(O(), 2) == "CLIENT44_44-7.r2"
    assert parse_venue_cl_id("CLIENT44_44-7.r2") == ("CLIENT44_44", "CLIENT44_44-7", 2)
    assert parse_venue_cl_id("CLIENT44_44-7") == ("CLIENT44_44", "CLIENT44_44-7", 0)
    assert parse_venue_cl_id("CLIENT44_44-7.rx") is None
    assert [str(plain(D(x))) for x in ("0.10000000", "60000.00000000", "1E+1", "0")] == ["0.1", "60000", "10", "0"]
