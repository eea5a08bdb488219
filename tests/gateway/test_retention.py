"""Finished orders leave the gateway's books (``terminal_order_retention``) and are answered from the journal
exactly as before: order status, cancel and replace of a finished order, client order id reuse, restart."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from fixgw.config import Config
from fixgw.session import SessionID
from fixgw.sim import SimServer

from .conftest import gateway_config, place, running_gateway
from .fixclient import FixClient, dec

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
D = Decimal
SID = SessionID("FIX.4.4", "FIXGW", "CLIENT44")


def _config(sim: SimServer, store: Path, retention: int | None) -> Config:
    cfg = gateway_config(sim, store=store)
    return replace(cfg, gateway=replace(cfg.gateway, terminal_order_retention=retention))


async def _answers(c: FixClient, filled_order_id: bytes) -> list[tuple]:
    """Ask about the finished order R1 every way a client can; return what the gateway answers."""
    await c.send_raw("H", [(11, "R1"), (55, "BTC/USDT"), (54, "1")])
    status = (await c.reports("R1", 3))[2]
    await c.send_raw("H", [(37, filled_order_id.decode()), (11, "R1"), (55, "BTC/USDT"), (54, "1")])
    by_id = (await c.reports("R1", 4))[3]
    await c.cancel("R2", "R1", "1")
    cxl = await c.wait_for(lambda m: m.msg_type == b"9" and m.get(11) == b"R2")
    await c.replace("R3", "R1", "1", "0.2", "60000")
    rpl = await c.wait_for(lambda m: m.msg_type == b"9" and m.get(11) == b"R3")
    return [
        (status[39], status[37], dec(status, 14), dec(status, 151), dec(status, 6), status[150]),
        (by_id[39], by_id[37], dec(by_id, 14)),
        (cxl[434], cxl[102], cxl[39], cxl[37], cxl[41]),
        (rpl[434], rpl[102], rpl[39], rpl[37], rpl[41]),
    ]


@pytest.mark.parametrize("retention", [0, None])
async def test_retention_finished_order_answered_from_journal_as_before(sim: SimServer, tmp_path: Path,
                                                                        retention: int | None) -> None:
    config = _config(sim, tmp_path / "gw.db", retention)
    c = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
    async with running_gateway(config) as gw:
        await c.connect(gw.port)
        place(sim, "SELL", "0.1", "60000")
        await c.new_order("R1", "1", "0.1", price="60000")
        filled = (await c.reports("R1", 2))[1]
        assert filled[39] == b"2"
        book = gw.book(SID)
        assert len(book) == (0 if retention == 0 else 1)  # gone from memory once finished
        answers = await _answers(c, filled[37])
        assert answers == [
            (b"2", filled[37], D("0.1"), D(0), D("60000"), b"I"),
            (b"2", filled[37], D("0.1")),
            (b"1", b"0", b"2", filled[37], b"R1"),  # too late to cancel: the order is filled
            (b"2", b"0", b"2", filled[37], b"R1"),
        ]
        await c.new_order("R1", "1", "0.1", price="50000")  # a finished order's ClOrdID is free again
        again = (await c.reports("R1", 5))[4]
        assert again[39] == b"0" and again[37] != filled[37]
        await c.new_order("R1", "1", "0.1", price="50000")  # ... but not while its new order is live
        dup = (await c.reports("R1", 6))[5]
        assert (dup[39], dup[103]) == (b"8", b"6")
        await c.logout()
    await c.close()

    async with running_gateway(config) as gw:  # a restart holds the open order and answers the rest
        book = gw.book(SID)
        assert [o.cl_ord_id for o in book.open_orders()] == ["R1"]
        if retention == 0:
            assert len(book) == 1
        await c.connect(gw.port)  # same sequence numbers: the session resumes
        await c.send_raw("H", [(37, filled[37].decode()), (11, "R1"), (55, "BTC/USDT"), (54, "1")])
        old = (await c.reports("R1", 7))[6]
        assert (old[150], old[39], old[37], dec(old, 14)) == (b"I", b"2", filled[37], D("0.1"))
        await c.logout()


class _Sent:
    """A session handle that keeps what the gateway sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, list]] = []

    def send(self, msg_type: bytes, fields: list, **_kw) -> None:
        self.sent.append((msg_type, fields))


def test_retention_late_venue_fill_reaches_evicted_order_once() -> None:
    from fixgw.config import default_config
    from fixgw.gateway._ids import venue_cl_id
    from fixgw.gateway._router import Router, SessionContext, VenueContext
    from fixgw.gateway._venue_events import on_venue_event
    from fixgw.orders import OrderAccepted, OrderBook, OrderCanceled, OrderSubmitted, SubmitOrder
    from fixgw.orders.enums import OrderSide, OrderType
    from fixgw.stores.journal_memory import MemoryOrderJournal
    from fixgw.translate.symbols import SymbolMap
    from fixgw.venues import base as V

    cfg = default_config()
    journal = MemoryOrderJournal("acct", serialize=True)
    book = OrderBook("acct", journal, retention=0)
    venue = VenueContext(cfg.venues[0], None)  # type: ignore[arg-type]
    venue.symbols = SymbolMap([("BTCUSDT", "BTC", "USDT")])
    ctx = SessionContext(cfg.sessions[0], "acct", book, journal, venue)
    ctx.handle = _Sent()  # type: ignore[assignment]

    class _Clock:
        def now_ns(self) -> int:
            return 99

    router = Router(_Clock())  # type: ignore[arg-type]
    router.add(ctx)
    o = book.submit(SubmitOrder(cl_ord_id="L1", symbol="BTCUSDT", side=OrderSide.BUY, order_type=OrderType.LIMIT,
                                quantity=D("1"), price=D("100"), ts_ns=1))
    book.apply(OrderSubmitted(order_id=o.order_id, ts_ns=2))
    book.apply(OrderAccepted(order_id=o.order_id, ts_ns=3, venue_order_id="9"))
    book.apply(OrderCanceled(order_id=o.order_id, ts_ns=4))
    journal.commit()
    assert len(book) == 0
    late = V.VenueFilled(venue="sim", symbol="BTCUSDT", client_order_id=venue_cl_id(o, 0), venue_order_id="9",
                         cum_qty=D("0.4"), ts_ns=5, last_qty=D("0.4"), last_px=D("100"), trade_id="77")
    on_venue_event(router, late)
    on_venue_event(router, late)  # the duplicate: dropped by its trade id after the reload
    assert len(ctx.handle.sent) == 1 and ctx.handle.sent[0][0] == b"8"  # type: ignore[attr-defined]
    assert len(book) == 0  # left memory again
    again = book.get(o.order_id)
    assert (again.cum_qty, again.trade_ids, again.status.value) == (D("0.4"), {"BTCUSDT:77"}, "canceled")
