"""Kraken's rate-limit counters, as a simple documented model.

REST counter, per API key: each private call adds 1 (trade history and closed-order queries 2;
order entry and cancels do not count here), and the counter decays continuously at ``rest_decay``
per second; a call that would take it past ``rest_max`` is refused with ``EAPI:Rate limit exceeded``
(starter tier: 15, 0.33/s). Trading counter, per key and pair: a new order adds 1, an amend 1 plus
3/2/1 for an order younger than 5/10/15 s, a cancel 8/6/5/4/2/1 for an order younger than
5/10/15/45/90/300 s; it decays at ``trade_decay`` per second, and past ``trade_max`` the request is
refused with ``EOrder:Rate limit exceeded`` (starter: 60, 1/s). Refusals are HTTP 429 here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KrakenLimits", "Counters", "cancel_cost", "amend_cost", "REST_COST"]

#: private methods that cost 2 on the REST counter; order entry costs 0 there (trading counter)
REST_COST = {"TradesHistory": 2, "ClosedOrders": 2, "QueryTrades": 2, "Ledgers": 2, "QueryLedgers": 2,
             "AddOrder": 0, "CancelOrder": 0, "AmendOrder": 0, "CancelAll": 0, "CancelOrderBatch": 0,
             "AddOrderBatch": 0, "EditOrder": 0}


@dataclass
class KrakenLimits:
    rest_max: float = 15
    rest_decay: float = 0.33
    trade_max: float = 60
    trade_decay: float = 1.0


def cancel_cost(age_ms: int) -> int:
    for limit_s, cost in ((5, 8), (10, 6), (15, 5), (45, 4), (90, 2), (300, 1)):
        if age_ms < limit_s * 1000:
            return cost
    return 0


def amend_cost(age_ms: int) -> int:
    for limit_s, cost in ((5, 3), (10, 2), (15, 1)):
        if age_ms < limit_s * 1000:
            return 1 + cost
    return 1


class Counters:
    """Decaying counters keyed by anything (an API key, or a key and a pair)."""

    def __init__(self) -> None:
        self._value: dict[object, tuple[float, int]] = {}  # key -> (value, at ms)

    def value(self, key: object, decay_per_s: float, now_ms: int) -> float:
        value, at = self._value.get(key, (0.0, now_ms))
        return max(0.0, value - decay_per_s * max(0, now_ms - at) / 1000)

    def charge(self, key: object, cost: float, ceiling: float, decay_per_s: float, now_ms: int) -> bool:
        """Add ``cost`` unless that passes ``ceiling``; False (nothing added) if it would."""
        value = self.value(key, decay_per_s, now_ms)
        if cost and value + cost > ceiling:
            self._value[key] = (value, now_ms)
            return False
        self._value[key] = (value + cost, now_ms)
        return True
