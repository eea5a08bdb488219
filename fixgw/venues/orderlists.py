"""Order lists at a venue: two orders placed together, one's fate bound to the other's.

- OCO (one cancels the other): two orders of one side and one quantity, one above the market (a
  take-profit or a resting limit for a sell; a stop for a buy), one below. When one trades or
  triggers, the venue expires the other.
- OTO (one triggers the other): a working limit order, and a pending order the venue places only
  once the working one is fully filled; if the working one ends otherwise, the pending one expires.

Each order of a list is an ordinary ``NewOrder`` with its own client order id, so its events
(``VenueAccepted``, ``VenueFilled``, ``VenueExpired`` ...) reach the gateway as any order's do. Only a
venue whose ``VenueCapabilities.order_lists`` is true takes them (``list_refusal``); its adapter has
``submit_order_list`` and ``cancel_order_list``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from fixgw.orders.enums import OrderType

if TYPE_CHECKING:  # pragma: no cover
    from fixgw.venues.base import NewOrder, VenueAdapter

__all__ = ["NewOrderList", "list_refusal", "LIST_KINDS"]

LIST_KINDS = ("oco", "oto")
_OCO_UPPER_SELL = frozenset({OrderType.LIMIT, OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT})
_OCO_STOPS = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})


@dataclass(frozen=True, slots=True)
class NewOrderList:
    """Place an order list. ``orders``: OCO (either order first), OTO (working, pending).

    ``client_list_id`` is the venue's list client id (unique among the account's open lists).
    """

    kind: Literal["oco", "oto"]
    symbol: str
    client_list_id: str
    orders: tuple[NewOrder, NewOrder]


def list_refusal(adapter: VenueAdapter, lst: NewOrderList) -> str | None:
    """Why ``lst`` cannot go to ``adapter``'s venue as it is (a text naming the venue), or ``None``."""
    name = getattr(adapter, "name", "") or "the venue"
    if not adapter.capabilities.order_lists or not hasattr(adapter, "submit_order_list"):
        return f"{name}: order lists (OCO/OTO) are not supported"
    if lst.kind not in LIST_KINDS:
        return f"order list type {lst.kind!r} is not one of {', '.join(LIST_KINDS)}"
    a, b = lst.orders
    if a.symbol != b.symbol:
        return "the orders of a list must have one symbol"
    if lst.kind == "oco":
        if a.side != b.side or a.quantity != b.quantity or a.quantity is None:
            return "the two orders of an OCO must have the same side and quantity"
        kinds = {a.order_type in _OCO_STOPS, b.order_type in _OCO_STOPS}
        limits = [o for o in (a, b) if o.order_type not in _OCO_STOPS]
        if kinds != {True, False} and not (len(limits) == 2 and any(
                o.order_type is not OrderType.LIMIT for o in limits)):
            return "an OCO pairs a limit or take-profit order with a stop order"
        if any(o.order_type not in _OCO_UPPER_SELL | _OCO_STOPS for o in (a, b)):
            return "an OCO takes limit, stop, stop-limit, take-profit and take-profit-limit orders"
        if any(o.order_type is OrderType.LIMIT and not o.post_only for o in (a, b)):
            return "the limit order of an OCO must be post-only"
    else:
        if a.order_type is not OrderType.LIMIT:
            return "the working (first) order of an OTO must be a limit order"
        if b.quantity is None:
            return "the pending order of an OTO needs a quantity (not a quote amount)"
    return None
