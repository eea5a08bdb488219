"""JSON on the venue path and in the journal: the standard library against orjson and msgspec.

Encodes and decodes the payloads one order produces (a signed WebSocket API ``order.place`` request, its
answer, a user-data ``executionReport`` event, a journal record) with each codec importable here, and
prints microseconds per operation. Text out (what a WebSocket text frame and a TEXT column take), so a
codec that gives bytes pays its ``decode()``. Codecs that are not installed are skipped.

    python bench/jsoncodecs.py [--number 20000]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any, Callable

REQUEST = {
    "id": "o12345",
    "method": "order.place",
    "params": {
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "IOC", "quantity": "0.00100",
        "price": "30000.00", "newClientOrderId": "FIXGW-acct-12345-0", "newOrderRespType": "RESULT",
        "apiKey": "k" * 64, "timestamp": 1733450000000, "recvWindow": 5000, "signature": "f" * 64,
    },
}
ANSWER = {
    "id": "o12345", "status": 200,
    "result": {
        "symbol": "BTCUSDT", "orderId": 28, "orderListId": -1, "clientOrderId": "FIXGW-acct-12345-0",
        "transactTime": 1733450000001, "price": "30000.00000000", "origQty": "0.00100000",
        "executedQty": "0.00000000", "cummulativeQuoteQty": "0.00000000", "status": "EXPIRED",
        "timeInForce": "IOC", "type": "LIMIT", "side": "BUY", "workingTime": 1733450000001,
        "selfTradePreventionMode": "NONE",
    },
    "rateLimits": [
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 50, "count": 1},
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000, "count": 3},
    ],
}
EVENT = {
    "subscriptionId": 0,
    "event": {
        "e": "executionReport", "E": 1733450000002, "s": "BTCUSDT", "c": "FIXGW-acct-12345-0", "S": "BUY",
        "o": "LIMIT", "f": "IOC", "q": "0.00100000", "p": "30000.00000000", "P": "0.00000000",
        "F": "0.00000000", "g": -1, "C": "", "x": "EXPIRED", "X": "EXPIRED", "r": "NONE", "i": 28,
        "l": "0.00000000", "z": "0.00000000", "L": "0.00000000", "n": "0", "N": None, "T": 1733450000001,
        "t": -1, "I": 64, "w": False, "m": False, "M": False, "O": 1733450000001, "Z": "0.00000000",
        "Y": "0.00000000", "Q": "0.00000000", "W": 1733450000001, "V": "NONE",
    },
}
RECORD = {
    "type": "OrderFilled", "order_id": "acct-12345", "ts_ns": 1733450000002000000, "trade_id": "BTCUSDT:991",
    "last_qty": "0.001", "last_px": "30000.01", "fee": "0.00000100", "fee_currency": "BTC",
    "liquidity": "2", "venue_order_id": "28",
}
PAYLOADS = {"order.place request": REQUEST, "order.place answer": ANSWER, "executionReport": EVENT,
            "journal record": RECORD}


def codecs() -> dict[str, tuple[Callable[[Any], str], Callable[[str], Any]]]:
    """Every codec importable here: name -> (encode to text, decode from text)."""
    compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
    found: dict[str, tuple[Callable[[Any], str], Callable[[str], Any]]] = {
        "json.dumps/loads": (lambda o: json.dumps(o, separators=(",", ":"), ensure_ascii=False), json.loads),
        "json, one encoder": (compact.encode, json.loads),
    }
    try:
        import orjson
    except ImportError:
        pass
    else:
        found["orjson"] = (lambda o: orjson.dumps(o).decode(), orjson.loads)
    try:
        import msgspec
    except ImportError:
        pass
    else:
        enc, dec = msgspec.json.Encoder(), msgspec.json.Decoder()
        found["msgspec"] = (lambda o: enc.encode(o).decode(), dec.decode)
    return found


def per_op_us(fn: Callable[[Any], Any], arg: Any, number: int) -> float:
    """Best of three runs of ``number`` calls, in microseconds per call."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(number):
            fn(arg)
        best = min(best, time.perf_counter() - start)
    return best / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--number", type=int, default=20000, help="calls per timing (default 20000)")
    args = parser.parse_args()
    table = codecs()
    print(f"{'payload':22s} {'codec':18s} {'encode us':>10s} {'decode us':>10s}")
    for pname, payload in PAYLOADS.items():
        text = json.dumps(payload, separators=(",", ":"))
        for cname, (encode, decode) in table.items():
            assert json.loads(encode(payload)) == payload and decode(text) == payload
            print(f"{pname:22s} {cname:18s} {per_op_us(encode, payload, args.number):10.2f}"
                  f" {per_op_us(decode, text, args.number):10.2f}")


if __name__ == "__main__":
    main()
