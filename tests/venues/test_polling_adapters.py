"""Coinbase Exchange and Kraken adapters (REST only, reconciled by polling) against scripted venues."""

from __future__ import annotations

import json
from decimal import Decimal as D
from urllib.parse import parse_qsl

import httpx
import pytest

from fixgw.clock import FakeClock
from fixgw.errors import VenueRejected
from fixgw.venues import reject_reason
from fixgw.orders.enums import OrderSide, OrderStatus, OrderType
from fixgw.venues.base import (
    AmendOrder,
    CancelOrder,
    NewOrder,
    ReplaceOrder,
    StreamState,
    VenueAccepted,
    VenueCanceled,
    VenueFilled,
)
from fixgw.venues.coinbase import CoinbaseConfig, CoinbaseExchangeAdapter
from fixgw.venues.kraken import KrakenAdapter, KrakenConfig
from .simharness import collect

pytestmark = pytest.mark.anyio

T0 = 1_700_000_000


def _json(status, body):
    return httpx.Response(status, content=json.dumps(body).encode())


class CoinbaseVenue:
    """Just enough of Coinbase Exchange: one product, orders kept by id, fills on demand."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.orders: dict[str, dict] = {}
        self.fail_post = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        if path == "/time":
            return _json(200, {"epoch": self.clock.now_ns() / 1e9})
        if path == "/products":
            return _json(200, [{"id": "BTC-USD", "base_currency": "BTC", "quote_currency": "USD",
                                "quote_increment": "0.01", "base_increment": "0.0001", "status": "online"}])
        assert request.headers["CB-ACCESS-KEY"] == "k"
        if path == "/orders" and method == "POST":
            if self.fail_post:
                return _json(503, {"message": "service unavailable"})
            body = json.loads(request.content)
            row = {"id": f"o-{body['client_oid']}", "client_oid": body["client_oid"], "product_id": body["product_id"],
                   "side": body["side"], "type": body["type"], "size": body["size"], "price": body["price"],
                   "status": "open", "filled_size": "0", "executed_value": "0",
                   "created_at": "2023-11-14T22:13:20Z"}
            self.orders[row["id"]] = row
            return _json(200, row)
        if path == "/orders" and method == "GET":
            return _json(200, [r for r in self.orders.values() if r["status"] == "open"])
        if path.startswith("/orders/"):
            ref = path.removeprefix("/orders/")
            row = self._find(ref)
            if row is None:
                self.clock.advance(10)  # time passes while the adapter keeps asking
                return _json(404, {"message": "NotFound"})
            if method == "DELETE":
                row.update(status="done", done_reason="canceled", done_at="2023-11-14T22:13:21Z")
            return _json(200, row)
        return _json(404, {"message": "route not found"})

    def _find(self, ref: str) -> dict | None:
        if ref.startswith("client:"):
            return next((r for r in self.orders.values() if r["client_oid"] == ref[7:]), None)
        return self.orders.get(ref)


async def _coinbase():
    clock = FakeClock(start_ns=T0 * 10**9)
    venue = CoinbaseVenue(clock)
    cfg = CoinbaseConfig(rest_url="http://cb.test", api_key="k", api_secret="c2VjcmV0", passphrase="p")
    return CoinbaseExchangeAdapter(cfg, clock=clock, transport=httpx.MockTransport(venue)), venue


def _limit(c: str, symbol: str, px: str = "30000") -> NewOrder:
    return NewOrder(c, symbol, OrderSide.BUY, OrderType.LIMIT, quantity=D("0.01"), price=D(px))


async def test_coinbase_submit_fill_cancel_events_once_each():
    ad, venue = await _coinbase()
    async with ad:
        report = await ad.submit(_limit("c1", "BTC/USD"))
        assert (report.status, report.venue_order_id) == (OrderStatus.NEW, "o-c1")
        venue.orders["o-c1"].update(filled_size="0.004", executed_value="120")
        assert (await ad.query("BTC/USD", client_order_id="c1")).cum_qty == D("0.004")
        canceled = await ad.cancel(CancelOrder("BTC/USD", client_order_id="c1"))
        assert canceled.status is OrderStatus.CANCELED
        events = await collect(ad, quiet_s=0.05)
        assert [type(e) for e in events] == [VenueAccepted, VenueFilled, VenueCanceled]
        assert events[1].trade_id.startswith("recon:") and events[1].last_px == D("30000")
        health = ad.health()
        assert health.stream_state is StreamState.DISCONNECTED and health.weight_used > 0
        assert health.clock_offset_ms == 0


async def test_coinbase_local_refusals_carry_reason_keys():
    ad, _ = await _coinbase()
    async with ad:
        cases = [
            (lambda: ad.submit(_limit("c2", "ETH/USD")), "unknown_symbol"),
            (lambda: ad.submit(_limit("c3", "BTC/USD", px="30000.001")), "rule:tick"),
            (lambda: ad.amend(AmendOrder("BTC/USD", D("0.005"), orig_client_order_id="c1")), "unsupported"),
            (lambda: ad.replace(ReplaceOrder("c1", _limit("c4", "BTC/USD"))), "unsupported"),
        ]
        for call, reason in cases:
            with pytest.raises(VenueRejected) as info:
                await call()
            assert reject_reason(info.value) == reason, info.value


async def test_coinbase_unknown_submit_absent_after_window_not_placed():
    ad, venue = await _coinbase()
    async with ad:
        venue.fail_post = True
        with pytest.raises(VenueRejected) as info:
            await ad.submit(_limit("c5", "BTC/USD"))
        assert info.value.reason == "not_placed" and ad.health().unresolved_orders == 0


class KrakenVenue:
    """Just enough of Kraken spot: one pair, AddOrder / QueryOrders / OpenOrders / CancelOrder."""

    def __init__(self) -> None:
        self.orders: dict[str, dict] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/0/public/Time":
            return _json(200, {"error": [], "result": {"unixtime": T0}})
        if path == "/0/public/AssetPairs":
            return _json(200, {"error": [], "result": {"XXBTZUSD": {
                "altname": "XBTUSD", "wsname": "XBT/USD", "lot_decimals": 8, "tick_size": "0.1",
                "ordermin": "0.0001", "status": "online"}}})
        assert request.headers["API-Key"] == "k" and "API-Sign" in request.headers
        form = dict(parse_qsl(request.content.decode()))
        method = path.removeprefix("/0/private/")
        if method == "AddOrder":
            txid = f"T{len(self.orders) + 1}"
            self.orders[txid] = {"status": "open", "cl_ord_id": form["cl_ord_id"], "opentm": T0, "vol": form["volume"],
                                 "vol_exec": "0", "cost": "0", "descr": {"pair": form["pair"], "type": form["type"],
                                                                         "ordertype": form["ordertype"],
                                                                         "price": form["price"]}}
            return _json(200, {"error": [], "result": {"txid": [txid]}})
        if method == "QueryOrders":
            found = {t: o for t, o in self.orders.items()
                     if t == form.get("txid") or o["cl_ord_id"] == form.get("cl_ord_id")}
            return _json(200, {"error": [], "result": found})
        if method == "OpenOrders":
            return _json(200, {"error": [], "result": {"open": {
                t: o for t, o in self.orders.items() if o["status"] == "open"}}})
        if method == "CancelOrder":
            self.orders[form["txid"]].update(status="canceled", closetm=T0 + 1)
            return _json(200, {"error": [], "result": {"count": 1}})
        return _json(200, {"error": ["EGeneral:Unknown method"]})


async def test_kraken_submit_query_cancel_all_and_refusals():
    venue = KrakenVenue()
    cfg = KrakenConfig(rest_url="http://kr.test", api_key="k", api_secret="c2VjcmV0")
    ad = KrakenAdapter(cfg, clock=FakeClock(start_ns=T0 * 10**9), transport=httpx.MockTransport(venue))
    async with ad:
        report = await ad.submit(_limit("k1", "BTC/USD"))
        assert (report.status, report.venue_order_id, report.client_order_id) == (OrderStatus.NEW, "T1", "k1")
        assert [r.venue_order_id for r in await ad.open_orders("BTC/USD")] == ["T1"]
        assert [r.status for r in await ad.cancel_all("BTC/USD")] == [OrderStatus.CANCELED]
        with pytest.raises(VenueRejected) as info:
            await ad.query("BTC/USD", client_order_id="nope")
        assert info.value.reason == "unknown_order"
        with pytest.raises(VenueRejected) as info:
            ad.instrument("ETH/USD")
        assert info.value.reason == "unknown_symbol"
        with pytest.raises(VenueRejected) as info:
            await ad.amend(AmendOrder("BTC/USD", D("0.005"), venue_order_id="T1"))
        assert info.value.reason == "unsupported" and "Kraken" in info.value.message
        events = await collect(ad, quiet_s=0.05)
        assert [type(e) for e in events] == [VenueAccepted, VenueCanceled]
        assert ad.health().weight_limit == cfg.counter_limit
