"""REST order entry and the kill switch over a running gateway: bridge -> OrderDesk -> book, journal, venue.

Real loopback sockets throughout: the simulator as the venue, the gateway's FIX acceptor, the bridge
served by uvicorn in the gateway's loop, the signing ``AsyncBridgeClient`` and a FIX client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from bridge_helpers import READ_SECRET, TRADE_SECRET, error_of
from gateway.fixclient import FixClient
from test_bridge_gateway import _sell, admin, sim, stack  # noqa: F401  (sim: a fixture)

from fixgw.bridge import AsyncBridgeClient
from fixgw.sim import SimServer

pytestmark = [pytest.mark.anyio]


def trader(url: str) -> AsyncBridgeClient:
    return AsyncBridgeClient(url, "trader", TRADE_SECRET, timeout=10)


def buy(cl: str, qty: str = "0.1", price: str = "50000", **extra: Any) -> dict[str, Any]:
    return {"client_order_id": cl, "symbol": "BTC/USDT", "side": "buy", "type": "limit", "quantity": qty,
            "price": price, **extra}


async def until(c: AsyncBridgeClient, ident: str, pred: Any, timeout: float = 10) -> dict[str, Any]:
    """Poll ``GET /v1/orders/{ident}`` until ``pred(order)``; return the order."""
    with anyio.fail_after(timeout):
        while True:
            order = await c.get(f"/v1/orders/{ident}")
            if pred(order):
                return order
            await anyio.sleep(0.02)


async def test_bridge_post_order_created_then_retry_same_order_and_other_terms_conflict(sim: SimServer) -> None:
    async with stack(sim) as (gw, url), trader(url) as c:
        first = await c.send("POST", "/v1/orders", json=buy("OMS-1"))
        assert first.status_code == 201, first.text
        row = first.json()
        assert (row["client_order_id"], row["account"], row["entered_by"], row["session_id"]) == (
            "OMS-1", "oms", "rest", None)
        assert (row["quantity"], row["price"], row["symbol"]) == ("0.1", "50000", "BTC/USDT")
        live = await until(c, "OMS-1", lambda o: o["status"] == "new")  # the venue confirmed it
        assert live["venue_order_id"]

        again = await c.send("POST", "/v1/orders", json=buy("OMS-1"))
        assert again.status_code == 200 and again.json()["order_id"] == row["order_id"]
        other = await c.send("POST", "/v1/orders", json=buy("OMS-1", price="49000"))
        assert error_of(other) == (409, "order_conflict")
        listed = (await c.get("/v1/orders", params={"account": "oms"}))["orders"]
        assert [o["client_order_id"] for o in listed] == ["OMS-1"]  # one order, never a second


async def test_bridge_order_cancel_replace_and_fill_reach_the_venue(sim: SimServer) -> None:
    async with stack(sim) as (gw, url), trader(url) as c:
        await c.post("/v1/orders", buy("K1"))
        order = await until(c, "K1", lambda o: o["status"] == "new")
        replaced = await c.patch(f"/v1/orders/{order['order_id']}", {"price": "50100", "quantity": "0.2"})
        assert replaced["status"] == "pending_replace"
        done = await until(c, order["order_id"], lambda o: o["status"] == "new" and o["price"] == "50100")
        assert done["quantity"] == "0.2"
        pending = await c.delete(f"/v1/orders/{order['order_id']}")
        assert pending["status"] == "pending_cancel"
        assert (await until(c, order["order_id"], lambda o: o["status"] == "canceled"))["open"] is False
        gone = await c.send("DELETE", f"/v1/orders/{order['order_id']}")
        assert error_of(gone) == (409, "order_not_open")

        _sell(sim, "0.3", "60000")
        await c.post("/v1/orders", buy("F1", qty="0.3", price="60000"))
        filled = await until(c, "F1", lambda o: o["status"] == "filled")
        assert (filled["cum_qty"], filled["avg_px"]) == ("0.3", "60000")
        fills = (await c.get("/v1/fills", params={"account": "oms"}))["fills"]
        assert [(f["client_order_id"], f["last_qty"]) for f in fills] == [("F1", "0.3")]


async def test_bridge_read_key_never_places_or_cancels(sim: SimServer) -> None:
    async with stack(sim) as (gw, url), trader(url) as t, AsyncBridgeClient(url, "reader", READ_SECRET) as r:
        await t.post("/v1/orders", buy("R1"))
        placed = await r.send("POST", "/v1/orders", json=buy("R2"))
        canceled = await r.send("DELETE", "/v1/orders/R1")
        mass = await r.send("DELETE", "/v1/orders")
        patched = await r.send("PATCH", "/v1/orders/R1", json={"price": "1"})
        for answer in (placed, canceled, mass, patched):
            assert error_of(answer) == (403, "missing_permission")
        assert (await r.get("/v1/orders/R1"))["client_order_id"] == "R1"  # it may read them
        assert (await r.get("/v1/orders", params={"account": "oms"}))["orders"][0]["status"] != "pending_cancel"


@pytest.mark.parametrize("body,field", [
    ({"quantity": 0.1}, "quantity"),  # a JSON number: refused, amounts are strings
    ({"quantity": "1e3"}, "quantity"),
    ({"price": "-5"}, "price"),
    ({"side": "sideways"}, "side"),
    ({"symbol": "NOPE/USDT"}, "symbol"),
    ({"account": "nobody"}, "account"),
    ({"client_order_id": ""}, "client_order_id"),
    ({"extra": "x"}, "extra"),
])
async def test_bridge_post_order_bad_body_answered_400_with_the_field(sim: SimServer, body: dict[str, Any],
                                                                      field: str) -> None:
    async with stack(sim) as (gw, url), trader(url) as c:
        r = await c.send("POST", "/v1/orders", json={**buy("B1"), **body})
        assert error_of(r) == (400, "invalid_request")
        assert field in r.json()["error"]["message"]
        assert (await c.get("/v1/orders", params={"account": "oms"}))["orders"] == []


async def test_bridge_post_order_over_a_limit_created_rejected_with_the_reason(sim: SimServer) -> None:
    async with stack(sim) as (gw, url), trader(url) as c:
        r = await c.send("POST", "/v1/orders", json=buy("BIG", qty="101"))  # the demo's limit: 100
        assert r.status_code == 201
        assert r.json()["status"] == "rejected" and "exceeds the limit" in r.json()["reject_reason"]
        missing = await c.send("PATCH", "/v1/orders/NOPE", json={"price": "1"})
        assert error_of(missing) == (404, "not_found")


async def test_bridge_mass_cancel_by_symbol_cancels_the_accounts_open_orders(sim: SimServer) -> None:
    async with stack(sim) as (gw, url), trader(url) as c:
        for i in range(3):
            await c.post("/v1/orders", buy(f"M{i}"))
        for i in range(3):
            await until(c, f"M{i}", lambda o: o["status"] == "new")
        assert (await c.delete("/v1/orders", params={"symbol": "ETH/USDT"}))["orders"] == []
        asked = (await c.delete("/v1/orders", params={"symbol": "BTC/USDT"}))["orders"]
        assert sorted(o["client_order_id"] for o in asked) == ["M0", "M1", "M2"]
        for i in range(3):
            await until(c, f"M{i}", lambda o: o["status"] == "canceled")


async def test_bridge_kill_switch_cancels_and_refuses_fix_and_rest_until_released(sim: SimServer) -> None:
    async with stack(sim) as (gw, url), trader(url) as c, admin(url) as a:
        fix = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await fix.connect(gw.port)
        await fix.new_order("FX1", "1", "0.1", price="50000")
        await fix.reports("FX1", 1)
        await c.post("/v1/orders", buy("RS1"))
        await until(c, "RS1", lambda o: o["status"] == "new")

        denied = await c.send("POST", "/v1/kill-switch/global")
        assert error_of(denied) == (403, "missing_permission")  # admin only
        on = await a.post("/v1/kill-switch/global")
        assert on["engaged"] is True and on["halted"] == ["global"]
        assert {o["client_order_id"] for o in on["canceled"]} == {"FX1", "RS1"}
        await until(c, "RS1", lambda o: o["status"] == "canceled")
        await fix.reports("FX1", 2)  # New, then Canceled
        assert fix.exec_reports("FX1")[-1].get(39) == b"4"

        refused = (await c.send("POST", "/v1/orders", json=buy("RS2"))).json()
        assert refused["status"] == "rejected" and "kill switch engaged (global)" in refused["reject_reason"]
        await fix.new_order("FX2", "1", "0.1", price="50000")
        (rej,) = await fix.reports("FX2", 1)
        assert rej.get(39) == b"8" and b"kill switch" in (rej.get(58) or b"")

        off = await a.delete("/v1/kill-switch/global")
        assert off["engaged"] is False and off["halted"] == []
        await c.post("/v1/orders", buy("RS3"))
        await until(c, "RS3", lambda o: o["status"] == "new")
        await fix.logout()


async def test_bridge_kill_switch_on_one_account_leaves_the_fix_session_trading(sim: SimServer) -> None:
    async with stack(sim) as (gw, url), trader(url) as c, admin(url) as a:
        on = await a.post("/v1/kill-switch/oms")
        assert on["halted"] == ["oms"]
        r = (await c.send("POST", "/v1/orders", json=buy("A1"))).json()
        assert "kill switch engaged (account oms_R" in r["reject_reason"]
        fix = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await fix.connect(gw.port)
        await fix.new_order("FA", "1", "0.1", price="50000")
        (ack,) = await fix.reports("FA", 1)
        assert ack.get(39) == b"0"
        assert error_of(await a.send("POST", "/v1/kill-switch/nobody")) == (404, "not_found")
        await fix.logout()


async def test_bridge_rest_order_survives_a_restart_and_a_retry_finds_it(sim: SimServer, tmp_path: Path) -> None:
    store = tmp_path / "gw.sqlite"
    async with stack(sim, store_path=store) as (gw, url), trader(url) as c:
        created = await c.send("POST", "/v1/orders", json=buy("P1"))
        assert created.status_code == 201
        await until(c, "P1", lambda o: o["status"] == "new")
    async with stack(sim, store_path=store) as (gw, url), trader(url) as c:
        again = await c.send("POST", "/v1/orders", json=buy("P1"))
        assert again.status_code == 200 and again.json()["order_id"] == created.json()["order_id"]
        assert again.json()["status"] == "new"  # reconciled with the venue at start-up
        await c.delete("/v1/orders/P1")
        await until(c, "P1", lambda o: o["status"] == "canceled")


async def test_bridge_post_order_flushed_to_disk_before_the_answer(sim: SimServer, tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "gw.db"
    async with stack(sim, store_path=path) as (gw, url), trader(url) as c:
        on_disk: list[bool] = []
        real_flush = gw.desk.flush

        def flush() -> None:  # what another process (or a restart after kill -9) would read, right after it
            real_flush()
            with sqlite3.connect(path) as db:
                rows = db.execute("SELECT count(*) FROM order_journal WHERE cl_ord_id = 'OMS-DISK'").fetchone()[0]
            on_disk.append(rows > 0)

        gw.desk.flush = flush
        answer = await c.send("POST", "/v1/orders", json=buy("OMS-DISK"))
        assert answer.status_code == 201, answer.text
        assert on_disk and on_disk[0], "the order was not on disk when the bridge answered"
