"""Request weight per IP and order counts per account, in fixed windows, with 429s and 418 bans.

Theory of operation: weight is counted per IP in one-minute windows aligned to the minute (the
``X-MBX-USED-WEIGHT-1M`` header); orders per account in 10-second and one-day windows. A request
that would pass the weight limit is refused with 429 (-1003) and ``Retry-After`` up to the next
window; after ``ban_after`` such refusals within any 60 seconds (a sliding window, so a burst that
straddles a minute boundary still counts whole) the IP is banned (418) for ``ban_seconds``. Time comes in
as ``now_ms``; nothing here reads a clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from .errors import ApiError

__all__ = ["LimitConfig", "RateLimiter"]

_MINUTE = 60_000
_TEN_S = 10_000
_DAY = 86_400_000


@dataclass(frozen=True)
class LimitConfig:
    weight_per_minute: int = 6000
    orders_per_10s: int = 100
    orders_per_day: int = 200_000
    ban_after: int = 5  # 429s within 60 seconds before the 418 ban
    ban_seconds: int = 120

    def rate_limits_json(self) -> list[dict[str, Any]]:
        return [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
             "limit": self.weight_per_minute},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": self.orders_per_10s},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": self.orders_per_day},
        ]


class RateLimiter:
    """Counters of one server."""

    def __init__(self, config: LimitConfig | None = None) -> None:
        self.config = config or LimitConfig()
        self._weight: dict[str, tuple[int, int]] = {}  # ip -> (window start, used)
        self._violations: dict[str, deque[int]] = {}  # ip -> times of 429s in the last minute
        self._banned_until: dict[str, int] = {}
        self._orders: dict[tuple[str, int], tuple[int, int]] = {}  # (account, window) -> (start, count)
        self.forced_429 = 0  # fault injection: refuse the next N requests with 429
        self.forced_ban_until = 0  # fault injection: every IP banned until then
        self.forced_retry_after_ms = 0  # fault injection: the wait a forced 429 asks for (0: to the window's end)

    def used_weight(self, ip: str, now_ms: int) -> int:
        start, used = self._weight.get(ip, (0, 0))
        return used if start == now_ms - now_ms % _MINUTE else 0

    def check_ban(self, ip: str, now_ms: int) -> None:
        until = max(self._banned_until.get(ip, 0), self.forced_ban_until)
        if now_ms < until:
            raise ApiError(
                -1003,
                f"Way too much request weight used; IP banned until {until}. "
                "Please use WebSocket Streams for live updates to avoid bans.",
                status=418,
                retry_after_ms=until,
            )

    def charge(self, ip: str, weight: int, now_ms: int) -> int:
        """Count ``weight`` for ``ip``; returns the weight used in this minute or raises 418/429."""
        self.check_ban(ip, now_ms)
        window = now_ms - now_ms % _MINUTE
        start, used = self._weight.get(ip, (window, 0))
        if start != window:
            used = 0
        if self.forced_429 > 0:
            self.forced_429 -= 1
            self._refuse(ip, window, now_ms, now_ms + self.forced_retry_after_ms if self.forced_retry_after_ms else None)
        if used + weight > self.config.weight_per_minute:
            self._weight[ip] = (window, used)
            self._refuse(ip, window, now_ms)
        used += weight
        self._weight[ip] = (window, used)
        return used

    def _refuse(self, ip: str, window: int, now_ms: int, retry_at_ms: int | None = None) -> None:
        recent = self._violations.setdefault(ip, deque())
        recent.append(now_ms)
        while recent and recent[0] <= now_ms - _MINUTE:
            recent.popleft()
        if len(recent) >= self.config.ban_after:
            self._banned_until[ip] = now_ms + self.config.ban_seconds * 1000
            self.check_ban(ip, now_ms)
        raise ApiError(
            -1003,
            f"Too much request weight used; current limit is {self.config.weight_per_minute} request weight "
            "per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
            status=429,
            retry_after_ms=retry_at_ms if retry_at_ms is not None else window + _MINUTE,
        )

    def order_counts(self, account: str, now_ms: int) -> tuple[int, int]:
        out = []
        for size in (_TEN_S, _DAY):
            start, count = self._orders.get((account, size), (0, 0))
            out.append(count if start == now_ms - now_ms % size else 0)
        return out[0], out[1]

    def charge_order(self, account: str, now_ms: int) -> tuple[int, int]:
        """Count one new order; returns (count in 10 s, count today) or raises 429 -1015."""
        orders = self._orders
        ten_key, day_key = (account, _TEN_S), (account, _DAY)
        ten_window, day_window = now_ms - now_ms % _TEN_S, now_ms - now_ms % _DAY
        start, count = orders.get(ten_key, (ten_window, 0))
        n10 = (count if start == ten_window else 0) + 1
        start, count = orders.get(day_key, (day_window, 0))
        nday = (count if start == day_window else 0) + 1
        cfg = self.config
        if n10 > cfg.orders_per_10s or nday > cfg.orders_per_day:
            for n, limit, label, window, size in ((n10, cfg.orders_per_10s, "10 SECOND", ten_window, _TEN_S),
                                                  (nday, cfg.orders_per_day, "1 DAY", day_window, _DAY)):
                if n > limit:
                    raise ApiError(
                        -1015,
                        f"Too many new orders; current limit is {limit} orders per {label}.",
                        status=429,
                        retry_after_ms=window + size,
                    )
        orders[ten_key] = (ten_window, n10)
        orders[day_key] = (day_window, nday)
        return n10, nday
