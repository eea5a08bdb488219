"""FIX requests -> order requests or rejections, table-driven over FIX 4.2 and 4.4."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fixgw.orders.enums import OrderSide, OrderType, TimeInForce

from fixgw.codec import Message, Parser, encode
from fixgw.translate import (
    REJ,
    BusinessReject,
    CancelReject,
    CancelRequest,
    MassCancelReject,
    MassCancelRequest,
    MassStatusRequest,
    NewOrderRequest,
    OrderReject,
    ReplaceRequest,
    StatusRequest,
    SymbolMap,
    parse_request,
)

VERSIONS = ["FIX.4.2", "FIX.4.4"]
SYMBOLS = SymbolMap([("BTC/USDT", "BTC", "USDT"), ("ETH/USDT", "ETH", "USDT")])


def fix(begin: str, msg_type: str, fields: list[tuple[int, object]]) -> Message:
    p = Parser()
    p.feed(encode(begin, msg_type, [(49, "C"), (56, "G"), (34, 7), (52, "20261125-02:00:00.000"), *fields]))
    m = p.next_event()
    assert isinstance(m, Message)
    return m


NOS = [(11, "c1"), (55, "BTC/USDT"), (54, "1"), (38, "0.5"), (40, "2"), (44, "30000.10"), (59, "1"),
       (60, "20261125-02:00:00.000")]


def with_(base: list[tuple[int, object]], **changes: object) -> list[tuple[int, object]]:
    """Replace (``t44="1"``) or drop (``t44=None``) fields; new tags are appended."""
    out = []
    seen = set()
    for tag, v in base:
        key = f"t{tag}"
        if key in changes:
            seen.add(key)
            if changes[key] is None:
                continue
            out.append((tag, changes[key]))
        else:
            out.append((tag, v))
    for key, v in changes.items():
        if key not in seen and v is not None:
            out.append((int(key[1:]), v))
    return out


@pytest.mark.parametrize("begin", VERSIONS)
def test_new_order_limit_valid_becomes_request(begin: str) -> None:
    r = parse_request(fix(begin, "D", NOS), SYMBOLS)
    assert r == NewOrderRequest(
        cl_ord_id="c1", symbol="BTC/USDT", client_symbol="BTC/USDT", side=OrderSide.BUY, order_type=OrderType.LIMIT,
        quantity=Decimal("0.5"), price=Decimal("30000.10"), time_in_force=TimeInForce.GTC,
    )


@pytest.mark.parametrize("begin", VERSIONS)
@pytest.mark.parametrize(
    ("changes", "expect"),
    [
        ({"t40": "1", "t44": None, "t59": None}, {"order_type": OrderType.MARKET, "price": None, "time_in_force": None}),
        ({"t40": "1", "t59": "3"}, {"order_type": OrderType.MARKET, "price": None, "time_in_force": TimeInForce.IOC}),
        ({"t40": "3", "t44": None, "t99": "29000"}, {"order_type": OrderType.STOP, "price": None,
                                                     "stop_price": Decimal("29000")}),
        ({"t40": "4", "t99": "29000"}, {"order_type": OrderType.STOP_LIMIT, "stop_price": Decimal("29000")}),
        ({"t59": "4"}, {"time_in_force": TimeInForce.FOK}),
        ({"t59": "0"}, {"time_in_force": TimeInForce.DAY}),
        ({"t18": "6"}, {"post_only": True}),
        ({"t18": "G 6"}, {"post_only": True}),
        ({"t54": "2"}, {"side": OrderSide.SELL}),
        ({"t1": "acct-7"}, {"account": "acct-7"}),
        ({"t40": "1", "t44": None, "t38": None, "t152": "100"}, {"order_type": OrderType.MARKET, "price": None,
                                                                 "quantity": None,
                                                                 "quote_quantity": Decimal("100")}),
    ],
)
def test_new_order_variants_translate_fields(begin: str, changes: dict, expect: dict) -> None:
    r = parse_request(fix(begin, "D", with_(NOS, **changes)), SYMBOLS)
    assert isinstance(r, NewOrderRequest)
    for k, v in expect.items():
        assert getattr(r, k) == v, k


@pytest.mark.parametrize("begin", VERSIONS)
@pytest.mark.parametrize(
    ("changes", "reason", "fragment"),
    [
        ({"t55": "DOGE/XYZ"}, REJ.UNKNOWN_SYMBOL, "unknown symbol"),
        ({"t55": None}, REJ.OTHER, "Symbol (55) is required"),
        ({"t54": None}, REJ.OTHER, "Side (54) is required"),
        ({"t54": "5"}, REJ.UNSUPPORTED, "Side (54) 5"),
        ({"t38": None}, REJ.INCORRECT_QUANTITY, "OrderQty (38) is required"),
        ({"t38": "0"}, REJ.INCORRECT_QUANTITY, "must be positive"),
        ({"t38": "-1"}, REJ.INCORRECT_QUANTITY, "must be positive"),
        ({"t38": "abc"}, REJ.OTHER, "not a number"),
        ({"t40": None}, REJ.OTHER, "OrdType (40) is required"),
        ({"t40": "P"}, REJ.UNSUPPORTED, "OrdType (40) P"),
        ({"t44": None}, REJ.OTHER, "Price (44) is required"),
        ({"t44": "0"}, REJ.OTHER, "Price (44) must be positive"),
        ({"t40": "3", "t44": None}, REJ.OTHER, "StopPx (99) is required"),
        ({"t40": "4"}, REJ.OTHER, "StopPx (99) is required"),
        ({"t59": "2"}, REJ.UNSUPPORTED, "TimeInForce (59) 2"),
        ({"t59": "6"}, REJ.OTHER, "ExpireTime (126)"),
        ({"t59": "6", "t126": "tomorrow"}, REJ.OTHER, "not a UTCTimestamp"),
        ({"t40": "1", "t44": None, "t18": "6"}, REJ.UNSUPPORTED, "post-only"),
        ({"t152": "5"}, REJ.INCORRECT_QUANTITY, "not both"),
        ({"t38": None, "t152": "5"}, REJ.UNSUPPORTED, "market orders only"),
    ],
)
def test_new_order_invalid_field_rejects_with_reason(begin: str, changes: dict, reason: str, fragment: str) -> None:
    r = parse_request(fix(begin, "D", with_(NOS, **changes)), SYMBOLS)
    assert isinstance(r, OrderReject)
    assert r.cl_ord_id == "c1"
    assert r.reason == reason
    assert fragment in r.text
    assert dict(r.echo).get(11) is None  # echo holds order fields only


@pytest.mark.parametrize("begin", VERSIONS)
@pytest.mark.parametrize("msg_type", ["D", "F", "G", "q"])
def test_request_without_clordid_business_rejected(begin: str, msg_type: str) -> None:
    if msg_type == "q" and begin == "FIX.4.2":
        pytest.skip("q does not exist in FIX 4.2")
    r = parse_request(fix(begin, msg_type, with_(NOS, t11=None)), SYMBOLS)
    assert isinstance(r, BusinessReject)
    assert (r.reason, r.ref_msg_type, r.ref_seq_num) == (5, msg_type.encode(), 7)


@pytest.mark.parametrize("begin", VERSIONS)
def test_new_order_non_utf8_clordid_business_rejected(begin: str) -> None:
    r = parse_request(fix(begin, "D", with_(NOS, t11=b"\xff\xfe")), SYMBOLS)
    assert isinstance(r, BusinessReject) and r.reason == 0


@pytest.mark.parametrize("begin", VERSIONS)
@pytest.mark.parametrize("msg_type", ["E", "R", "AB"])
def test_unsupported_msg_type_business_rejected_3(begin: str, msg_type: str) -> None:
    r = parse_request(fix(begin, msg_type, [(11, "x")]), SYMBOLS)
    assert isinstance(r, BusinessReject) and r.reason == 3


@pytest.mark.parametrize("msg_type", ["q", "AF"])
def test_mass_messages_in_fix42_business_rejected_3(msg_type: str) -> None:
    r = parse_request(fix("FIX.4.2", msg_type, [(11, "x"), (530, "7"), (584, "m"), (585, "7")]), SYMBOLS)
    assert isinstance(r, BusinessReject) and r.reason == 3


CXL = [(41, "c1"), (11, "c2"), (55, "BTC/USDT"), (54, "1"), (60, "20261125-02:00:00.000")]


@pytest.mark.parametrize("begin", VERSIONS)
def test_cancel_valid_becomes_request(begin: str) -> None:
    r = parse_request(fix(begin, "F", CXL), SYMBOLS)
    assert r == CancelRequest("c2", "c1", None, "BTC/USDT", "BTC/USDT", OrderSide.BUY)


@pytest.mark.parametrize("begin", VERSIONS)
@pytest.mark.parametrize(
    ("changes", "reason", "fragment"),
    [
        ({"t41": None}, REJ.UNKNOWN_ORDER, "OrigClOrdID (41) or OrderID (37)"),
        ({"t55": "NOPE/NOPE"}, REJ.UNKNOWN_SYMBOL, "unknown symbol"),
        ({"t55": None}, REJ.OTHER, "Symbol (55)"),
        ({"t54": "9"}, REJ.UNSUPPORTED, "Side (54)"),
    ],
)
def test_cancel_invalid_field_cancel_rejected_434_1(begin: str, changes: dict, reason: str, fragment: str) -> None:
    r = parse_request(fix(begin, "F", with_(CXL, **changes)), SYMBOLS)
    assert isinstance(r, CancelReject)
    assert (r.cl_ord_id, r.response_to, r.reason) == ("c2", 1, reason)
    assert fragment in r.text


def test_cancel_by_order_id_only_accepted() -> None:
    r = parse_request(fix("FIX.4.4", "F", with_(CXL, t41=None, t37="O-1")), SYMBOLS)
    assert isinstance(r, CancelRequest) and r.order_id == "O-1" and r.orig_cl_ord_id is None


RPL = [(41, "c1"), (11, "c3"), (55, "BTC/USDT"), (54, "1"), (38, "0.7"), (40, "2"), (44, "30001"), (21, "1"),
       (60, "20261125-02:00:00.000")]


@pytest.mark.parametrize("begin", VERSIONS)
def test_replace_valid_becomes_request(begin: str) -> None:
    r = parse_request(fix(begin, "G", RPL), SYMBOLS)
    assert r == ReplaceRequest("c3", "c1", None, "BTC/USDT", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, Decimal("0.7"),
                               Decimal("30001"))


@pytest.mark.parametrize("begin", VERSIONS)
@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"t41": None}, REJ.UNKNOWN_ORDER),
        ({"t38": None}, REJ.INCORRECT_QUANTITY),
        ({"t38": "0"}, REJ.INCORRECT_QUANTITY),
        ({"t44": None}, REJ.OTHER),
        ({"t40": "Z"}, REJ.UNSUPPORTED),
        ({"t55": "X/Y"}, REJ.UNKNOWN_SYMBOL),
        ({"t54": None}, REJ.OTHER),
    ],
)
def test_replace_invalid_field_cancel_rejected_434_2(begin: str, changes: dict, reason: str) -> None:
    r = parse_request(fix(begin, "G", with_(RPL, **changes)), SYMBOLS)
    assert isinstance(r, CancelReject)
    assert (r.response_to, r.reason, r.cl_ord_id) == (2, reason, "c3")


@pytest.mark.parametrize("begin", VERSIONS)
def test_status_request_by_clordid_becomes_request(begin: str) -> None:
    r = parse_request(fix(begin, "H", [(11, "c1"), (55, "BTC/USDT"), (54, "1"), (790, "s-1")]), SYMBOLS)
    assert r == StatusRequest("c1", None, "BTC/USDT", OrderSide.BUY, "s-1")


@pytest.mark.parametrize("begin", VERSIONS)
def test_status_request_without_ids_business_rejected(begin: str) -> None:
    r = parse_request(fix(begin, "H", [(55, "BTC/USDT"), (54, "1")]), SYMBOLS)
    assert isinstance(r, BusinessReject) and r.reason == 5


@pytest.mark.parametrize(
    ("fields", "expect"),
    [
        ([(11, "m1"), (530, "7"), (60, "20261125-02:00:00")], MassCancelRequest("m1", 7, None, None, None)),
        ([(11, "m1"), (530, "1"), (55, "ETH/USDT"), (54, "2")],
         MassCancelRequest("m1", 1, "ETH/USDT", "ETH/USDT", OrderSide.SELL)),
    ],
)
def test_mass_cancel_valid_becomes_request(fields: list, expect: MassCancelRequest) -> None:
    assert parse_request(fix("FIX.4.4", "q", fields), SYMBOLS) == expect


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ([(11, "m1"), (530, "3")], 0),
        ([(11, "m1")], 0),
        ([(11, "m1"), (530, "1"), (55, "NO/NO")], 1),
        ([(11, "m1"), (530, "1")], 99),
    ],
)
def test_mass_cancel_invalid_mass_cancel_rejected(fields: list, reason: int) -> None:
    r = parse_request(fix("FIX.4.4", "q", fields), SYMBOLS)
    assert isinstance(r, MassCancelReject) and r.reason == reason and r.cl_ord_id == "m1"


@pytest.mark.parametrize(
    ("fields", "expect"),
    [
        ([(584, "s1"), (585, "7")], MassStatusRequest("s1", 7, None, None)),
        ([(584, "s1"), (585, "1"), (55, "BTC/USDT")], MassStatusRequest("s1", 1, "BTC/USDT", "BTC/USDT")),
        ([(585, "7")], BusinessReject(7, b"AF", None, 5, "MassStatusReqID (584) is required")),
    ],
)
def test_mass_status_request_translated(fields: list, expect: object) -> None:
    assert parse_request(fix("FIX.4.4", "AF", fields), SYMBOLS) == expect


@pytest.mark.parametrize(("fields", "reason"), [([(584, "s1"), (585, "4")], 0),
                                                ([(584, "s1"), (585, "1"), (55, "Q/Q")], 2)])
def test_mass_status_invalid_business_rejected(fields: list, reason: int) -> None:
    r = parse_request(fix("FIX.4.4", "AF", fields), SYMBOLS)
    assert isinstance(r, BusinessReject) and r.reason == reason and r.ref_id == "s1"


def test_symbol_map_custom_format_maps_both_ways() -> None:
    m = SymbolMap([("BTC/USDT", "BTC", "USDT")], "{base}-{quote}")
    assert m.normalized("BTC-USDT") == "BTC/USDT"
    assert m.client("BTC/USDT") == "BTC-USDT"
    assert m.normalized("BTC/USDT") is None
    assert "BTC-USDT" in m and len(m) == 1
