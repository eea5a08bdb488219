"""Coinbase Exchange and Kraken: signing through the real request path, and payload parsing."""

from __future__ import annotations

from decimal import Decimal as D

import httpx
import pytest

from fixgw.clock import FakeClock
from fixgw.errors import VenueRejected
from fixgw.orders.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from fixgw.venues.base import (
    NewOrder,
)
from fixgw.venues._common.clock_offset import ServerClock
from fixgw.venues._common.ratelimit import Bucket, RateLimiter
from fixgw.venues.coinbase import CoinbaseConfig, CoinbaseExchangeAdapter
from fixgw.venues.coinbase.http import CoinbaseHttp
from fixgw.venues.coinbase.parsing import order_body
from fixgw.venues.coinbase.parsing import parse_order as cb_parse_order
from fixgw.venues.kraken import KrakenConfig
from fixgw.venues.kraken.http import KrakenHttp
from fixgw.venues.kraken.parsing import add_order_params, error_from_envelope, parse_asset_pairs
from fixgw.venues.kraken.parsing import parse_order as kr_parse_order
from .conftest import vectors

pytestmark = pytest.mark.anyio


async def test_coinbase_request_headers_reproduce_documented_signature():
    v = vectors("hmac_sha256_cb_access_sign")[0]
    clock = FakeClock(start_ns=1580066918897 * 10**6)
    seen = {}

    def handler(request):
        seen.update(request.headers)
        return httpx.Response(200, json=[])

    cfg = CoinbaseConfig(rest_url="http://cb.test", api_key="key", api_secret=v["secret"], passphrase="pp")
    http = CoinbaseHttp(cfg, server_clock=ServerClock(clock), limiter=RateLimiter([Bucket("REQUESTS:1S", 10, 1)], clock=clock),
                        transport=httpx.MockTransport(handler))
    await http.request("GET", v["request_path"])
    assert seen["cb-access-timestamp"] == v["timestamp"]
    assert seen["cb-access-sign"] == v["expected"]
    assert (seen["cb-access-key"], seen["cb-access-passphrase"]) == ("key", "pp")
    await http.aclose()


async def test_kraken_private_call_reproduces_documented_signature():
    v = vectors("hmac_sha512_api_sign")[0]
    clock = FakeClock(start_ns=int(v["nonce"]) * 10**6)
    seen = {}

    def handler(request):
        seen["headers"] = dict(request.headers)
        seen["body"] = request.content.decode()
        seen["path"] = request.url.path
        return httpx.Response(200, json={"error": [], "result": {"txid": ["OABC"]}})

    cfg = KrakenConfig(rest_url="http://kr.test", api_key="pub", api_secret=v["secret"])
    http = KrakenHttp(cfg, server_clock=ServerClock(clock), limiter=RateLimiter([Bucket("COUNTER", 15, 45)], clock=clock),
                      transport=httpx.MockTransport(handler))
    order = NewOrder("x", "BTC/USD", OrderSide.BUY, OrderType.LIMIT, quantity=D("1.25"), price=D("37500"))
    fields = [f for f in add_order_params(order, "XBTUSD") if f[0] not in ("cl_ord_id",)]
    result = await http.private("AddOrder", fields)
    assert result == {"txid": ["OABC"]}
    assert seen["path"] == v["uri_path"] and seen["body"] == v["payload"]
    assert seen["headers"]["api-sign"] == v["expected"]
    await http.aclose()


def test_kraken_nonce_always_increases_even_if_clock_repeats():
    from fixgw.venues.kraken.http import NonceSource

    n = NonceSource()
    assert [n.next(100), n.next(100), n.next(99), n.next(200)] == [100, 101, 102, 200]


def test_coinbase_order_status_derived_from_done_reason_and_filled_size():
    base = {"id": "o1", "client_oid": "c", "product_id": "BTC-USD", "side": "buy", "type": "limit",
            "price": "100.00", "size": "2"}
    assert cb_parse_order({**base, "status": "open", "filled_size": "0"}, "BTC/USD").status is OrderStatus.NEW
    u = cb_parse_order({**base, "status": "open", "filled_size": "0.5", "executed_value": "50"}, "BTC/USD")
    assert u.status is OrderStatus.PARTIALLY_FILLED and u.cum_qty == D("0.5") and u.cum_quote == D("50")
    u = cb_parse_order({**base, "status": "done", "done_reason": "canceled", "filled_size": "0.5"}, "BTC/USD")
    assert u.status is OrderStatus.CANCELED
    assert cb_parse_order({**base, "status": "done", "done_reason": "filled", "filled_size": "2"},
                          "BTC/USD").status is OrderStatus.FILLED


def test_coinbase_order_body_post_only_limit():
    oid = "0b6f2f4e-8c1d-4e5a-9b7c-2d3e4f5a6b7c"
    body = order_body(NewOrder("c", "BTC/USD", OrderSide.SELL, OrderType.LIMIT, D("0.01"), D("30000.5"),
                               time_in_force=TimeInForce.GTC, post_only=True), "BTC-USD", oid)
    assert body == {"client_oid": oid, "product_id": "BTC-USD", "side": "sell", "type": "limit", "size": "0.01",
                    "price": "30000.5", "time_in_force": "GTC", "post_only": True}


def test_coinbase_adapter_refuses_amend_capability_false():
    cfg = CoinbaseConfig(rest_url="http://cb.test", api_key="k", api_secret="c2VjcmV0", passphrase="p")
    ad = CoinbaseExchangeAdapter(cfg)
    assert not ad.capabilities.amend_keeps_priority and not ad.capabilities.cancel_replace_atomic
    assert "c2VjcmV0" not in repr(cfg) and "'p'" not in repr(cfg)


def test_kraken_asset_pairs_normalised_with_legacy_codes():
    result = {"XXBTZUSD": {"altname": "XBTUSD", "wsname": "XBT/USD", "base": "XXBT", "quote": "ZUSD",
                           "lot_decimals": 8, "tick_size": "0.1", "ordermin": "0.0001", "costmin": "0.5",
                           "status": "online"}}
    inst = parse_asset_pairs(result)[0]
    assert (inst.symbol, inst.venue_symbol, inst.tick_size, inst.lot_step, inst.min_qty) == (
        "BTC/USD", "XBTUSD", D("0.1"), D("0.00000001"), D("0.0001"))


def test_kraken_order_and_errors_parsed():
    info = {"status": "open", "cl_ord_id": "c9", "opentm": 1616492376.5, "vol": "1.25", "vol_exec": "0.25",
            "cost": "9375", "descr": {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "price": "37500"}}
    u = kr_parse_order("OTX1", info, "BTC/USD")
    assert (u.status, u.cum_qty, u.client_order_id, u.side) == (OrderStatus.PARTIALLY_FILLED, D("0.25"), "c9", OrderSide.BUY)
    err = error_from_envelope(200, {"error": ["EOrder:Insufficient funds"]})
    assert isinstance(err, VenueRejected) and err.reason == "insufficient_balance"
    assert error_from_envelope(200, {"error": [], "result": {}}) is None


def test_kraken_sparse_execution_entries_named_by_what_the_adapter_knows():
    from fixgw.venues.kraken.parsing import parse_execution, ws_time_ns
    from fixgw.venues.kraken.websocket import decode

    filled = decode('{"order_id":"OX1","exec_type":"filled","cum_qty":0.5,"timestamp":"2023-09-22T10:33:05.709950Z"}')
    u = parse_execution(filled, "BTC/USD", "c9")
    assert (u.symbol, u.client_order_id, u.status, u.cum_qty) == ("BTC/USD", "c9", OrderStatus.FILLED, D("0.5"))
    assert u.ts_ns == ws_time_ns("2023-09-22T10:33:05.709950Z") == 1695378785_709950000
    trade = decode('{"order_id":"OX1","exec_type":"trade","exec_id":"TX9","last_qty":0.1,"last_price":26489.9,'
                   '"order_status":"filled","liquidity_ind":"t","fees":[{"asset":"XBT","qty":0.0001}]}')
    t = parse_execution(trade, "BTC/USD", "c9")
    assert t.status is OrderStatus.PARTIALLY_FILLED  # a trade never ends the order: the filled entry does
    (f,) = t.fills
    assert (f.trade_id, f.qty, f.price, f.fee, f.fee_asset, f.is_maker) == (
        "TX9", D("0.1"), D("26489.9"), D("0.0001"), "BTC", False)
    assert parse_execution({"exec_type": "status"}, "BTC/USD", "c9") is None  # no order named


def test_kraken_client_ids_the_venue_cannot_carry_become_stable_uuids():
    from fixgw.venues.kraken.parsing import valid_client_id, venue_client_id

    assert venue_client_id("short-1.r2") == "short-1.r2"
    long_id = "GATEWAYSESSION_44-123456.r1"
    assert not valid_client_id(long_id)
    assert venue_client_id(long_id) == venue_client_id(long_id) != venue_client_id(long_id + "x")
    assert valid_client_id(venue_client_id(long_id)) and len(venue_client_id(long_id)) == 36


@pytest.mark.parametrize("error,reason", [
    ("EOrder:Invalid order", "unknown_order"), ("EOrder:Order minimum not met", "filter:ordermin"),
    ("EOrder:Cost minimum not met", "filter:costmin"), ("EOrder:Duplicate order", "duplicate_order"),
    ("EGeneral:Invalid arguments:volume", "invalid_order"), ("EOrder:Post only order", "would_take"),
])
def test_kraken_refusals_mapped_to_reason_keys(error, reason):
    err = error_from_envelope(200, {"error": [error]})
    assert isinstance(err, VenueRejected) and (err.code, err.reason) == (error, reason)


def test_kraken_rate_limit_lockout_and_5xx_typed():
    from fixgw.errors import VenueBanned, VenueRateLimited, VenueUnknownOutcome

    assert isinstance(error_from_envelope(429, {"error": ["EAPI:Rate limit exceeded"]}), VenueRateLimited)
    assert isinstance(error_from_envelope(200, {"error": ["EOrder:Rate limit exceeded"]}), VenueRateLimited)
    assert isinstance(error_from_envelope(200, {"error": ["EGeneral:Temporary lockout"]}), VenueBanned)
    assert isinstance(error_from_envelope(503, {"error": ["EService:Unavailable"]}), VenueUnknownOutcome)
    assert error_from_envelope(200, {"error": [], "result": {}}) is None
