"""Binance adapter paths the simulator cannot produce, against a scripted mock transport."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal as D

import httpx
import pytest

from fixgw.clock import FakeClock
from fixgw.errors import VenueRejected, VenueUnknownOutcome
from fixgw.orders.enums import OrderSide, OrderType
from fixgw.venues.base import (
    NewOrder,
    ReplaceOrder,
    VenueCanceled,
)
from fixgw.venues.binance import BinanceAdapter, BinanceConfig
from fixgw.venues.binance.parsing import parse_exchange_info, parse_execution_report
from .conftest import documented

pytestmark = pytest.mark.anyio

INFO = {
    "serverTime": 1,
    "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}],
    "symbols": [{
        "symbol": "BTCUSDT", "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT",
        "orderTypes": ["LIMIT", "MARKET", "LIMIT_MAKER"], "quoteOrderQtyMarketAllowed": True,
        "cancelReplaceAllowed": True, "amendAllowed": True,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000000", "tickSize": "0.01"},
            {"filterType": "LOT_SIZE", "minQty": "0.00001", "maxQty": "9000", "stepSize": "0.00001"},
        ],
    }],
}


def _resp(status, body):
    return httpx.Response(status, content=json.dumps(body).encode())


async def _adapter(handler, clock, wait_s=5.0):
    cfg = BinanceConfig(rest_url="http://venue.test", ws_api_url="ws://venue.test/ws-api/v3", api_key="k",
                        api_secret="s", recv_window_ms=1000, unknown_poll_s=0.001, unknown_outcome_wait_s=wait_s)

    def route(request):
        if request.url.path == "/api/v3/exchangeInfo":
            return _resp(200, INFO)
        if request.url.path == "/api/v3/time":
            return _resp(200, {"serverTime": clock.now_ns() // 10**6})
        return handler(request)

    ad = BinanceAdapter(cfg, clock=clock, transport=httpx.MockTransport(route))
    await ad.http.sync_time()
    await ad.load_instruments()
    return ad


def _order(c="c1"):
    return NewOrder(c, "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, quantity=D("0.001"), price=D("50000"))


async def test_unknown_submit_absent_after_receive_window_reported_not_placed():
    clock = FakeClock(start_ns=1_700_000_000 * 10**9)
    queries = []

    def handler(request):
        if request.method == "POST":
            return _resp(503, {"code": -1001, "msg": "Internal error; unable to process your request."})
        queries.append(request)
        clock.advance(0.5)  # time passes while we ask
        return _resp(400, {"code": -2013, "msg": "Order does not exist."})

    ad = await _adapter(handler, clock)
    with pytest.raises(VenueRejected) as info:
        await ad.submit(_order())
    assert info.value.reason == "not_placed" and info.value.code == "NOT_PLACED"
    # asked until the venue could no longer accept it (receive window 1 s + 1 s margin), not before
    assert len(queries) >= 4
    assert ad.health().unresolved_orders == 0
    await ad.close()


async def test_unknown_submit_venue_unreachable_raises_unknown_and_keeps_tracking():
    clock = FakeClock(start_ns=1_700_000_000 * 10**9)

    def handler(request):
        raise httpx.ReadTimeout("no answer", request=request)

    ad = await _adapter(handler, clock, wait_s=0.2)
    with pytest.raises(VenueUnknownOutcome):
        await ad.submit(_order("c2"))
    assert ad.health().unresolved_orders == 1  # the maintenance task keeps asking
    await ad.close()


async def test_cancel_replace_new_order_failed_old_canceled_reported_and_rejected():
    clock = FakeClock(start_ns=1_700_000_000 * 10**9)
    doc = documented("cancelReplace_cancel_ok_new_failed")

    def handler(request):
        return _resp(409, doc)

    ad = await _adapter(handler, clock)
    with pytest.raises(VenueRejected) as info:
        await ad.replace(ReplaceOrder("86M8erehfExV8z2RC8Zo8k", _order("new1")))
    assert info.value.code == -2010 and info.value.reason == "would_take"
    events = []
    while True:
        try:
            events.append(ad.events().receive_nowait())
        except Exception:
            break
    canceled = [e for e in events if isinstance(e, VenueCanceled)]
    assert len(canceled) == 1 and canceled[0].client_order_id == "86M8erehfExV8z2RC8Zo8k"
    await ad.close()


async def test_cancel_replace_cancel_failed_rejected_with_cancel_reason():
    clock = FakeClock(start_ns=1_700_000_000 * 10**9)
    ad = await _adapter(lambda r: _resp(400, documented("cancelReplace_cancel_failed_STOP_ON_FAILURE")), clock)
    with pytest.raises(VenueRejected) as info:
        await ad.replace(ReplaceOrder("gone", _order("new2")))
    assert info.value.code == -2011 and info.value.reason == "unknown_order"
    await ad.close()


async def test_submit_breaking_tick_refused_locally_unless_that_object_passed_check():
    clock = FakeClock(start_ns=1_700_000_000 * 10**9)
    posted = []

    def handler(request):
        posted.append(request)
        return _resp(400, {"code": -1013, "msg": "Filter failure: PRICE_FILTER"})

    ad = await _adapter(handler, clock)
    inst = ad.instrument("BTC/USDT")
    checked = NewOrder("c9", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, quantity=D("0.001"), price=D("50000.005"))
    ad._instruments["BTC/USDT"] = replace(inst, tick_size=D("0.001"))
    assert ad.check(checked) is None
    ad._instruments["BTC/USDT"] = inst  # the tick coarsens after the check
    with pytest.raises(VenueRejected) as local:
        await ad.submit(replace(checked))  # the same terms, another object: checked now, refused here
    assert local.value.reason == "rule:tick" and posted == []
    # the object that passed check is sent as it is (one check per order), and the venue's verdict comes back
    with pytest.raises(VenueRejected) as venue:
        await ad.submit(checked)
    assert venue.value.code == -1013 and len(posted) == 1
    with pytest.raises(VenueRejected) as again:  # a check covers one sending
        await ad.submit(checked)
    assert again.value.reason == "rule:tick" and len(posted) == 1
    await ad.close()


def test_parse_exchange_info_documented_filters_exact_decimals():
    filters = [documented(n) for n in ("PRICE_FILTER", "LOT_SIZE", "MARKET_LOT_SIZE", "NOTIONAL")]
    info = {"symbols": [{"symbol": "ETHBTC", "baseAsset": "ETH", "quoteAsset": "BTC", "filters": filters,
                         "orderTypes": ["LIMIT", "MARKET"]}]}
    inst = parse_exchange_info(info)[0]
    assert inst.symbol == "ETH/BTC" and inst.venue_symbol == "ETHBTC"
    assert inst.tick_size == D(filters[0]["tickSize"]) and inst.lot_step == D(filters[1]["stepSize"])
    assert inst.min_notional == D(filters[3]["minNotional"])
    assert not inst.post_only_allowed


def test_parse_execution_report_documented_wrapped_event_fields():
    e = documented("uds_executionReport_wsapi_wrapped")["event"]
    u = parse_execution_report(e, "ETH/BTC")
    assert (u.venue_order_id, u.client_order_id, u.quantity, u.price) == ("4293153", e["c"], D("1"), D("0.10264410"))
    assert u.fills == () and u.cum_qty == 0


async def test_outcome_resolver_sweep_reports_not_placed_once_window_passed():
    from fixgw.venues._common.outcome import OutcomeResolver, not_placed_event
    from fixgw.venues.base import VenueOrderRejected

    clock = FakeClock(start_ns=1_700_000_000 * 10**9)
    resolver = OutcomeResolver(clock, poll_s=0)
    resolver.add("gone", "BTC/USDT", window_s=2.0)
    resolver.add("found", "BTC/USDT", window_s=2.0)

    async def lookup(p):
        if p.client_order_id == "found":
            return "report"
        raise VenueRejected(-2013, "Order does not exist.", reason="unknown_order")

    closed = []
    await resolver.sweep(lookup, closed.append)
    assert closed == [] and list(resolver.pending) == ["gone"]  # still inside its window
    clock.advance(3)
    await resolver.sweep(lookup, closed.append)
    assert [p.client_order_id for p in closed] == ["gone"] and len(resolver) == 0
    ev = not_placed_event("binance", closed[0], clock.now_ns())
    assert isinstance(ev, VenueOrderRejected) and ev.reason == "not_placed" and ev.from_reconciliation


def test_amend_params_keep_client_order_id_when_no_new_one_given():
    from fixgw.venues.base import AmendOrder
    from fixgw.venues.binance.parsing import amend_params

    params = dict(amend_params(AmendOrder("BTC/USDT", D("0.5"), orig_client_order_id="abc"), "BTCUSDT"))
    assert params == {"symbol": "BTCUSDT", "origClientOrderId": "abc", "newClientOrderId": "abc", "newQty": D("0.5")}
