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
"""

from __future__ import annotations

from typing import Iterator

from fixgw.errors import DuplicateClOrdID, OrderError, StoreError, UnknownOrder

from .commands import CancelOrder, ReplaceOrder, SubmitOrder
from .events import OrderEvent, OrderPendingCancel, OrderPendingReplace
from .journal import OrderJournal, Record
from .order import Order, OrderSnapshot

__all__ = ["OrderBook"]


class OrderBook:
    """The orders of one account, with lookups by every id and an optional journal.

    With ``autocommit`` every record is committed as it is appended; otherwise the caller calls
    ``journal.commit()`` (once per batch, before acting on or acknowledging the batch).
    """

    def __init__(self, account: str = "default", journal: OrderJournal | None = None, *, autocommit: bool = False) -> None:
        if journal is not None and journal.account != account:
            raise OrderError(f"journal of account {journal.account!r} given to book of {account!r}")
        self.account = account
        self.journal = journal
        self.autocommit = autocommit
        self._submits = 0
        self._orders: dict[str, Order] = {}
        self._open: dict[str, Order] = {}
        self._by_cl_ord_id: dict[str, Order] = {}
        self._by_venue_id: dict[str, Order] = {}

    @classmethod
    def recover(cls, journal: OrderJournal, *, autocommit: bool = False) -> OrderBook:
        """Rebuild the book of ``journal.account`` by replaying its committed records.

        Hand ``open_orders()`` of the result to reconciliation. Raise ``StoreError`` naming the
        record if the journal does not replay.
        """
        book = cls(journal.account, None, autocommit=autocommit)
        for seq, record in journal.records():
            try:
                book._replay(record)
            except OrderError as exc:
                raise StoreError(f"journal record {seq} ({type(record).__name__}) does not replay: {exc}") from exc
        book.journal = journal
        return book

    # -- commands ------------------------------------------------------------------------------

    def submit(self, command: SubmitOrder) -> Order:
        """Open an order in INITIALIZED; raise ``DuplicateClOrdID`` if its id is live."""
        if type(command) is not SubmitOrder:
            raise OrderError(f"submit takes a SubmitOrder, not {type(command).__name__}")
        self._check_free(command.cl_ord_id)
        order = Order(f"{self.account}-{self._submits + 1}", self.account, command)
        self._record(command)
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
        order = self._orders.get(event.order_id)
        if order is None:
            raise UnknownOrder(f"no order {event.order_id!r} in account {self.account!r}")
        return self._apply_to(order, event, None)

    # -- lookups -------------------------------------------------------------------------------

    def get(self, order_id: str) -> Order:
        """Return the order with this internal id; raise ``UnknownOrder``."""
        order = self._orders.get(order_id)
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
            order = self._orders.get(order_id) or self._by_venue_id.get(order_id)
            if order is not None:
                return order
        if venue_order_id is not None:
            order = self._by_venue_id.get(venue_order_id)
            if order is not None:
                return order
        if cl_ord_id is not None:
            return self._by_cl_ord_id.get(cl_ord_id)
        return None

    def open_orders(self) -> list[Order]:
        """Return the live orders (not terminal), oldest first: what reconciliation must check."""
        return list(self._open.values())

    def __iter__(self) -> Iterator[Order]:
        return iter(self._orders.values())

    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders

    def snapshot(self) -> tuple[OrderSnapshot, ...]:
        """Return the state of every order, oldest first."""
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
            other = self._by_cl_ord_id.get(command.orig_cl_ord_id)
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
                self._record(command)
                self._record(e)

        venue_id = order.venue_order_id
        reported = order._apply(event, record)
        if is_request and order.pending_cl_ord_id == event.cl_ord_id:
            self._by_cl_ord_id[event.cl_ord_id] = order
        if order.venue_order_id != venue_id and order.venue_order_id is not None:
            self._by_venue_id[order.venue_order_id] = order
        if not order.is_open:
            self._open.pop(order.order_id, None)
        return reported

    def _record(self, record: Record) -> None:
        journal = self.journal
        if journal is None:
            return
        if self.autocommit:
            journal.append_and_commit(record)
        else:
            journal.append(record)

    def _replay(self, record: Record) -> None:
        kind = type(record)
        if kind is SubmitOrder:
            self.submit(record)
        elif kind is CancelOrder or kind is ReplaceOrder:
            pass  # its pending event follows it in the journal and does the work
        else:
            self.apply(record)
