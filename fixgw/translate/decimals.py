"""How a decimal looks to a client: plain notation, bounded decimals, one rounding rule.

A ``Decimal`` is exact and may carry any exponent: ``Decimal("0.0000001")`` prints as ``1E-7`` and an
average price divided at 28 significant digits prints 28 digits. What a client reads is neither:

* every value is written in plain notation (no exponent) with the decimals it needs, trailing zeros
  stripped (``0.10000000`` -> ``0.1``, ``60000.00`` -> ``60000``) and zero written ``0``;
* exact values (order terms, fills, cumulative and leaves quantities: sums and differences of what the
  client and the venue sent) keep their value; beyond ``MAX_PLACES`` decimals, a bound no venue's tick
  or lot step reaches, they are rounded half-even;
* the one quotient, AvgPx (6), is rounded half-even once, from the exact notional and quantity, to
  ``AVG_PX_PLACES`` decimals, or to the instrument tick's decimals where the tick is finer.

Pure; the codec's ``format_decimal`` writes the results as they are (plain for any exponent <= 0).
"""

from __future__ import annotations

from decimal import ROUND_05UP, ROUND_HALF_EVEN, Context, Decimal
from functools import lru_cache

__all__ = [
    "MAX_PLACES",
    "AVG_PX_PLACES",
    "wire_text",
    "wire_decimal",
    "plain",
    "average_price",
    "step_places",
    "avg_px_places",
]

#: Most decimals any reported value carries (no venue's tick or lot step is finer).
MAX_PLACES = 18
#: Decimals of AvgPx (6), unless the instrument's tick is finer.
AVG_PX_PLACES = 10
_ZERO = Decimal(0)
_QUANTUM = tuple(Decimal(1).scaleb(-p) for p in range(MAX_PLACES + 1))


@lru_cache(maxsize=64)
def _context(prec: int, rounding: str) -> Context:
    return Context(prec=prec, rounding=rounding)


def _places(places: int) -> int:
    return MAX_PLACES if places >= MAX_PLACES else (places if places > 0 else 0)


#: Texts already made, per ``places``: a report repeats the same few values (zero, the order's terms), and
#: the text is a function of the value alone (equal decimals such as ``1.0`` and ``1.00`` get the same
#: text). Each cache is cleared when it reaches ``_CACHE_SIZE`` entries.
_CACHE_SIZE = 1024
_caches: tuple[dict[Decimal, bytes], ...] = tuple({} for _ in range(MAX_PLACES + 1))


def wire_text(d: Decimal, places: int = MAX_PLACES) -> bytes:
    """Return the field text of ``d``: plain notation, at most ``places`` decimals (half-even), no padding zeros.

    Zero (of any sign or exponent) is ``0``. Raise ``ValueError`` for NaN or infinity, which no report
    may carry. This is the form every decimal of a report takes on the wire.
    """
    if not 0 <= places <= MAX_PLACES:
        return _wire_text(d, places)
    cache = _caches[places]
    try:
        text = cache.get(d)
    except TypeError:  # a signalling NaN cannot be hashed
        text = None
    if text is None:
        text = _wire_text(d, places)
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        cache[d] = text
    return text


def _wire_text(d: Decimal, places: int) -> bytes:
    if not d.is_finite():
        raise ValueError(f"{d} is not a reportable number")
    text = format(d, "f")  # plain and exact: the common case needs nothing more than stripping
    point = text.find(".")
    if point >= 0:
        text = text.rstrip("0")
        if len(text) - point - 1 > places:
            places = _places(places)
            if len(text) - point - 1 > places:
                ctx = _context(max(28, d.adjusted() + places + 2), ROUND_HALF_EVEN)
                text = format(d.quantize(_QUANTUM[places], context=ctx), "f")
                if places:
                    text = text.rstrip("0")
        if text.endswith("."):
            text = text[:-1]
    if text == "-0":
        text = "0"
    return text.encode("ascii")


def wire_decimal(d: Decimal, places: int = MAX_PLACES) -> Decimal:
    """Return the value a client reads for ``d`` (``wire_text``) as a ``Decimal`` with exponent <= 0.

    It prints plainly with ``format(value, "f")``, as the codec writes it; ``str`` may still write
    ``1E-7``, so text for people goes through ``plain``.
    """
    return Decimal(wire_text(d, places).decode("ascii"))


def plain(d: Decimal, places: int = MAX_PLACES) -> str:
    """Return ``d`` as a client reads it in a field or in Text (58): ``wire_text`` as ``str``."""
    return wire_text(d, places).decode("ascii")


def average_price(notional: Decimal, quantity: Decimal, places: int = AVG_PX_PLACES) -> Decimal:
    """Return ``notional / quantity`` rounded half-even to ``places`` decimals, rounded once; 0 for no quantity.

    The quotient is first cut to two digits past ``places`` with ROUND_05UP, which keeps the information
    a half-even rounding needs (whether the rest was zero), so the result is the correctly rounded
    exact quotient whatever the operands' digits.
    """
    if not quantity:
        return _ZERO
    if not (notional.is_finite() and quantity.is_finite()):
        raise ValueError("average of a non-finite amount")
    if not notional:
        return _ZERO
    places = _places(places)
    # The quotient's leading digit is at 10**(na - qa) or one below; keep digits to 10**-(places + 2).
    prec = notional.adjusted() - quantity.adjusted() + places + 3
    if prec < 1:
        return _ZERO  # below 10**-(places + 2): rounds to zero
    q = _context(prec, ROUND_05UP).divide(notional, quantity)
    return q.quantize(_QUANTUM[places], context=_context(max(28, q.adjusted() + places + 2), ROUND_HALF_EVEN))


def step_places(step: Decimal | None) -> int | None:
    """Return the decimals a tick or lot step has (``0.01000000`` -> 2, ``1`` -> 0); ``None`` when unknown."""
    if step is None or not step.is_finite() or step <= 0:
        return None
    exp = step.normalize().as_tuple().exponent
    return max(0, -int(exp))  # type: ignore[arg-type]


def avg_px_places(tick_size: Decimal | None) -> int:
    """Return the decimals AvgPx gets on an instrument with ``tick_size``: 10, or the tick's when finer."""
    tick = step_places(tick_size)
    return min(MAX_PLACES, max(AVG_PX_PLACES, tick or 0))
