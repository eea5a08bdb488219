"""Venue adapters behind one port (``fixgw.venues.base``). Adapters never import ``fixgw.sim``.

Sides, order types, times in force and statuses are the order model's (``fixgw.orders``).
"""

from fixgw.venues.base import (
    AmendOrder,
    CancelOrder,
    Instrument,
    NewOrder,
    VenueAccepted,
    VenueAmended,
    VenueCanceled,
    VenueExpired,
    VenueFilled,
    VenueOrderRejected,
    OrderReport,
    ReplaceOrder,
    StreamState,
    VenueAdapter,
    VenueCapabilities,
    VenueHealth,
    VenueOrderEvent,
    REJECT_REASONS,
    reject_reason,
)
from fixgw.venues.rules import RuleViolation, check_order

__all__ = [
    "AmendOrder",
    "CancelOrder",
    "Instrument",
    "NewOrder",
    "VenueAccepted",
    "VenueAmended",
    "VenueCanceled",
    "VenueExpired",
    "VenueFilled",
    "VenueOrderRejected",
    "OrderReport",
    "ReplaceOrder",
    "StreamState",
    "VenueAdapter",
    "VenueCapabilities",
    "VenueHealth",
    "VenueOrderEvent",
    "RuleViolation",
    "check_order",
    "REJECT_REASONS",
    "reject_reason",
]
