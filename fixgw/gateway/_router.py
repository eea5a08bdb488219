"""Where every order belongs, and the one step that changes an order: apply, journal, report, commit.

Each FIX session has a ``SessionContext``: its settings, version table, ``OrderBook`` (whose account
is the session's key) and venue. The ``Router`` holds them by session id and by account, so a venue
event finds the session that owns its order from the venue client order id alone (see ``_ids``).

``Router.apply`` is the only way an order event reaches a book. It applies the event (the book
appends it to the journal), hands the resulting report to the session (``SessionHandle.send`` stores
it, even while the client is away) and then commits. The journal and the message store share one
SQLite transaction, so that commit makes the event and its report durable together: after a crash
both are in the file or neither is. Nothing leaves for the client before the commit (the session
commits again before any byte is written), and the venue is called only after it.

``Router.batch`` applies many events as one step: the venue events of one turn (``VenueInbox``). Their
reports are queued on each session and written once at the end, after one commit, instead of one
write and one commit point per event.

Routes: a report about an order goes back by the order's route (journaled with it, so it holds after
a restart); an immediate answer to a message goes back by that message's route. The gateway passes
the route along; ``translate.reply_header`` makes the header fields of it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from decimal import Decimal
from typing import Any, Awaitable, Callable

import anyio

from ..clock import Clock
from ..config import SessionSettings, VenueConfig
from ..errors import InvalidTransition, OrderError, VenueError
from ..logsafe import printable
from ..orders import LEG_EVENT_TYPES, OrderBook, Route
from ..orders.enums import ExecTypeHint
from ..session import SessionID
from ..translate import REJ, SymbolMap, VersionTable, reply_for_event, reply_header, table_for
from ..risk import Refusal
from ..transport import SessionHandle
from ..venues import base as V
from ..venues._common.ws import write_at_once
from ._ids import parse_venue_cl_id
from ._latency import ENDPOINTS, Histogram

__all__ = ["VenueContext", "SessionContext", "Router", "log_text", "GLOBAL"]

#: The key of the global kill switch in ``Router.halted``.
GLOBAL = "*"

log = logging.getLogger("fixgw.gateway")

_LEG_EVENTS = frozenset(LEG_EVENT_TYPES)

#: Seconds ``VenueContext.caught_up`` waits at most for the venue events to be applied.
CATCH_UP_TIMEOUT = 5.0


def log_text(exc: BaseException) -> str:
    """An error's text for a log line, control characters escaped (a ``VenueError`` escapes its own)."""
    return str(exc) if isinstance(exc, VenueError) else printable(exc)


def _nothing() -> None:
    pass


class VenueContext:
    """One venue adapter with the symbol map its instrument list gives, and the workers that call it.

    Venue calls wait in one queue and ``VenueConfig.max_in_flight`` workers (``run_calls``) carry them
    out in order, so at most that many are in flight. Over a WebSocket API connection requests
    pipeline, so a low bound only adds queueing; the bound keeps what a stalled venue collects finite.
    A queued call costs a hand-over to a parked worker, not a new task per order. The last call taken
    in a turn (none queued behind it) writes its request at once, with the frames the turn's other calls
    queued (``ws.write_at_once``), instead of a turn later: each of them passed ``before_call`` first.

    ``inbox`` (``_venue_events.VenueInbox``) holds the venue's events until they are applied: the
    adapter puts them there itself (``set_event_sink``) or the gateway moves them from ``events``, the
    adapter's stream. A worker whose venue calls published events applies them as soon as no call
    waits any more, in the same turn and one batch (the inbox's scheduled pass then finds nothing).
    ``caught_up`` waits until every event published so far has been applied, so what a venue answer
    revealed is in the books (and reported) before the gateway goes on: the acceptor opens after it at
    start-up, and a cancel the venue calls unknown is answered after it.
    """

    def __init__(self, config: VenueConfig, adapter: V.VenueAdapter) -> None:
        self.config = config
        self.adapter = adapter
        self.symbols = SymbolMap(())
        #: The venue's instrument list (symbol -> ``Instrument``), loaded when the venue is opened.
        self.instruments: dict[str, V.Instrument] = {}
        self.workers = config.max_in_flight
        #: Calls not taken by a worker yet, oldest first, and the workers parked until one comes.
        self._calls: deque[tuple[Callable[..., Awaitable[Any]], tuple[Any, ...]]] = deque()
        self._idle: deque[asyncio.Future[None]] = deque()
        self.events: Any = None
        #: Where the venue's events wait to be applied (set by the gateway; ``None`` in bare tests).
        self.inbox: Any = None
        #: Run before each venue call: the store's ``durable``, so what allowed the call is durable first
        #: (it returns None when it is, else an awaitable that returns once it is).
        self.before_call: Callable[[], Awaitable[None] | None] = _nothing
        #: Endpoint (``order.place``...) -> how long the workers' venue calls took (``_latency``).
        self.latency: dict[str, Histogram] = {}

    async def caught_up(self, timeout: float = CATCH_UP_TIMEOUT) -> bool:
        """Return ``True`` once every event waiting on ``events`` has been applied (its consumer waits
        for more), ``False`` after ``timeout`` seconds. A stream that keeps no statistics (an adapter's
        own iterator, or none set yet) gets one event-loop turn."""
        with anyio.move_on_after(timeout):
            while True:
                await anyio.sleep(0)
                inbox = self.inbox
                if inbox is not None and inbox.waiting:
                    continue  # its pass is scheduled
                statistics = getattr(self.events, "statistics", None)
                if statistics is None:
                    return True
                s = statistics()
                # The consumer applies what it receives without yielding, so a consumer waiting again on
                # an empty buffer has applied everything handed to it.
                if s.current_buffer_used == 0 and s.tasks_waiting_receive > 0:
                    return True
        return False

    def call(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Queue ``fn(*args)`` for the next free worker."""
        self._calls.append((fn, args))
        idle = self._idle
        while idle:  # wake one parked worker (one that was cancelled meanwhile does not count)
            parked = idle.popleft()
            if not parked.done():
                parked.set_result(None)
                break

    async def run_calls(self) -> None:
        """Run the workers until cancelled."""
        async with anyio.create_task_group() as tg:
            for _ in range(self.workers):
                tg.start_soon(self._work)

    async def _next_call(self) -> tuple[Callable[..., Awaitable[Any]], tuple[Any, ...]]:
        """The oldest queued call; park until there is one. A worker with calls waiting takes the next
        at once, without a turn of the event loop (its venue call awaits the answer anyway)."""
        calls = self._calls
        while not calls:
            parked = asyncio.get_running_loop().create_future()
            self._idle.append(parked)
            await parked  # cancelled: the future is done, so ``call`` skips it
        return calls.popleft()

    async def _work(self) -> None:
        while True:
            fn, args = await self._next_call()
            hold = self.before_call()
            if hold is not None:  # pipelined commits: wait until what allowed the call is durable
                await hold
            started = time.perf_counter()
            # the last call queued this turn writes its request at once (with the others' frames)
            write_at_once(not self._calls)
            try:
                await fn(*args)
            finally:
                name = getattr(fn, "__name__", "call")
                hist = self.latency.get(ENDPOINTS.get(name, name))
                if hist is None:
                    hist = self.latency[ENDPOINTS.get(name, name)] = Histogram()
                hist.observe(time.perf_counter() - started)
            inbox = self.inbox
            if inbox is not None and inbox.waiting and not self._calls:
                inbox.drain()  # what the calls revealed, reported in this turn, in one batch


class SessionContext:
    """One FIX session: its settings, version table, order book and venue."""

    def __init__(self, settings: SessionSettings, key: str, book: OrderBook, journal: Any,
                 venue: VenueContext) -> None:
        self.settings = settings
        self.key = key
        self.book = book
        self.journal = journal
        self.venue = venue
        self.table: VersionTable = table_for(settings.begin_string)
        self.session_id = SessionID(settings.begin_string, settings.sender_comp_id, settings.target_comp_id)
        self.handle: SessionHandle | None = None

    def send(self, reply: tuple[bytes, list[tuple[int, Any]]] | None, route: Route | None = None) -> None:
        """Send ``reply`` (if any) to the client, back by ``route`` when the request named one."""
        if reply is not None and self.handle is not None:
            if route is None:
                self.handle.send(*reply)
            else:
                self.handle.send(*reply, header_fields=reply_header(route))

    def client_symbol(self, order: Any) -> str:
        return self.venue.symbols.client(order.symbol)

    def report(self, order: Any, event: Any,
               reject_reason: str | None = None) -> tuple[bytes, list[tuple[int, Any]]] | None:
        """Return the message reporting ``event`` just applied to ``order`` (``None`` if none is due);
        ``reject_reason`` (a ``REJ`` name) is the cause of a rejection when it is known."""
        return reply_for_event(self.table, order, event, self.client_symbol(order),
                               avg_px_places=self.venue.symbols.avg_px_places(order.symbol),
                               reject_reason=reject_reason)

    def unique_tag(self) -> str:
        """A tag no other message of this session's store shares (see ``SessionHandle.unique_tag``)."""
        assert self.handle is not None
        return self.handle.unique_tag()

    def loose_exec_id(self) -> str:
        """An ExecID for a report about no order, unique for the life of the store."""
        return f"{self.key}-X{self.unique_tag()}"

    def status_exec_id(self, order: Any) -> str:
        """An ExecID for a status report about ``order``, unique for the life of the store: the order's
        last ExecID and the tag of the report about to be sent (persisted, unlike a counter here)."""
        return f"{order.exec_id}.s{self.unique_tag()}"


class Router:
    """The sessions' contexts, the prices seen, and the apply-journal-report step they share."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.sessions: dict[SessionID, SessionContext] = {}
        self.accounts: dict[str, SessionContext] = {}
        #: Last trade price per venue symbol (fills we saw), for the price band check.
        self.last_px: dict[str, Decimal] = {}
        #: Kill switches engaged: ``GLOBAL`` (every order) and order account keys (a FIX session's or a
        #: bridge account's). New orders of a halted account are refused (see ``halt_refusal``).
        self.halted: set[str] = set()
        #: Drop-copy sessions: (context, the accounts it copies; ``None``: every one).
        self.copies: list[tuple[SessionContext, frozenset[str] | None]] = []
        #: Order account key -> submit to first report made, seconds (``_latency``; read by the bridge).
        self.first_report: dict[str, Histogram] = {}
        #: While ``batch`` runs: the handles its reports were queued on and the journals it wrote.
        self._batch: tuple[list[SessionHandle], list[Any]] | None = None

    def add(self, ctx: SessionContext) -> None:
        self.sessions[ctx.session_id] = ctx
        self.accounts[ctx.key] = ctx

    def add_account(self, ctx: SessionContext) -> None:
        """Register the context of an order account that no FIX session owns (a bridge account)."""
        self.accounts[ctx.key] = ctx

    def halt_refusal(self, ctx: SessionContext) -> Refusal | None:
        """The refusal of a new order of ``ctx`` while a kill switch covers it, else ``None``."""
        if not self.halted:
            return None
        if GLOBAL in self.halted:
            scope = "global"
        elif ctx.key in self.halted:
            scope = f"account {ctx.key}"
        else:
            return None
        return Refusal("kill_switch", REJ.BROKER_OPTION, f"kill switch engaged ({scope}): new orders are refused")

    def spawn(self, fn: Callable[..., Awaitable[Any]], ctx: SessionContext, *args: Any) -> None:
        """Queue the venue call ``fn(ctx, *args)`` on ``ctx``'s venue (after the commit that allows it)."""
        ctx.venue.call(fn, ctx, *args)

    def locate(self, client_order_id: str) -> tuple[SessionContext, Any, int] | None:
        """Return (session, order, leg) that a venue client order id names, or ``None`` if not ours."""
        parsed = parse_venue_cl_id(client_order_id)
        if parsed is None:
            return None
        account, order_id, leg = parsed
        ctx = self.accounts.get(account)
        if ctx is None or order_id not in ctx.book:
            return None
        return ctx, ctx.book.get(order_id), leg

    def batch(self, step: Callable[[], None]) -> None:
        """Run ``step``, whose ``apply`` calls share one commit point and one write per session.

        Inside it a report is queued on its session without a write, and ``apply`` marks no commit
        point; at the end each session touched writes what it queued (``SessionHandle.flush``: its
        store commits first, so everything the batch journaled is durable before the bytes leave), and
        the journals written mark one commit point (a no-op when a flush already committed). So the
        venue events of one turn cost one commit and one write, not one of each per event.
        """
        if self._batch is not None:  # already inside one: it ends the batch
            step()
            return
        handles: list[SessionHandle] = []
        journals: list[Any] = []
        self._batch = (handles, journals)
        try:
            step()
        finally:
            self._batch = None
            try:
                for handle in handles:
                    handle.flush()
            finally:
                for journal in journals:
                    journal.commit()

    def _send(self, ctx: SessionContext, reply: tuple[bytes, list[tuple[int, Any]]] | None,
              route: Route | None = None) -> None:
        """``ctx.send``, or inside ``batch`` the same message queued for the batch's one write."""
        batch = self._batch
        if batch is None:
            ctx.send(reply, route)
            return
        handle = ctx.handle
        if reply is None or handle is None:
            return
        if route is None:
            handle.send(*reply, flush=False)
        else:
            handle.send(*reply, header_fields=reply_header(route), flush=False)
        handles = batch[0]
        if handle not in handles:
            handles.append(handle)

    def _commit(self, ctx: SessionContext) -> None:
        batch = self._batch
        if batch is None:
            ctx.journal.commit()
        elif ctx.journal not in batch[1]:
            batch[1].append(ctx.journal)

    def apply(self, ctx: SessionContext, order: Any, event: Any, *, reason: str | None = None) -> None:
        """Apply ``event`` to ``order``, report what the transition says to the owning session, and
        commit both at once.

        A leg event is applied as the order event it amounts to, and that is what is reported. An event
        the transition leaves due (``Order.due``: the held end of an old leg once its replace failed) is
        applied and reported next, in the same commit. ``reason``: the ``REJ`` name of a pre-trade
        refusal, the OrdRejReason of the rejection reported.
        """
        try:
            self._apply_one(ctx, order, event, reason)
            due = order.due()
            if due is not None:
                self._apply_one(ctx, order, due, None)
        finally:
            self._commit(ctx)  # also what a command appended before this event (never left open)

    def _apply_one(self, ctx: SessionContext, order: Any, event: Any, reason: str | None) -> None:
        try:
            reported = ctx.book.apply(event)
        except (InvalidTransition, OrderError) as exc:
            log.warning("%s: %s not applied to %s: %s", ctx.key, type(event).__name__, order.order_id,
                        log_text(exc))
            return
        if reported:
            if type(event) in _LEG_EVENTS:
                event = order.events[-1]  # the order event the leg event amounted to
            if _first_report(order):
                self._observe_first_report(ctx, order)
            self._send(ctx, ctx.report(order, event, reason), order.route)
            if self.copies:
                self._copy(ctx, order, event, reason)

    def _observe_first_report(self, ctx: SessionContext, order: Any) -> None:
        hist = self.first_report.get(ctx.key)
        if hist is None:
            hist = self.first_report[ctx.key] = Histogram()
        hist.observe(max(self.clock.now_ns() - order.ts_init_ns, 0) / 1e9)

    def _copy(self, ctx: SessionContext, order: Any, event: Any, reason: str | None) -> None:
        """Send the report of ``event`` on ``ctx``'s ``order`` to every drop-copy session that copies it."""
        symbol = places = None
        for dc, accounts in self.copies:
            if accounts is None or ctx.settings.account in accounts:
                if symbol is None:  # the same for every copy
                    symbol, places = ctx.client_symbol(order), ctx.venue.symbols.avg_px_places(order.symbol)
                self._send(dc, reply_for_event(dc.table, order, event, symbol, avg_px_places=places,
                                               reject_reason=reason))

    def report_last(self, ctx: SessionContext, order: Any) -> None:
        """Report the event a book command just journaled, and commit the two together."""
        try:
            self._send(ctx, ctx.report(order, order.events[-1]), order.route)
            if self.copies:
                self._copy(ctx, order, order.events[-1], None)
        finally:
            self._commit(ctx)


def _first_report(order: Any) -> bool:
    """Whether the event just applied to ``order`` is the first it reports (``OrderSubmitted``, pending
    new, makes no report; every later event does)."""
    events = order.events
    last = len(events) - 1
    if last < 0 or events[last].exec_type is _PENDING_NEW:
        return False
    for i in range(last):  # stops at the first reported event: the second, for most orders
        if events[i].exec_type is not _PENDING_NEW:
            return False
    return True


_PENDING_NEW = ExecTypeHint.PENDING_NEW
