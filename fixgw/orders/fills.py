"""The one de-duplication key of a fill.

A venue numbers its trades per symbol, so a trade id alone can repeat across symbols. ``fill_key``
makes the key both places drop a repeated fill by: the venue adapters' tracker, before an event is
published, and ``Order.apply``, which keeps it as the ``OrderFilled.trade_id`` it has applied (and
the journal with it, so the key is also a journal format: do not change its spelling).
"""

from __future__ import annotations

__all__ = ["fill_key"]


def fill_key(symbol: str, trade_id: str) -> str:
    """Return the key of trade ``trade_id`` on normalised ``symbol`` (``"BTC/USDT:12345"``)."""
    return f"{symbol}:{trade_id}"
