"""Refusals an adapter makes itself, before anything is sent: same reason keys on every venue.

The rule check of a new order is ``VenueAdapter.refuse_unchecked`` (in the port, beside ``check``).
"""

from __future__ import annotations

from fixgw.errors import VenueRejected

__all__ = ["unsupported"]


def unsupported(what: str, by: str) -> VenueRejected:
    """Return the refusal of a command the adapter cannot carry out (``by`` names the venue)."""
    return VenueRejected("UNSUPPORTED", f"{what} is not supported by {by}", reason="unsupported")
