"""The order book of one account: its orders, their lookups, and their journal.

Theory of operation. Every change goes through the book, which checks it, appends it to the journal
(buffered; the caller commits), and then applies it: a command or event that raises is neither
journaled nor applied, so the journal holds exactly what the book did, and ``recover`` rebuilds the
same book by replaying it. Order ids are ``f"{account}-{n}"`` with ``n`` counting the account's
submits, which replay counts again, so ids (and the ExecIDs derived from them) survive restarts.

``submit`` opens an order in INITIALIZED (the gateway then applies ``OrderSubmitted`` when it sends
it, or ``OrderRejected`` when a pre-trade check refuses it). ``cancel`` and ``replace`` journal the
command and apply its pending event in one step, because the request's own client order id must be
checked and indexed together with it. Venue events are routed with ``find`` (venue order id, a client
order id of any age, or our order id) and then applied with ``apply``.

A client order id maps to the newest order that used it: it is refused while that order is live and
free again once the order is done.

Bounded memory. With a journal and a ``retention``, a finished (terminal) order stays in memory while
it is among the ``retention`` most recently finished ones, then leaves it: memory is bounded by the
open orders plus the retention. An order that left is still answered for: every lookup (``get``,
``find``, ``in``, ``apply``, ``cancel``, ``replace``) that misses in memory asks the journal
(``load_order``, ``find_order_id``), replays that one order and holds it again as the most recently
finished one, so a late venue event (a fill after a cancel, a duplicate, dropped by its trade id as
before) reaches it and it leaves again later. The in-memory indexes hold only what was indexed live
and lose an order's entries when it leaves, so "in memory, else the journal" gives the same answer
as a book that keeps everything. ``len``, iteration and ``snapshot`` cover the orders in memory.
``recover`` replays with the same retention, so a restart holds the open orders plus the window.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

from fixgw.errors import DuplicateClOrdID, OrderError, StoreError, UnknownOrder

from .commands import CancelOrder, ReplaceOrder, SubmitOrder
from .events import OrderEvent, OrderPendingCancel, OrderPendingReplace
from .journal import OrderJournal, Record, lookup_keys
from .order import Order, OrderSnapshot

__all__ = ["OrderBook"]


class OrderBook:
    """The orders of one account, with lookups by every id and an optional journal.

    With ``autocommit`` every record is committed as it is appended; otherwise the caller calls
    ``journal.commit()`` (once per batch, before acting on or acknowledging the batch).
    ``retention`` is how many finished orders stay in memory (``None``: all; ``0``: none once the
    change that finished them is applied); it needs a journal to answer for the others.
    """

    def __init__(
        self,
        account: str = "default",
        journal: OrderJournal | None = None,
        *,
        autocommit: bool = False,
        retention: int | None = None,
    ) -> None:
        if journal is not None and journal.account != account:
            raise OrderError(f"journal of account {journal.account!r} given to book of {account!r}")
        if retention is not None and (type(retention) is not int or retention < 0):
            raise OrderError(f"retention must be a count >= 0 or None, not {retention!r}")
        self.account = account
        self.journal = journal
        self.autocommit = autocommit
        self.retention = retention
        self._submits = 0
        self._orders: dict[str, Order] = {}
        self._open: dict[str, Order] = {}
        self._by_cl_ord_id: dict[str, Order] = {}
        self._by_venue_id: dict[str, Order] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()  # terminal orders in memory, oldest first
        self._source: OrderJournal | None = journal  # where orders that left memory are read back from
        self._replay_seq: int | None = None  # while recovering: the record being replayed

    @classmethod
    def recover(
        cls, journal: OrderJournal, *, autocommit: bool = False, retention: int | None = None
    ) -> OrderBook:
        """Rebuild the book of ``journal.account`` by replaying its committed records.

        Hand ``open_orders()`` of the result to reconciliation. Raise ``StoreError`` naming the
        record if the journal does not replay. With ``retention`` finished orders leave memory as the
        replay goes, as they did live.
        """
        book = cls(journal.account, None, autocommit=autocommit, retention=retention)
        book._source = journal
        for seq, record in journal.records():
            book._replay_seq = seq
            try:
                book._replay(record)
            except OrderError as exc:
                raise StoreError(f"journal record {seq} ({type(record).__name__}) does not replay: {exc}") from exc
        book._replay_seq = None
        book.journal = journal
        return book

    # -- commands ------------------------------------------------------------------------------

    def submit(self, command: SubmitOrder) -> Order:
        """Open an order in INITIALIZED; raise ``DuplicateClOrdID`` if its id is live."""
        if type(command) is not SubmitOrder:
            raise OrderError(f"submit takes a SubmitOrder, not {type(command).__name__}")
        self._check_free(command.cl_ord_id)
        order = Order(f"{self.account}-{self._submits + 1}", self.account, command)
        self._record(command, order.order_id)
        self._submits += 1
        self._orders[order.order_id] = order
        self._open[order.order_id] = order
        self._by_cl_ord_id[command.cl_ord_id] = order
        return order

    def cancel(self, command: CancelOrder) -> Order:
        """Journal a cancel request and put the order in PENDING_CANCEL; return the order.

        Raise ``UnknownOrder`` if no order matches, ``DuplicateClOrdID`` if the request's id is live,
        ``InvalidTransition`` if the order cannot be canceled now (terminal: too late; a request
        already pending). Nothing is journaled when it raises.
        """
        order = self._target(command)
        event = OrderPendingCancel(order_id=order.order_id, ts_ns=command.ts_ns, cl_ord_id=command.cl_ord_id)
        self._apply_to(order, event, command)
        return order

    def replace(self, command: ReplaceOrder) -> Order:
        """Journal a replace request and put the order in PENDING_REPLACE; return the order.

        Raise as ``cancel`` does, plus ``OverfillError`` if the new quantity is below the cumulative
        quantity and ``OrderError`` for terms the order type does not take.
        """
        order = self._target(command)
        event = OrderPendingReplace(
            order_id=order.order_id,
            ts_ns=command.ts_ns,
            cl_ord_id=command.cl_ord_id,
            quantity=command.quantity,
            price=command.price,
            trigger_price=command.trigger_price,
        )
        self._apply_to(order, event, command)
        return order

    # -- events --------------------------------------------------------------------------------

    def apply(self, event: OrderEvent) -> bool:
        """Apply an event to its order (by ``event.order_id``); return whether to report it.

        Raise ``UnknownOrder`` for an unknown order id, else as ``Order.apply``.
        """
        order = self._orders.get(event.order_id) or self._reload(event.order_id)
        if order is None:
            raise UnknownOrder(f"no order {event.order_id!r} in account {self.account!r}")
        return self._apply_to(order, event, None)

    # -- lookups -------------------------------------------------------------------------------

    def get(self, order_id: str) -> Order:
        """Return the order with this internal id; raise ``UnknownOrder``."""
        order = self._orders.get(order_id) or self._reload(order_id)
        if order is None:
            raise UnknownOrder(f"no order {order_id!r} in account {self.account!r}")
        return order

    def find(
        self,
        *,
        order_id: str | None = None,
        venue_order_id: str | None = None,
        cl_ord_id: str | None = None,
    ) -> Order | None:
        """Return the order matching the first id that is known, tried in this order, or ``None``.

        ``order_id`` is tried as our id and then as a venue's (FIX OrderID carries either);
        ``cl_ord_id`` matches the order's current client order id, any earlier one in its chain,
        and those of its cancel/replace requests.
        """
        if order_id is not None:
            order = self._orders.get(order_id) or self._reload(order_id) or self._by_venue(order_id)
            if order is not None:
                return order
        if venue_order_id is not None:
            order = self._by_venue(venue_order_id)
            if order is not None:
                return order
        if cl_ord_id is not None:
            return self._by_cl(cl_ord_id)
        return None

    @property
    def submitted(self) -> int:
        """Return how many orders the book has opened, in memory or not."""
        return self._submits

    @property
    def finished_in_memory(self) -> int:
        """Return how many finished orders are held in memory (at most ``retention`` after a change)."""
        return len(self._finished)

    def live_order(self, cl_ord_id: str) -> Order | None:
        """Return the live order that holds ``cl_ord_id`` (a new order may not use it), else ``None``.

        Answered from memory: a live order never leaves it.
        """
        holder = self._by_cl_ord_id.get(cl_ord_id)
        return holder if holder is not None and holder.is_open else None

    def open_orders(self) -> list[Order]:
        """Return the live orders (not terminal), oldest first: what reconciliation must check."""
        return list(self._open.values())

    def __iter__(self) -> Iterator[Order]:
        return iter(self._orders.values())

    def __len__(self) -> int:
        """Return the number of orders in memory (open ones and the retained finished ones)."""
        return len(self._orders)

    def __contains__(self, order_id: object) -> bool:
        """Return whether ``order_id`` is an order of this book, in memory or in the journal."""
        if order_id in self._orders:
            return True
        return type(order_id) is str and self._reload(order_id) is not None

    def snapshot(self) -> tuple[OrderSnapshot, ...]:
        """Return the state of every order in memory, oldest first."""
        return tuple(order.snapshot() for order in self._orders.values())

    # -- internals -----------------------------------------------------------------------------

    def _check_free(self, cl_ord_id: str) -> None:
        holder = self._by_cl_ord_id.get(cl_ord_id)
        if holder is not None and holder.is_open:
            raise DuplicateClOrdID(f"client order id {cl_ord_id!r} is live on order {holder.order_id}")

    def _target(self, command: CancelOrder | ReplaceOrder) -> Order:
        order = self.find(order_id=command.order_id, cl_ord_id=command.orig_cl_ord_id)
        if order is None:
            raise UnknownOrder(
                f"no order for OrderID {command.order_id!r} / OrigClOrdID {command.orig_cl_ord_id!r}"
            )
        if command.order_id is not None and command.orig_cl_ord_id is not None:
            other = self._by_cl(command.orig_cl_ord_id)
            if other is not order:
                raise UnknownOrder(
                    f"OrderID {command.order_id!r} and OrigClOrdID {command.orig_cl_ord_id!r} name different orders"
                )
        return order

    def _apply_to(self, order: Order, event: OrderEvent, command: CancelOrder | ReplaceOrder | None) -> bool:
        is_request = type(event) is OrderPendingCancel or type(event) is OrderPendingReplace
        if is_request:
            self._check_free(event.cl_ord_id)
        journal = self.journal
        if journal is None:
            record = None
        elif command is None:
            record = self._record
        else:

            def record(e: OrderEvent) -> None:
                self._record(command, order.order_id)
                self._record(e)

        venue_id = order.venue_order_id
        reported = order._apply(event, record)
        if is_request and order.pending_cl_ord_id == event.cl_ord_id:
            self._by_cl_ord_id[event.cl_ord_id] = order
        if order.venue_order_id != venue_id and order.venue_order_id is not None:
            self._by_venue_id[order.venue_order_id] = order
        if not order.is_open:
            self._open.pop(order.order_id, None)
            if self.retention is not None:
                self._finished[order.order_id] = None
                self._finished.move_to_end(order.order_id)
                self._trim(self.retention)
        return reported

    def _record(self, record: Record, order_id: str | None = None) -> None:
        journal = self.journal
        if journal is None:
            return
        if self.autocommit:
            journal.append_and_commit(record, order_id)
        else:
            journal.append(record, order_id)

    # -- orders that left memory ---------------------------------------------------------------

    def _by_cl(self, cl_ord_id: str) -> Order | None:
        order = self._by_cl_ord_id.get(cl_ord_id)
        if order is not None or self.retention is None or self._source is None:
            return order
        return self._reload(self._source.find_order_id(cl_ord_id=cl_ord_id))

    def _by_venue(self, venue_order_id: str) -> Order | None:
        order = self._by_venue_id.get(venue_order_id)
        if order is not None or self.retention is None or self._source is None:
            return order
        return self._reload(self._source.find_order_id(venue_order_id=venue_order_id))

    def _reload(self, order_id: str | None) -> Order | None:
        """Read an order that left memory back from the journal; ``None`` if it has none."""
        source = self._source
        if order_id is None or self.retention is None or source is None:
            return None
        order = self._orders.get(order_id)
        if order is not None:
            return order
        records = source.load_order(order_id, self._replay_seq)
        if not records or type(records[0]) is not SubmitOrder:
            return None
        order = Order(order_id, self.account, records[0])
        for record in records[1:]:
            if type(record) is not CancelOrder and type(record) is not ReplaceOrder:
                order._apply(record, None)
        # Not indexed: the indexes keep only what was indexed live (the journal answers the rest).
        self._trim(max(self.retention - 1, 0))
        self._orders[order_id] = order
        self._finished[order_id] = None
        return order

    def _trim(self, keep: int) -> None:
        """Let the oldest finished orders leave memory until ``keep`` remain."""
        finished = self._finished
        while len(finished) > keep:
            order_id, _ = finished.popitem(last=False)
            order = self._orders.pop(order_id)
            for event in order.events:
                cl_ord_id, venue_order_id = lookup_keys(event)
                if cl_ord_id is not None and self._by_cl_ord_id.get(cl_ord_id) is order:
                    del self._by_cl_ord_id[cl_ord_id]
                if venue_order_id is not None and self._by_venue_id.get(venue_order_id) is order:
                    del self._by_venue_id[venue_order_id]
            for cl_ord_id in order.cl_ord_ids:
                if self._by_cl_ord_id.get(cl_ord_id) is order:
                    del self._by_cl_ord_id[cl_ord_id]
            if self._by_venue_id.get(order.venue_order_id) is order:  # type: ignore[arg-type]
                del self._by_venue_id[order.venue_order_id]  # type: ignore[arg-type]

    def _replay(self, record: Record) -> None:
        kind = type(record)
        if kind is SubmitOrder:
            self.submit(record)
        elif kind is CancelOrder or kind is ReplaceOrder:
            pass  # its pending event follows it in the journal and does the work
        else:
            self.apply(record)
