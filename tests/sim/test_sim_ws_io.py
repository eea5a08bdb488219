"""WebSocket connection I/O over loopback: one write per connection and loop turn, order kept, drops discard;
requests read without pausing the socket between them."""

from __future__ import annotations

import json
from typing import Any

from sim_helpers import request, signed_params
from websockets.sync.client import connect

from fixgw.sim import SimServer
from fixgw.sim.state import SimState


def _only_outbox(st: SimState) -> Any:
    (outbox,) = st.connections
    return outbox


def _server_protocol(st: SimState) -> Any:
    """uvicorn's protocol object of the one open connection."""
    return _only_outbox(st).websocket._receive.__self__


def _count_writes(sim: SimServer) -> list[bytes]:
    """Record every write of the one open connection's transport (the real transport still writes)."""
    writes: list[bytes] = []

    def install(st: SimState) -> None:
        transport = _server_protocol(st).transport
        real = transport.write

        def write(data: bytes) -> None:
            writes.append(bytes(data))
            real(data)

        transport.write = write

    sim.call(install)
    return writes


def _place(n: int, cid: str) -> dict[str, Any]:
    return signed_params(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="IOC", quantity="0.001",
                         price="20000", newClientOrderId=f"{cid}-{n}", newOrderRespType="RESULT")


def test_outbox_answer_and_events_of_one_order_leave_in_one_write(sim: SimServer) -> None:
    with connect(sim.ws_api_url, compression=None) as ws:
        assert request(ws, "sub", "userDataStream.subscribe.signature", signed_params())["status"] == 200
        writes = _count_writes(sim)
        ws.send(json.dumps({"id": "p", "method": "order.place", "params": _place(0, "one-write")}))
        got = [json.loads(ws.recv(timeout=5)) for _ in range(4)]
        written = list(writes)  # before the close frame
    # events first (published before the answer is made), then the answer: as before, now in one write
    kinds = [m["event"]["e"] if "event" in m else m["id"] for m in got]
    assert kinds == ["executionReport", "executionReport", "outboundAccountPosition", "p"]
    assert [m["event"]["x"] for m in got[:2]] == ["NEW", "EXPIRED"]
    assert len(written) == 1 and written[0].count(b'"subscriptionId":0') == 3


def test_outbox_paused_transport_queues_in_order_then_writes_everything(sim: SimServer) -> None:
    with connect(sim.ws_api_url, compression=None) as ws:
        assert request(ws, "sub", "userDataStream.subscribe.signature", signed_params())["status"] == 200
        sim.call(lambda st: _server_protocol(st).writable.clear())  # as a slow reader makes it
        for n in range(5):
            ws.send(json.dumps({"id": n, "method": "order.place", "params": _place(n, "paused")}))
        ws.send(json.dumps({"id": "ping", "method": "ping"}))
        sim.call(lambda st: _server_protocol(st).writable.set())
        got = [json.loads(ws.recv(timeout=5)) for _ in range(5 * 4 + 1)]
    answers = [m["id"] for m in got if "id" in m]
    assert answers == [0, 1, 2, 3, 4, "ping"]
    reports = [m["event"]["c"] for m in got if "event" in m and m["event"]["e"] == "executionReport"]
    assert reports == [f"paused-{n}" for n in range(5) for _ in range(2)]


def test_outbox_drop_discards_what_this_turn_sent(sim: SimServer) -> None:
    with connect(sim.ws_api_url, compression=None) as ws:
        assert request(ws, 1, "ping")["status"] == 200

        def send_then_drop(st: SimState) -> None:
            outbox = _only_outbox(st)
            outbox.send({"never": "written"})
            outbox.drop()

        sim.call(send_then_drop)
        try:
            data = ws.recv(timeout=5)
        except Exception as exc:  # the cut connection, without the message
            assert "never" not in repr(exc)
        else:
            raise AssertionError(f"a message arrived after the drop: {data!r}")


def test_ws_io_requests_are_read_without_pausing_the_socket_each_time(sim: SimServer) -> None:
    with connect(sim.ws_api_url, compression=None) as ws:
        assert request(ws, "first", "ping")["status"] == 200
        pauses: list[int] = []

        def count_pauses(st: SimState) -> None:
            transport = _server_protocol(st).transport
            real = transport.pause_reading

            def pause_reading() -> None:
                pauses.append(1)
                real()

            transport.pause_reading = pause_reading

        sim.call(count_pauses)
        for n in range(20):
            ws.send(json.dumps({"id": n, "method": "ping"}))
        assert [json.loads(ws.recv(timeout=5))["id"] for _ in range(20)] == list(range(20))
    assert pauses == []


def test_ws_io_binary_message_closes_only_that_connection(sim: SimServer) -> None:
    with connect(sim.ws_api_url, compression=None) as other, connect(sim.ws_api_url, compression=None) as ws:
        ws.send(b"\x00binary")
        try:
            data = ws.recv(timeout=5)
        except Exception as exc:
            assert "ConnectionClosed" in type(exc).__name__
        else:
            raise AssertionError(f"answered a binary message: {data!r}")
        assert request(other, "still", "ping")["status"] == 200
