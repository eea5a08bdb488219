"""How our ids name things at the venue: order accounts, venue client order ids and replace legs.

A session's order account (``session_key``) starts every order id of that session (``<account>-<n>``,
see ``fixgw.orders.book``). The venue sees ``<order id>`` for an order's first venue order and
``<order id>.r<k>`` for the leg its k-th cancel-replace request created, so any venue event names the
order, the session that owns it and the leg it is about, without a table and across restarts.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Iterator

from ..config import SessionSettings
from ..orders import OrderFilled, OrderPendingReplace, OrderReplaced

__all__ = ["session_key", "venue_cl_id", "parse_venue_cl_id", "legs", "leg_filled"]

_ZERO = Decimal(0)


def session_key(s: SessionSettings) -> str:
    """The session's order account: short and made of venue-safe characters (order ids start with it)."""
    target = re.sub(r"[^A-Za-z0-9]", "", s.target_comp_id)[:14] or "S"
    return f"{target}_{s.begin_string[4:].replace('.', '')}"


def venue_cl_id(order: Any, leg: int) -> str:
    """The client order id the venue knows leg ``leg`` of ``order`` by."""
    return order.order_id if leg == 0 else f"{order.order_id}.r{leg}"


def parse_venue_cl_id(client_order_id: str) -> tuple[str, str, int] | None:
    """Split a venue client order id into (account, order id, leg); ``None`` if it is not one of ours."""
    order_id, _, leg = client_order_id.partition(".r")
    try:
        k = int(leg) if leg else 0
    except ValueError:
        return None
    return order_id.rpartition("-")[0], order_id, k


def legs(order: Any) -> tuple[int, int]:
    """Return (current venue leg, newest leg requested): leg k is the k-th replace request."""
    current = requested = 0
    for _e, current, requested in _walk_legs(order):
        pass
    return current, requested


def leg_filled(order: Any, leg: int) -> Decimal:
    """Quantity filled on venue leg ``leg`` (fills since the replace that created it)."""
    return sum((e.last_qty for e, current, _ in _walk_legs(order) if type(e) is OrderFilled and current == leg),
               _ZERO)


def _walk_legs(order: Any) -> Iterator[tuple[Any, int, int]]:
    """Yield each event of ``order`` with the current and the newest requested leg after it."""
    current = requested = 0
    for e in order.events:
        t = type(e)
        if t is OrderPendingReplace:
            requested += 1
        elif t is OrderReplaced:
            current = requested
        yield e, current, requested
