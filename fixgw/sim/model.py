"""Data of the matching engine: orders, accounts, requests and the events it emits. Pure, no I/O.

Times are epoch milliseconds (the venue's unit). Money is ``Decimal``.

The request and the events made for every order (``NewOrder``, ``ExecutionReport``, ``AccountPosition``)
are treated as immutable but not declared frozen: a frozen dataclass sets each field through
``object.__setattr__``, which made their construction about a tenth of the simulator's work per order
(profiled, bench/gateway.py). Nothing changes them after they are made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

__all__ = [
    "ZERO",
    "NewOrder",
    "Order",
    "Account",
    "Fill",
    "ExecutionReport",
    "AccountPosition",
    "BalanceUpdate",
    "PublicTrade",
    "DepthUpdate",
    "Event",
    "MARKET_TYPES",
    "LIMIT_TYPES",
    "STOP_TYPES",
]

ZERO = Decimal(0)
MARKET_TYPES = frozenset({"MARKET", "STOP_LOSS", "TAKE_PROFIT"})
LIMIT_TYPES = frozenset({"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
STOP_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
DONE = frozenset({"FILLED", "CANCELED", "EXPIRED", "REJECTED", "EXPIRED_IN_MATCH"})


@dataclass(slots=True)
class NewOrder:
    """A validated-for-syntax new order request (the command)."""

    symbol: str
    side: str
    type: str
    quantity: Decimal | None = None
    price: Decimal | None = None
    time_in_force: str | None = None
    quote_order_qty: Decimal | None = None
    stop_price: Decimal | None = None
    new_client_order_id: str | None = None
    stp_mode: str = "NONE"
    strategy_id: int | None = None
    strategy_type: int | None = None
    iceberg_qty: Decimal | None = None


@dataclass(slots=True, eq=False)
class Order:
    """An order known to the engine; mutable, owned by the engine. Events carry copies."""

    symbol: str
    order_id: int
    client_order_id: str
    account_id: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    stop_price: Decimal = ZERO
    quote_order_qty: Decimal = ZERO
    stp_mode: str = "NONE"
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = "NEW"
    time: int = 0
    update_time: int = 0
    working_time: int = -1
    is_working: bool = False
    triggered: bool = False
    locked_asset: str | None = None
    locked: Decimal = ZERO
    order_list_id: int = -1
    prevented_qty: Decimal = ZERO
    strategy_id: int | None = None
    strategy_type: int | None = None
    expiry_reason: str | None = None
    amend_count: int = 0
    iceberg_qty: Decimal = ZERO  # the part shown at a time; matching here fills the whole order alike

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def is_done(self) -> bool:
        return self.status in DONE

    @property
    def is_market(self) -> bool:
        return self.type in MARKET_TYPES

    def copy(self) -> "Order":
        """A copy (one per event): every field set directly, about twice as fast as through ``__init__``.

        Lists every field; ``tests/sim/test_sim_engine.py`` checks that none is missing.
        """
        o = _new(Order)
        o.symbol = self.symbol
        o.order_id = self.order_id
        o.client_order_id = self.client_order_id
        o.account_id = self.account_id
        o.side = self.side
        o.type = self.type
        o.time_in_force = self.time_in_force
        o.price = self.price
        o.orig_qty = self.orig_qty
        o.stop_price = self.stop_price
        o.quote_order_qty = self.quote_order_qty
        o.stp_mode = self.stp_mode
        o.executed_qty = self.executed_qty
        o.cum_quote = self.cum_quote
        o.status = self.status
        o.time = self.time
        o.update_time = self.update_time
        o.working_time = self.working_time
        o.is_working = self.is_working
        o.triggered = self.triggered
        o.locked_asset = self.locked_asset
        o.locked = self.locked
        o.order_list_id = self.order_list_id
        o.prevented_qty = self.prevented_qty
        o.strategy_id = self.strategy_id
        o.strategy_type = self.strategy_type
        o.expiry_reason = self.expiry_reason
        o.amend_count = self.amend_count
        o.iceberg_qty = self.iceberg_qty
        return o


_new = object.__new__


@dataclass(slots=True)
class Account:
    """Balances of one account: asset -> [free, locked]."""

    account_id: str
    balances: dict[str, list[Decimal]] = field(default_factory=dict)

    def free(self, asset: str) -> Decimal:
        return self.balances.get(asset, [ZERO, ZERO])[0]

    def locked(self, asset: str) -> Decimal:
        return self.balances.get(asset, [ZERO, ZERO])[1]

    def slot(self, asset: str) -> list[Decimal]:
        return self.balances.setdefault(asset, [ZERO, ZERO])


@dataclass(frozen=True, slots=True)
class Fill:
    """One side of a trade, as ``myTrades`` and FULL responses show it."""

    symbol: str
    trade_id: int
    order_id: int
    order_list_id: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    is_buyer: bool
    is_maker: bool


@dataclass(slots=True)
class ExecutionReport:
    """An order update for the user-data stream (``executionReport``)."""

    account_id: str
    order: Order
    exec_type: str
    event_time: int
    transact_time: int
    execution_id: int
    client_order_id: str
    orig_client_order_id: str = ""
    last_qty: Decimal = ZERO
    last_price: Decimal = ZERO
    commission: Decimal = ZERO
    commission_asset: str | None = None
    trade_id: int = -1
    is_maker: bool = False
    reject_reason: str = "NONE"


@dataclass(slots=True)
class AccountPosition:
    """Changed balances of one account (``outboundAccountPosition``)."""

    account_id: str
    event_time: int
    balances: tuple[tuple[str, Decimal, Decimal], ...]


@dataclass(frozen=True, slots=True)
class BalanceUpdate:
    """A deposit or withdrawal (``balanceUpdate``)."""

    account_id: str
    event_time: int
    asset: str
    delta: Decimal


@dataclass(frozen=True, slots=True)
class PublicTrade:
    """A trade for the public ``<symbol>@trade`` stream and ``/api/v3/trades``."""

    symbol: str
    trade_id: int
    price: Decimal
    qty: Decimal
    time: int
    buyer_is_maker: bool
    buyer_order_id: int
    seller_order_id: int


@dataclass(frozen=True, slots=True)
class DepthUpdate:
    """Changed levels (absolute quantities, 0 = removed) for ``<symbol>@depth``."""

    symbol: str
    event_time: int
    first_update_id: int
    last_update_id: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]


Event = ExecutionReport | AccountPosition | BalanceUpdate | PublicTrade | DepthUpdate
