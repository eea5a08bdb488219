"""Order types through the Binance adapter against the simulator (real loopback HTTP/WS): stop-loss and
take-profit (market and limit) rest dormant and fill once a trade reaches the trigger, post-only is
LIMIT_MAKER, iceberg is ``icebergQty``; what the venue or the symbol cannot do is refused before sending."""

from __future__ import annotations

import itertools
from dataclasses import replace
from decimal import Decimal as D

import pytest

from fixgw.errors import VenueRejected
from fixgw.orders.enums import OrderSide, OrderType, TimeInForce
from fixgw.venues.base import NewOrder, VenueAccepted, VenueFilled
from fixgw.venues.rules import check_order
from .simharness import Counterparty, adapter, collect, empty_sim

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

_ids = itertools.count(1)
SELL, BUY = OrderSide.SELL, OrderSide.BUY


def cid(tag: str) -> str:
    return f"ot{tag}-{next(_ids)}"


@pytest.fixture
def sim():
    """A fresh simulator per test with empty books: the trigger tests set the last trade price themselves."""
    with empty_sim() as server:
        yield server


async def _venue_order(ad, client_order_id: str) -> dict:
    return await ad.http.request("GET", "/api/v3/order", [("symbol", "BTCUSDT"), ("origClientOrderId", client_order_id)],
                                 signed=True)


# (type, stop price, limit price, the price the market trades at to reach the trigger)
TRIGGERED = [
    (OrderType.STOP, "59500", None, "59000"),  # a sell stop fires once the price falls to it
    (OrderType.STOP_LIMIT, "59500", "59000", "59000"),
    (OrderType.TAKE_PROFIT, "60500", None, "61000"),  # a sell take-profit fires once the price rises to it
    (OrderType.TAKE_PROFIT_LIMIT, "60500", "61000", "61000"),
]


@pytest.mark.parametrize("otype,stop,price,trade_at", TRIGGERED, ids=[t[0].name for t in TRIGGERED])
async def test_triggered_order_rests_dormant_then_fills_when_a_trade_reaches_the_trigger(sim, otype, stop, price,
                                                                                          trade_at):
    other = Counterparty(sim, sim.warp)
    try:
        async with adapter(sim, sim.warp) as ad:
            c = cid("trig")
            order = NewOrder(c, "BTC/USDT", SELL, otype, quantity=D("0.001"), stop_price=D(stop),
                             price=D(price) if price else None)
            assert check_order(ad.instrument("BTC/USDT"), order, ad.capabilities) is None
            await ad.submit(order)
            venue = await _venue_order(ad, c)
            assert (venue["type"], venue["status"], D(venue["stopPrice"])) == (
                {OrderType.STOP: "STOP_LOSS", OrderType.STOP_LIMIT: "STOP_LOSS_LIMIT",
                 OrderType.TAKE_PROFIT: "TAKE_PROFIT", OrderType.TAKE_PROFIT_LIMIT: "TAKE_PROFIT_LIMIT"}[otype],
                "NEW", D(stop))
            # the market trades at trade_at (the counterparty with itself); a bid stays for our order
            await other.order("BTCUSDT", "BUY", D("0.002"), D(trade_at))
            await other.order("BTCUSDT", "SELL", D("0.001"), D(trade_at))
            events = await collect(ad, until=lambda ev: any(isinstance(e, VenueFilled) and e.client_order_id == c
                                                            for e in ev))
            accepted = [e for e in events if isinstance(e, VenueAccepted) and e.client_order_id == c]
            fills = [e for e in events if isinstance(e, VenueFilled) and e.client_order_id == c]
            assert accepted and accepted[0].order_type is otype
            assert [(f.last_qty, f.last_px) for f in fills] == [(D("0.001"), D(trade_at))]
            assert (await _venue_order(ad, c))["status"] == "FILLED"
    finally:
        await other.aclose()


async def test_stop_that_would_trigger_at_once_refused_by_the_venue_with_its_reason(sim):
    other = Counterparty(sim, sim.warp)
    try:
        async with adapter(sim, sim.warp) as ad:
            await other.order("BTCUSDT", "BUY", D("0.001"), D("60000"))
            await other.order("BTCUSDT", "SELL", D("0.001"), D("60000"))  # last trade: 60000
            with pytest.raises(VenueRejected) as exc:  # a sell stop above the market fires at once
                await ad.submit(NewOrder(cid("now"), "BTC/USDT", SELL, OrderType.STOP, quantity=D("0.001"),
                                         stop_price=D("60500")))
            assert exc.value.reason == "would_trigger"
    finally:
        await other.aclose()


async def test_post_only_rests_as_limit_maker_and_is_refused_when_it_would_take(sim):
    other = Counterparty(sim, sim.warp)
    try:
        async with adapter(sim, sim.warp) as ad:
            await other.order("BTCUSDT", "SELL", D("0.001"), D("60000"))
            maker = cid("po")
            await ad.submit(NewOrder(maker, "BTC/USDT", BUY, OrderType.LIMIT, quantity=D("0.001"), price=D("59990"),
                                     post_only=True))
            venue = await _venue_order(ad, maker)
            assert (venue["type"], venue["status"]) == ("LIMIT_MAKER", "NEW")
            with pytest.raises(VenueRejected) as exc:  # crosses the ask: a maker-only order must not take
                await ad.submit(NewOrder(cid("po"), "BTC/USDT", BUY, OrderType.LIMIT, quantity=D("0.001"),
                                         price=D("60000"), post_only=True))
            assert exc.value.reason == "would_take"
    finally:
        await other.aclose()


async def test_iceberg_sent_as_iceberg_qty_and_shown_by_the_venue(sim):
    async with adapter(sim, sim.warp) as ad:
        inst = ad.instrument("BTC/USDT")
        assert inst.iceberg_allowed and inst.iceberg_parts == 10  # from exchangeInfo
        c = cid("ice")
        await ad.submit(NewOrder(c, "BTC/USDT", BUY, OrderType.LIMIT, quantity=D("0.01"), price=D("50000"),
                                 display_quantity=D("0.002")))
        venue = await _venue_order(ad, c)
        assert (D(venue["icebergQty"]), D(venue["origQty"]), venue["status"]) == (D("0.002"), D("0.01"), "NEW")


ICEBERG_BAD = [
    # (what, order changes, local rule, the venue's own answer to the same order)
    ("too many parts", dict(quantity=D("0.011"), display_quantity=D("0.001")), "iceberg_parts",
     "Filter failure: ICEBERG_PARTS"),
    ("display off the lot step", dict(display_quantity=D("0.0025001")), "lot", "Filter failure: LOT_SIZE"),
    ("not GTC", dict(time_in_force=TimeInForce.IOC), "iceberg", "Unsupported order combination"),
]


@pytest.mark.parametrize("what,changes,rule,venue_msg", ICEBERG_BAD, ids=[b[0] for b in ICEBERG_BAD])
async def test_bad_iceberg_refused_locally_and_the_venue_agrees(sim, what, changes, rule, venue_msg):
    async with adapter(sim, sim.warp) as ad:
        base = NewOrder(cid("iceb"), "BTC/USDT", BUY, OrderType.LIMIT, quantity=D("0.01"), price=D("50000"),
                        display_quantity=D("0.002"))
        order = replace(base, **changes)
        violation = check_order(ad.instrument("BTC/USDT"), order, ad.capabilities)
        assert violation is not None and violation.rule == rule
        with pytest.raises(VenueRejected) as local:
            await ad.submit(order)
        assert local.value.code == "LOCAL"
        params = [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"),
                  ("timeInForce", (order.time_in_force or TimeInForce.GTC).name), ("quantity", order.quantity),
                  ("price", order.price), ("icebergQty", order.display_quantity)]
        with pytest.raises(VenueRejected) as venue:  # the test endpoint: validated, never placed
            await ad.http.request("POST", "/api/v3/order/test", params, signed=True)
        assert venue_msg in venue.value.message


async def test_iceberg_on_a_symbol_without_it_refused_before_sending(sim):
    sim.call(lambda st: st.engine.instruments.__setitem__(
        "ETHUSDT", replace(st.engine.instruments["ETHUSDT"], iceberg_allowed=False)))
    async with adapter(sim, sim.warp) as ad:
        order = NewOrder(cid("noice"), "ETH/USDT", BUY, OrderType.LIMIT, quantity=D("0.1"), price=D("2000"),
                         display_quantity=D("0.05"))
        violation = ad.check(order)
        assert violation is not None and violation.unsupported
        assert violation.reason == "binance: iceberg orders are not allowed on ETH/USDT"
        with pytest.raises(VenueRejected) as local:
            await ad.submit(order)
        assert (local.value.code, local.value.reason) == ("LOCAL", "unsupported")
        params = [("symbol", "ETHUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
                  ("quantity", D("0.1")), ("price", D("2000")), ("icebergQty", D("0.05"))]
        with pytest.raises(VenueRejected) as venue:
            await ad.http.request("POST", "/api/v3/order/test", params, signed=True)
        assert venue.value.message == "Iceberg orders are not supported for this symbol."
