"""The one backoff formula of fixgw: exponential growth, a cap, and optional jitter (pure; layer 0).

Every place that waits longer after each failure uses it: the initiator's reconnect (``Backoff``), the
acceptor's pause after failed accepts and its logon-failure throttle, the venues' WebSocket reconnect and
their 429 hold-back. Each keeps its own numbers through the arguments.

``backoff_delay(attempt, initial, maximum)`` is ``min(maximum, initial * factor**attempt)`` for the 0-based
``attempt``. Jitter is a range of multipliers ``(low, high)`` drawn uniformly from the random source passed
in (so tests pass a seeded ``random.Random``); the result is capped at ``maximum`` after the jitter too.
``NO_JITTER`` keeps the delay exact; ``spread(0.1)`` is +/- 10 %; ``EQUAL_JITTER`` is 50-100 % of the delay.
Callers sleep for what it returns: nothing here reads a clock or sleeps.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["backoff_delay", "spread", "Backoff", "NO_JITTER", "EQUAL_JITTER"]

NO_JITTER: tuple[float, float] = (1.0, 1.0)
EQUAL_JITTER: tuple[float, float] = (0.5, 1.0)
_MAX_EXPONENT = 1024
_RNG = random.Random()


def spread(fraction: float) -> tuple[float, float]:
    """Jitter of +/- ``fraction`` around the delay (``0 <= fraction < 1``)."""
    if not 0 <= fraction < 1:
        raise ValueError("jitter fraction must be in [0, 1)")
    return (1.0 - fraction, 1.0 + fraction)


def backoff_delay(attempt: int, initial: float, maximum: float, *, factor: float = 2.0,
                  jitter: tuple[float, float] = NO_JITTER, rng: random.Random | None = None) -> float:
    """Return the wait before retry ``attempt`` (0-based): ``initial * factor**attempt``, jittered, capped.

    Needs ``initial >= 0``, ``maximum >= 0``, ``factor >= 1`` and ``0 <= low <= high`` for
    ``jitter = (low, high)`` (``ValueError`` otherwise); a ``maximum`` below ``initial`` wins, a negative
    ``attempt`` counts as 0, and large attempts never raise (growth stops at ``maximum``).
    """
    low, high = jitter
    if not (initial >= 0 and maximum >= 0 and factor >= 1 and 0 <= low <= high):
        raise ValueError("backoff needs initial >= 0, maximum >= 0, factor >= 1, 0 <= jitter low <= high")
    try:
        raw = min(maximum, initial * factor ** min(max(attempt, 0), _MAX_EXPONENT))
    except OverflowError:
        raw = maximum
    if low != 1.0 or high != 1.0:
        raw *= low + (high - low) * (rng or _RNG).random()
    return float(min(raw, maximum))


@dataclass
class Backoff:
    """A retry counter over ``backoff_delay``: delays ``initial * factor**n`` capped at ``maximum``, +/- ``jitter``.

    ``jitter`` is a fraction (0.1 = +/- 10 %). ``reset()`` after a connection that logged on, so the next
    failure starts from ``initial`` again.
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
        delay = backoff_delay(self.attempts, self.initial, self.maximum, factor=self.factor,
                              jitter=spread(self.jitter), rng=self._rng)
        self.attempts += 1
        return delay

    def reset(self) -> None:
        self.attempts = 0
