"""The simulator's Kraken dialect over real loopback HTTP: signing, nonces, order entry, queries,
balances, instruments, error shapes, rate-limit counters and fault injection."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from kr_helpers import DOC_KEY, DOC_SECRET, OTHER_KEY, OTHER_SECRET, KrakenClient, kraken_sim
from kr_helpers import kr, sim  # noqa: F401  (fixtures)

from fixgw.sim.kraken.limits import KrakenLimits
from fixgw.sim.kraken.signing import sign
from fixgw.sim.kraken.venue import venue_of


def _limit(kr: KrakenClient, side: str, px: D, vol: str = "0.001", pair: str = "XBTUSDT", **extra: str) -> dict:
    fields = [("ordertype", "limit"), ("pair", pair), ("price", str(px)), ("type", side), ("volume", vol)]
    return kr.ok("AddOrder", fields + list(extra.items()))


# == signing and nonces ===========================================================================
def test_sim_kraken_sign_documented_vector_reproduced():
    body = b"nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
    assert sign(DOC_SECRET, "/0/private/AddOrder", "1616492376594", body) == (
        "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==")


def test_sim_kraken_documented_request_passes_authentication_then_pair_checked(sim):
    kr = KrakenClient(sim.base_url, DOC_KEY, DOC_SECRET)
    status, body = kr.private("AddOrder", [("ordertype", "limit"), ("pair", "XBTUSD"), ("price", "37500"),
                                           ("type", "buy"), ("volume", "1.25")], nonce=1616492376594)
    # the documented signature verified; the simulator lists no XBT/USD pair
    assert (status, body) == (200, {"error": ["EQuery:Unknown asset pair"]})
    kr.close()


def test_sim_kraken_bad_signature_refused_and_nonce_not_burned(kr):
    n = kr.nonce()
    status, body = kr.private("Balance", nonce=n, signature="AAAA" + sign(kr.secret, "/0/private/Balance", "1", b"x"))
    assert body == {"error": ["EAPI:Invalid signature"]}
    assert kr.private("Balance", nonce=n)[1]["error"] == []  # the forged request did not use the nonce up


def test_sim_kraken_nonce_repeated_or_lower_refused(kr):
    n = kr.nonce()
    assert kr.private("Balance", nonce=n)[1]["error"] == []
    assert kr.private("Balance", nonce=n)[1] == {"error": ["EAPI:Invalid nonce"]}
    assert kr.private("Balance", nonce=n - 5)[1] == {"error": ["EAPI:Invalid nonce"]}
    assert kr.private("Balance")[1]["error"] == []  # the next, higher one


def test_sim_kraken_unknown_key_and_missing_nonce_refused(sim, kr):
    other = KrakenClient(sim.base_url, "noSuchKey", OTHER_SECRET)
    assert other.private("Balance")[1] == {"error": ["EAPI:Invalid key"]}
    other.close()
    r = kr.http.post("/0/private/Balance", content="", headers={"API-Key": kr.key, "API-Sign": "x"})
    assert r.json() == {"error": ["EAPI:Invalid nonce"]}


def test_sim_kraken_json_body_signed_over_raw_bytes(kr):
    bid, _ = kr.top()
    res = kr.ok("AddOrder", [("ordertype", "limit"), ("pair", "XBTUSDT"), ("price", str(bid - 500)),
                             ("type", "buy"), ("volume", "0.001"), ("cl_ord_id", "json-1")], as_json=True)
    assert len(res["txid"]) == 1
    assert kr.ok("CancelOrderBatch", [("orders", res["txid"])], as_json=True) == {"count": 1}


# == public =======================================================================================
def test_sim_kraken_asset_pairs_from_instrument_specs(sim, kr):
    status, body = kr.public("AssetPairs")
    pairs = body["result"]
    btc = pairs["XBTUSDT"]
    spec = sim.call(lambda st: st.engine.instruments["BTCUSDT"])
    assert (btc["altname"], btc["wsname"], btc["base"], btc["quote"]) == ("XBTUSDT", "XBT/USDT", "XXBT", "USDT")
    assert D(btc["tick_size"]) == spec.tick_size and D(btc["ordermin"]) == spec.min_qty
    assert D(btc["costmin"]) == spec.min_notional and btc["lot_decimals"] == 5 and btc["pair_decimals"] == 2
    assert pairs["ETHUSDT"]["base"] == "XETH"
    assert kr.public("AssetPairs", pair="XBTUSDT")[1]["result"].keys() == {"XBTUSDT"}
    assert kr.public("AssetPairs", pair="FOOBAR")[1] == {"error": ["EQuery:Unknown asset pair"]}


def test_sim_kraken_time_follows_the_sim_clock_and_skew(sim, kr):
    now = sim.call(lambda st: st.now_ms()) // 1000
    assert abs(kr.public("Time")[1]["result"]["unixtime"] - now) <= 1
    sim.set_faults(clock_skew_ms=120_000)
    assert kr.public("Time")[1]["result"]["unixtime"] - now >= 119


def test_sim_kraken_unknown_method_404_envelope(kr):
    r = kr.http.get("/0/public/NoSuchThing")
    assert r.status_code == 404 and r.json() == {"error": ["EGeneral:Unknown method"]}


# == order entry ==================================================================================
def test_sim_kraken_add_query_amend_cancel_round_trip(kr):
    bid, _ = kr.top()
    px = bid - 1000
    res = _limit(kr, "buy", px, "0.003", cl_ord_id="rt-1")
    (txid,) = res["txid"]
    assert res["descr"]["order"] == f"buy 0.003 XBTUSDT @ limit {px.normalize():f}"
    info = kr.ok("QueryOrders", [("txid", txid)])[txid]
    assert (info["status"], D(info["vol"]), D(info["vol_exec"]), info["cl_ord_id"]) == ("open", D("0.003"), 0, "rt-1")
    assert kr.ok("QueryOrders", [("cl_ord_id", "rt-1")]).keys() == {txid}
    assert txid in kr.ok("OpenOrders")["open"]
    assert "amend_id" in kr.ok("AmendOrder", [("txid", txid), ("order_qty", "0.002")])
    info = kr.ok("QueryOrders", [("txid", txid)])[txid]
    assert D(info["vol"]) == D("0.002") and info["cl_ord_id"] == "rt-1"  # amended in place: same ids
    assert kr.ok("CancelOrder", [("cl_ord_id", "rt-1")]) == {"count": 1, "pending": False}
    info = kr.ok("QueryOrders", [("txid", txid)])[txid]
    assert info["status"] == "canceled" and "closetm" in info
    assert kr.private("CancelOrder", [("txid", txid)])[1] == {"error": ["EOrder:Invalid order"]}
    closed = kr.ok("ClosedOrders")
    assert txid in closed["closed"] and closed["count"] >= 1


def test_sim_kraken_validate_only_gives_no_txid_and_places_nothing(kr):
    bid, _ = kr.top()
    before = kr.ok("OpenOrders")["open"]
    res = _limit(kr, "buy", bid - 1000, validate="true")
    assert "txid" not in res and "order" in res["descr"]
    assert kr.ok("OpenOrders")["open"] == before


@pytest.mark.parametrize("fields,error", [
    ({"volume": "0.000001"}, "EOrder:Order minimum not met"),
    ({"volume": "0.00001", "price": "50000"}, "EOrder:Cost minimum not met"),
    ({"price": "50000.005"}, "EOrder:Tick size check failed"),
    ({"volume": "0.0000155"}, "EGeneral:Invalid arguments:volume"),
    ({"pair": "FOOBAR"}, "EQuery:Unknown asset pair"),
    ({"volume": "100"}, "EOrder:Insufficient funds"),
    ({"type": "hold"}, "EGeneral:Invalid arguments:type"),
    ({"ordertype": "trailing-stop"}, "EGeneral:Invalid arguments:ordertype"),
    ({"oflags": "viqc"}, "EGeneral:Invalid arguments:oflags"),
    ({"timeinforce": "GTD"}, "EGeneral:Invalid arguments:timeinforce"),
    ({"cl_ord_id": "x" * 19}, "EGeneral:Invalid arguments:cl_ord_id"),
    ({"cl_ord_id": "a", "userref": "7"}, "EGeneral:Invalid arguments:userref and cl_ord_id are mutually exclusive"),
], ids=["ordermin", "costmin", "tick", "lot_decimals", "pair", "funds", "side", "type", "viqc", "gtd", "clid",
        "userref"])
def test_sim_kraken_add_order_refusals_in_venue_words(kr, fields, error):
    base = {"ordertype": "limit", "pair": "XBTUSDT", "price": "50000", "type": "buy", "volume": "0.001"}
    base.update(fields)
    status, body = kr.private("AddOrder", list(base.items()))
    assert (status, body) == (200, {"error": [error]})


def test_sim_kraken_post_only_that_would_take_refused(kr):
    _, ask = kr.top()
    status, body = kr.private("AddOrder", [("ordertype", "limit"), ("pair", "XBTUSDT"), ("price", str(ask)),
                                           ("type", "buy"), ("volume", "0.001"), ("oflags", "post")])
    assert body == {"error": ["EOrder:Post only order"]}


def test_sim_kraken_userref_cancels_every_match(kr):
    bid, _ = kr.top()
    txids = [_limit(kr, "buy", bid - 1000 - i, userref="4242")["txid"][0] for i in range(2)]
    assert kr.ok("QueryOrders", [("txid", txids[0])])[txids[0]]["userref"] == 4242
    assert kr.ok("CancelOrder", [("txid", "4242")]) == {"count": 2, "pending": False}


def test_sim_kraken_trades_history_and_query_trades_name_the_same_trades(sim, kr):
    other = KrakenClient(sim.base_url, OTHER_KEY, OTHER_SECRET)
    bid, _ = kr.top("ETHUSDT")
    px = bid + D("0.01")
    (txid,) = _limit(kr, "buy", px, "0.5", pair="ETHUSDT")["txid"]
    _limit(other, "sell", px, "0.2", pair="ETHUSDT")
    info = kr.ok("QueryOrders", [("txid", txid), ("trades", "true")])[txid]
    assert D(info["vol_exec"]) == D("0.2") and len(info["trades"]) == 1 and D(info["fee"]) > 0
    (trade_txid,) = info["trades"]
    trade = kr.ok("QueryTrades", [("txid", trade_txid)])[trade_txid]
    assert (trade["ordertxid"], D(trade["vol"]), D(trade["price"]), trade["maker"]) == (txid, D("0.2"), px, True)
    assert trade_txid in kr.ok("TradesHistory")["trades"]
    other.close()


def test_sim_kraken_balances_use_venue_asset_codes(kr):
    bal = kr.ok("Balance")
    assert "XXBT" in bal and "USDT" in bal and "BTC" not in bal
    ex = kr.ok("BalanceEx")
    assert D(ex["XXBT"]["balance"]) == D(bal["XXBT"]) and "hold_trade" in ex["XXBT"]
    bid, _ = kr.top()
    _limit(kr, "buy", bid - 1000, "0.002")
    assert D(kr.ok("BalanceEx")["USDT"]["hold_trade"]) == (bid - 1000) * D("0.002")


# == rate limits and faults =======================================================================
def test_sim_kraken_rest_counter_refuses_with_429_then_decays(sim):
    server = kraken_sim()
    kr = KrakenClient(server.base_url)
    try:
        server.call(lambda st: setattr(venue_of(st), "limits", KrakenLimits(rest_max=3, rest_decay=1000)))
        for _ in range(3):
            assert kr.private("Balance")[0] == 200
        server.call(lambda st: setattr(venue_of(st), "limits", KrakenLimits(rest_max=3, rest_decay=0.001)))
        server.call(lambda st: venue_of(st).counters._value.clear())
        for _ in range(3):
            assert kr.private("Balance")[0] == 200
        assert kr.private("Balance") == (429, {"error": ["EAPI:Rate limit exceeded"]})
        assert kr.private("TradesHistory")[0] == 429
    finally:
        kr.close()
        server.stop()


def test_sim_kraken_trading_counter_punishes_young_cancels(sim):
    server = kraken_sim()
    kr = KrakenClient(server.base_url)
    try:
        server.call(lambda st: setattr(venue_of(st), "limits", KrakenLimits(trade_max=10, trade_decay=0.001)))
        bid, _ = kr.top()
        (txid,) = _limit(kr, "buy", bid - 1000)["txid"]  # +1
        kr.ok("CancelOrder", [("txid", txid)])  # +8: younger than 5 s
        _limit(kr, "buy", bid - 1000)  # +1 = 10
        status, body = kr.private("AddOrder", [("ordertype", "limit"), ("pair", "XBTUSDT"),
                                               ("price", str(bid - 1000)), ("type", "buy"), ("volume", "0.001")])
        assert (status, body) == (429, {"error": ["EOrder:Rate limit exceeded"]})
        assert kr.private("AddOrder", [("ordertype", "limit"), ("pair", "ETHUSDT"), ("price", "100"),
                                       ("type", "buy"), ("volume", "0.1")])[0] == 200  # per pair
    finally:
        kr.close()
        server.stop()


def test_sim_kraken_fault_rate_limit_burst_and_ban(sim, kr):
    sim.set_faults(rate_limit_burst=2)
    assert kr.private("Balance") == (429, {"error": ["EAPI:Rate limit exceeded"]})
    assert kr.public("Time")[0] == 429
    assert kr.private("Balance")[0] == 200
    sim.set_faults(ban_seconds=60)
    assert kr.private("Balance")[1] == {"error": ["EGeneral:Temporary lockout"]}
    sim.reset_faults()
    assert kr.private("Balance")[0] == 200


def test_sim_kraken_fault_lost_add_order_answer_order_still_placed(sim, kr):
    bid, _ = kr.top()
    sim.set_faults(order_timeouts=1, order_timeout_mode="error")
    status, body = kr.private("AddOrder", [("ordertype", "limit"), ("pair", "XBTUSDT"), ("price", str(bid - 1000)),
                                           ("type", "buy"), ("volume", "0.001"), ("cl_ord_id", "lost-1")])
    assert (status, body) == (503, {"error": ["EService:Unavailable"]})
    found = kr.ok("QueryOrders", [("cl_ord_id", "lost-1")])
    assert [o["status"] for o in found.values()] == ["open"]


def test_sim_kraken_fault_dropped_answer_cuts_the_connection(sim, kr):
    import httpx

    bid, _ = kr.top()
    sim.set_faults(order_timeouts=1, order_timeout_mode="drop")
    with pytest.raises(httpx.HTTPError):
        kr.private("AddOrder", [("ordertype", "limit"), ("pair", "XBTUSDT"), ("price", str(bid - 1000)),
                                ("type", "buy"), ("volume", "0.001"), ("cl_ord_id", "lost-2")])
    kr.http.close()
    kr.http = type(kr.http)(base_url=sim.base_url, timeout=10)
    assert len(kr.ok("QueryOrders", [("cl_ord_id", "lost-2")])) == 1
