"""Order model -> report values: which FIX message an applied order event becomes, and with what.

``reply_for_event(table, order, event, client_symbol)`` returns ``(msg_type, fields)`` for the event just
applied to ``order`` (an ExecutionReport, or an OrderCancelReject for a refused cancel/replace), or
``None`` when the event is not reported (an order sent to the venue is acknowledged by New, not by
PendingNew). ``status_report`` answers OrderStatusRequest / OrderMassStatusRequest from an order's state.
AvgPx is the order's exact notional over its cumulative quantity, rounded once to ``avg_px_places``
decimals (``decimals.average_price``). Pure; ``order`` is a ``fixgw.orders.Order`` (read only).
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

from ..orders.enums import OrderSide, OrderStatus
from ..orders.events import OrderCancelRejected, OrderFilled, OrderReplaceRejected, OrderSubmitted
from .decimals import AVG_PX_PLACES, average_price
from .inbound import CancelReject
from .outbound import REPORT_IMPLEMENTATION, ExecReport, cancel_reject, execution_report, report_fields
from .tables import _HINT_KIND, REJ, ExecKind, VersionTable, kind_for_hint

__all__ = [
    "reply_for_event",
    "pure_reply_for_event",
    "status_report",
    "order_report",
    "reject_reason_for_text",
    "unknown_order_status",
]

_ZERO = Decimal(0)
_UNREPORTED = (OrderSubmitted,)


def order_report(
    order: Any,
    kind: ExecKind,
    client_symbol: str,
    *,
    exec_id: str,
    ts_ns: int,
    cl_ord_id: str | None = None,
    orig_cl_ord_id: str | None = None,
    avg_px_places: int = AVG_PX_PLACES,
    **extra: Any,
) -> ExecReport:
    """Return the ExecReport of ``order`` as it stands, reporting ``kind``."""
    return ExecReport(
        kind=kind,
        status=order.status,
        order_id=order.order_id,
        exec_id=exec_id,
        cl_ord_id=cl_ord_id if cl_ord_id is not None else order.cl_ord_id,
        orig_cl_ord_id=orig_cl_ord_id if cl_ord_id is not None else order.orig_cl_ord_id,
        symbol=client_symbol,
        side=order.side,
        cum_qty=order.cum_qty,
        leaves_qty=order.leaves_qty,
        avg_px=average_price(order.notional, order.cum_qty, avg_px_places),
        avg_px_places=avg_px_places,
        transact_time_ns=ts_ns,
        order_type=order.order_type,
        quantity=order.quantity,
        price=order.price,
        stop_price=order.trigger_price,
        time_in_force=order.time_in_force,
        post_only=order.post_only,
        **extra,
    )


def reject_reason_for_text(text: str) -> str:
    """Map a venue's refusal text onto an OrdRejReason name (the venue codes are generic; the text is not)."""
    t = text.lower()
    if "duplicate" in t:
        return REJ.DUPLICATE_ORDER
    if "unknown order" in t or "does not exist" in t:
        return REJ.UNKNOWN_ORDER
    if "symbol" in t:
        return REJ.UNKNOWN_SYMBOL
    if "market is closed" in t or "not trading" in t:
        return REJ.EXCHANGE_CLOSED
    if "lot_size" in t or "quantity" in t:
        return REJ.INCORRECT_QUANTITY
    if "insufficient" in t or "exceed" in t or "too many" in t:
        return REJ.EXCEEDS_LIMIT
    return REJ.BROKER_OPTION


def pure_reply_for_event(
    table: VersionTable,
    order: Any,
    event: Any,
    client_symbol: str,
    *,
    avg_px_places: int = AVG_PX_PLACES,
    reject_reason: str | None = None,
) -> tuple[bytes, list[tuple[int, Any]]] | None:
    """Return the message reporting ``event`` (just applied to ``order``), or ``None`` if none is due.

    ``avg_px_places``: the decimals of AvgPx on the order's instrument (``SymbolMap.avg_px_places``).
    ``reject_reason``: the OrdRejReason (a ``REJ`` name) of a rejection whose cause is known (a pre-trade
    refusal); without it the reason is guessed from the event's text (``reject_reason_for_text``).

    This function is the specification; ``reply_for_event`` is its compiled twin (``fixgw_ext._report``)
    when the report writer is compiled, else this one.
    """
    if isinstance(event, _UNREPORTED):
        return None
    if isinstance(event, (OrderCancelRejected, OrderReplaceRejected)):
        reason = event.reason or "request refused by the venue"
        rej = CancelReject(
            cl_ord_id=event.cl_ord_id or order.cl_ord_id,
            orig_cl_ord_id=order.cl_ord_id,
            order_id=order.order_id,
            response_to=1 if isinstance(event, OrderCancelRejected) else 2,
            reason=REJ.TOO_LATE if not order.is_open else REJ.BROKER_OPTION,
            text=reason,
        )
        return cancel_reject(table, rej, transact_time_ns=event.ts_ns, status=order.status, order_id=order.order_id)
    kind = kind_for_hint(event.exec_type)
    if kind is None:
        return None
    cl = orig = last_qty = last_px = None
    if kind in (ExecKind.PENDING_CANCEL, ExecKind.PENDING_REPLACE):
        # The request is reported under its own ClOrdID, naming the order's current one as the original.
        cl, orig = order.pending_cl_ord_id, order.cl_ord_id
    if isinstance(event, OrderFilled):
        last_qty, last_px = event.last_qty, event.last_px
    text = getattr(event, "reason", "") or None
    rej = None
    if kind is ExecKind.REJECTED:
        rej = reject_reason or reject_reason_for_text(text or "")
    # order_report's values, passed straight to the field writer (no ExecReport on every order's path).
    if cl is None:
        cl, orig = order.cl_ord_id, order.orig_cl_ord_id
    cum_qty = order.cum_qty
    return b"8", report_fields(
        table, kind, order.status, order.order_id, order.exec_id, cl, orig, client_symbol, order.side,
        order.order_type, order.quantity, order.price, order.trigger_price, order.time_in_force,
        order.post_only, last_qty, last_px, order.leaves_qty, cum_qty,
        average_price(order.notional, cum_qty, avg_px_places), avg_px_places, event.ts_ns, text, rej,
    )


reply_for_event = pure_reply_for_event
if REPORT_IMPLEMENTATION == "compiled" and os.environ.get("FIXGW_NO_EXTENSIONS") != "1":
    from fixgw_ext import _report as _compiled_report

    _compiled_report.configure_reply(
        pure_reply_for_event, _UNREPORTED, (OrderCancelRejected, OrderReplaceRejected), _HINT_KIND,
        (ExecKind.PENDING_CANCEL, ExecKind.PENDING_REPLACE), ExecKind.REJECTED, OrderFilled,
        reject_reason_for_text, average_price, _ZERO, AVG_PX_PLACES,
    )
    reply_for_event = _compiled_report.reply_for_event  # noqa: F811 - the compiled twin, same messages


def status_report(
    table: VersionTable,
    order: Any,
    client_symbol: str,
    *,
    exec_id: str,
    ts_ns: int,
    ord_status_req_id: str | None = None,
    mass_status_req_id: str | None = None,
    tot_num_reports: int | None = None,
    last_rpt_requested: bool | None = None,
    avg_px_places: int = AVG_PX_PLACES,
) -> tuple[bytes, list[tuple[int, Any]]]:
    """Return the ExecutionReport answering a status request about ``order``."""
    report = order_report(
        order, ExecKind.ORDER_STATUS, client_symbol, exec_id=exec_id, ts_ns=ts_ns, avg_px_places=avg_px_places,
        ord_status_req_id=ord_status_req_id, mass_status_req_id=mass_status_req_id,
        tot_num_reports=tot_num_reports, last_rpt_requested=last_rpt_requested,
    )
    return execution_report(table, report)


def unknown_order_status(
    table: VersionTable,
    *,
    cl_ord_id: str | None,
    order_id: str | None,
    client_symbol: str | None,
    side: OrderSide | None,
    exec_id: str,
    ts_ns: int,
    ord_status_req_id: str | None = None,
) -> tuple[bytes, list[tuple[int, Any]]]:
    """Answer a status request about an order we do not know: OrdStatus Rejected, OrdRejReason 5."""
    report = ExecReport(
        kind=ExecKind.ORDER_STATUS, status=OrderStatus.REJECTED, order_id=order_id or "NONE", exec_id=exec_id,
        cl_ord_id=cl_ord_id, symbol=client_symbol or "NONE", side=side or OrderSide.BUY, cum_qty=_ZERO,
        leaves_qty=_ZERO, avg_px=_ZERO, transact_time_ns=ts_ns, text="unknown order",
        ord_rej_reason=REJ.UNKNOWN_ORDER, ord_status_req_id=ord_status_req_id,
    )
    return execution_report(table, report)
