"""Order lists (OCO, OTO) through the Binance adapter against the simulator (real loopback HTTP/WS), over the
WebSocket API and over REST: each order of a list is tracked as any order, its events flow on ``events()``."""

from __future__ import annotations

import itertools
from decimal import Decimal as D

import pytest

from fixgw.errors import VenueRejected
from fixgw.orders.enums import OrderSide, OrderType, TimeInForce
from fixgw.venues.base import NewOrder, VenueAccepted, VenueCapabilities, VenueExpired, VenueFilled, VenueCanceled
from fixgw.venues.binance.orderlists import order_list_params
from fixgw.venues.orderlists import NewOrderList, list_refusal
from .simharness import Counterparty, adapter, collect, empty_sim

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

_ids = itertools.count(1)
SELL, BUY = OrderSide.SELL, OrderSide.BUY
SYM = "BTC/USDT"


def cid(tag: str) -> str:
    return f"ol{tag}-{next(_ids)}"


@pytest.fixture(params=["ws", "rest"])
def entry(request) -> str:
    return request.param


@pytest.fixture
def sim():
    """A fresh simulator with empty books: each test sets the last trade price itself."""
    with empty_sim() as server:
        yield server


def sell_oco(tag: str) -> NewOrderList:
    limit = NewOrder(cid(tag + "a"), SYM, SELL, OrderType.LIMIT, quantity=D("0.002"), price=D("61000"), post_only=True)
    stop = NewOrder(cid(tag + "b"), SYM, SELL, OrderType.STOP_LIMIT, quantity=D("0.002"), price=D("58900"),
                    stop_price=D("59000"), time_in_force=TimeInForce.GTC)
    return NewOrderList("oco", SYM, cid(tag + "L"), (limit, stop))


async def _trade_at(other: Counterparty, price: str) -> None:
    await other.order("BTCUSDT", "BUY", D("0.001"), D(price))
    await other.order("BTCUSDT", "SELL", D("0.001"), D(price))


def test_oco_params_name_above_and_below_by_price() -> None:
    lst = sell_oco("p")
    params = dict(order_list_params(lst, "BTCUSDT"))
    assert (params["aboveType"], params["abovePrice"], params["aboveClientOrderId"]) == (
        "LIMIT_MAKER", D("61000"), lst.orders[0].client_order_id)
    assert (params["belowType"], params["belowStopPrice"], params["belowTimeInForce"]) == (
        "STOP_LOSS_LIMIT", D("59000"), "GTC")
    assert (params["side"], params["quantity"], params["listClientOrderId"]) == ("SELL", D("0.002"),
                                                                                 lst.client_list_id)
    assert "aboveSide" not in params and "newClientOrderId" not in params


def test_oto_params_name_working_and_pending_with_their_sides() -> None:
    working = NewOrder("w-1", SYM, BUY, OrderType.LIMIT, quantity=D("1"), price=D("59000"), time_in_force=TimeInForce.GTC)
    pending = NewOrder("p-1", SYM, SELL, OrderType.STOP, quantity=D("1"), stop_price=D("58000"))
    params = order_list_params(NewOrderList("oto", SYM, "L-1", (working, pending)), "BTCUSDT")
    assert params == [("symbol", "BTCUSDT"), ("listClientOrderId", "L-1"),
                      ("workingSide", "BUY"), ("workingType", "LIMIT"), ("workingTimeInForce", "GTC"),
                      ("workingQuantity", D("1")), ("workingPrice", D("59000")), ("workingClientOrderId", "w-1"),
                      ("pendingSide", "SELL"), ("pendingType", "STOP_LOSS"), ("pendingQuantity", D("1")),
                      ("pendingStopPrice", D("58000")), ("pendingClientOrderId", "p-1"),
                      ("newOrderRespType", "RESULT")]


def test_order_list_request_costs_count_two_orders_against_the_order_limit() -> None:
    # The venue counts both orders of a list against its unfilled-order limit; so must our limiter.
    from fixgw.venues.binance.http import ORDER_BUCKET, request_costs

    assert request_costs("POST", "/api/v3/orderList/oco", {})[ORDER_BUCKET] == 2
    assert request_costs("POST", "/api/v3/orderList/oto", {})[ORDER_BUCKET] == 2
    assert request_costs("POST", "/api/v3/order", {})[ORDER_BUCKET] == 1
    assert ORDER_BUCKET not in request_costs("DELETE", "/api/v3/orderList", {})


def test_list_refused_without_capability_names_the_venue() -> None:
    class NoLists:
        name = "kraken-main"
        capabilities = VenueCapabilities()

    assert list_refusal(NoLists(), sell_oco("n")) == "kraken-main: order lists (OCO/OTO) are not supported"  # type: ignore[arg-type]


async def test_oco_limit_leg_fill_expires_stop_leg_through_adapter(sim, entry) -> None:
    other = Counterparty(sim, sim.warp)
    try:
        async with adapter(sim, sim.warp, order_entry=entry) as ad:
            assert ad.capabilities.order_lists
            await _trade_at(other, "60000")
            lst = sell_oco("f")
            limit, stop = lst.orders
            reports = await ad.submit_order_list(lst)
            assert {r.client_order_id for r in reports} == {limit.client_order_id, stop.client_order_id}
            await other.order("BTCUSDT", "BUY", D("0.001"), D("61000"))  # half of the limit leg
            events = await collect(ad, until=lambda ev: any(isinstance(e, VenueExpired) for e in ev))
            mine = [(type(e).__name__, e.client_order_id) for e in events]
            assert ("VenueAccepted", limit.client_order_id) in mine and ("VenueAccepted", stop.client_order_id) in mine
            fills = [e for e in events if isinstance(e, VenueFilled)]
            assert [(f.client_order_id, f.last_qty) for f in fills] == [(limit.client_order_id, D("0.001"))]
            expired = [e for e in events if isinstance(e, VenueExpired)]
            assert [(e.client_order_id, e.reason) for e in expired] == [(stop.client_order_id, "OCO_TRIGGER")]
    finally:
        await other.aclose()


async def test_oto_pending_accepted_then_placed_after_working_fills(sim, entry) -> None:
    other = Counterparty(sim, sim.warp)
    try:
        async with adapter(sim, sim.warp, order_entry=entry) as ad:
            await _trade_at(other, "60000")
            working = NewOrder(cid("w"), SYM, BUY, OrderType.LIMIT, quantity=D("0.001"), price=D("59000"),
                               time_in_force=TimeInForce.GTC)
            pending = NewOrder(cid("p"), SYM, SELL, OrderType.LIMIT, quantity=D("0.001"), price=D("62000"),
                               post_only=True)
            reports = await ad.submit_order_list(NewOrderList("oto", SYM, cid("L"), (working, pending)))
            assert [r.status.name for r in reports] == ["NEW", "PENDING_NEW"]
            await other.order("BTCUSDT", "SELL", D("0.001"), D("59000"))
            events = await collect(ad, until=lambda ev: any(isinstance(e, VenueFilled) for e in ev))
            assert [e.client_order_id for e in events if isinstance(e, VenueFilled)] == [working.client_order_id]
            venue = await ad.http.request("GET", "/api/v3/order", [("symbol", "BTCUSDT"),
                                                                   ("origClientOrderId", pending.client_order_id)],
                                          signed=True)
            assert (venue["status"], venue["type"]) == ("NEW", "LIMIT_MAKER") and venue["orderListId"] >= 0
    finally:
        await other.aclose()


async def test_cancel_order_list_cancels_both_orders(sim, entry) -> None:
    other = Counterparty(sim, sim.warp)
    try:
        async with adapter(sim, sim.warp, order_entry=entry) as ad:
            await _trade_at(other, "60000")
            lst = sell_oco("c")
            await ad.submit_order_list(lst)
            reports = await ad.cancel_order_list(SYM, lst.client_list_id)
            assert sorted(r.status.name for r in reports) == ["CANCELED", "CANCELED"]
            events = await collect(ad, until=lambda ev: sum(isinstance(e, VenueCanceled) for e in ev) >= 2)
            assert {e.client_order_id for e in events if isinstance(e, VenueCanceled)} == {
                o.client_order_id for o in lst.orders}
    finally:
        await other.aclose()


async def test_oco_bad_prices_refused_by_the_venue_with_its_text(sim) -> None:
    other = Counterparty(sim, sim.warp)
    try:
        async with adapter(sim, sim.warp) as ad:
            await _trade_at(other, "62000")  # the limit leg at 61000 is below the last price
            with pytest.raises(VenueRejected) as exc:
                await ad.submit_order_list(sell_oco("b"))
            assert exc.value.message == "The relationship of the prices for the orders is not correct."
            assert not [e for e in await collect(ad, quiet_s=0.2) if isinstance(e, VenueAccepted)]
    finally:
        await other.aclose()
