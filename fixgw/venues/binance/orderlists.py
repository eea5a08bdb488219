"""Binance order lists (OCO, OTO) for the adapter: parameters out, the list's order reports in.

``BinanceOrderLists`` is a part of ``BinanceAdapter`` (a base class, as ``BinanceReconciliation`` is):
``submit_order_list`` sends ``POST /api/v3/orderList/oco`` or ``/oto`` (WebSocket API
``orderList.place.oco`` / ``.oto`` while it is up), ``cancel_order_list`` sends ``DELETE
/api/v3/orderList`` (``orderList.cancel``). Each order of the list is named by its own client order id
(``aboveClientOrderId``, ``workingClientOrderId`` ...), so every report of it — the answer's
``orderReports``, the stream's executionReports (their ``g`` is the list id) — goes through the one
``OrderTracker`` as any order's does. Weight 1 each; a list counts 2 orders at the venue.

An OCO's two orders are sent as ``above`` and ``below`` by the price they stand at (a limit's or
take-profit-limit's price, else the stop price); the venue checks that they sit on each side of the last
price. A post-only limit is sent as ``LIMIT_MAKER``, the only limit an OCO takes.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fixgw.errors import VenueRejected, VenueUnknownOutcome
from fixgw.orders.enums import OrderType
from fixgw.venues.base import NewOrder, OrderReport
from fixgw.venues.binance.parsing import new_order_params, parse_order, update_to_report
from fixgw.venues.orderlists import NewOrderList, list_refusal

if TYPE_CHECKING:  # pragma: no cover
    from fixgw.venues.binance.adapter import BinanceAdapter

__all__ = ["BinanceOrderLists", "order_list_params", "LIST_PATHS"]

log = logging.getLogger("fixgw.venues.binance")

LIST_PATHS = {"oco": "/api/v3/orderList/oco", "oto": "/api/v3/orderList/oto"}
CANCEL_LIST_PATH = "/api/v3/orderList"

# a new order's parameter -> the suffix of an order list's parameter for that order
_LEG_NAMES = {"type": "Type", "timeInForce": "TimeInForce", "price": "Price", "stopPrice": "StopPrice",
              "icebergQty": "IcebergQty", "newClientOrderId": "ClientOrderId", "side": "Side",
              "quantity": "Quantity"}


def _point(order: NewOrder) -> Decimal:
    """The price an OCO order stands at."""
    if order.order_type in (OrderType.LIMIT, OrderType.TAKE_PROFIT_LIMIT) and order.price is not None:
        return order.price
    if order.stop_price is None:
        raise VenueRejected("INVALID", f"order {order.client_order_id} of the OCO has no price")
    return order.stop_price


def _leg_params(order: NewOrder, venue_symbol: str, prefix: str, shared: tuple[str, ...]) -> list[tuple[str, object]]:
    out = []
    for name, value in new_order_params(order, venue_symbol):
        if name in ("symbol", "newOrderRespType") or name in shared:
            continue
        out.append((prefix + _LEG_NAMES[name], value))
    return out


def order_list_params(lst: NewOrderList, venue_symbol: str) -> list[tuple[str, object]]:
    """Parameters of ``POST /api/v3/orderList/oco`` or ``/oto`` for ``lst``, in a fixed order."""
    params: list[tuple[str, object]] = [("symbol", venue_symbol), ("listClientOrderId", lst.client_list_id)]
    a, b = lst.orders
    if lst.kind == "oco":
        below, above = sorted((a, b), key=_point)
        side = new_order_params(a, venue_symbol)[1][1]
        params += [("side", side), ("quantity", a.quantity)]
        params += _leg_params(above, venue_symbol, "above", ("side", "quantity"))
        params += _leg_params(below, venue_symbol, "below", ("side", "quantity"))
    else:
        params += _leg_params(a, venue_symbol, "working", ())
        params += _leg_params(b, venue_symbol, "pending", ())
    params.append(("newOrderRespType", "RESULT"))
    return params


class BinanceOrderLists:
    """Order lists of ``BinanceAdapter`` (module docstring)."""

    async def submit_order_list(self: BinanceAdapter, lst: NewOrderList) -> list[OrderReport]:  # type: ignore[misc]
        """Place ``lst``; returns its orders' reports (in the venue's order). Events follow on ``events()``."""
        inst = self.instrument(lst.symbol)
        refusal = list_refusal(self, lst)
        if refusal is not None:
            raise VenueRejected("LOCAL", refusal, reason="unsupported")
        for order in lst.orders:
            self.refuse_unchecked(order)
        params = order_list_params(lst, inst.venue_symbol)
        try:
            body = await self._order_entry("POST", LIST_PATHS[lst.kind], params)
        except VenueUnknownOutcome as exc:
            log.warning("order list %s: outcome unknown (%s); asking the venue", lst.client_list_id, exc)
            return [await self._resolve_unknown(o, inst.venue_symbol) for o in lst.orders]
        return self._list_reports(body, lst.symbol)

    async def cancel_order_list(self: BinanceAdapter, symbol: str, client_list_id: str) -> list[OrderReport]:  # type: ignore[misc]
        """Cancel every open order of the list ``client_list_id``; returns their reports."""
        inst = self.instrument(symbol)
        params: list[tuple[str, object]] = [("symbol", inst.venue_symbol), ("listClientOrderId", client_list_id)]
        try:
            body = await self._order_entry("DELETE", CANCEL_LIST_PATH, params, urgent=True)
        except VenueUnknownOutcome as exc:
            log.warning("cancel of order list %s: outcome unknown (%s); the stream tells", client_list_id, exc)
            return []
        return self._list_reports(body, symbol)

    def _list_reports(self: BinanceAdapter, body: Any, symbol: str) -> list[OrderReport]:  # type: ignore[misc]
        out = []
        for row in (body or {}).get("orderReports") or ():
            u = parse_order(row, symbol)
            self._observe(u)
            out.append(update_to_report(u))
        return out
