"""Exponential reconnect backoff with jitter (pure; the initiator sleeps for what it returns)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass
class Backoff:
    """Delays ``initial * factor**n`` capped at ``maximum``, each spread by +/- ``jitter`` (a fraction).

    ``reset()`` after a connection that logged on, so the next failure starts from ``initial`` again.
    """

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.1
    attempts: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.maximum < self.initial or self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError("backoff needs 0 < initial <= maximum, factor >= 1, 0 <= jitter < 1")

    def next_delay(self) -> float:
        """Return the delay before the next attempt and count the attempt."""
        base = min(self.maximum, self.initial * self.factor ** min(self.attempts, 64))
        self.attempts += 1
        if self.jitter:
            base *= 1 + self.jitter * (2 * self._rng.random() - 1)
        return min(base, self.maximum)

    def reset(self) -> None:
        self.attempts = 0
