"""The ``Gateway``: lifecycle, the FIX application callbacks, and what tests and the bridge may look at."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from typing import Any, Callable

import anyio
from anyio.abc import TaskStatus

from ..clock import Clock, SystemClock
from ..config import Config
from ..errors import FixgwError, StoreError
from ..orders import OrderBook
from ..session import ApplicationMessage, Rejected, SessionID
from ..translate import BusinessReject, RouteError, business_reject, parse_request, route_of
from ..transport import Acceptor, Application, SessionHandle, next_turn_scheduler
from ..venues import base as V
from ..venues._common.ws import after_read
from ._desk import OrderDesk
from ._feed import EventFeed, share_journal_events
from ._marketdata import MD_MSG_TYPES, MarketData
from ._orders import OrderFlow
from ._ownership import attach_ownership
from ._recovery import reconcile
from ._router import Router, VenueContext
from ._venue_events import EVENTS_PER_TURN, VenueInbox, on_venue_event
from ._wiring import AdapterFactory, build_sessions, default_adapter_factory, open_store, open_venues

__all__ = ["Gateway"]

log = logging.getLogger("fixgw.gateway")


class Gateway(Application):
    """Run the gateway of ``config``; ``run`` reports the bound FIX port through ``task_status``.

    ``validate_messages=False`` turns dictionary validation off for every session, whatever their
    ``validate`` setting says.
    """

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        adapter_factory: AdapterFactory = default_adapter_factory,
        validate_messages: bool = True,
    ) -> None:
        self.config = config
        self._clock = clock or SystemClock()
        self._adapter_factory = adapter_factory
        self._validate = validate_messages
        self._router = Router(self._clock)
        self._flow = OrderFlow(self._router)
        #: Order entry for the bridge accounts, and the kill switches (see ``_desk``).
        self.desk = OrderDesk(self._router, self._flow, self._clock)
        #: Every order event, numbered, for the bridge's stream (see ``_feed``).
        self.feed = EventFeed()
        #: FIX market data (V, x, c) from the venues' shared books (see ``_marketdata``).
        self.marketdata = MarketData()
        self._venues: dict[str, VenueContext] = {}
        self._scope: anyio.CancelScope | None = None
        self._store: Any = None
        self.acceptor: Acceptor | None = None
        self.port: int | None = None
        #: Set once the acceptor listens (after recovery and reconciliation).
        self.ready = anyio.Event()
        #: Rejects the sessions sent: (session id, "session" or "business", reason code) -> count.
        self.rejects: dict[tuple[str, str, str], int] = {}

    # -- lifecycle -----------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        """Start everything, report the FIX port, and serve until cancelled or ``stop()``."""
        with anyio.CancelScope() as scope:
            self._scope = scope
            try:
                self._store = open_store(self.config, self._clock)
                async with AsyncExitStack() as stack:
                    self._venues = await open_venues(self.config, self._adapter_factory, stack)
                    # Group commit: one transaction per loop turn, durable before any venue call. A store
                    # that can pipeline its commits commits on a thread of its own: the loop goes on, and
                    # what depends on a commit (FIX bytes, venue calls) waits for it (fixgw.stores._pipeline).
                    self._store.defer_commits(next_turn_scheduler())
                    self._pipeline_commits()
                    before_call = getattr(self._store, "durable", self._store.flush)
                    for venue in self._venues.values():
                        venue.before_call = before_call
                    self.feed.flush = self._store.flush
                    self.feed.durable = before_call
                    share_journal_events(self.feed, self.config, stack)  # PostgreSQL: ids from the database
                    self.desk.flush = self._store.flush
                    self.acceptor = build_sessions(self.config, self._store, self._venues, self._router, self,
                                                   self._clock, validate=self._validate, feed=self.feed)
                    ownership = attach_ownership(self.config, self._store, self._router, self._flow, self.acceptor)
                    self.marketdata.attach(self._venues)
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(self.marketdata.run)
                        tg.start_soon(self.feed.run)  # (a shared journal's events: see _feed)
                        for venue in self._venues.values():
                            venue.inbox = VenueInbox(self._router, self._apply_venue_event, _inbox_scheduler())
                            set_sink = getattr(venue.adapter, "set_event_sink", None)
                            if set_sink is not None:  # from now on the adapter puts its events in the inbox
                                set_sink(venue.inbox.put)
                            # The stream: all of an adapter's events, or those published before the sink.
                            venue.events = venue.adapter.events()  # the one consumer's stream
                            tg.start_soon(self._consume, venue)
                            tg.start_soon(venue.run_calls)
                        if ownership is not None:  # [cluster]: renew the leases (see _ownership)
                            tg.start_soon(ownership.run)
                        await reconcile(self._router, self._flow)  # its findings applied before we listen
                        self.port = await tg.start(self.acceptor.serve)
                        log.info("gateway ready on port %s", self.port)
                        self.ready.set()
                        task_status.started(self.port)
            finally:
                self._close_store()

    def stop(self) -> None:
        """Stop serving (the task running ``run`` returns)."""
        if self._scope is not None:
            self._scope.cancel()

    async def shutdown(self, reason: str = "gateway shutting down", timeout: float = 5.0) -> None:
        """Log every session out (Text ``reason``), wait up to ``timeout`` seconds for the answers, then
        stop; ``run`` returns once the venues are closed and the store flushed (see ``_lifecycle``)."""
        from ._lifecycle import shutdown

        await shutdown(self, reason, timeout)

    def _pipeline_commits(self) -> None:
        pipeline_commits = getattr(self._store, "pipeline_commits", None)
        if pipeline_commits is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - not asyncio: commits stay on the loop
            return
        pipeline_commits(loop.call_soon_threadsafe, self._commit_failed)

    def _commit_failed(self, exc: StoreError) -> None:
        # The store already refuses every later write and released nothing that waited for the commit.
        log.critical("a store commit failed; stopping: %s", exc)
        self.stop()

    def _close_store(self) -> None:
        for venue in self._venues.values():
            if venue.inbox is not None:
                venue.inbox.closed = True  # a pass still scheduled applies nothing to a closed store
        for ctx in self._router.accounts.values():
            try:
                ctx.journal.close()
            except StoreError:  # pragma: no cover - closing after a failure
                log.exception("closing a journal")
        if self._store is not None:
            self._store.close()  # commits what is pending: journal records and messages together
            self._store = None

    # -- inbound FIX and venue events ----------------------------------------------------------

    def on_application_message(self, session: SessionHandle, event: ApplicationMessage) -> None:
        ctx = self._router.sessions[session.session_id]
        if ctx.settings.drop_copy:  # it may only listen
            ctx.send(business_reject(BusinessReject(event.seq, event.msg_type or b"", None, 4,
                                                    "drop-copy session: application messages are not accepted")))
            return
        if event.msg_type in MD_MSG_TYPES:
            self.marketdata.handle(ctx, event)
            return
        message = event.message
        route = None
        try:
            route = route_of(message)
            req = parse_request(message, ctx.venue.symbols)
        except RouteError as exc:  # a routing field we could not echo: answer unrouted, act on nothing
            req = BusinessReject(event.seq, event.msg_type or b"", None, 0, exc.text)
        try:
            self._flow.handle(ctx, req, event.poss_resend, self._clock.now_ns(), route)
        except StoreError:
            log.critical("%s: the journal failed; stopping", ctx.key, exc_info=True)
            self.stop()
            raise

    def on_logout(self, session: SessionHandle) -> None:
        self.marketdata.session_gone(session.session_id)

    def on_event(self, session: SessionHandle, event: Any) -> None:
        if isinstance(event, Rejected):  # counted for the bridge's metrics; the session already answered
            key = (str(session.session_id), "business" if event.business else "session", str(event.reason))
            self.rejects[key] = self.rejects.get(key, 0) + 1

    async def _consume(self, venue: VenueContext) -> None:
        """Move the events of an adapter's stream into its inbox and apply them there, without yielding:
        the events already waiting (up to a pass's worth) go with the first, in one batch (one commit
        point, one write per session); an order's accept and its end often arrive together."""
        events = venue.events
        inbox = venue.inbox
        waiting = getattr(events, "receive_nowait", None)
        async for event in events:
            inbox.waiting.append(event)
            if waiting is not None:
                for _ in range(EVENTS_PER_TURN - 1):
                    try:
                        inbox.waiting.append(waiting())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
            inbox.drain()

    def _apply_venue_event(self, event: V.VenueOrderEvent) -> None:
        try:
            on_venue_event(self._router, event)
        except StoreError:
            log.critical("the journal failed; stopping", exc_info=True)
            self.stop()
            raise
        except FixgwError:
            log.exception("venue event %r not applied", event)

    # -- introspection (tests, bridge) ---------------------------------------------------------

    def book(self, session_id: SessionID) -> OrderBook:
        """Return the order book of a session."""
        return self._router.sessions[session_id].book

    def handle(self, session_id: SessionID) -> SessionHandle:
        """Return the handle of a session (send, log out, look at its engine)."""
        handle = self._router.sessions[session_id].handle
        assert handle is not None
        return handle

    def venue(self, name: str) -> V.VenueAdapter:
        """Return the adapter of venue ``name``."""
        return self._venues[name].adapter


def _inbox_scheduler() -> Callable[[Callable[[], None]], object]:
    """When a venue inbox's pass runs: at the end of the WebSocket read that published the events, if
    one is being handled (``after_read``: the same turn, after every message of the read), else at the
    loop's next turn. Either way after the events the read published, in the order published."""
    next_turn = next_turn_scheduler()

    def schedule(callback: Callable[[], None]) -> object:
        if after_read(callback):
            return None
        return next_turn(callback)

    return schedule
