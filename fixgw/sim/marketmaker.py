"""Seeded liquidity: a market maker that keeps a ladder of orders around a random-walk price.

Theory of operation: each ``step(now_ms)`` moves every symbol's mid price by a whole number of ticks
drawn from a seeded generator (following the last trade when someone else moved the price), replaces
the maker's ladder (``levels`` bids and asks, ``spread_bp`` from the mid and ``gap_bp`` apart),
and now and then sends a small market order so the tape and the stop triggers move. Only the seed and
the sequence of calls decide what happens, so a test steps it by hand and gets the same book every
time; the server calls ``step`` on a timer. Pure: no I/O, no clock reads.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from .engine import MatchingEngine
from .errors import ApiError
from .model import NewOrder

__all__ = ["MarketMaker", "MakerConfig", "MAKER_ACCOUNT"]

MAKER_ACCOUNT = "sim-market-maker"


@dataclass(frozen=True)
class MakerConfig:
    """Shape of the maker's ladder; notionals in quote currency."""

    levels: int = 10
    spread_bp: Decimal = Decimal("1")  # best quotes this far from the mid, in basis points
    gap_bp: Decimal = Decimal("1")  # distance between levels, in basis points
    level_notional: Decimal = Decimal("20000")
    volatility_bp: Decimal = Decimal("5")  # standard deviation of one step, in basis points of the price
    trade_probability: float = 0.3
    trade_notional: Decimal = Decimal("200")


class MarketMaker:
    """Keeps every symbol of ``engine`` quoted; deterministic under ``seed``."""

    def __init__(
        self,
        engine: MatchingEngine,
        *,
        seed: int = 1,
        config: MakerConfig | None = None,
        account_id: str = MAKER_ACCOUNT,
    ) -> None:
        self.engine = engine
        self.config = config or MakerConfig()
        self.account_id = account_id
        self.rng = random.Random(seed)
        self.mid: dict[str, Decimal] = {s: spec.initial_price for s, spec in engine.instruments.items()}
        self._seen_last: dict[str, Decimal | None] = {s: None for s in engine.instruments}
        self.steps = 0
        funds: dict[str, Decimal] = {}
        for spec in engine.instruments.values():
            funds[spec.base_asset] = Decimal("1000000000")
            funds[spec.quote_asset] = Decimal("1000000000000")
        if account_id not in engine.accounts:
            engine.add_account(account_id, funds)

    def step(self, now_ms: int) -> None:
        """Move prices, replace the ladders and maybe trade once per symbol."""
        self.steps += 1
        for symbol in sorted(self.engine.instruments):
            self._step_symbol(symbol, now_ms)

    def _step_symbol(self, symbol: str, now_ms: int) -> None:
        engine, cfg = self.engine, self.config
        spec = engine.instruments[symbol]
        tick = spec.tick_size or Decimal("0.01")
        last = engine.last_price[symbol]
        if last is not None and last != self._seen_last[symbol]:
            self.mid[symbol] = last  # someone traded: follow the tape
        sigma_ticks = float(self.mid[symbol] * cfg.volatility_bp / Decimal(10000) / tick)
        move = round(self.rng.gauss(0.0, sigma_ticks))
        spread = self._ticks(self.mid[symbol], cfg.spread_bp, tick)
        gap = self._ticks(self.mid[symbol], cfg.gap_bp, tick)
        floor = max(spec.min_price, tick) + tick * (spread + gap * cfg.levels)
        mid = max(self.mid[symbol] + tick * move, floor)
        mid = (mid / tick).to_integral_value() * tick
        self.mid[symbol] = mid
        with engine.batch(now_ms):
            for order in engine.open_orders(self.account_id, symbol):
                engine.cancel(self.account_id, symbol, now_ms, order_id=order.order_id)
            base_qty = spec.floor_to_step(cfg.level_notional / mid)
            base_qty = max(base_qty, spec.min_qty)
            for i in range(cfg.levels):
                offset = tick * (spread + i * gap)
                for side, price in (("BUY", mid - offset), ("SELL", mid + offset)):
                    qty = base_qty * self.rng.randint(1, 3)
                    self._place(NewOrder(symbol, side, "LIMIT", qty, price, "GTC"), now_ms)
            if self.rng.random() < cfg.trade_probability:
                side = "BUY" if self.rng.random() < 0.5 else "SELL"
                qty = max(spec.floor_to_step(cfg.trade_notional / mid), spec.min_qty)
                self._place(NewOrder(symbol, side, "MARKET", qty), now_ms)
        self._seen_last[symbol] = engine.last_price[symbol]

    @staticmethod
    def _ticks(price: Decimal, bp: Decimal, tick: Decimal) -> int:
        return max(1, int(price * bp / Decimal(10000) / tick))

    def _place(self, req: NewOrder, now_ms: int) -> None:
        try:
            self.engine.place(self.account_id, req, now_ms)
        except ApiError:
            pass  # a filter or the funds refused this level: quote the others
