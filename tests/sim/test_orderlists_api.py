"""Order lists over the simulator's REST API and WebSocket API, on loopback sockets."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
from sim_helpers import SignedClient, events_until, request, signed_params
from websockets.sync.client import ClientConnection, connect

from fixgw.sim import SimConfig, SimServer


def call(ws: ClientConnection, req_id: int, method: str, params: dict[str, Any]) -> tuple[dict, list[dict]]:
    """A WS API request's reply, and the user-data events that came with it (before or after)."""
    ws.send(json.dumps({"id": req_id, "method": method, "params": params}))
    events: list[dict] = []
    while True:
        msg = json.loads(ws.recv(timeout=5))
        if msg.get("id") == req_id:
            break
        events.append(msg["event"])
    if not any(e["e"] == "listStatus" for e in events):
        events += [m["event"] for m in events_until(ws, lambda e: e["e"] == "listStatus")]
    return msg, events


def oco_params(client_list_id: str, qty: str = "0.01") -> dict[str, str]:
    # the book's last price is about 60000 (the market maker's start)
    return dict(symbol="BTCUSDT", side="SELL", quantity=qty, listClientOrderId=client_list_id,
                aboveType="LIMIT_MAKER", abovePrice="61000", aboveClientOrderId=client_list_id + "-a",
                belowType="STOP_LOSS_LIMIT", belowPrice="58900", belowStopPrice="59000", belowTimeInForce="GTC",
                belowClientOrderId=client_list_id + "-b")


def test_rest_oco_place_query_open_and_cancel(sim: SimServer, client: SignedClient) -> None:
    r = client.signed("POST", "/api/v3/orderList/oco", **oco_params("rest-oco"))
    assert r.status_code == 200, r.text
    assert r.headers["X-MBX-ORDER-COUNT-10S"] == "2"  # an order list counts both orders
    body = r.json()
    assert (body["contingencyType"], body["listStatusType"], body["listOrderStatus"]) == (
        "OCO", "EXEC_STARTED", "EXECUTING")
    assert [o["clientOrderId"] for o in body["orders"]] == ["rest-oco-b", "rest-oco-a"]
    assert [(o["type"], o["status"], o["orderListId"]) for o in body["orderReports"]] == [
        ("STOP_LOSS_LIMIT", "NEW", body["orderListId"]), ("LIMIT_MAKER", "NEW", body["orderListId"])]
    got = client.signed("GET", "/api/v3/orderList", orderListId=body["orderListId"])
    assert got.status_code == 200 and got.headers["X-MBX-USED-WEIGHT-1M"]
    assert got.json()["listClientOrderId"] == "rest-oco"
    opened = client.signed("GET", "/api/v3/openOrderList").json()
    assert [x["orderListId"] for x in opened] == [body["orderListId"]]
    gone = client.signed("DELETE", "/api/v3/orderList", symbol="BTCUSDT", listClientOrderId="rest-oco")
    assert gone.status_code == 200
    assert gone.json()["listStatusType"] == "ALL_DONE"
    assert [o["status"] for o in gone.json()["orderReports"]] == ["CANCELED", "CANCELED"]
    assert client.signed("GET", "/api/v3/openOrderList").json() == []
    again = client.signed("DELETE", "/api/v3/orderList", symbol="BTCUSDT", listClientOrderId="rest-oco")
    assert again.status_code == 400 and again.json()["code"] == -2011


def test_rest_oco_missing_leg_parameter_names_it(sim: SimServer, client: SignedClient) -> None:
    params = oco_params("rest-bad")
    del params["belowTimeInForce"]
    r = client.signed("POST", "/api/v3/orderList/oco", **params)
    assert r.status_code == 400
    assert r.json() == {"code": -1102, "msg": "Mandatory parameter 'belowTimeInForce' was not sent, was empty/null, "
                                              "or malformed."}


def test_rest_oco_unsupported_type_is_1158(sim: SimServer, client: SignedClient) -> None:
    params = oco_params("rest-1158")
    params["aboveType"] = "LIMIT"
    r = client.signed("POST", "/api/v3/orderList/oco", **params)
    assert r.json()["code"] == -1158


def test_rest_query_unknown_list_is_2013(sim: SimServer, client: SignedClient) -> None:
    r = client.signed("GET", "/api/v3/orderList", origClientOrderId="never-sent")
    assert (r.status_code, r.json()["code"]) == (400, -2013)


def test_ws_oto_events_carry_list_id_and_list_status(sim: SimServer, client: SignedClient) -> None:
    with connect(sim.ws_api_url) as ws:
        assert request(ws, "sub", "userDataStream.subscribe.signature", signed_params())["status"] == 200
        reply, events = call(ws, 1, "orderList.place.oto", signed_params(
            symbol="BTCUSDT", listClientOrderId="ws-oto", workingType="LIMIT", workingSide="BUY",
            workingPrice="59000", workingQuantity="0.01", workingTimeInForce="GTC", workingClientOrderId="ws-oto-w",
            pendingType="LIMIT_MAKER", pendingSide="SELL", pendingPrice="62000", pendingQuantity="0.01",
            pendingClientOrderId="ws-oto-p"))
        assert reply["status"] == 200, reply
        result = reply["result"]
        assert [o["status"] for o in result["orderReports"]] == ["NEW", "PENDING_NEW"]
        reports = [e for e in events if e["e"] == "executionReport"]
        assert {(e["c"], e["X"], e["g"]) for e in reports} == {
            ("ws-oto-w", "NEW", result["orderListId"]), ("ws-oto-p", "PENDING_NEW", result["orderListId"])}
        status = [e for e in events if e["e"] == "listStatus"][0]
        assert (status["c"], status["l"], status["L"], status["C"]) == ("OTO", "EXEC_STARTED", "EXECUTING", "ws-oto")
        cancel, done = call(ws, 2, "orderList.cancel", signed_params(symbol="BTCUSDT",
                                                                     orderListId=result["orderListId"]))
        assert cancel["status"] == 200
        ends = {(e["i"], e["X"]) for e in done if e["e"] == "executionReport"}
        assert {x for _, x in ends} == {"CANCELED"} and len(ends) == 2
        assert [e["l"] for e in done if e["e"] == "listStatus"] == ["ALL_DONE"]
