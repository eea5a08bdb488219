"""The simulator's Kraken ``AddOrderBatch`` over real loopback HTTP: 2-15 orders of one pair, the whole
batch validated first, engine refusals per entry, the answer's shape, the trading counter's n/2."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import pytest
from kr_helpers import KrakenClient, kraken_sim
from kr_helpers import kr, sim  # noqa: F401  (fixtures)

from fixgw.sim import DEMO_ACCOUNT
from fixgw.sim.kraken.limits import KrakenLimits
from fixgw.sim.kraken.venue import BATCH_MAX, venue_of


def _order(px: D, vol: str = "0.001", side: str = "buy", **extra: str) -> dict[str, str]:
    return {"ordertype": "limit", "type": side, "volume": vol, "price": str(px), **extra}


def _batch(kr: KrakenClient, orders: list[dict[str, Any]], pair: str = "XBTUSDT", **extra: Any) -> tuple[int, dict]:
    return kr.private("AddOrderBatch", [("pair", pair), ("orders", orders), *extra.items()], as_json=True)


def _counter(sim: Any, account: str = DEMO_ACCOUNT) -> float:
    def read(st: Any) -> float:
        v = venue_of(st)
        return v.counters.value(("trade", account, v.pairs.engine("BTCUSDT").pair_id), 0.0, st.now_ms())
    return sim.call(read)


def _open_txids(kr: KrakenClient) -> set[str]:
    return set(kr.ok("OpenOrders")["open"])


def test_sim_kraken_batch_entries_in_request_order_txid_scalar_each_placed(kr):
    bid, _ = kr.top()
    orders = [_order(bid - 500 - i, cl_ord_id=f"sb-{i}") for i in range(3)]
    status, body = _batch(kr, orders)
    assert status == 200 and body["error"] == []
    rows = body["result"]["orders"]
    assert [sorted(r) for r in rows] == [["descr", "txid"]] * 3
    assert all(isinstance(r["txid"], str) for r in rows)  # a scalar, where AddOrder answers a list
    assert rows[0]["descr"]["order"].startswith("buy 0.001")
    placed = kr.ok("QueryOrders", [("txid", ",".join(r["txid"] for r in rows))])
    assert [placed[r["txid"]]["cl_ord_id"] for r in rows] == ["sb-0", "sb-1", "sb-2"]


def test_sim_kraken_batch_engine_refusal_answers_that_entry_alone(kr):
    bid, _ = kr.top()
    status, body = _batch(kr, [_order(bid - 500), _order(bid - 500, vol="100"), _order(bid - 501)])
    assert status == 200 and body["error"] == []
    first, broke, last = body["result"]["orders"]
    assert broke == {"error": "EOrder:Insufficient funds"}
    assert {first["txid"], last["txid"]} <= _open_txids(kr)


@pytest.mark.parametrize("bad,error", [
    ({"price": "1.001"}, "EOrder:Tick size check failed"),
    ({"volume": "0.000000001"}, "EOrder:Order minimum not met"),
    ({"type": "sideways"}, "EGeneral:Invalid arguments:type"),
    ({"pair": "XBTUSDT"}, "EGeneral:Invalid arguments:orders"),  # the pair is the batch's, not an entry's
    ({"cl_ord_id": ["a", "b"]}, "EGeneral:Invalid arguments:orders"),  # fields are scalars
])
def test_sim_kraken_batch_one_invalid_entry_refuses_whole_batch_nothing_placed(kr, bad, error):
    bid, _ = kr.top()
    before = _open_txids(kr)
    status, body = _batch(kr, [_order(bid - 500), {**_order(bid - 500), **bad}])
    assert (status, body) == (200, {"error": [error]})
    assert _open_txids(kr) == before


@pytest.mark.parametrize("count", [0, 1, BATCH_MAX + 1])
def test_sim_kraken_batch_size_outside_two_to_fifteen_refused(kr, count):
    bid, _ = kr.top()
    status, body = _batch(kr, [_order(bid - 500 - i) for i in range(count)])
    assert body == {"error": ["EGeneral:Invalid arguments:orders"]}


def test_sim_kraken_batch_unknown_pair_and_form_body_refused(kr):
    bid, _ = kr.top()
    assert _batch(kr, [_order(bid - 500)] * 2, pair="NOPE")[1] == {"error": ["EQuery:Unknown asset pair"]}
    assert _batch(kr, [_order(bid - 500)] * 2, pair=["XBTUSDT"])[1] == {"error": ["EGeneral:Invalid arguments:pair"]}
    form = kr.private("AddOrderBatch", [("pair", "XBTUSDT"), ("orders", json.dumps([_order(bid - 500)] * 2))])
    assert form[1] == {"error": ["EGeneral:Invalid arguments:orders"]}


def test_sim_kraken_batch_costs_half_per_order_on_the_trading_counter():
    server = kraken_sim(limits=KrakenLimits(rest_max=10_000, trade_max=10, trade_decay=0.0))
    kr = KrakenClient(server.base_url)
    try:
        bid, _ = kr.top()
        c0 = _counter(server)
        assert _batch(kr, [_order(bid - 500 - i) for i in range(6)])[1]["error"] == []
        assert _counter(server) - c0 == 3  # six orders: +3, where six AddOrder calls add +6
        refused = _batch(kr, [_order(bid - 500), _order(D("1.001"))])  # refused by validation: still charged
        assert refused[1]["error"] == ["EOrder:Tick size check failed"]
        assert _counter(server) - c0 == 4
        status, body = _batch(kr, [_order(bid - 500 - i) for i in range(14)])  # +7 would pass 10
        assert (status, body) == (429, {"error": ["EOrder:Rate limit exceeded"]})
        assert _counter(server) - c0 == 4
    finally:
        kr.close()
        server.stop()
