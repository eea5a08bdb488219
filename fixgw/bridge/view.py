"""What the bridge needs from the gateway: a small port, read-only but for the operator's session actions.

The bridge depends on the gateway, never the reverse; it sees the gateway only through
``GatewayView``, whose implementation over a running gateway is ``fixgw.gateway.LiveView``. The
snapshot types (``SessionInfo``, ``Readiness``, ``VenueInfo``, ...) are the gateway's, re-exported here.
The methods are synchronous, cheap and never block: the bridge calls them on its own event loop,
which is the gateway's loop when both run in one process. They return fresh values, so the bridge can
serialise them after the call without a lock.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

from fixgw.gateway import AdminResult, OrderQuery, Page, RateWindow, Readiness, SessionInfo, VenueInfo

__all__ = ["GatewayView", "SessionInfo", "Readiness", "VenueInfo", "RateWindow", "OrderQuery", "Page",
           "AdminResult"]


@runtime_checkable
class GatewayView(Protocol):
    """The gateway as the bridge sees it."""

    def sessions(self) -> Sequence[SessionInfo]:
        """Return every configured FIX session, in a stable order."""
        ...

    def readiness(self) -> Readiness:
        """Return whether the acceptor listens and which venues are connected."""
        ...

    def venues(self) -> Sequence[VenueInfo]:
        """Return every configured venue's connection, in a stable order."""
        ...

    def orders(self, query: OrderQuery) -> Page:
        """Return a page of orders (JSON-ready rows) matching ``query``."""
        ...

    def order(self, ident: str, session: str | None = None,
              accounts: frozenset[str] | None = None) -> tuple[dict[str, Any] | None, int]:
        """Return (the order whose order id or client order id is ``ident``, how many matched); ``accounts``:
        only orders of these accounts (``None``: any)."""
        ...

    def fills(self, query: OrderQuery) -> Page:
        """Return a page of executions (JSON-ready rows) matching ``query``."""
        ...

    def session_action(self, ident: str, action: str, **kw: Any) -> AdminResult:
        """Run an operator action (``logout``, ``set_next_seqs``, ``disable``, ``enable``) on a session."""
        ...

    def order_counts(self) -> dict[tuple[str, str], int]:
        """Return (session id, status) -> orders held."""
        ...

    def first_report_latency(self) -> dict[str, Any]:
        """Return label (session id, ``bridge:<account>``) -> histogram of submit to first report."""
        ...

    def venue_latency(self) -> dict[tuple[str, str], Any]:
        """Return (venue, endpoint) -> histogram of the venue calls' durations."""
        ...

    def account_names(self) -> dict[str, str]:
        """Return order account key (``CLIENT44_44``, ``oms_R``) -> the account's name."""
        ...

    def session_rejects(self) -> dict[tuple[str, str, str], int]:
        """Return (session id, kind, reason) -> rejects sent."""
        ...

    def order_desk(self) -> Any:
        """Return the gateway's ``OrderDesk`` (order entry, kill switches), ``None`` while it starts."""
        ...

    def event_feed(self) -> Any:
        """Return the gateway's ``EventFeed`` (numbered order events), ``None`` while it starts."""
        ...

    def order_row(self, ctx: Any, order: Any) -> dict[str, Any]:
        """Return one order (of the desk's answer) as a JSON-ready row."""
        ...
