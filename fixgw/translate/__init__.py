"""FIX 4.2/4.4 application messages <-> normalized order requests and reports (pure).

``parse_request`` turns NewOrderSingle, OrderCancelRequest, OrderCancelReplaceRequest, OrderStatusRequest,
OrderMassCancelRequest and OrderMassStatusRequest into request values, or into the rejection to answer;
the builders in ``outbound`` turn reports and rejections into ``(msg_type, fields)`` for ``Session.send``.
The FIX 4.2 / 4.4 differences live in the version tables of ``tables``; how decimals look to a client
in ``decimals``; third-party routing (OnBehalfOf / DeliverTo <-> ``orders.Route``) in ``routing``.
"""

from __future__ import annotations

from .decimals import AVG_PX_PLACES, MAX_PLACES, average_price, plain, wire_decimal
from .inbound import (
    BusinessReject,
    CancelReject,
    CancelRequest,
    MassCancelReject,
    MassCancelRequest,
    MassStatusRequest,
    NewOrderRequest,
    OrderReject,
    Rejection,
    ReplaceRequest,
    Request,
    StatusRequest,
    parse_request,
)
from .outbound import (
    ExecReport,
    business_reject,
    cancel_reject,
    execution_report,
    mass_cancel_report,
    order_reject,
    refuse_order,
)
from .reports import order_report, reject_reason_for_text, reply_for_event, status_report, unknown_order_status
from .routing import ROUTE_TAGS, RouteError, reply_header, route_of
from .symbols import SymbolMap
from .tables import FIX42, FIX44, REJ, ExecKind, VersionTable, kind_for_hint, table_for

__all__ = [
    "BusinessReject",
    "CancelReject",
    "CancelRequest",
    "MassCancelReject",
    "MassCancelRequest",
    "MassStatusRequest",
    "NewOrderRequest",
    "OrderReject",
    "Rejection",
    "ReplaceRequest",
    "Request",
    "StatusRequest",
    "parse_request",
    "ExecReport",
    "business_reject",
    "cancel_reject",
    "execution_report",
    "mass_cancel_report",
    "order_reject",
    "refuse_order",
    "SymbolMap",
    "AVG_PX_PLACES",
    "MAX_PLACES",
    "average_price",
    "plain",
    "wire_decimal",
    "ROUTE_TAGS",
    "RouteError",
    "reply_header",
    "route_of",
    "order_report",
    "reject_reason_for_text",
    "reply_for_event",
    "status_report",
    "unknown_order_status",
    "FIX42",
    "FIX44",
    "REJ",
    "ExecKind",
    "kind_for_hint",
    "VersionTable",
    "table_for",
]
