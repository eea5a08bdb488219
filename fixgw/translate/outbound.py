"""Order events -> FIX messages: ExecutionReport, OrderCancelReject, OrderMassCancelReport,
BusinessMessageReject.

Every builder returns ``(msg_type, body_fields)`` ready for ``Session.send``; the session adds the header.
The version table (``tables``) decides ExecType, OrdStatus, ExecTransType and reject codes, so a builder is
written once for FIX 4.2 and 4.4. Every decimal goes out as the bytes of ``decimals.wire_text``: plain
notation, trailing zeros stripped, AvgPx rounded half-even to ``ExecReport.avg_px_places``. Pure: times
come in as ``transact_time_ns``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

from ..codec import format_utc_timestamp
from ..orders.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from . import decimals as _decimals
from .decimals import AVG_PX_PLACES, plain, wire_text
from .inbound import BusinessReject, CancelReject, MassCancelReject, NewOrderRequest, OrderReject
from .tables import ExecKind, VersionTable

__all__ = [
    "ExecReport",
    "execution_report",
    "report_fields",
    "order_reject",
    "refuse_order",
    "cancel_reject",
    "business_reject",
    "mass_cancel_report",
    "SIDE_CODES",
    "ORD_TYPE_CODES",
    "TIF_CODES",
    "REPORT_IMPLEMENTATION",
]

Fields = list[tuple[int, Any]]

SIDE_CODES = {OrderSide.BUY: b"1", OrderSide.SELL: b"2", OrderSide.SELL_SHORT: b"5"}
ORD_TYPE_CODES = {OrderType.MARKET: b"1", OrderType.LIMIT: b"2", OrderType.STOP: b"3", OrderType.STOP_LIMIT: b"4",
                  OrderType.TAKE_PROFIT: b"J"}
TIF_CODES = {TimeInForce.DAY: b"0", TimeInForce.GTC: b"1", TimeInForce.IOC: b"3", TimeInForce.FOK: b"4",
             TimeInForce.GTD: b"6"}
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ExecReport:
    """One ExecutionReport, version-neutral. ``symbol`` is the client's spelling."""

    kind: ExecKind
    status: OrderStatus
    order_id: str
    exec_id: str
    cl_ord_id: str | None
    symbol: str
    side: OrderSide
    cum_qty: Decimal
    leaves_qty: Decimal
    avg_px: Decimal
    transact_time_ns: int
    orig_cl_ord_id: str | None = None
    order_type: OrderType | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    post_only: bool = False
    last_qty: Decimal | None = None
    last_px: Decimal | None = None
    text: str | None = None
    ord_rej_reason: str | None = None  # a REJ name
    account: str | None = None
    ord_status_req_id: str | None = None
    mass_status_req_id: str | None = None
    tot_num_reports: int | None = None
    last_rpt_requested: bool | None = None
    #: Decimals of AvgPx (6): ``decimals.avg_px_places`` of the instrument's tick.
    avg_px_places: int = AVG_PX_PLACES


def _put(out: Fields, tag: int, value: Any) -> None:
    if value is not None:
        out.append((tag, value))


def _put_decimal(out: Fields, tag: int, value: Decimal | None) -> None:
    if value is not None:
        out.append((tag, wire_text(value)))


def execution_report(table: VersionTable, r: ExecReport) -> tuple[bytes, Fields]:
    """Build an ExecutionReport (35=8) for ``r`` in the version of ``table``."""
    return b"8", report_fields(
        table, r.kind, r.status, r.order_id, r.exec_id, r.cl_ord_id, r.orig_cl_ord_id, r.symbol, r.side,
        r.order_type, r.quantity, r.price, r.stop_price, r.time_in_force, r.post_only, r.last_qty, r.last_px,
        r.leaves_qty, r.cum_qty, r.avg_px, r.avg_px_places, r.transact_time_ns, r.text, r.ord_rej_reason,
        r.account, r.ord_status_req_id, r.mass_status_req_id, r.tot_num_reports, r.last_rpt_requested,
    )


def pure_report_fields(
    table: VersionTable, kind: ExecKind, status: OrderStatus, order_id: str, exec_id: str, cl_ord_id: str | None,
    orig_cl_ord_id: str | None, symbol: str, side: OrderSide, order_type: OrderType | None,
    quantity: Decimal | None, price: Decimal | None, stop_price: Decimal | None,
    time_in_force: TimeInForce | None, post_only: bool, last_qty: Decimal | None, last_px: Decimal | None,
    leaves_qty: Decimal, cum_qty: Decimal, avg_px: Decimal, avg_px_places: int, transact_time_ns: int,
    text: str | None = None, ord_rej_reason: str | None = None, account: str | None = None,
    ord_status_req_id: str | None = None, mass_status_req_id: str | None = None,
    tot_num_reports: int | None = None, last_rpt_requested: bool | None = None,
) -> Fields:
    """The body fields of an ExecutionReport, the terms of ``ExecReport`` given one by one, in wire order.

    ``execution_report`` passes an ``ExecReport``'s; ``reports.reply_for_event`` passes an order's
    directly (every order's reports take this path, and building the frozen record costs as much as
    writing the fields).

    This function is the specification; ``report_fields`` is its compiled twin (``fixgw_ext._report``)
    when that is built, else this one (``REPORT_IMPLEMENTATION`` says which).
    """
    wt = wire_text
    f: Fields = [(37, order_id)]
    append = f.append
    if cl_ord_id is not None:
        append((11, cl_ord_id))
    if orig_cl_ord_id is not None:
        append((41, orig_cl_ord_id))
    append((17, exec_id))
    if table.has_exec_trans_type:
        append((20, b"3" if kind is ExecKind.ORDER_STATUS else b"0"))
    append((150, table.exec_type_for(kind, status)))
    if kind is ExecKind.REPLACED and table.replaced_ord_status is not None:
        append((39, table.replaced_ord_status))
    else:
        append((39, table.ord_status[status]))
    if ord_rej_reason is not None:
        append((103, table.ord_rej_reason[ord_rej_reason]))
    if account is not None:
        append((1, account))
    append((55, symbol))
    append((54, SIDE_CODES[side]))
    if quantity is not None:
        append((38, wt(quantity)))
    code = ORD_TYPE_CODES.get(order_type)  # type: ignore[arg-type]
    if code is not None:
        append((40, code))
    if price is not None:
        append((44, wt(price)))
    if stop_price is not None:
        append((99, wt(stop_price)))
    code = TIF_CODES.get(time_in_force)  # type: ignore[arg-type]
    if code is not None:
        append((59, code))
    if post_only:
        append((18, b"6"))
    if last_qty is not None:
        append((32, wt(last_qty)))  # LastShares in 4.2, LastQty in 4.4: same tag
        append((31, wt(last_px) if last_px is not None else b"0"))
    append((151, wt(leaves_qty)))
    append((14, wt(cum_qty)))
    append((6, wt(avg_px, avg_px_places)))
    append((60, format_utc_timestamp(transact_time_ns)))
    if text is not None:
        append((58, text))
    if ord_status_req_id is not None:
        append((790, ord_status_req_id))
    if mass_status_req_id is not None:
        append((584, mass_status_req_id))
    if tot_num_reports is not None:
        append((911, tot_num_reports))
    if last_rpt_requested is not None:
        append((912, last_rpt_requested))
    return f


report_fields = pure_report_fields
REPORT_IMPLEMENTATION = "pure"
if os.environ.get("FIXGW_NO_EXTENSIONS") != "1":
    try:
        from fixgw_ext import _report as _compiled_report
    except ImportError:  # pragma: no cover - exercised when the build is missing
        _compiled_report = None  # type: ignore[assignment]
    if _compiled_report is not None:
        _compiled_report.configure(
            (ExecKind.ORDER_STATUS, ExecKind.REPLACED, ExecKind.TRADE), OrderStatus.FILLED, SIDE_CODES,
            ORD_TYPE_CODES, TIF_CODES, wire_text, _decimals._caches, _decimals.MAX_PLACES, format_utc_timestamp,
        )
        report_fields = _compiled_report.report_fields  # noqa: F811 - the compiled twin, same fields
        REPORT_IMPLEMENTATION = "compiled"


def order_reject(
    table: VersionTable,
    rej: OrderReject,
    *,
    exec_id: str,
    transact_time_ns: int,
    order_id: str = "NONE",
) -> tuple[bytes, Fields]:
    """Build ExecutionReport Rejected (150=8, 39=8) with OrdRejReason and Text, echoing the request."""
    echo = dict(rej.echo)
    f: Fields = [(37, order_id), (11, rej.cl_ord_id), (17, exec_id)]
    if table.has_exec_trans_type:
        f.append((20, b"0"))
    f += [(150, table.exec_type[ExecKind.REJECTED]), (39, table.ord_status[OrderStatus.REJECTED])]
    f.append((103, table.ord_rej_reason[rej.reason]))
    for tag in (1, 55, 54, 38, 40, 44, 99, 59):
        if tag in echo:
            f.append((tag, echo[tag]))
    f += [(151, _ZERO), (14, _ZERO), (6, _ZERO), (60, format_utc_timestamp(transact_time_ns)), (58, rej.text)]
    return b"8", f


def refuse_order(req: NewOrderRequest, reason: str, text: str) -> OrderReject:
    """The rejection of a parsed NewOrderSingle refused after parsing (``reason`` a ``REJ`` name): it
    echoes the request's terms as parsed (client symbol, side, quantity, type, price)."""
    echo: list[tuple[int, bytes]] = [(55, req.client_symbol.encode()), (54, SIDE_CODES[req.side])]
    if req.quantity is not None:
        echo.append((38, plain(req.quantity).encode()))
    echo.append((40, ORD_TYPE_CODES.get(req.order_type, b"2")))
    if req.price is not None:
        echo.append((44, plain(req.price).encode()))
    return OrderReject(req.cl_ord_id, reason, text, tuple(echo))


def cancel_reject(
    table: VersionTable,
    rej: CancelReject,
    *,
    transact_time_ns: int,
    status: OrderStatus | None = None,
    order_id: str | None = None,
) -> tuple[bytes, Fields]:
    """Build OrderCancelReject (35=9); ``status`` is the order's current state (Rejected when unknown)."""
    f: Fields = [
        (37, order_id or rej.order_id or "NONE"),
        (11, rej.cl_ord_id),
        (41, rej.orig_cl_ord_id or "NONE"),
        (39, table.ord_status[status or OrderStatus.REJECTED]),
        (60, format_utc_timestamp(transact_time_ns)),
        (434, rej.response_to),
        (102, table.cxl_rej_reason[rej.reason]),
        (58, rej.text),
    ]
    return b"9", f


def business_reject(rej: BusinessReject) -> tuple[bytes, Fields]:
    """Build BusinessMessageReject (35=j)."""
    f: Fields = []
    _put(f, 45, rej.ref_seq_num)
    f.append((372, rej.ref_msg_type))
    _put(f, 379, rej.ref_id)
    f += [(380, rej.reason), (58, rej.text)]
    return b"j", f


def mass_cancel_report(
    *,
    cl_ord_id: str,
    report_id: str,
    request_type: int | bytes,
    transact_time_ns: int,
    affected: Iterable[tuple[str, str]] = (),
    symbol: str | None = None,
    side: OrderSide | None = None,
    reject: MassCancelReject | None = None,
    text: str | None = None,
) -> tuple[bytes, Fields]:
    """Build OrderMassCancelReport (35=r). ``affected`` yields ``(orig_cl_ord_id, order_id)``.

    MassCancelResponse echoes the request type (1 by symbol, 7 all) or is 0 with ``reject``.
    """
    affected = list(affected)
    f: Fields = [(11, cl_ord_id), (37, report_id), (530, request_type)]
    if reject is not None:
        f += [(531, b"0"), (532, reject.reason)]
    else:
        f.append((531, request_type))
        f.append((533, len(affected)))
        if affected:
            f.append((534, len(affected)))
            for orig, oid in affected:
                f += [(41, orig), (535, oid)]
    _put(f, 55, symbol)
    if side is not None:
        f.append((54, SIDE_CODES[side]))
    f.append((60, format_utc_timestamp(transact_time_ns)))
    _put(f, 58, reject.text if reject is not None else text)
    return b"r", f

