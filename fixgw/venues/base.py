"""The venue port: what every exchange adapter offers the gateway.

Theory of operation
-------------------
An adapter is an async context manager. Entering it syncs the server clock, loads instruments,
opens the private order stream and reconciles; leaving it stops its background tasks.

The port speaks the order model's vocabulary: sides, order types, times in force and statuses are
the ``fixgw.orders`` enums; each venue's ``enums.py`` maps them to the venue's own spellings and
back. What the port adds are the venue's ids: a command names an order by the venue client order id
(and the venue order id when known), an event by both, and a fill by its venue trade id.

Commands (``NewOrder``, ``CancelOrder``, ``AmendOrder``, ``ReplaceOrder``) go in through
``submit`` / ``cancel`` / ``amend`` / ``replace``. ``check`` is the pure rule check of a
``NewOrder``: an order object that passed it is not checked again when that same object is
submitted (or sent as a replace's new order), so a caller that checks first pays for one check.

What the venue said about orders comes out, exactly once, through ``events()`` as
``VenueOrderEvent`` observations (accepted, filled, canceled, expired, rejected, amended) — whether
the venue told us through the stream, through a REST response, or through reconciliation after a
reconnect or an unknown outcome. They are normalised and de-duplicated, and decide no order
status: the order's transition table does (``fixgw.orders``), fed by one mapping module in the
gateway. The return values of the command methods are venue snapshots for convenience.

Failures are typed (``fixgw.errors``): ``VenueRejected`` for a definite refusal (no event is
emitted for it), ``VenueUnknownOutcome`` when the fate could not be learned in time (the adapter
keeps looking and reports through events), ``VenueRateLimited``, ``VenueBanned``, ``VenueAuthError``.

Symbols are normalised ``BASE/QUOTE`` ("BTC/USDT") everywhere in this port; adapters map them.
"""

from __future__ import annotations

import enum
import weakref
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anyio

from fixgw.errors import FixgwError, VenueRejected
from fixgw.orders.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from fixgw.orders.fills import fill_key
from fixgw.venues.rules import PLAIN_SIDES, RuleViolation, check_order

__all__ = [
    "PLAIN_SIDES",
    "StreamState",
    "Instrument",
    "VenueCapabilities",
    "NewOrder",
    "CancelOrder",
    "AmendOrder",
    "ReplaceOrder",
    "OrderReport",
    "VenueOrderEvent",
    "VenueAccepted",
    "VenueFilled",
    "VenueCanceled",
    "VenueExpired",
    "VenueOrderRejected",
    "VenueAmended",
    "VenueHealth",
    "Balance",
    "VenueAdapter",
    "RuleViolation",
    "check_order",
    "REJECT_REASONS",
    "reject_reason",
    "each_outcome",
]

# Stable reason keys adapters put on ``VenueRejected.reason`` (the gateway maps them to FIX 103/102).
# "filter:<VENUE FILTER>" and "rule:<RuleViolation.rule>" are families.
REJECT_REASONS = frozenset({
    "unknown_symbol", "unknown_order", "duplicate_order", "insufficient_balance", "would_take",
    "would_trigger", "market_closed", "cancel_restricted", "cancel_rejected", "amend_rejected",
    "bad_precision", "invalid_order", "stale_timestamp", "unsupported", "not_placed", "other",
})


def reject_reason(exc: VenueRejected) -> str:
    """Return the reason key of a venue refusal (``"other"`` when the adapter gave none)."""
    return exc.reason


class StreamState(enum.Enum):
    DISCONNECTED = "DISCONNECTED"
    CONNECTING = "CONNECTING"
    SUBSCRIBED = "SUBSCRIBED"


@dataclass(frozen=True, slots=True)
class Instrument:
    """Trading rules of one instrument. A rule set to ``None`` (or zero on the venue) is not enforced."""

    symbol: str  # normalised "BTC/USDT"
    venue_symbol: str  # "BTCUSDT"
    base: str
    quote: str
    tick_size: Decimal | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    lot_step: Decimal | None = None
    min_qty: Decimal | None = None
    max_qty: Decimal | None = None
    market_lot_step: Decimal | None = None
    market_min_qty: Decimal | None = None
    market_max_qty: Decimal | None = None
    min_notional: Decimal | None = None
    max_notional: Decimal | None = None
    min_notional_applies_to_market: bool = False
    max_notional_applies_to_market: bool = False
    # price band around a reference price, per side (PERCENT_PRICE[_BY_SIDE]); checked when the
    # caller passes a reference price
    bid_multiplier_up: Decimal | None = None
    bid_multiplier_down: Decimal | None = None
    ask_multiplier_up: Decimal | None = None
    ask_multiplier_down: Decimal | None = None
    order_types: frozenset[OrderType] = frozenset()
    time_in_force: frozenset[TimeInForce] = frozenset()
    post_only_allowed: bool = False
    iceberg_allowed: bool = False
    iceberg_parts: int | None = None  # at most this many parts: CEIL(quantity / display quantity)
    quote_qty_market_allowed: bool = False
    amend_allowed: bool = False
    cancel_replace_allowed: bool = False
    trading: bool = True


@dataclass(frozen=True, slots=True)
class VenueCapabilities:
    """What a venue can do, so the gateway can refuse the rest before sending."""

    amend_keeps_priority: bool = False  # in-place quantity decrease keeping queue position
    amend_price: bool = False  # in-place price change
    cancel_replace_atomic: bool = False  # one request cancels and places (new venue order id)
    quote_qty_market: bool = False  # MARKET by quote amount (FIX CashOrderQty)
    post_only: bool = False
    stop_orders: bool = False  # stop-loss, market and limit
    take_profit_orders: bool = False  # take-profit, market and limit
    iceberg: bool = False  # a limit order showing part of its quantity (FIX MaxFloor)
    cancel_all: bool = False
    order_lists: bool = False  # OCO / OTO order lists (fixgw.venues.orderlists)
    #: the most orders one request can place (``submit_batch``); 1: the venue has no batch entry
    batch_orders: int = 1
    #: the most orders one request can cancel (``cancel_batch``); 1: the venue has no batch cancel
    batch_cancels: int = 1
    order_query_by_client_id: bool = True
    time_in_force: frozenset[TimeInForce] = frozenset({TimeInForce.GTC})
    sides: frozenset[OrderSide] = PLAIN_SIDES


# --- commands ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, weakref_slot=True)
class NewOrder:
    """Place an order. Give ``quantity``, or ``quote_quantity`` for a MARKET order by notional.

    ``client_order_id`` is the venue client order id (not the FIX ClOrdID).
    """

    client_order_id: str
    symbol: str
    side: OrderSide
    order_type: OrderType
    quantity: Decimal | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce | None = None  # None: GTC for resting types, nothing for MARKET
    quote_quantity: Decimal | None = None
    post_only: bool = False
    display_quantity: Decimal | None = None  # iceberg: the quantity shown at a time


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel one order by client order id or venue order id (one is enough)."""

    symbol: str
    client_order_id: str | None = None
    venue_order_id: str | None = None
    cancel_client_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class AmendOrder:
    """Reduce an order's quantity in place, keeping its queue priority."""

    symbol: str
    new_quantity: Decimal
    orig_client_order_id: str | None = None
    venue_order_id: str | None = None
    new_client_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReplaceOrder:
    """Cancel an order and place ``new`` in its place (the venue gives the new order a new id)."""

    orig_client_order_id: str | None
    new: NewOrder
    venue_order_id: str | None = None


# --- results and events -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderReport:
    """A snapshot of one order as the venue sees it (query, open orders, command results)."""

    venue: str
    symbol: str
    client_order_id: str
    venue_order_id: str
    status: OrderStatus  # as the venue reports it
    side: OrderSide | None = None
    order_type: OrderType | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    cum_qty: Decimal = Decimal(0)
    cum_quote: Decimal = Decimal(0)
    ts_ns: int = 0

    @property
    def leaves_qty(self) -> Decimal:
        if self.status.is_terminal or self.quantity is None:
            return Decimal(0)
        return max(self.quantity - self.cum_qty, Decimal(0))

    @property
    def avg_px(self) -> Decimal | None:
        return self.cum_quote / self.cum_qty if self.cum_qty else None


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueOrderEvent:
    """Something the venue said about an order, once. ``cum_qty``: the fills seen so far (its sum)."""

    venue: str
    symbol: str
    client_order_id: str
    venue_order_id: str
    cum_qty: Decimal
    ts_ns: int
    from_reconciliation: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueAccepted(VenueOrderEvent):
    """The venue accepted the order (it is working there)."""

    side: OrderSide | None = None
    order_type: OrderType | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueFilled(VenueOrderEvent):
    """One trade. ``trade_id`` is the venue's, unique per venue symbol; a synthesized fill
    (reconciliation without trade detail) has a trade id starting with ``"recon:"``. ``fill_key``
    is the one key duplicates are dropped by, here and in the order (``fixgw.orders.fills.fill_key``).
    ``done``: the venue reports the order filled with this trade (a quote-amount order learns its
    end from it)."""

    last_qty: Decimal
    last_px: Decimal
    trade_id: str
    fee: Decimal = Decimal(0)
    fee_asset: str | None = None
    is_maker: bool | None = None
    cum_quote: Decimal | None = None
    done: bool = False

    @property
    def fill_key(self) -> str:
        return fill_key(self.symbol, self.trade_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueCanceled(VenueOrderEvent):
    """The order ended canceled (by us or by the venue)."""

    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueExpired(VenueOrderEvent):
    """The venue ended the order: IOC/FOK/MARKET remainder, self-trade prevention, exchange cancel."""

    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueOrderRejected(VenueOrderEvent):
    """The venue rejected an order after accepting the request (seen on the stream), or the order was
    found never to have been placed (``code`` ``NOT_PLACED``)."""

    reason: str = ""
    code: int | str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueAmended(VenueOrderEvent):
    """The order was changed in place; ``client_order_id`` is the new id, ``orig_client_order_id`` the old."""

    orig_client_order_id: str | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class VenueHealth:
    """Health of one venue connection."""

    venue: str
    clock_offset_ms: float | None
    weight_used: int
    weight_limit: int
    banned_until_ns: int | None
    stream_state: StreamState
    stream_reconnects: int
    unresolved_orders: int
    last_event_ns: int | None = None

    @property
    def weight_headroom(self) -> int:
        return max(self.weight_limit - self.weight_used, 0)


@dataclass(frozen=True, slots=True)
class Balance:
    """One asset of the venue account: ``free`` to trade, ``locked`` in open orders (or otherwise held);
    unpacks as ``free, locked``."""

    free: Decimal
    locked: Decimal

    @property
    def total(self) -> Decimal:
        return self.free + self.locked

    def __iter__(self) -> Iterator[Decimal]:
        """``free, locked = balance`` (the pair the adapters once answered)."""
        return iter((self.free, self.locked))


# --- the port ---------------------------------------------------------------------------------


def _named(adapter: VenueAdapter, violation: RuleViolation | None) -> RuleViolation | None:
    """``violation`` with the venue's name in front of an "unsupported" text (the client asked the
    wrong venue, not with a wrong value)."""
    if violation is None or not violation.unsupported:
        return violation
    name = getattr(adapter, "name", "") or "the venue"
    return RuleViolation(violation.rule, f"{name}: {violation.reason}", True)



async def each_outcome(items: Sequence[Any], call: Callable[[Any], Awaitable[OrderReport]],
                       unset: FixgwError) -> list[OrderReport | FixgwError]:
    """``call`` on every item concurrently; one outcome per item, in order: its report, or the
    ``FixgwError`` it raised (``unset`` stands for an outcome never reached)."""
    outcomes: list[OrderReport | FixgwError] = [unset] * len(items)

    async def one(i: int, item: Any) -> None:
        try:
            outcomes[i] = await call(item)
        except FixgwError as exc:
            outcomes[i] = exc

    async with anyio.create_task_group() as tg:
        for i, item in enumerate(items):
            tg.start_soon(one, i, item)
    return outcomes


class VenueAdapter(ABC):
    """Interface of a venue adapter. Use as ``async with adapter: ...``."""

    name: str
    capabilities: VenueCapabilities

    async def __aenter__(self) -> VenueAdapter:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def run(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        """Run inside a task group the caller owns: ``await tg.start(adapter.run)`` returns once
        started (with the adapter); cancelling the task closes it."""
        async with self:
            task_status.started(self)
            await anyio.sleep_forever()

    @abstractmethod
    async def start(self) -> None:
        """Sync the clock, load instruments, open the order stream and reconcile."""

    @abstractmethod
    async def close(self) -> None:
        """Stop background tasks and close connections."""

    @abstractmethod
    async def load_instruments(self) -> dict[str, Instrument]:
        """Fetch the instrument list; return it keyed by normalised symbol."""

    @abstractmethod
    def instrument(self, symbol: str) -> Instrument:
        """Return a loaded instrument by normalised symbol; ``VenueRejected`` if unknown."""

    def check(self, order: NewOrder) -> RuleViolation | None:
        """Pre-check an order against the instrument rules and capabilities (pure, no I/O).

        ``VenueRejected`` if the symbol is unknown. An order object that passes is remembered (weakly,
        by identity) so that ``submit`` or ``replace`` of that same object does not check it again.
        """
        violation = _named(self, check_order(self.instrument(order.symbol), order, self.capabilities))
        if violation is None:
            try:
                self._checked_orders[id(order)] = order
            except AttributeError:
                self._checked_orders = weakref.WeakValueDictionary({id(order): order})
        return violation

    def refuse_unchecked(self, order: NewOrder) -> None:
        """Raise ``VenueRejected`` (code ``LOCAL``) if ``order`` breaks the rules; an order that passed
        ``check`` (this very object) is let through without a second check. Adapters call it before
        sending a new order."""
        checked = getattr(self, "_checked_orders", None)
        if checked is not None and checked.pop(id(order), None) is order:
            return
        violation = _named(self, check_order(self.instrument(order.symbol), order, self.capabilities))
        if violation is not None:
            reason = "unsupported" if violation.unsupported else f"rule:{violation.rule}"
            raise VenueRejected("LOCAL", violation.reason, reason=reason)

    @abstractmethod
    async def submit(self, order: NewOrder) -> OrderReport:
        """Place an order; events follow on ``events()``."""

    async def submit_batch(self, orders: Sequence[NewOrder]) -> list[OrderReport | FixgwError]:
        """Place several orders; return one outcome per order, in order: its report, or the typed
        failure (``VenueRejected``, ``VenueUnknownOutcome``...) that order met. One refused order does
        not refuse the others unless the venue refused the whole request (then each carries its text).

        An adapter whose venue has a batch entry (``capabilities.batch_orders`` above 1) sends the
        orders in as few requests as its rules allow; this default sends one ``submit`` per order,
        concurrently, each waiting its turn at the adapter's rate limiter.
        """
        return await each_outcome(orders, self.submit, VenueRejected("LOCAL", "not sent"))

    async def cancel_batch(self, requests: Sequence[CancelOrder]) -> list[OrderReport | FixgwError]:
        """Cancel several orders; one outcome per request, in order, as ``submit_batch`` answers.

        An adapter whose venue cancels in batches (``capabilities.batch_cancels`` above 1) sends as
        few requests as its rules allow; this default sends one ``cancel`` per order, concurrently.
        """
        return await each_outcome(requests, self.cancel, VenueRejected("LOCAL", "not sent"))

    @abstractmethod
    async def cancel(self, request: CancelOrder) -> OrderReport:
        """Cancel an order; ``OrderCanceled`` follows on ``events()``."""

    @abstractmethod
    async def amend(self, request: AmendOrder) -> OrderReport:
        """Reduce quantity in place, keeping priority (needs ``capabilities.amend_keeps_priority``)."""

    @abstractmethod
    async def replace(self, request: ReplaceOrder) -> OrderReport:
        """Cancel and replace; returns the new order's report."""

    @abstractmethod
    async def query(
        self, symbol: str, *, client_order_id: str | None = None, venue_order_id: str | None = None
    ) -> OrderReport:
        """Return the venue's view of one order, complete: the events it reveals (its acceptance, the
        fills behind its executed quantity, its end) are published on ``events()`` before it returns."""

    @abstractmethod
    async def open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        """Return all open orders (of one symbol if given)."""

    @abstractmethod
    async def cancel_all(self, symbol: str) -> list[OrderReport]:
        """Cancel every open order of a symbol."""

    @abstractmethod
    async def reconcile(self) -> None:
        """Bring every tracked order up to date with the venue; emit whatever was missed."""

    @abstractmethod
    def events(self) -> AsyncIterator[VenueOrderEvent]:
        """The one stream of order events (single consumer)."""

    @abstractmethod
    def health(self) -> VenueHealth:
        """Return the current health snapshot."""

    async def balances(self) -> dict[str, Balance]:
        """Every asset of the venue account, in one venue call: asset -> ``Balance``.

        ``VenueRejected`` with reason ``unsupported`` where the adapter cannot ask (the default).
        """
        raise VenueRejected("LOCAL", f"{getattr(self, 'name', '') or 'the venue'}: balances are not supported",
                            reason="unsupported")

