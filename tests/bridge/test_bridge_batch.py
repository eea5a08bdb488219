"""``POST /v1/orders:batch`` end to end: bridge -> OrderDesk -> book, journal, venue, over real sockets.

A gateway on the simulator's Kraken dialect sends a batch's orders with ``AddOrderBatch`` (counted at
the simulator) and a mass cancel with one ``CancelOrderBatch``; a gateway on the Binance dialect (no
batch entry) sends one order per request.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest
from bridge_helpers import KEYS, READ_SECRET, TRADE_SECRET, error_of
from gateway.fixclient import FixClient
from test_bridge_gateway import gateway_and_bridge, sim, stack  # noqa: F401  (sim: a fixture)

from fixgw.bridge import AsyncBridgeClient, BridgeKey, Permission
from fixgw.bridge.batch import BATCH_MAX
from fixgw.config import default_config
from fixgw.gateway import Gateway
from fixgw.sim import DEMO_ACCOUNT, DEMO_API_KEY, DEMO_API_SECRET, ApiKey, SimConfig, SimServer
from fixgw.sim.kraken.limits import KrakenLimits
from fixgw.sim.kraken.venue import venue_of
from fixgw.venues.kraken.batch import BATCH_MAX as KRAKEN_BATCH_MAX

pytestmark = [pytest.mark.anyio]

OTHER_SECRET = "other-account-secret-7d1e0c94b2a6f835e1c7"
#: a trading key of another account only: it may not trade in ``oms``
KEYS_HERE = KEYS + (BridgeKey("elsewhere", OTHER_SECRET, {Permission.READ, Permission.TRADE},
                              accounts=frozenset({"desk2"})),)


@pytest.fixture(scope="module")
def kraken() -> Iterator[SimServer]:
    cfg = SimConfig(seed=7, market_maker=None, dialect="kraken",
                    api_keys=(ApiKey(api_key=DEMO_API_KEY, account_id=DEMO_ACCOUNT, secret=DEMO_API_SECRET),))
    server = SimServer(cfg).start()
    server.call(lambda st: setattr(venue_of(st), "limits", KrakenLimits(rest_max=10_000, trade_max=10_000)))
    try:
        yield server
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def kraken_stack(sim: SimServer) -> AsyncIterator[tuple[Gateway, str]]:
    """A gateway whose venue ``sim`` is the Kraken-dialect simulator, and the bridge beside it."""
    cfg = default_config(port=0).with_venue("sim", kind="kraken", rest_url=sim.base_url, ws_url="",
                                            api_key=DEMO_API_KEY, api_secret=DEMO_API_SECRET)
    async with gateway_and_bridge(cfg, KEYS_HERE) as running:
        yield running


def trader(url: str) -> AsyncBridgeClient:
    return AsyncBridgeClient(url, "trader", TRADE_SECRET, timeout=10)


def buy(cl: str, qty: str = "0.1", price: str = "30000", **extra: Any) -> dict[str, Any]:
    return {"client_order_id": cl, "symbol": "BTC/USDT", "side": "buy", "type": "limit", "quantity": qty,
            "price": price, **extra}


def calls(sim: SimServer) -> dict[str, int]:
    return sim.call(lambda st: dict(venue_of(st).calls))


def more(after: dict[str, int], before: dict[str, int], method: str) -> int:
    return after.get(method, 0) - before.get(method, 0)


async def orders_where(c: AsyncBridgeClient, ids: list[str], pred: Any, timeout: float = 10) -> list[dict[str, Any]]:
    """Poll ``GET /v1/orders`` until every order named by ``ids`` passes ``pred``; return them in that order."""
    with anyio.fail_after(timeout):
        while True:
            rows = {o["client_order_id"]: o for o in (await c.get("/v1/orders", params={"account": "oms"}))["orders"]}
            if all(i in rows and pred(rows[i]) for i in ids):
                return [rows[i] for i in ids]
            await anyio.sleep(0.05)


async def test_bridge_batch_kraken_orders_go_in_add_order_batch_split_by_max(kraken: SimServer) -> None:
    ids = [f"KB{i}" for i in range(KRAKEN_BATCH_MAX + 2)]
    async with kraken_stack(kraken) as (gw, url), trader(url) as c:
        before = calls(kraken)
        r = await c.send("POST", "/v1/orders:batch", json={"orders": [buy(i, price=str(30000 - n))
                                                                       for n, i in enumerate(ids)]})
        assert r.status_code == 201, r.text
        results = r.json()["results"]
        assert [row["client_order_id"] for row in results] == ids  # request order
        assert {row["status"] for row in results} <= {"pending_new", "new"}
        live = await orders_where(c, ids, lambda o: o["status"] == "new" and o["venue_order_id"])
        assert [o["order_id"] for o in live] == [row["order_id"] for row in results]
        after = calls(kraken)
        # 17 orders of one pair: two AddOrderBatch requests (9 + 8), never one AddOrder per order
        assert (more(after, before, "AddOrderBatch"), more(after, before, "AddOrder")) == (2, 0)

        # mass cancel: one CancelOrderBatch for all of them
        before = calls(kraken)
        asked = await c.delete("/v1/orders")
        assert sorted(o["client_order_id"] for o in asked["orders"]) == sorted(ids)
        await orders_where(c, ids, lambda o: o["status"] == "canceled")
        after = calls(kraken)
        assert (more(after, before, "CancelOrderBatch"), more(after, before, "CancelOrder")) == (1, 0)



async def test_fix_mass_cancel_on_kraken_one_cancel_order_batch_each_reported(kraken: SimServer) -> None:
    async with kraken_stack(kraken) as (gw, url):
        c = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await c.connect(gw.port)
        for i in range(3):
            await c.new_order(f"FM{i}", "1", "0.1", price=f"2900{i}")
            await c.reports(f"FM{i}", 1)
        before = calls(kraken)
        await c.send_raw("q", [(11, "FMASS"), (530, "7"), (60, "20261125-00:00:00")])
        report = await c.wait_for(lambda m: m.msg_type == b"r")
        assert sorted(report.get_all(41)) == [b"FM0", b"FM1", b"FM2"]
        for i in range(3):
            assert (await c.wait_for(lambda m, i=i: m.get(11) == f"FM{i}".encode() and m[39] == b"4"))[150] == b"4"
        after = calls(kraken)
        assert (more(after, before, "CancelOrderBatch"), more(after, before, "CancelOrder")) == (1, 0)
        await c.logout()


async def test_bridge_batch_mixed_outcomes_answered_per_item_207(kraken: SimServer) -> None:
    async with kraken_stack(kraken) as (gw, url), trader(url) as c:
        assert (await c.send("POST", "/v1/orders", json=buy("MX-OLD"))).status_code == 201
        items = [
            buy("MX-1"),
            buy("MX-OLD", price="29000"),  # another order's client_order_id with other terms
            buy("MX-BIG", qty="101"),  # over the account's limit: a rejected order
            {**buy("MX-SYM"), "symbol": "NOPE/USDT"},
            buy("MX-FUNDS1", qty="19", price="50000"),  # 950,000 USDT of the 1,000,000
            buy("MX-FUNDS2", qty="19", price="50000"),  # the venue refuses this one alone: funds
            buy("MX-2"),
        ]
        before = calls(kraken)
        r = await c.send("POST", "/v1/orders:batch", json={"orders": items})
        assert r.status_code == 207, r.text
        res = r.json()["results"]
        assert len(res) == len(items)
        assert res[1] == {"error": {"code": "order_conflict", "message": res[1]["error"]["message"]}}
        assert res[3]["error"]["code"] == "invalid_request" and "symbol" in res[3]["error"]["message"]
        assert res[2]["status"] == "rejected" and "exceeds the limit" in res[2]["reject_reason"]
        placed = ["MX-1", "MX-FUNDS1", "MX-FUNDS2", "MX-2"]
        assert [res[i]["client_order_id"] for i in (0, 4, 5, 6)] == placed
        final = await orders_where(c, placed, lambda o: o["status"] in ("new", "rejected"))
        assert [o["status"] for o in final] == ["new", "new", "rejected", "new"]
        assert final[2]["reject_reason"] == "EOrder:Insufficient funds"  # the venue's words
        assert more(calls(kraken), before, "AddOrderBatch") == 1  # the four sent together
        await c.delete("/v1/orders")


async def test_bridge_batch_retry_same_orders_200_nothing_sent_again(kraken: SimServer) -> None:
    async with kraken_stack(kraken) as (gw, url), trader(url) as c:
        body = {"orders": [buy("RT-1"), buy("RT-2", price="29999"), buy("RT-1")]}  # RT-1 twice: one order
        first = await c.send("POST", "/v1/orders:batch", json=body)
        assert first.status_code == 201
        rows = first.json()["results"]
        assert rows[0]["order_id"] == rows[2]["order_id"]
        await orders_where(c, ["RT-1", "RT-2"], lambda o: o["status"] == "new")
        before = calls(kraken)
        again = await c.send("POST", "/v1/orders:batch", json=body)
        assert again.status_code == 200
        assert [row["order_id"] for row in again.json()["results"]] == [row["order_id"] for row in rows]
        await anyio.sleep(0.2)
        assert calls(kraken) == before  # not one venue request
        listed = (await c.get("/v1/orders", params={"account": "oms"}))["orders"]
        assert sorted(o["client_order_id"] for o in listed if o["client_order_id"].startswith("RT")) == ["RT-1", "RT-2"]
        await c.delete("/v1/orders")


async def test_bridge_batch_auth_permission_and_bad_body(kraken: SimServer) -> None:
    async with kraken_stack(kraken) as (gw, url), trader(url) as c:
        async with AsyncBridgeClient(url, "reader", READ_SECRET) as r:
            assert error_of(await r.send("POST", "/v1/orders:batch", json={"orders": [buy("AU-1")]})) == (
                403, "missing_permission")
        async with AsyncBridgeClient(url, "elsewhere", OTHER_SECRET) as e:
            answer = await e.send("POST", "/v1/orders:batch", json={"orders": [buy("AU-2", account="oms")]})
            assert answer.status_code == 207
            assert answer.json()["results"][0]["error"]["code"] == "missing_permission"
        async with httpx.AsyncClient() as h:
            unsigned = await h.post(url + "/v1/orders:batch", json={"orders": [buy("AU-3")]})
        assert error_of(unsigned)[0] == 401
        too_many = {"orders": [buy(f"AU-M{i}") for i in range(BATCH_MAX + 1)]}
        assert error_of(await c.send("POST", "/v1/orders:batch", json=too_many)) == (400, "invalid_request")
        bad_item = {"orders": [buy("AU-4"), {**buy("AU-5"), "quantity": 0.1}]}
        answer = await c.send("POST", "/v1/orders:batch", json=bad_item)
        assert error_of(answer) == (400, "invalid_request") and "orders.1.quantity" in answer.json()["error"]["message"]
        assert error_of(await c.send("POST", "/v1/orders:batch", json={"orders": []})) == (400, "invalid_request")
        listed = (await c.get("/v1/orders", params={"account": "oms"}))["orders"]
        assert not [o for o in listed if o["client_order_id"].startswith("AU")]  # nothing placed


async def test_bridge_batch_binance_sends_one_request_per_order(sim: SimServer) -> None:  # noqa: F811
    async with stack(sim) as (gw, url), trader(url) as c:
        ids = ["BN-1", "BN-2", "BN-3"]
        r = await c.send("POST", "/v1/orders:batch", json={"orders": [buy(i, price="50000") for i in ids]})
        assert r.status_code == 201, r.text
        await orders_where(c, ids, lambda o: o["status"] == "new" and o["venue_order_id"])
        counts = {name: h.n for name, h in gw._venues["sim"].latency.items()}  # the venue workers' calls
        assert counts.get("order.place") == 3 and "order.place_batch" not in counts
