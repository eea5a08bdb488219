"""A closed search for the highest offered rate a system holds under a latency bound.

Theory of operation: each step is one short open-loop run at an offered rate, handed in as
``run(rate) -> StepResult``. A step passes when every order was answered, none was rejected, the
throughput reached ``min_ratio`` of the offered rate and the p99 latency stayed under the bound. The
search multiplies the rate by ``factor`` while steps pass (divides it while they fail, when even the
first fails), then bisects (geometric mean) between the best pass and the lowest failure until the two
are within ``precision`` of each other or ``max_steps`` ran. The answer is the best passing rate. On a
noisy machine one unlucky step can fail a rate the system holds: the table shows every step, so a
surprising verdict can be seen and re-run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

__all__ = ["StepResult", "Step", "SearchResult", "find_max_rate", "format_search"]


@dataclass(frozen=True)
class StepResult:
    """What one run measured (latencies in ms)."""

    sent: int
    answered: int
    rejected: int
    throughput: float
    p50_ms: float
    p99_ms: float
    p999_ms: float


@dataclass(frozen=True)
class Step:
    rate: float
    result: StepResult
    passed: bool
    reason: str


@dataclass(frozen=True)
class SearchResult:
    steps: tuple[Step, ...]
    best: float | None  # highest passing rate; None when no step passed
    lowest_failure: float | None  # lowest failing rate; None when every step passed


def judge(rate: float, r: StepResult, p99_ms: float, min_ratio: float) -> tuple[bool, str]:
    """Return (passed, why) for one step; ``why`` names every failed condition."""
    why = []
    if r.answered < r.sent:
        why.append(f"{r.sent - r.answered} unanswered")
    if r.rejected:
        why.append(f"{r.rejected} rejected")
    if not r.throughput >= min_ratio * rate:  # NaN fails too
        why.append(f"throughput {r.throughput:.0f} < {100 * min_ratio:.0f}% of offered")
    if not r.p99_ms < p99_ms:
        why.append(f"p99 {r.p99_ms:.2f} >= {p99_ms:g} ms")
    return (not why, "; ".join(why) or "ok")


def find_max_rate(
    run: Callable[[float], StepResult],
    *,
    start: float,
    p99_ms: float,
    min_ratio: float = 0.95,
    factor: float = 2.0,
    precision: float = 0.1,
    max_steps: int = 10,
    min_rate: float = 1.0,
    on_step: Callable[[Step], None] | None = None,
) -> SearchResult:
    """Search the offered rate (see the module docstring); ``on_step`` sees each step as it ends."""
    if start <= 0 or factor <= 1 or precision <= 0 or max_steps < 1:
        raise ValueError("start > 0, factor > 1, precision > 0 and max_steps >= 1 are required")
    steps: list[Step] = []
    best: float | None = None
    low_fail: float | None = None
    rate = float(round(start))
    while len(steps) < max_steps:
        result = run(rate)
        passed, reason = judge(rate, result, p99_ms, min_ratio)
        step = Step(rate, result, passed, reason)
        steps.append(step)
        if on_step is not None:
            on_step(step)
        if passed:
            best = rate if best is None else max(best, rate)
        else:
            low_fail = rate if low_fail is None else min(low_fail, rate)
        if low_fail is None:
            nxt = rate * factor
        elif best is None:
            nxt = rate / factor
            if nxt < min_rate:
                break
        else:
            if low_fail <= best * (1 + precision):
                break
            nxt = math.sqrt(best * low_fail)
        nxt = float(max(round(nxt), min_rate))
        if any(s.rate == nxt for s in steps):  # rounding met an earlier step: nothing left to learn
            break
        rate = nxt
    return SearchResult(tuple(steps), best, low_fail)


def format_search(result: SearchResult, p99_ms: float, what: str) -> str:
    """The table of steps and the answer, as printed."""
    lines = [f"closed search: highest offered rate with p99 ({what}) < {p99_ms:g} ms",
             f"  {'step':>4} {'offered/s':>10} {'done/s':>8} {'answered':>13} {'rej':>4} "
             f"{'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9}  verdict"]
    for n, s in enumerate(result.steps, 1):
        r = s.result
        lines.append(f"  {n:>4} {s.rate:>10.0f} {r.throughput:>8.0f} {f'{r.answered}/{r.sent}':>13} {r.rejected:>4} "
                     f"{r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.p999_ms:>9.2f}  {'PASS' if s.passed else 'FAIL'} ({s.reason})")
    if result.best is None:
        lines.append(f"answer: no offered rate down to {min(s.rate for s in result.steps):.0f}/s held the bound")
    elif result.lowest_failure is None:
        lines.append(f"answer: at least {result.best:.0f} orders/s (no step failed; raise --max-steps)")
    else:
        lines.append(f"answer: {result.best:.0f} orders/s (the next step tried, {result.lowest_failure:.0f}/s, failed)")
    return "\n".join(lines)
