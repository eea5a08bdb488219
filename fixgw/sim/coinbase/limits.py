"""The venue's request limits, as token buckets: a simple model of its published numbers.

Public endpoints: 10 requests/s per IP, bursts to 15. Private endpoints: 15 requests/s per profile
(here: per key's account), bursts to 30; ``/fills`` 10/s, bursts to 20. A request finding its bucket
empty is refused with 429 and ``{"message": "Private rate limit exceeded"}`` (or ``Public ...``),
nothing processed. Time comes in as ``now_ms``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CoinbaseError

__all__ = ["CoinbaseLimits", "Buckets"]


@dataclass(frozen=True)
class CoinbaseLimits:
    public_per_s: float = 10
    public_burst: int = 15
    private_per_s: float = 15
    private_burst: int = 30
    fills_per_s: float = 10
    fills_burst: int = 20


class Buckets:
    """Token buckets keyed by (kind, who)."""

    def __init__(self, limits: CoinbaseLimits | None = None) -> None:
        self.limits = limits or CoinbaseLimits()
        self._tokens: dict[tuple[str, str], tuple[float, int]] = {}  # key -> (tokens, at ms)

    def _rate(self, kind: str) -> tuple[float, int]:
        lim = self.limits
        return {"public": (lim.public_per_s, lim.public_burst), "private": (lim.private_per_s, lim.private_burst),
                "fills": (lim.fills_per_s, lim.fills_burst)}[kind]

    def take(self, kind: str, who: str, now_ms: int) -> None:
        """Take one token or raise 429."""
        rate, burst = self._rate(kind)
        tokens, at = self._tokens.get((kind, who), (float(burst), now_ms))
        tokens = min(float(burst), tokens + max(0, now_ms - at) * rate / 1000)
        if tokens < 1:
            self._tokens[(kind, who)] = (tokens, now_ms)
            wait = max(1, int((1 - tokens) / rate) + 1) if rate > 0 else 1
            label = "Public" if kind == "public" else "Private"
            raise CoinbaseError(429, f"{label} rate limit exceeded", retry_after_s=wait)
        self._tokens[(kind, who)] = (tokens - 1, now_ms)
