"""How our ids name things at the venue: order accounts, venue client order ids and replace legs.

A session's order account (``session_key``) starts every order id of that session (``<account>-<n>``,
see ``fixgw.orders.book``). The venue sees ``<order id>`` for an order's first venue order and
``<order id>.r<k>`` for the leg its k-th cancel-replace request created, so any venue event names the
order, the session that owns it and the leg it is about, without a table and across restarts. The
order itself knows its legs (``Order.leg``, ``pending_leg``); this module only spells them.
"""

from __future__ import annotations

import re
from typing import Any

from ..config import SessionSettings

__all__ = ["session_key", "venue_cl_id", "parse_venue_cl_id"]


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
