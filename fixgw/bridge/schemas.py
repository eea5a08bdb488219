"""The shapes of the bridge's JSON answers and request bodies, for validation and the OpenAPI document.

Money and quantities are decimal strings (``"31000.5"``), never JSON numbers: a number would pass
through a binary float in many clients. Times are RFC 3339 strings in UTC with milliseconds.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ErrorBody", "Session", "Sessions", "Venue", "Venues", "Order", "Orders", "Fill", "Fills", "Done",
    "LogoutBody", "SequenceNumbersBody", "ERROR_RESPONSES", "NewOrderBody", "ReplaceBody", "Canceled",
    "KillSwitch", "AssetBalance", "VenueBalances", "Balances", "Position", "Positions", "InstrumentRow",
    "Instruments",
]

Decimal = Optional[str]


class _ErrorDetail(BaseModel):
    code: str = Field(description="stable, machine-readable (see docs/bridge.md)")
    message: str = Field(description="for people; may change")


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer."""

    error: _ErrorDetail


class Session(BaseModel):
    session_id: str
    key: str = Field(description="the session's short key; usable in URLs instead of session_id")
    begin_string: str
    sender_comp_id: str
    target_comp_id: str
    state: str
    logged_on: bool
    enabled: bool
    next_sender_seq: int
    next_target_seq: int
    last_heartbeat_at: Optional[str] = Field(description="when the peer was last heard from (any message)")
    peer_address: Optional[str]


class Sessions(BaseModel):
    sessions: list[Session]


class RateLimit(BaseModel):
    window: str
    used: int
    limit: int
    interval_s: float
    headroom: int


class LastError(BaseModel):
    at: Optional[str]
    message: str


class Venue(BaseModel):
    name: str
    kind: str
    simulated: bool
    connected: bool
    stream_state: str
    stream_reconnects: int
    clock_offset_ms: Optional[float]
    rate_limits: list[RateLimit]
    rate_limited_count: int = Field(description="429 answers from the venue so far")
    banned_count: int = Field(0, description="418 answers (bans) from the venue so far")
    banned_until: Optional[str]
    unresolved_orders: int
    last_event_at: Optional[str]
    last_error: Optional[LastError]
    api_key_expires: Optional[str]
    api_key_days_left: Optional[int]


class Venues(BaseModel):
    venues: list[Venue]


class Order(BaseModel):
    order_id: str
    client_order_id: str
    orig_client_order_id: Optional[str]
    venue_order_id: Optional[str]
    session_id: Optional[str] = Field(description="the FIX session that entered it; null for a bridge account's")
    session_key: str
    account: str
    venue: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    quantity: Decimal
    quote_quantity: Decimal
    price: Decimal
    trigger_price: Decimal
    status: str
    open: bool
    cum_qty: Decimal
    leaves_qty: Decimal
    avg_px: Decimal
    notional: Decimal
    fees: dict[str, str]
    created_at: Optional[str]
    updated_at: Optional[str]
    entered_by: Literal["fix", "rest"]
    reject_reason: Optional[str] = Field(description="why a rejected order was rejected")


class Orders(BaseModel):
    orders: list[Order]
    next_cursor: Optional[str] = Field(description="pass as cursor= for the next page; null on the last")


class Fill(BaseModel):
    trade_id: str
    order_id: str
    client_order_id: str
    session_id: Optional[str]
    account: str
    venue: str
    symbol: str
    side: str
    last_qty: Decimal
    last_px: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: str
    executed_at: Optional[str]


class Fills(BaseModel):
    fills: list[Fill]
    next_cursor: Optional[str]


class Done(BaseModel):
    ok: Literal[True] = True
    session: Session


class LogoutBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field("logged out by the operator", max_length=200, description="the Logout's Text (58)")


class SequenceNumbersBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    next_sender_seq: Optional[int] = Field(None, ge=1, le=2**31 - 1, description="our next outbound MsgSeqNum")
    next_target_seq: Optional[int] = Field(None, ge=1, le=2**31 - 1, description="the MsgSeqNum expected next")


#: A decimal amount in a request: digits, an optional fraction; never a JSON number.
_AMOUNT = dict(min_length=1, max_length=40, pattern=r"^[0-9]{1,24}(\.[0-9]{1,16})?$")
_CL_ID = dict(min_length=1, max_length=36, pattern=r"^[A-Za-z0-9._:/+=-]+$")


class NewOrderBody(BaseModel):
    """``POST /v1/orders``: amounts are decimal strings (``"0.25"``), never JSON numbers."""

    model_config = ConfigDict(extra="forbid")
    client_order_id: str = Field(description="yours; a retry with the same id and terms returns the same order",
                                 **_CL_ID)  # type: ignore[arg-type]
    account: Optional[str] = Field(None, max_length=16, description="the bridge account; optional when only one")
    symbol: str = Field(min_length=1, max_length=64, description="as the FIX sessions spell it (BTC/USDT)")
    side: Literal["buy", "sell"]
    type: Literal["market", "limit", "stop", "stop_limit", "take_profit", "take_profit_limit"]
    time_in_force: Literal["gtc", "ioc", "fok", "day"] = "gtc"
    quantity: Optional[str] = Field(None, description="base amount", **_AMOUNT)  # type: ignore[arg-type]
    quote_quantity: Optional[str] = Field(None, description="quote amount (market orders)",
                                          **_AMOUNT)  # type: ignore[arg-type]
    price: Optional[str] = Field(None, **_AMOUNT)  # type: ignore[arg-type]
    trigger_price: Optional[str] = Field(None, **_AMOUNT)  # type: ignore[arg-type]
    post_only: bool = False
    display_quantity: Optional[str] = Field(None, description="iceberg: the quantity shown at a time (limit types)",
                                            **_AMOUNT)  # type: ignore[arg-type]


class ReplaceBody(BaseModel):
    """``PATCH /v1/orders/{id}``: the terms to change; the others stay."""

    model_config = ConfigDict(extra="forbid")
    client_order_id: Optional[str] = Field(None, description="the order's new client order id (default: made up)",
                                           **_CL_ID)  # type: ignore[arg-type]
    quantity: Optional[str] = Field(None, **_AMOUNT)  # type: ignore[arg-type]
    price: Optional[str] = Field(None, **_AMOUNT)  # type: ignore[arg-type]
    trigger_price: Optional[str] = Field(None, **_AMOUNT)  # type: ignore[arg-type]


class Canceled(BaseModel):
    """``DELETE /v1/orders``: the orders the venue was asked to cancel (each then ends canceled)."""

    orders: list[Order]


class KillSwitch(BaseModel):
    target: str = Field(description="'*' (global), a bridge account's name, or a FIX session's key or id")
    engaged: bool
    halted: list[str] = Field(description="every kill switch engaged: '*' and account keys")
    canceled: list[Order] = Field(description="the open orders whose cancel this asked for")


class AssetBalance(BaseModel):
    asset: str
    free: str
    locked: str = Field(description="held by open orders (or otherwise) at the venue")
    total: str


class _ErrorOnly(BaseModel):
    code: str
    message: str


class VenueBalances(BaseModel):
    venue: str
    accounts: list[str] = Field(description="the key's order accounts that trade with this venue account")
    as_of: Optional[str] = Field(description="the venue's time when it answered (our clock plus the measured offset)")
    balances: list[AssetBalance] = Field(description="every asset the venue reports non-zero, by name")
    error: Optional[_ErrorOnly] = Field(None, description="set when this venue did not answer; balances empty")


class Balances(BaseModel):
    venues: list[VenueBalances]


class Position(BaseModel):
    account: str
    venue: str
    symbol: str = Field(description="normalized, BASE/QUOTE")
    quantity: str = Field(description="net base quantity: bought minus sold (negative: more sold than bought)")
    bought: str
    sold: str
    avg_buy_price: Decimal = Field(description="bought quote amount / bought; null before any buy")
    avg_sell_price: Decimal = Field(description="sold quote amount / sold; null before any sale")
    quote_flow: str = Field(description="quote received for sales minus quote paid for buys, before fees")
    fees: dict[str, str] = Field(description="fees paid by asset (negative: rebates)")
    fills: int
    last_fill_at: Optional[str]


class Positions(BaseModel):
    positions: list[Position]


class InstrumentRow(BaseModel):
    symbol: str = Field(description="normalized, BASE/QUOTE")
    client_symbol: str = Field(description="as the FIX sessions spell it (symbol_format)")
    venue: str
    venue_symbol: str
    base: str
    quote: str
    tick_size: Decimal
    lot_step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_price: Decimal
    max_price: Decimal
    min_notional: Decimal
    max_notional: Decimal
    status: Literal["trading", "halted"]


class Instruments(BaseModel):
    instruments: list[InstrumentRow]


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody, "description": what}
    for status, what in ((400, "malformed request"), (401, "bad or missing signature"),
                         (403, "key lacks the permission or the address"), (404, "no such thing"),
                         (409, "not possible in the current state"), (422, "refused by the order checks"),
                         (429, "too many signed requests"),
                         (500, "the bridge failed"))
}
