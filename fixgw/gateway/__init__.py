"""The gateway: the composition root that wires FIX sessions, order books, journals and venues.

Theory of operation
-------------------
``Gateway(config).run()`` opens the stores (one SQLite file holds the FIX message store and the order
journals; without a path both live in memory), enters every venue adapter, rebuilds each session's
order book from its journal, asks the venue about every order the journal says is open, and then
serves FIX on the acceptor port. It owns the one task group everything runs in.

Each FIX session has its own ``OrderBook`` (its account in the journal is the session's key), so
ClOrdIDs are scoped to the session as FIX scopes them, and every report goes back to the session that
owns the order. Venue client order ids are our order ids (``<order id>``, then ``<order id>.r<k>`` for
the leg of the k-th cancel-replace), so a venue event finds its session and order without a table,
across restarts as well.

Persist before acting: every book change is journaled, its report stored, and both committed in one
SQLite transaction (the journals write through the message store's connection) before the venue is
called and before any byte reaches the client. Only this package and the transport read the clock.

The pieces, one idea each:

- ``_app``: ``Gateway`` — lifecycle, the FIX application callback, venue event consumers.
- ``_wiring``: building stores, journals, books, venues, sessions and the acceptor from ``Config``.
- ``_router``: session contexts by session and by account; apply -> journal -> report -> commit.
- ``_orders``: FIX requests -> checks (``risk``) -> book -> report -> venue calls.
- ``_venue_events``: venue events -> order events -> books -> reports.
- ``_recovery``: start-up reconciliation of the orders the journal says are open.
- ``_ids``: order accounts, venue client order ids and replace legs.
- ``_view``: ``LiveView``, the bridge's read-only view of the running gateway (sessions, venues,
  readiness, orders, fills, metrics readings); ``_snapshots``: the snapshot types and rows it returns.
- ``_admin``: ``SessionAdmin``, the operator's session actions (logout, sequence numbers, disable).
- ``_desk``: bridge accounts (``AccountContext``: a book and journal without a FIX session) and
  ``OrderDesk``, order entry over REST and the kill switches, through ``_orders``' own steps.
- ``_feed``: ``EventFeed``, every journaled order event numbered gap-free, for the bridge's stream.
- ``_latency``: the latency histograms filled as things happen (venue calls, first reports), for ``/metrics``.
- ``_lifecycle``: graceful stop (Logout to every session, bounded wait) and SIGINT/SIGTERM handling.
- ``_marketdata``: ``MarketData``, FIX market data (V -> W/X/Y, x -> y, c -> d) from the venues' shared
  local books, conflated for slow readers; its ``watch``/``book``/``candles`` are the Python API.
- ``_mdsubs``: one market-data subscription and what it is due, each W/X body encoded once per flush
  and shared by every subscription of its kind.
"""

from __future__ import annotations

from ._app import Gateway
from ._lifecycle import DEFAULT_SHUTDOWN_TIMEOUT, run_until_signalled
from ._admin import AdminResult, SessionAdmin
from ._view import LiveView, OrderQuery, Page, RateWindow, Readiness, SessionInfo, VenueInfo, decode_cursor
from ._wiring import AdapterFactory, default_adapter_factory

__all__ = ["Gateway", "AdapterFactory", "default_adapter_factory", "run_until_signalled", "DEFAULT_SHUTDOWN_TIMEOUT",
           "LiveView", "SessionInfo", "Readiness", "VenueInfo", "RateWindow", "OrderQuery", "Page", "decode_cursor",
           "SessionAdmin", "AdminResult"]
