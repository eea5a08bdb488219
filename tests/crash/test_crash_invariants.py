"""The crash suite's checks on hand-made histories: a clean run passes, and each kind of damage is named.

These run in milliseconds and show that every check of ``invariants.py`` can fail (the end-to-end
runs in ``test_crash_kill.py`` only show that they pass).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from .client import SentOrder
from .invariants import check_run

D1 = SentOrder("n1", "D", "BTC/USDT", "1", qty="0.00100", price="60000.00", tif="1")
D2 = SentOrder("n2", "D", "ETH/USDT", "2", qty="0.0200", price="3000.00", tif="3")
F1 = SentOrder("c1", "F", "BTC/USDT", "1", orig="n1")
SEQS = {"client_next_sender": 10, "client_next_target": 8, "gateway_next_sender": 8, "gateway_next_target": 10}


def er(seq: int, cl: str, oid: str, exec_id: str, exec_type: str, status: str, cum: str,
       last: str | None = None, orig: str | None = None) -> dict[int, str]:
    m = {35: "8", 34: str(seq), 11: cl, 37: oid, 17: exec_id, 150: exec_type, 39: status, 14: cum}
    if last is not None:
        m[32] = last
    if orig is not None:
        m[41] = orig
    return m


def clean() -> dict[str, Any]:
    """n1 rests, fills 0.0004, is cancelled by c1; n2 (IOC) fills fully in two trades."""
    messages = [
        er(2, "n1", "A-1", "A-1-1", "0", "0", "0"),
        er(3, "n2", "A-2", "A-2-1", "0", "0", "0"),
        er(4, "n2", "A-2", "A-2-2", "F", "1", "0.0150", last="0.0150"),
        er(5, "n2", "A-2", "A-2-3", "F", "2", "0.0200", last="0.0050"),
        er(6, "n1", "A-1", "A-1-2", "F", "1", "0.00040", last="0.00040"),
        er(7, "c1", "A-1", "A-1-3", "4", "4", "0.00040", orig="n1"),
    ]
    venue = {
        "orders": [
            {"symbol": "BTCUSDT", "orderId": 7, "clientOrderId": "A-1", "side": "BUY", "origQty": "0.00100",
             "executedQty": "0.00040", "status": "CANCELED"},
            {"symbol": "ETHUSDT", "orderId": 7, "clientOrderId": "A-2", "side": "SELL", "origQty": "0.0200",
             "executedQty": "0.0200", "status": "FILLED"},
        ],
        "fills": [
            {"symbol": "ETHUSDT", "orderId": 7, "tradeId": 1, "qty": "0.0150"},
            {"symbol": "ETHUSDT", "orderId": 7, "tradeId": 2, "qty": "0.0050"},
            {"symbol": "BTCUSDT", "orderId": 7, "tradeId": 1, "qty": "0.00040"},
        ],
    }
    wire = [("out", {35: "A", 34: "1"}), ("in", {35: "A", 34: "1"}),
            ("out", {35: "5", 34: "9"}), ("in", {35: "5", 34: "8"})]
    return {"sent": [D1, D2, F1], "messages": messages, "wire": wire, "venue": venue, "seqs": dict(SEQS)}


def run(h: dict[str, Any]) -> list[str]:
    return check_run(h["sent"], h["messages"], h["wire"], h["venue"], h["seqs"]).violations


def test_invariants_clean_history_no_violation() -> None:
    assert run(clean()) == []


def test_invariants_request_never_answered_reported() -> None:
    h = clean()
    h["sent"].append(SentOrder("n3", "D", "BTC/USDT", "1", qty="0.00101", price="60000.00", tif="1", burst=4))
    violations = run(h)
    assert len(violations) == 1 and "never answered" in violations[0] and "n3" in violations[0]


def test_invariants_order_placed_twice_at_venue_reported() -> None:
    h = clean()
    twin = dict(h["venue"]["orders"][0], orderId=9, clientOrderId="A-9", executedQty="0", status="CANCELED")
    h["venue"]["orders"].append(twin)
    violations = run(h)
    assert any("A-9 is not known to the client" in v for v in violations)
    assert any("n1 reached the venue 2 times" in v for v in violations)


def test_invariants_one_clordid_two_order_ids_reported() -> None:
    h = clean()
    h["messages"].append(er(8, "n2", "A-5", "A-5-1", "0", "0", "0"))
    assert any("n2 reported under 2 OrderIDs" in v for v in run(h))


def test_invariants_fill_reported_twice_reported() -> None:
    h = clean()
    h["messages"].insert(3, copy.deepcopy(h["messages"][2]))  # the first fill of n2 again
    violations = run(h)
    assert any("ExecID(s) reported more than once" in v and "A-2-2" in v for v in violations)
    assert any("fills reported 0.0350 in 3 report(s), venue executed 0.0200 in 2 trade(s)" in v
               for v in violations)


def test_invariants_fill_never_reported_reported() -> None:
    h = clean()
    del h["messages"][4]  # n1's fill
    h["messages"][-1][14] = "0"
    violations = run(h)
    assert any("n1 (A-1): fills reported 0 in 0 report(s), venue executed 0.00040" in v for v in violations)
    assert any("n1 (A-1): last CumQty 0 != venue executed 0.00040" in v for v in violations)


def test_invariants_status_disagrees_with_venue_reported() -> None:
    h = clean()
    h["venue"]["orders"][0]["status"] = "PARTIALLY_FILLED"  # the client was told Canceled
    assert any("last OrdStatus 4, venue status PARTIALLY_FILLED" in v for v in run(h))


def test_invariants_order_reported_but_not_at_venue_reported() -> None:
    h = clean()
    del h["venue"]["orders"][0]
    h["venue"]["fills"].pop()
    assert any("n1 (A-1): client told OrdStatus 4" in v and "no such order" in v for v in run(h))


def test_invariants_rejected_order_absent_at_venue_passes() -> None:
    h = clean()
    h["sent"].append(SentOrder("n3", "D", "BTC/USDT", "2", qty="0.00101", price="61000.00", tif="1"))
    h["messages"].append(er(8, "n3", "A-3", "A-3-1", "8", "8", "0"))
    assert run(h) == []


@pytest.mark.parametrize(("key", "delta", "text"), [
    ("gateway_next_target", -3, "gateway expects 7 but the client's next is 10"),
    ("gateway_next_sender", 2, "client expects 8 but the gateway's next is 10"),
])
def test_invariants_sequence_numbers_disagree_reported(key: str, delta: int, text: str) -> None:
    h = clean()
    h["seqs"][key] += delta
    assert run(h) == [text]


def test_invariants_closing_logout_stored_but_unread_passes() -> None:
    h = clean()
    h["seqs"]["gateway_next_sender"] += 1
    h["seqs"]["gateway_unread_types"] = ["5"]
    assert run(h) == []


def test_invariants_report_stored_but_unread_reported() -> None:
    h = clean()
    h["seqs"]["gateway_next_sender"] += 2
    h["seqs"]["gateway_unread_types"] = ["8", "5"]
    assert run(h) == ["client expects 8 but the gateway's next is 10 (stored, never read: MsgTypes ['8', '5'])"]


def test_invariants_logout_mid_run_reported() -> None:
    h = clean()
    h["wire"].insert(2, ("in", {35: "5", 34: "4", 58: "MsgSeqNum too low, expecting 12 but received 9"}))
    violations = run(h)
    assert len(violations) == 1 and "too low" in violations[0] and "from the gateway" in violations[0]


def test_invariants_session_reject_reported() -> None:
    h = clean()
    h["wire"].insert(2, ("in", {35: "3", 34: "4", 45: "3", 58: "Required tag missing"}))
    assert any("session Reject received" in v for v in run(h))
