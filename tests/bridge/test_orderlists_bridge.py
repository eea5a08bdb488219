"""``/v1/order-lists`` end to end: bridge -> OrderDesk -> book, journal -> Binance adapter -> simulator, and the
legs' events back through the state machine to ``GET /v1/orders`` and ``/v1/stream``. Real loopback sockets."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import anyio
import pytest
from bridge_helpers import error_of
from test_bridge_gateway import sim, stack  # noqa: F401  (sim: a fixture)
from test_bridge_orders import trader, until
from test_bridge_stream import reader

from fixgw.sim import NewOrder, SimServer

pytestmark = [pytest.mark.anyio]


def _cp(sim: SimServer, side: str, qty: str, price: str) -> None:
    """The counterparty's limit order in the simulator (``cp``: its own account)."""
    req = NewOrder(symbol="BTCUSDT", side=side, type="LIMIT", quantity=Decimal(qty), price=Decimal(price),
                   time_in_force="GTC")

    def run(st: Any) -> None:
        st.engine.place("cp", req, st.now_ms())
        st.publish()

    sim.call(run)


def _last_price(sim: SimServer, price: str) -> None:
    _cp(sim, "SELL", "0.001", price)
    _cp(sim, "BUY", "0.001", price)


def oco(cl: str, qty: str = "0.1") -> dict[str, Any]:
    return {"type": "oco", "client_list_id": cl, "symbol": "BTC/USDT", "legs": [
        {"side": "sell", "type": "limit", "quantity": qty, "price": "61000"},
        {"side": "sell", "type": "stop", "quantity": qty, "trigger_price": "59000"}]}


def oto(cl: str) -> dict[str, Any]:
    return {"type": "oto", "client_list_id": cl, "symbol": "BTC/USDT", "legs": [
        {"side": "buy", "type": "limit", "quantity": "0.1", "price": "59000"},
        {"side": "sell", "type": "limit", "quantity": "0.1", "price": "62000", "post_only": True}]}


async def _stream_events(s: Any, pred: Any, timeout: float = 10) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    with anyio.fail_after(timeout):
        while not pred(got):
            m = await s.recv()
            if m["type"] == "event":
                got.append(m)
    return got


async def test_oco_one_leg_fills_other_shows_expired_in_orders_and_stream(sim: SimServer) -> None:
    _last_price(sim, "60000")
    async with stack(sim) as (gw, url), trader(url) as c, reader(url) as r:
        async with r.stream("/v1/stream") as s:
            assert (await s.recv())["type"] == "hello"
            first = await c.send("POST", "/v1/order-lists", json=oco("OCO1"))
            assert first.status_code == 201, first.text
            body = first.json()
            assert (body["type"], body["client_list_id"], body["account"]) == ("oco", "OCO1", "oms")
            assert [leg["client_order_id"] for leg in body["legs"]] == ["OCO1.1", "OCO1.2"]
            await until(c, "OCO1.1", lambda o: o["status"] == "new")
            await until(c, "OCO1.2", lambda o: o["status"] == "new")
            _cp(sim, "BUY", "0.1", "61000")  # takes the limit leg
            filled = await until(c, "OCO1.1", lambda o: o["status"] == "filled")
            expired = await until(c, "OCO1.2", lambda o: not o["open"])
            assert (filled["cum_qty"], expired["status"], expired["cum_qty"]) == ("0.1", "expired", "0")
            listed = {o["client_order_id"]: o["status"] for o in
                      (await c.get("/v1/orders", params={"account": "oms"}))["orders"]}
            assert listed == {"OCO1.1": "filled", "OCO1.2": "expired"}
            ends = await _stream_events(s, lambda got: {m["kind"] for m in got if m["order_id"] ==
                                                        expired["order_id"]} >= {"OrderExpired"})
        kinds = {(m["order_id"], m["kind"]) for m in ends}
        assert (filled["order_id"], "OrderFilled") in kinds or (filled["order_id"], "OrderPartiallyFilled") in kinds
        # at the venue, one list: both legs carry its id (the venue knows a leg by our order id)
        list_ids = {_venue_list_id(sim, row["order_id"]) for row in (filled, expired)}
        assert len(list_ids) == 1 and list_ids.pop() >= 0


def _venue_list_id(sim: SimServer, venue_client_id: str) -> int:
    order = sim.call(lambda st: st.engine.find_order("gw", "BTCUSDT", client_order_id=venue_client_id))
    return order.order_list_id


async def test_order_list_retry_same_terms_same_list_other_terms_conflict(sim: SimServer) -> None:
    _last_price(sim, "60000")
    async with stack(sim) as (gw, url), trader(url) as c:
        first = await c.send("POST", "/v1/order-lists", json=oco("R1"))
        again = await c.send("POST", "/v1/order-lists", json=oco("R1"))
        assert (first.status_code, again.status_code) == (201, 200)
        assert [leg["order_id"] for leg in again.json()["legs"]] == [leg["order_id"] for leg in first.json()["legs"]]
        other = await c.send("POST", "/v1/order-lists", json=oco("R1", qty="0.2"))
        assert error_of(other) == (409, "order_conflict")
        taken = await c.send("POST", "/v1/orders", json={"client_order_id": "T1.1", "symbol": "BTC/USDT",
                                                          "side": "buy", "type": "limit", "quantity": "0.1",
                                                          "price": "50000"})
        assert taken.status_code == 201
        clash = await c.send("POST", "/v1/order-lists", json=oco("T1"))
        assert error_of(clash) == (409, "order_conflict")


async def test_oto_delete_list_cancels_both_legs(sim: SimServer) -> None:
    _last_price(sim, "60000")
    async with stack(sim) as (gw, url), trader(url) as c:
        placed = await c.send("POST", "/v1/order-lists", json=oto("O1"))
        assert placed.status_code == 201, placed.text
        await until(c, "O1.1", lambda o: o["status"] == "new")
        await until(c, "O1.2", lambda o: o["status"] == "new")  # the venue took it (pending there)
        gone = await c.send("DELETE", "/v1/order-lists/O1")
        assert gone.status_code == 200, gone.text
        for leg in ("O1.1", "O1.2"):
            assert (await until(c, leg, lambda o: not o["open"]))["status"] == "canceled"
        again = await c.send("DELETE", "/v1/order-lists/O1")
        assert error_of(again) == (409, "order_not_open")
        assert error_of(await c.send("DELETE", "/v1/order-lists/NOPE")) == (404, "not_found")


async def test_order_list_venue_refusal_rejects_both_legs(sim: SimServer) -> None:
    _last_price(sim, "62000")  # the OCO's limit leg (61000) is now below the market
    async with stack(sim) as (gw, url), trader(url) as c:
        placed = await c.send("POST", "/v1/order-lists", json=oco("BAD1"))
        assert placed.status_code == 201
        for leg in ("BAD1.1", "BAD1.2"):
            row = await until(c, leg, lambda o: o["status"] == "rejected")
            assert "relationship of the prices" in row["reject_reason"]


async def test_order_list_leg_over_a_limit_rejects_both_legs_nothing_sent(sim: SimServer) -> None:
    _last_price(sim, "60000")
    async with stack(sim) as (gw, url), trader(url) as c:
        placed = await c.send("POST", "/v1/order-lists", json=oco("BIG1", qty="101"))  # the demo's limit: 100
        assert placed.status_code == 201
        legs = placed.json()["legs"]
        assert [leg["status"] for leg in legs] == ["rejected", "rejected"]
        assert all("exceeds the limit" in leg["reject_reason"] for leg in legs)
        assert sim.call(lambda st: st.engine.open_orders("gw", "BTCUSDT")) == []


async def test_cancel_one_oco_leg_ends_the_other_canceled(sim: SimServer) -> None:
    _last_price(sim, "60000")
    async with stack(sim) as (gw, url), trader(url) as c:
        await c.send("POST", "/v1/order-lists", json=oco("C1"))
        leg = await until(c, "C1.1", lambda o: o["status"] == "new")
        await until(c, "C1.2", lambda o: o["status"] == "new")
        await c.delete(f"/v1/orders/{leg['order_id']}")
        assert (await until(c, "C1.1", lambda o: not o["open"]))["status"] == "canceled"
        assert (await until(c, "C1.2", lambda o: not o["open"]))["status"] == "canceled"


@pytest.mark.parametrize("change,field", [
    ({"legs": []}, "legs"),
    ({"type": "oco-ish"}, "type"),
    ({"client_list_id": "x" * 35}, "client_list_id"),
])
async def test_order_list_bad_body_answered_400(sim: SimServer, change: dict[str, Any], field: str) -> None:
    async with stack(sim) as (gw, url), trader(url) as c:
        r = await c.send("POST", "/v1/order-lists", json={**oco("B1"), **change})
        assert error_of(r) == (400, "invalid_request") and field in r.json()["error"]["message"]


async def test_order_list_oco_legs_of_two_sides_refused_400(sim: SimServer) -> None:
    body = oco("S1")
    body["legs"][1]["side"] = "buy"
    async with stack(sim) as (gw, url), trader(url) as c:
        r = await c.send("POST", "/v1/order-lists", json=body)
        assert error_of(r) == (400, "invalid_request") and "same side" in r.json()["error"]["message"]
        assert (await c.get("/v1/orders", params={"account": "oms"}))["orders"] == []


async def test_order_list_on_venue_without_lists_refused_422_before_sending(sim: SimServer) -> None:
    async with stack(sim) as (gw, url), trader(url) as c:
        adapter = _adapter(gw)
        adapter.capabilities = dataclasses.replace(adapter.capabilities, order_lists=False)
        r = await c.send("POST", "/v1/order-lists", json=oco("U1"))
        assert error_of(r) == (422, "unsupported_order")
        assert "order lists (OCO/OTO) are not supported" in r.json()["error"]["message"]
        assert (await c.get("/v1/orders", params={"account": "oms"}))["orders"] == []


def _adapter(gw: Any) -> Any:
    ctx = next(iter(gw.desk.accounts()))
    return ctx.venue.adapter
