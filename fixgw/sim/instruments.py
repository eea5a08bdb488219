"""Instruments of the simulated exchange and their filters, checked with exact decimals.

The rules follow Binance spot's filters (PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE, NOTIONAL,
MIN_NOTIONAL, PERCENT_PRICE_BY_SIDE, MAX_NUM_ORDERS, MAX_NUM_ALGO_ORDERS). Since 2022 the tick rule is
``price % tickSize == 0`` and since 2023 the step rule is ``qty % stepSize == 0``; a parameter equal
to zero disables its rule. Every value is a ``Decimal`` built from a string.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any

from .errors import filter_failure
from .model import ZERO

__all__ = ["InstrumentSpec", "default_instruments", "fmt", "ZERO", "ORDER_TYPES", "ALGO_TYPES"]

_EIGHT = Decimal("0.00000001")

ORDER_TYPES = (
    "LIMIT",
    "LIMIT_MAKER",
    "MARKET",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
)
ALGO_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})


_ZERO_TEXT = "0.00000000"
# Amounts recur (prices, quantities): each is formatted once. No zero is ever a key, since 0 and -0 are
# equal keys that print differently; None (an absent amount) is one.
_FMT_CACHE: dict[Decimal | None, str] = {None: _ZERO_TEXT}
_FMT_CACHE_SIZE = 4096


def fmt(value: Decimal | None, places: int = 8) -> str:
    """Format an amount the way the venue does: a fixed number of decimals, as a string."""
    if places == 8:
        if value is ZERO:  # the engine's zero (every amount not yet set): the most common value
            return _ZERO_TEXT
        text = _FMT_CACHE.get(value)
        if text is not None:
            return text
        assert value is not None
        if not value:  # zero, maybe negative zero
            return "-" + _ZERO_TEXT if value.is_signed() else _ZERO_TEXT
        text = f"{value.quantize(_EIGHT):f}"
        if len(_FMT_CACHE) >= _FMT_CACHE_SIZE:
            _FMT_CACHE.clear()
            _FMT_CACHE[None] = _ZERO_TEXT
        _FMT_CACHE[value] = text
        return text
    return f"{(ZERO if value is None else value).quantize(Decimal(1).scaleb(-places)):f}"


def _multiple(value: Decimal, unit: Decimal) -> bool:
    return unit == 0 or value % unit == 0


@dataclass(frozen=True)
class InstrumentSpec:
    """A tradable symbol with Binance-like filters; all amounts are ``Decimal``."""

    symbol: str
    base_asset: str
    quote_asset: str
    tick_size: Decimal
    step_size: Decimal
    min_price: Decimal = Decimal("0.01")
    max_price: Decimal = Decimal("1000000")
    min_qty: Decimal = Decimal("0.00001")
    max_qty: Decimal = Decimal("9000")
    market_min_qty: Decimal = ZERO
    market_max_qty: Decimal = Decimal("100")
    market_step_size: Decimal = ZERO
    min_notional: Decimal = Decimal("5")
    max_notional: Decimal = Decimal("9000000")
    apply_min_to_market: bool = True
    apply_max_to_market: bool = False
    percent_price_by_side: dict[str, Decimal] | None = None  # bid/ask multiplier up/down; None = off
    max_num_orders: int = 200
    max_num_algo_orders: int = 5
    iceberg_allowed: bool = True
    iceberg_parts: int = 10  # ICEBERG_PARTS: CEIL(quantity / icebergQty) at most this
    order_types: tuple[str, ...] = ORDER_TYPES
    amend_allowed: bool = True
    cancel_replace_allowed: bool = True
    oco_allowed: bool = True  # order lists (fixgw.sim.orderlists)
    oto_allowed: bool = True
    quote_order_qty_market_allowed: bool = True
    status: str = "TRADING"
    initial_price: Decimal = Decimal("100")  # where the market maker starts
    base_precision: int = 8
    quote_precision: int = 8
    extra: dict[str, Any] = field(default_factory=dict)

    # -- checks (raise ApiError -1013) ---------------------------------------------------------
    def check_price(self, price: Decimal) -> None:
        """PRICE_FILTER for ``price`` and ``stopPrice``."""
        if price <= 0:
            raise filter_failure("PRICE_FILTER")
        if self.min_price and price < self.min_price:
            raise filter_failure("PRICE_FILTER")
        if self.max_price and price > self.max_price:
            raise filter_failure("PRICE_FILTER")
        if not _multiple(price, self.tick_size):
            raise filter_failure("PRICE_FILTER")

    def check_lot(self, qty: Decimal) -> None:
        """LOT_SIZE for the quantity of a non-market order."""
        if qty < self.min_qty or (self.max_qty and qty > self.max_qty) or not _multiple(qty, self.step_size):
            raise filter_failure("LOT_SIZE")

    def check_market_lot(self, qty: Decimal) -> None:
        """MARKET_LOT_SIZE (and LOT_SIZE, which applies to every order) for a market quantity."""
        self.check_lot(qty)
        if qty < self.market_min_qty or (self.market_max_qty and qty > self.market_max_qty):
            raise filter_failure("MARKET_LOT_SIZE")
        if not _multiple(qty, self.market_step_size):
            raise filter_failure("MARKET_LOT_SIZE")

    def check_iceberg(self, qty: Decimal, iceberg_qty: Decimal) -> None:
        """LOT_SIZE for ``icebergQty`` and ICEBERG_PARTS: ``CEIL(qty / icebergQty) <= limit``."""
        self.check_lot(iceberg_qty)
        parts = (qty / iceberg_qty).to_integral_value(rounding=ROUND_CEILING)  # (Decimal // truncates)
        if self.iceberg_parts and parts > self.iceberg_parts:
            raise filter_failure("ICEBERG_PARTS")

    def check_notional(self, notional: Decimal, *, market: bool) -> None:
        """NOTIONAL: ``minNotional <= price*qty <= maxNotional`` (market orders per the apply flags)."""
        if (not market or self.apply_min_to_market) and notional < self.min_notional:
            raise filter_failure("NOTIONAL")
        if (not market or self.apply_max_to_market) and self.max_notional and notional > self.max_notional:
            raise filter_failure("NOTIONAL")

    def check_percent_price(self, side: str, price: Decimal, reference: Decimal | None) -> None:
        """PERCENT_PRICE_BY_SIDE against a reference price (skipped before the first trade)."""
        pp = self.percent_price_by_side
        if pp is None or reference is None:
            return
        key = "bid" if side == "BUY" else "ask"
        if not reference * pp[key + "MultiplierDown"] <= price <= reference * pp[key + "MultiplierUp"]:
            raise filter_failure("PERCENT_PRICE_BY_SIDE")

    def floor_to_step(self, qty: Decimal) -> Decimal:
        """Round a quantity down to the market step (the lot step when the market step is 0)."""
        step = self.market_step_size or self.step_size
        if step == 0:
            return qty
        return (qty // step) * step

    # -- exchangeInfo ------------------------------------------------------------------------
    def filters_json(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": fmt(self.min_price),
                "maxPrice": fmt(self.max_price),
                "tickSize": fmt(self.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": fmt(self.min_qty),
                "maxQty": fmt(self.max_qty),
                "stepSize": fmt(self.step_size),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": fmt(self.market_min_qty),
                "maxQty": fmt(self.market_max_qty),
                "stepSize": fmt(self.market_step_size),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": fmt(self.min_notional),
                "applyMinToMarket": self.apply_min_to_market,
                "maxNotional": fmt(self.max_notional),
                "applyMaxToMarket": self.apply_max_to_market,
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": self.max_num_orders},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": self.max_num_algo_orders},
            {"filterType": "ICEBERG_PARTS", "limit": self.iceberg_parts},
        ]
        if self.percent_price_by_side is not None:
            pp = self.percent_price_by_side
            out.insert(
                4,
                {
                    "filterType": "PERCENT_PRICE_BY_SIDE",
                    "bidMultiplierUp": str(pp["bidMultiplierUp"]),
                    "bidMultiplierDown": str(pp["bidMultiplierDown"]),
                    "askMultiplierUp": str(pp["askMultiplierUp"]),
                    "askMultiplierDown": str(pp["askMultiplierDown"]),
                    "avgPriceMins": 5,
                },
            )
        return out

    def symbol_json(self) -> dict[str, Any]:
        """Return this symbol's entry of ``exchangeInfo.symbols``."""
        return {
            "symbol": self.symbol,
            "status": self.status,
            "baseAsset": self.base_asset,
            "baseAssetPrecision": self.base_precision,
            "quoteAsset": self.quote_asset,
            "quotePrecision": self.quote_precision,
            "quoteAssetPrecision": self.quote_precision,
            "baseCommissionPrecision": self.base_precision,
            "quoteCommissionPrecision": self.quote_precision,
            "orderTypes": list(self.order_types),
            "icebergAllowed": self.iceberg_allowed,
            "ocoAllowed": self.oco_allowed,
            "otoAllowed": self.oto_allowed,
            "opoAllowed": False,
            "quoteOrderQtyMarketAllowed": self.quote_order_qty_market_allowed,
            "allowTrailingStop": False,
            "cancelReplaceAllowed": self.cancel_replace_allowed,
            "amendAllowed": self.amend_allowed,
            "pegInstructionsAllowed": False,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": self.filters_json(),
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "NONE",
            "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        }


def default_instruments() -> list[InstrumentSpec]:
    """BTCUSDT, ETHUSDT and SOLUSDT with Binance-like filters (values chosen here, not live ones)."""
    d = Decimal
    return [
        InstrumentSpec(
            symbol="BTCUSDT",
            base_asset="BTC",
            quote_asset="USDT",
            tick_size=d("0.01"),
            step_size=d("0.00001"),
            min_price=d("0.01"),
            max_price=d("1000000"),
            min_qty=d("0.00001"),
            max_qty=d("9000"),
            market_max_qty=d("100"),
            min_notional=d("5"),
            initial_price=d("60000.00"),
        ),
        InstrumentSpec(
            symbol="ETHUSDT",
            base_asset="ETH",
            quote_asset="USDT",
            tick_size=d("0.01"),
            step_size=d("0.0001"),
            min_price=d("0.01"),
            max_price=d("1000000"),
            min_qty=d("0.0001"),
            max_qty=d("9000"),
            market_max_qty=d("1000"),
            min_notional=d("5"),
            initial_price=d("3000.00"),
        ),
        InstrumentSpec(
            symbol="SOLUSDT",
            base_asset="SOL",
            quote_asset="USDT",
            tick_size=d("0.01"),
            step_size=d("0.001"),
            min_price=d("0.01"),
            max_price=d("100000"),
            min_qty=d("0.001"),
            max_qty=d("90000"),
            market_max_qty=d("10000"),
            min_notional=d("5"),
            initial_price=d("150.00"),
        ),
    ]
