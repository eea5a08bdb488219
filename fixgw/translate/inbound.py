"""FIX application messages -> normalized order requests, or the reject to answer.

``parse_request(message, symbols)`` reads one application message of FIX 4.2 or 4.4 and returns either a
request (``NewOrderRequest``, ``CancelRequest``, ``ReplaceRequest``, ``StatusRequest``,
``MassCancelRequest``, ``MassStatusRequest``) or a rejection value that says how to answer:

* ``OrderReject``       -> ExecutionReport 39=8 / 150=8 with OrdRejReason (103) and Text (58);
* ``CancelReject``      -> OrderCancelReject (35=9) with CxlRejResponseTo (434) and CxlRejReason (102);
* ``MassCancelReject``  -> OrderMassCancelReport (35=r) with MassCancelResponse 0;
* ``BusinessReject``    -> BusinessMessageReject (35=j) where the message cannot be answered in kind
  (unsupported type, or no ClOrdID to refer to).

Pure: no I/O, no clock. Checks that need state (duplicate ClOrdID, unknown order, limits) belong to the
caller; this module only judges what the message itself says.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Union

from ..errors import FieldValueError
from ..orders._fastinit import frozen_init
from ..orders.enums import OrderSide, OrderType, TimeInForce
from .symbols import SymbolMap
from .tables import ORD_TYPES, REJ, SIDES, TIME_IN_FORCE, table_for

__all__ = [
    "NewOrderRequest",
    "CancelRequest",
    "ReplaceRequest",
    "StatusRequest",
    "MassCancelRequest",
    "MassStatusRequest",
    "OrderReject",
    "CancelReject",
    "MassCancelReject",
    "BusinessReject",
    "Request",
    "Rejection",
    "parse_request",
    "ECHO_TAGS",
]

#: Tags of an order message echoed back on its reject (as the client sent them).
ECHO_TAGS = (1, 55, 54, 38, 40, 44, 99, 59)


@frozen_init
@dataclass(frozen=True, slots=True)
class NewOrderRequest:
    """NewOrderSingle (D). ``symbol`` is normalized; ``client_symbol`` is the client's spelling."""

    cl_ord_id: str
    symbol: str
    client_symbol: str
    side: OrderSide
    order_type: OrderType
    quantity: Decimal | None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    expire_time_ns: int | None = None
    post_only: bool = False
    #: CashOrderQty (152): a MARKET order by quote amount.
    quote_quantity: Decimal | None = None
    account: str | None = None
    #: MaxFloor (111): the quantity shown at a time (iceberg).
    max_floor: Decimal | None = None


@frozen_init
@dataclass(frozen=True, slots=True)
class CancelRequest:
    """OrderCancelRequest (F)."""

    cl_ord_id: str
    orig_cl_ord_id: str | None
    order_id: str | None
    symbol: str
    client_symbol: str
    side: OrderSide | None


@frozen_init
@dataclass(frozen=True, slots=True)
class ReplaceRequest:
    """OrderCancelReplaceRequest (G): the full new state of the order."""

    cl_ord_id: str
    orig_cl_ord_id: str | None
    order_id: str | None
    symbol: str
    client_symbol: str
    side: OrderSide
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    post_only: bool = False


@frozen_init
@dataclass(frozen=True, slots=True)
class StatusRequest:
    """OrderStatusRequest (H)."""

    cl_ord_id: str | None
    order_id: str | None
    client_symbol: str | None
    side: OrderSide | None
    ord_status_req_id: str | None = None


@frozen_init
@dataclass(frozen=True, slots=True)
class MassCancelRequest:
    """OrderMassCancelRequest (q): ``request_type`` 1 = one symbol, 7 = all orders."""

    cl_ord_id: str
    request_type: int
    symbol: str | None
    client_symbol: str | None
    side: OrderSide | None


@frozen_init
@dataclass(frozen=True, slots=True)
class MassStatusRequest:
    """OrderMassStatusRequest (AF): ``request_type`` 1 = one symbol, 7 = all orders."""

    mass_status_req_id: str
    request_type: int
    symbol: str | None
    client_symbol: str | None


@frozen_init
@dataclass(frozen=True, slots=True)
class OrderReject:
    """Answer with ExecutionReport Rejected; ``echo`` holds the request's fields as sent."""

    cl_ord_id: str
    reason: str  # a REJ name
    text: str
    echo: tuple[tuple[int, bytes], ...] = ()


@frozen_init
@dataclass(frozen=True, slots=True)
class CancelReject:
    """Answer with OrderCancelReject; ``response_to`` is 1 (F) or 2 (G)."""

    cl_ord_id: str
    orig_cl_ord_id: str | None
    order_id: str | None
    response_to: int
    reason: str  # a REJ name
    text: str


@frozen_init
@dataclass(frozen=True, slots=True)
class MassCancelReject:
    """Answer with OrderMassCancelReport, MassCancelResponse 0 and MassCancelRejectReason ``reason``."""

    cl_ord_id: str
    request_type: bytes
    reason: int  # 532: 0 not supported, 1 invalid security, ..., 99 other
    text: str


@frozen_init
@dataclass(frozen=True, slots=True)
class BusinessReject:
    """Answer with BusinessMessageReject (35=j)."""

    ref_seq_num: int | None
    ref_msg_type: bytes
    ref_id: str | None
    reason: int  # 380: 0 other, 1 unknown id, 2 unknown security, 3 unsupported type, 5 required field missing
    text: str


Request = Union[NewOrderRequest, CancelRequest, ReplaceRequest, StatusRequest, MassCancelRequest, MassStatusRequest]
Rejection = Union[OrderReject, CancelReject, MassCancelReject, BusinessReject]


class _Refuse(Exception):
    """Internal: a field check failed; carries the symbolic reason and text."""

    def __init__(self, reason: str, text: str) -> None:
        self.reason = reason
        self.text = text


def _seq(msg: object) -> int | None:
    v = msg.get(34)  # type: ignore[attr-defined]
    return int(v) if v and v.isdigit() else None


def _text(msg: object, tag: int) -> str | None:
    v = msg.get(tag)  # type: ignore[attr-defined]
    if v is None or v == b"":
        return None
    try:
        return v.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refuse(REJ.OTHER, f"tag {tag} is not valid text") from None


def _required_text(msg: object, tag: int, name: str) -> str:
    v = _text(msg, tag)
    if v is None:
        raise _Refuse(REJ.OTHER, f"{name} ({tag}) is required")
    return v


def _decimal(msg: object, tag: int, name: str, *, positive: bool = True) -> Decimal | None:
    if msg.get(tag) is None:  # type: ignore[attr-defined]
        return None
    try:
        d = msg.get_decimal(tag)  # type: ignore[attr-defined]
    except FieldValueError:
        raise _Refuse(REJ.OTHER, f"{name} ({tag}) is not a number") from None
    if positive and d <= 0:
        raise _Refuse(REJ.INCORRECT_QUANTITY if tag in (38, 152) else REJ.OTHER, f"{name} ({tag}) must be positive")
    return d


def _side(msg: object, *, required: bool = True) -> OrderSide | None:
    v = msg.get(54)  # type: ignore[attr-defined]
    if v is None:
        if required:
            raise _Refuse(REJ.OTHER, "Side (54) is required")
        return None
    side = SIDES.get(v)
    if side is None:
        raise _Refuse(REJ.UNSUPPORTED, f"Side (54) {v.decode('latin-1')} is not supported (1 buy, 2 sell)")
    return side


def _symbol(msg: object, symbols: SymbolMap) -> tuple[str, str]:
    client = _required_text(msg, 55, "Symbol")
    norm = symbols.normalized(client)
    if norm is None:
        raise _Refuse(REJ.UNKNOWN_SYMBOL, f"unknown symbol {client}")
    return norm, client


# OrdType groups (sets: one hash, no string comparisons, on every order's path).
_NEEDS_PRICE = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})
_NEEDS_STOP = frozenset({OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT})
_NO_PRICE = frozenset({OrderType.MARKET, OrderType.STOP, OrderType.TAKE_PROFIT})
_NO_STOP = frozenset({OrderType.MARKET, OrderType.LIMIT})


def _order_shape(msg: object) -> tuple[OrderType, Decimal | None, Decimal | None, TimeInForce | None, bool]:
    """Read OrdType, Price, StopPx, TimeInForce and post-only; check they fit together."""
    raw_type = msg.get(40)  # type: ignore[attr-defined]
    if raw_type is None:
        raise _Refuse(REJ.OTHER, "OrdType (40) is required")
    order_type = ORD_TYPES.get(raw_type)
    if order_type is None:
        raise _Refuse(REJ.UNSUPPORTED, f"OrdType (40) {raw_type.decode('latin-1')} is not supported")
    price = _decimal(msg, 44, "Price")
    stop = _decimal(msg, 99, "StopPx")
    if price is None and order_type in _NEEDS_PRICE:
        raise _Refuse(REJ.OTHER, f"Price (44) is required for a {order_type.value.replace('_', ' ')} order")
    if stop is None and order_type in _NEEDS_STOP:
        raise _Refuse(REJ.OTHER, f"StopPx (99) is required for a {order_type.value.replace('_', ' ')} order")
    if order_type in _NO_PRICE:
        price = None  # a price on a market order means nothing; do not send it on
    if order_type in _NO_STOP:
        stop = None
    tif = None
    raw_tif = msg.get(59)  # type: ignore[attr-defined]
    if raw_tif is not None:
        tif = TIME_IN_FORCE.get(raw_tif)
        if tif is None:
            raise _Refuse(REJ.UNSUPPORTED, f"TimeInForce (59) {raw_tif.decode('latin-1')} is not supported")
    exec_inst = msg.get(18)  # type: ignore[attr-defined]
    post_only = exec_inst is not None and b"6" in exec_inst.split(b" ")
    if post_only and order_type is not OrderType.LIMIT:
        raise _Refuse(REJ.UNSUPPORTED, "ExecInst (18) 6 (post-only) needs a limit order")
    return order_type, price, stop, tif, post_only


def _echo(msg: object) -> tuple[tuple[int, bytes], ...]:
    out = []
    for tag in ECHO_TAGS:
        v = msg.get(tag)  # type: ignore[attr-defined]
        if v is not None:
            out.append((tag, v))
    return tuple(out)


def _new_order(msg: object, symbols: SymbolMap) -> NewOrderRequest | Rejection:
    cl = _text(msg, 11)
    if cl is None:
        return BusinessReject(_seq(msg), b"D", None, 5, "ClOrdID (11) is required")
    try:
        norm, client = _symbol(msg, symbols)
        side = _side(msg)
        assert side is not None
        order_type, price, stop, tif, post_only = _order_shape(msg)
        qty = _decimal(msg, 38, "OrderQty")
        cash = _decimal(msg, 152, "CashOrderQty")
        if qty is None and cash is None:
            raise _Refuse(REJ.INCORRECT_QUANTITY, "OrderQty (38) is required")
        if qty is not None and cash is not None:
            raise _Refuse(REJ.INCORRECT_QUANTITY, "give OrderQty (38) or CashOrderQty (152), not both")
        if cash is not None and order_type is not OrderType.MARKET:
            raise _Refuse(REJ.UNSUPPORTED, "CashOrderQty (152) is for market orders only")
        floor = _decimal(msg, 111, "MaxFloor")
        if floor is not None and order_type not in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            raise _Refuse(REJ.UNSUPPORTED, "MaxFloor (111) (iceberg) needs a limit order")
        if floor is not None and (qty is None or floor >= qty):
            raise _Refuse(REJ.INCORRECT_QUANTITY, "MaxFloor (111) must be below OrderQty (38)")
        expire = None
        if tif is TimeInForce.GTD:
            if msg.get(126) is None:  # type: ignore[attr-defined]
                raise _Refuse(REJ.OTHER, "ExpireTime (126) is required with TimeInForce 6 (GTD)")
            try:
                expire = msg.get_utc_ns(126)  # type: ignore[attr-defined]
            except FieldValueError:
                raise _Refuse(REJ.OTHER, "ExpireTime (126) is not a UTCTimestamp") from None
        return NewOrderRequest(
            cl_ord_id=cl,
            symbol=norm,
            client_symbol=client,
            side=side,
            order_type=order_type,
            quantity=qty,
            price=price,
            stop_price=stop,
            time_in_force=tif,
            expire_time_ns=expire,
            post_only=post_only,
            quote_quantity=cash,
            account=_text(msg, 1),
            max_floor=floor,
        )
    except _Refuse as r:
        return OrderReject(cl, r.reason, r.text, _echo(msg))


def _ids(msg: object) -> tuple[str | None, str | None]:
    return _text(msg, 41), _text(msg, 37)


def _cancel(msg: object, symbols: SymbolMap) -> CancelRequest | Rejection:
    cl = _text(msg, 11)
    if cl is None:
        return BusinessReject(_seq(msg), b"F", None, 5, "ClOrdID (11) is required")
    orig: str | None = None
    oid: str | None = None
    try:
        orig, oid = _ids(msg)
        if orig is None and oid is None:
            raise _Refuse(REJ.UNKNOWN_ORDER, "OrigClOrdID (41) or OrderID (37) is required")
        norm, client = _symbol(msg, symbols)
        side = _side(msg, required=False)
        return CancelRequest(cl, orig, oid, norm, client, side)
    except _Refuse as r:
        return CancelReject(cl, orig, oid, 1, r.reason, r.text)


def _replace(msg: object, symbols: SymbolMap) -> ReplaceRequest | Rejection:
    cl = _text(msg, 11)
    if cl is None:
        return BusinessReject(_seq(msg), b"G", None, 5, "ClOrdID (11) is required")
    orig: str | None = None
    oid: str | None = None
    try:
        orig, oid = _ids(msg)
        if orig is None and oid is None:
            raise _Refuse(REJ.UNKNOWN_ORDER, "OrigClOrdID (41) or OrderID (37) is required")
        norm, client = _symbol(msg, symbols)
        side = _side(msg)
        assert side is not None
        order_type, price, stop, tif, post_only = _order_shape(msg)
        qty = _decimal(msg, 38, "OrderQty")
        if qty is None:
            raise _Refuse(REJ.INCORRECT_QUANTITY, "OrderQty (38) is required")
        return ReplaceRequest(cl, orig, oid, norm, client, side, order_type, qty, price, stop, tif, post_only)
    except _Refuse as r:
        return CancelReject(cl, orig, oid, 2, r.reason, r.text)


def _status(msg: object, symbols: SymbolMap) -> StatusRequest | Rejection:
    try:
        cl = _text(msg, 11)
        oid = _text(msg, 37)
        if cl is None and oid is None:
            return BusinessReject(_seq(msg), b"H", None, 5, "ClOrdID (11) or OrderID (37) is required")
        side = None
        try:
            side = _side(msg, required=False)
        except _Refuse:
            side = None  # a status query is answered whatever side it names
        return StatusRequest(cl, oid, _text(msg, 55), side, _text(msg, 790))
    except _Refuse as r:
        return BusinessReject(_seq(msg), b"H", None, 0, r.text)


def _mass_cancel(msg: object, symbols: SymbolMap) -> MassCancelRequest | Rejection:
    cl = _text(msg, 11)
    if cl is None:
        return BusinessReject(_seq(msg), b"q", None, 5, "ClOrdID (11) is required")
    raw = msg.get(530) or b""  # type: ignore[attr-defined]
    if raw not in (b"1", b"7"):
        return MassCancelReject(cl, raw, 0, "MassCancelRequestType (530) must be 1 (by symbol) or 7 (all orders)")
    norm = client = None
    try:
        if raw == b"1":
            norm, client = _symbol(msg, symbols)
        side = _side(msg, required=False)
    except _Refuse as r:
        return MassCancelReject(cl, raw, 1 if r.reason == REJ.UNKNOWN_SYMBOL else 99, r.text)
    return MassCancelRequest(cl, int(raw), norm, client, side)


def _mass_status(msg: object, symbols: SymbolMap) -> MassStatusRequest | Rejection:
    try:
        req_id = _text(msg, 584)
    except _Refuse as r:
        return BusinessReject(_seq(msg), b"AF", None, 0, r.text)
    if req_id is None:
        return BusinessReject(_seq(msg), b"AF", None, 5, "MassStatusReqID (584) is required")
    raw = msg.get(585) or b""  # type: ignore[attr-defined]
    if raw not in (b"1", b"7"):
        return BusinessReject(_seq(msg), b"AF", req_id, 0,
                              "MassStatusReqType (585) must be 1 (by symbol) or 7 (all orders)")
    norm = client = None
    if raw == b"1":
        try:
            norm, client = _symbol(msg, symbols)
        except _Refuse as r:
            return BusinessReject(_seq(msg), b"AF", req_id, 2, r.text)
    return MassStatusRequest(req_id, int(raw), norm, client)


_PARSERS = {b"D": _new_order, b"F": _cancel, b"G": _replace, b"H": _status, b"q": _mass_cancel, b"AF": _mass_status}
_MASS = frozenset({b"q", b"AF"})


def parse_request(msg: object, symbols: SymbolMap) -> Request | Rejection:
    """Translate one application message into a request, or the rejection to send back."""
    msg_type = msg.msg_type or b""  # type: ignore[attr-defined]
    begin = msg.begin_string or b""  # type: ignore[attr-defined]
    try:
        table = table_for(begin)
    except KeyError:
        return BusinessReject(_seq(msg), msg_type, None, 0, f"unsupported BeginString {begin!r}")
    parser = _PARSERS.get(msg_type)
    if parser is None or (msg_type in _MASS and not table.mass_messages):
        return BusinessReject(_seq(msg), msg_type, None, 3,
                              f"MsgType {msg_type.decode('latin-1')} is not supported by this gateway")
    try:
        return parser(msg, symbols)
    except _Refuse as r:  # a text field that is not text, before an id was known
        return BusinessReject(_seq(msg), msg_type, None, 0, r.text)
