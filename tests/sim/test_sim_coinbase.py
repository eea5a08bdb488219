"""The Coinbase Exchange dialect of the simulator over real loopback HTTP: signing, orders, errors, limits."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal as D
from pathlib import Path

import httpx
import pytest
from cb_helpers import OTHER_KEY, OTHER_SECRET, CbClient, cb_config, cb_sign, cb_sim
from cb_helpers import cb  # noqa: F401  (a fixture)

from fixgw.clock import FakeClock
from fixgw.sim import ApiKey, SimServer
from fixgw.sim.coinbase import DEMO_PASSPHRASE
from fixgw.sim.coinbase.limits import CoinbaseLimits

_VECTOR = next(v for v in json.loads((Path(__file__).parent.parent / "venues" / "vectors.json").read_text())["vectors"]
               if v["kind"] == "hmac_sha256_cb_access_sign")

_ROOMY = CoinbaseLimits(public_per_s=1000, public_burst=1000, private_per_s=1000, private_burst=1000,
                        fills_per_s=1000, fills_burst=1000)
sim = cb_sim(_ROOMY)


def _best(cb: CbClient, side: str) -> D:
    book = cb.http.get("/products/BTC-USDT/book", params={"level": 1}).json()
    return D(book["bids" if side == "buy" else "asks"][0][0])


# == signing =====================================================================================
def test_documented_signature_vector_accepted_with_and_without_query_and_altered_refused():
    clock = FakeClock(start_ns=int(D(_VECTOR["timestamp"]) * 10**9))
    key = ApiKey(api_key="vector-key", account_id="demo", secret=_VECTOR["secret"])
    with SimServer(cb_config(clock=clock, api_keys=(key,), market_maker=None)) as server:
        http = httpx.Client(base_url=server.base_url)
        base = {"CB-ACCESS-KEY": "vector-key", "CB-ACCESS-TIMESTAMP": _VECTOR["timestamp"],
                "CB-ACCESS-PASSPHRASE": DEMO_PASSPHRASE}
        path = _VECTOR["request_path"]
        assert cb_sign(_VECTOR["secret"], _VECTOR["timestamp"], "GET", path) == _VECTOR["expected"]
        documented = http.get(path, headers={**base, "CB-ACCESS-SIGN": _VECTOR["expected"]})
        assert documented.status_code != 401  # signature accepted; BTC-EUR is not listed here
        assert documented.json() == {"message": "NotFound"}
        path_only = cb_sign(_VECTOR["secret"], _VECTOR["timestamp"], "GET", "/fills")
        assert http.get(path, headers={**base, "CB-ACCESS-SIGN": path_only}).status_code != 401
        altered = "A" + _VECTOR["expected"][1:]
        r = http.get(path, headers={**base, "CB-ACCESS-SIGN": altered})
        assert (r.status_code, r.json()) == (401, {"message": "invalid signature"})
        http.close()


@pytest.mark.parametrize("override, status, message", [
    (dict(**{"CB-ACCESS-KEY": ""}), 401, "CB-ACCESS-KEY header is required"),
    (dict(**{"CB-ACCESS-KEY": "nobody"}), 401, "Invalid API Key"),
    (dict(**{"CB-ACCESS-PASSPHRASE": "wrong"}), 401, "Invalid Passphrase"),
    (dict(**{"CB-ACCESS-SIGN": "bm90IGl0"}), 401, "invalid signature"),
])
def test_private_request_bad_credentials_refused_with_venue_message(cb, override, status, message):
    r = cb.call("GET", "/accounts", **override)
    assert (r.status_code, r.json()) == (status, {"message": message})


@pytest.mark.parametrize("shift_s", [-31, 31])
def test_timestamp_outside_30s_window_expired(cb, shift_s):
    ts = f"{time.time() + shift_s:.3f}"
    r = cb.http.get("/accounts", headers=cb.headers("GET", "/accounts", timestamp=ts))
    assert (r.status_code, r.json()) == (401, {"message": "request timestamp expired"})
    inside = f"{time.time() + shift_s / 2:.3f}"
    assert cb.http.get("/accounts", headers=cb.headers("GET", "/accounts", timestamp=inside)).status_code == 200


def test_timestamp_not_a_number_400(cb):
    r = cb.http.get("/accounts", headers=cb.headers("GET", "/accounts", timestamp="soon"))
    assert (r.status_code, r.json()) == (400, {"message": "invalid timestamp"})


# == public ======================================================================================
def test_products_rules_derived_from_engine_instruments(sim, cb):
    products = {p["id"]: p for p in cb.http.get("/products").json()}
    assert set(products) == {"BTC-USDT", "ETH-USDT", "SOL-USDT"}
    spec = sim.state.engine.instruments["BTCUSDT"]
    btc = products["BTC-USDT"]
    assert (btc["base_currency"], btc["quote_currency"]) == ("BTC", "USDT")
    assert (D(btc["quote_increment"]), D(btc["base_increment"]), D(btc["min_market_funds"])) == (
        spec.tick_size, spec.step_size, spec.min_notional)
    assert btc["status"] == "online" and btc["trading_disabled"] is False
    assert cb.http.get("/products/XBT-USDT").json()["id"] == "BTC-USDT"  # the alias table
    assert cb.http.get("/products/DOGE-USDT").status_code == 404


def test_time_matches_server_clock(cb):
    body = cb.http.get("/time").json()
    assert abs(body["epoch"] - time.time()) < 5 and body["iso"].endswith("Z")


def test_book_levels_sorted_and_ticker_between(cb):
    book = cb.http.get("/products/BTC-USDT/book", params={"level": 2}).json()
    bids, asks = [D(b[0]) for b in book["bids"]], [D(a[0]) for a in book["asks"]]
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0] < asks[0]
    assert all(isinstance(b[2], int) and b[2] >= 1 for b in book["bids"])
    ticker = cb.http.get("/products/BTC-USDT/ticker").json()
    assert D(ticker["bid"]) == bids[0] and D(ticker["ask"]) == asks[0]


# == orders ======================================================================================
def test_limit_order_open_queried_listed_canceled_once(cb):
    oid = str(uuid.uuid4())
    px = _best(cb, "buy") - 1000
    r = cb.place(side="buy", price=f"{px}", size="0.01", client_oid=oid)
    assert r.status_code == 200
    order = r.json()
    assert (order["status"], order["client_oid"], order["type"], order["time_in_force"]) == ("open", oid, "limit", "GTC")
    assert D(order["price"]) == px and D(order["size"]) == D("0.01") and D(order["filled_size"]) == 0
    assert cb.call("GET", f"/orders/{order['id']}").json()["id"] == order["id"]
    assert cb.call("GET", f"/orders/client:{oid}").json()["id"] == order["id"]
    assert order["id"] in [o["id"] for o in cb.call("GET", "/orders").json()]  # open + pending by default
    assert order["id"] not in [o["id"] for o in cb.call("GET", "/orders?status=done").json()]
    canceled = cb.call("DELETE", f"/orders/{order['id']}")
    assert (canceled.status_code, canceled.json()) == (200, order["id"])  # the id as a JSON string
    again = cb.call("DELETE", f"/orders/{order['id']}")
    assert (again.status_code, again.json()) == (400, {"message": "Order already done"})
    done = cb.call("GET", f"/orders/{order['id']}").json()
    assert (done["status"], done["done_reason"], done["settled"]) == ("done", "canceled", True)
    assert order["id"] in [o["id"] for o in cb.call("GET", "/orders?status=all").json()]
    assert cb.call("DELETE", f"/orders/{uuid.uuid4()}").json() == {"message": "NotFound"}


def test_market_order_by_funds_fills_fees_in_quote_and_fill_pages(cb):
    r = cb.place(side="buy", type="market", funds="200.00")
    order = r.json()
    assert (r.status_code, order["status"], order["done_reason"]) == (200, "done", "filled")
    fills = cb.call("GET", f"/fills?order_id={order['id']}").json()
    assert fills and D(order["filled_size"]) == sum(D(f["size"]) for f in fills)
    assert D(order["executed_value"]) == sum(D(f["size"]) * D(f["price"]) for f in fills)
    assert D(order["fill_fees"]) == sum(D(f["fee"]) for f in fills) > 0
    assert all(f["liquidity"] == "T" and f["side"] == "buy" and isinstance(f["trade_id"], int) for f in fills)
    cb.place(side="sell", type="market", size="0.002")
    first = cb.call("GET", "/fills?product_id=BTC-USDT&limit=1")
    newest = first.json()[0]["trade_id"]
    assert first.headers["CB-AFTER"] == str(newest) == first.headers["CB-BEFORE"]
    older = cb.call("GET", f"/fills?product_id=BTC-USDT&after={newest}").json()
    assert older and all(f["trade_id"] < newest for f in older)


@pytest.mark.parametrize("body, message", [
    (dict(side="buy", price="50000.001", size="0.01"), "price is too accurate. Smallest unit is 0.01000000"),
    (dict(side="buy", price="50000", size="0.000001"), "size is too accurate. Smallest unit is 0.00001000"),
    (dict(side="buy", price="100", size="0.01"), "funds is too small. Minimum size is 5.00000000"),
    (dict(side="buy", price="50000", size="100"), "Insufficient funds"),
    (dict(side="buy", price="abc", size="1"), "Invalid Price"),
    (dict(side="up", price="50000", size="0.01"), "Invalid side"),
    (dict(side="buy", product_id="DOGE-USDT", price="1", size="10"), "Invalid product_id"),
    (dict(side="buy", type="stop", price="50000", size="0.01"), "Invalid order_type stop"),
    (dict(side="buy", price="50000", size="0.01", stop="loss", stop_price="49000"),
     "stop orders are not supported by this simulator"),
    (dict(side="buy", price="50000", size="0.01", time_in_force="GTT", cancel_after="min"),
     "time_in_force GTT is not supported by this simulator"),
    (dict(side="buy", price="50000", size="0.01", time_in_force="IOC", post_only=True),
     "Invalid post_only: not allowed with IOC or FOK"),
    (dict(side="buy", type="market", size="0.01", funds="100"), "market orders need exactly one of size and funds"),
])
def test_bad_order_refused_400_with_message(cb, body, message):
    r = cb.place(**body)
    assert (r.status_code, r.json()) == (400, {"message": message})


def test_post_only_that_would_take_answered_rejected_and_never_booked(cb):
    ask = _best(cb, "sell")
    r = cb.place(side="buy", price=f"{ask}", size="0.01", post_only=True)
    order = r.json()
    assert (r.status_code, order["status"], order["reject_reason"]) == (200, "rejected", "post only")
    assert cb.call("GET", f"/orders/{order['id']}").status_code == 404
    assert _best(cb, "sell") == ask


def test_malformed_client_oid_ignored_order_placed(cb):
    r = cb.place(side="buy", price=f"{_best(cb, 'buy') - 900}", size="0.01", client_oid="not-a-uuid")
    assert r.status_code == 200 and "client_oid" not in r.json()


def test_cancel_all_of_product_returns_ids_then_empty(cb):
    px = _best(cb, "buy") - 1500
    ids = {cb.place(side="buy", price=f"{px - i}", size="0.01").json()["id"] for i in range(3)}
    r = cb.call("DELETE", "/orders?product_id=BTC-USDT")
    assert set(r.json()) == ids
    assert cb.call("DELETE", "/orders?product_id=BTC-USDT").json() == []


def test_accounts_hold_follows_resting_order(cb):
    def usdt() -> dict:
        return next(a for a in cb.call("GET", "/accounts").json() if a["currency"] == "USDT")

    before = usdt()
    px = _best(cb, "buy") - 2000
    order = cb.place(side="buy", price=f"{px}", size="0.01").json()
    during = usdt()
    assert D(during["hold"]) - D(before["hold"]) == px * D("0.01")
    assert D(during["balance"]) == D(during["hold"]) + D(during["available"])
    cb.call("DELETE", f"/orders/{order['id']}")
    assert D(usdt()["hold"]) == D(before["hold"])
    one = cb.call("GET", f"/accounts/{during['id']}").json()
    assert one["currency"] == "USDT"


def test_other_accounts_orders_invisible(sim, cb):
    order = cb.place(side="buy", price=f"{_best(cb, 'buy') - 1000}", size="0.01").json()
    other = CbClient(sim.base_url, key=OTHER_KEY, secret=OTHER_SECRET)
    assert other.call("GET", f"/orders/{order['id']}").status_code == 404
    assert other.call("DELETE", f"/orders/{order['id']}").status_code == 404
    other.close()


# == limits and faults ===========================================================================
def test_private_burst_beyond_limit_429_with_venue_body(sim, cb):
    sim.call(lambda st: setattr(st.coinbase.buckets, "limits", CoinbaseLimits(private_per_s=1, private_burst=3)))
    try:
        answers = [cb.call("GET", "/accounts") for _ in range(5)]
    finally:
        sim.call(lambda st: setattr(st.coinbase.buckets, "limits", _ROOMY))
    codes = [a.status_code for a in answers]
    assert codes[:3] == [200, 200, 200] and 429 in codes[3:]
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.json() == {"message": "Private rate limit exceeded"} and int(refused.headers["Retry-After"]) >= 1


def test_forced_429_fault_refuses_next_requests_unprocessed(sim, cb):
    px = _best(cb, "buy") - 1000
    sim.set_faults(rate_limit_burst=1, rate_limit_retry_after_s=2)
    r = cb.place(side="buy", price=f"{px}", size="0.01")
    assert (r.status_code, r.json(), r.headers["Retry-After"]) == (429, {"message": "Private rate limit exceeded"}, "2")
    assert cb.call("GET", "/orders").json() == []


def test_lost_answer_error_mode_order_placed_all_the_same(sim, cb):
    sim.set_faults(order_timeouts=1, order_timeout_mode="error")
    oid = str(uuid.uuid4())
    r = cb.place(side="buy", price=f"{_best(cb, 'buy') - 1000}", size="0.01", client_oid=oid)
    assert r.status_code == 503 and "message" in r.json()
    assert cb.call("GET", f"/orders/client:{oid}").json()["status"] == "open"


def test_lost_answer_drop_mode_connection_cut(sim, cb):
    sim.set_faults(order_timeouts=1, order_timeout_mode="drop")
    oid = str(uuid.uuid4())
    with pytest.raises(httpx.HTTPError):
        cb.place(side="buy", price=f"{_best(cb, 'buy') - 1000}", size="0.01", client_oid=oid)
    cb.http.close()
    cb.http = httpx.Client(base_url=sim.base_url, timeout=10)
    assert cb.call("GET", f"/orders/client:{oid}").json()["status"] == "open"


def test_unknown_path_404_and_sim_admin_still_guarded(sim, cb):
    assert cb.http.get("/api/v3/time").status_code == 404  # not this dialect's path
    assert cb.http.get("/sim/faults").status_code == 401
    assert cb.http.get("/sim/faults", headers=sim.control_headers).status_code == 200


def test_token_bucket_refills_at_its_rate_and_caps_at_burst():
    from fixgw.sim.coinbase.errors import CoinbaseError
    from fixgw.sim.coinbase.limits import Buckets

    b = Buckets(CoinbaseLimits(private_per_s=2, private_burst=3))
    for _ in range(3):
        b.take("private", "acct", 0)
    with pytest.raises(CoinbaseError) as info:
        b.take("private", "acct", 0)
    assert info.value.status == 429 and info.value.retry_after_s >= 1
    b.take("private", "acct", 500)  # one token back after 0.5 s at 2/s
    with pytest.raises(CoinbaseError):
        b.take("private", "acct", 500)
    b.take("private", "other", 500)  # per account
    for _ in range(3):
        b.take("private", "acct", 60_000)  # a long pause refills to the burst, not beyond
    with pytest.raises(CoinbaseError):
        b.take("private", "acct", 60_000)


def test_fills_need_order_or_product(cb):
    r = cb.call("GET", "/fills")
    assert (r.status_code, r.json()) == (400, {"message": "order_id or product_id is required"})
