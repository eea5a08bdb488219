"""Refusals an adapter makes itself, before anything is sent: same reason keys on every venue."""

from __future__ import annotations

from fixgw.errors import VenueRejected
from fixgw.venues.base import Instrument, NewOrder, VenueCapabilities
from fixgw.venues.rules import check_order

__all__ = ["refuse_if_breaking_rules", "unsupported"]


def refuse_if_breaking_rules(inst: Instrument, order: NewOrder, capabilities: VenueCapabilities) -> None:
    """Raise ``VenueRejected`` (code ``LOCAL``) if the order breaks the instrument rules or capabilities.

    An order marked ``prechecked`` passed ``VenueAdapter.check`` (this same check) before it was sent.
    """
    if order.prechecked:
        return
    violation = check_order(inst, order, capabilities)
    if violation is not None:
        reason = "unsupported" if violation.unsupported else f"rule:{violation.rule}"
        raise VenueRejected("LOCAL", violation.reason, reason=reason)


def unsupported(what: str, by: str) -> VenueRejected:
    """Return the refusal of a command the adapter cannot carry out (``by`` names the venue)."""
    return VenueRejected("UNSUPPORTED", f"{what} is not supported by {by}", reason="unsupported")
