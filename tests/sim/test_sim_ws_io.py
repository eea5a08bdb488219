"""WebSocket connection I/O over loopback: one write per connection and loop turn, order kept, drops discard;
requests read without pausing the socket between them, and run where they are read when the reader is idle;
user-data events formatted only for an account someone listens to."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from sim_helpers import request, signed_params
from websockets.sync.client import connect

from fixgw.sim import NewOrder, SimConfig, SimServer, formats
from fixgw.sim.model import ExecutionReport
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


def _count_queued_texts(sim: SimServer) -> list[str]:
    """Record every text message that goes through the one open connection's inbox queue."""
    queued: list[str] = []

    def install(st: SimState) -> None:
        queue = _server_protocol(st).queue
        real = queue._put

        def put(message: Any) -> None:
            if message.get("type") == "websocket.receive" and "text" in message:
                queued.append(message["text"])
            real(message)

        queue._put = put

    sim.call(install)
    return queued


def test_ws_io_request_to_an_idle_reader_runs_without_the_inbox_queue(sim: SimServer) -> None:
    sim.reset_faults()
    with connect(sim.ws_api_url, compression=None) as ws:
        assert request(ws, "first", "ping")["status"] == 200
        queued = _count_queued_texts(sim)
        for n in range(10):  # one at a time: each finds the reader waiting
            ws.send(json.dumps({"id": n, "method": "order.place", "params": _place(n, "at-once")}))
            answer = json.loads(ws.recv(timeout=5))
            assert (answer["id"], answer["status"], answer["result"]["status"]) == (n, 200, "EXPIRED")
    assert queued == []


def test_ws_io_latency_fault_requests_queue_and_are_answered_in_order(sim: SimServer) -> None:
    sim.reset_faults()
    with connect(sim.ws_api_url, compression=None) as ws:
        assert request(ws, "first", "ping")["status"] == 200
        queued = _count_queued_texts(sim)
        sim.set_faults(latency_ms=30)
        try:
            for n in range(6):
                ws.send(json.dumps({"id": n, "method": "ping"}))
            got = [json.loads(ws.recv(timeout=5))["id"] for _ in range(6)]
        finally:
            sim.reset_faults()
        assert got == list(range(6))
        assert len(queued) == 6  # every one waited its turn in the queue
        for n in range(6, 9):  # the fault off again: answered at once, still in order
            ws.send(json.dumps({"id": n, "method": "ping"}))
        assert [json.loads(ws.recv(timeout=5))["id"] for _ in range(3)] == [6, 7, 8]


def test_ws_io_request_failing_inside_closes_only_that_connection(sim: SimServer) -> None:
    sim.reset_faults()
    with connect(sim.ws_api_url, compression=None) as other, connect(sim.ws_api_url, compression=None) as ws:
        assert request(ws, "first", "ping")["status"] == 200

        def break_engine(st: SimState) -> Any:
            real = st.engine.place

            def place(*args: Any, **kwargs: Any) -> Any:
                st.engine.place = real  # once
                raise RuntimeError("engine failure for the test")

            st.engine.place = place

        sim.call(break_engine)
        ws.send(json.dumps({"id": "boom", "method": "order.place", "params": _place(0, "boom")}))
        try:
            data = ws.recv(timeout=5)
        except Exception as exc:
            assert "ConnectionClosed" in type(exc).__name__
        else:
            raise AssertionError(f"answered after the failure: {data!r}")
        assert request(other, "still", "ping")["status"] == 200


class _Sink:
    """Records what ``publish`` hands one subscription (an Outbox's ``send_json`` side only)."""

    closed = False

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    def send_json(self, data: bytes) -> None:
        self.messages.append(data)


def test_publish_events_of_an_account_nobody_listens_to_are_not_formatted() -> None:
    st = SimState(SimConfig(market_maker=None))
    (account,) = {k.account_id for k in st.keys.values()}
    calls: list[str] = []
    real = formats.USER_EVENT_FORMATS[ExecutionReport]

    def counting(ev: ExecutionReport) -> Any:
        calls.append(ev.exec_type)
        return real(ev)

    formats.USER_EVENT_FORMATS[ExecutionReport] = counting
    try:
        order = NewOrder("BTCUSDT", "BUY", "LIMIT", Decimal("0.001"), Decimal("20000"), "IOC")
        st.engine.place(account, order, 1)
        st.publish()
        assert calls == []  # no subscription: nothing formatted, nothing sent
        sink = _Sink()
        st.user_subs[account] = [(sink, 7)]  # type: ignore[list-item]
        st.engine.place(account, order, 2)
        st.publish()
    finally:
        formats.USER_EVENT_FORMATS[ExecutionReport] = real
    assert calls == ["NEW", "EXPIRED"]
    assert [json.loads(m)["event"]["e"] for m in sink.messages] == [
        "executionReport", "executionReport", "outboundAccountPosition"]
    assert all(json.loads(m)["subscriptionId"] == 7 for m in sink.messages)
