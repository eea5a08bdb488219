"""Client symbol spelling <-> the normalized ``BASE/QUOTE`` symbol of the venue port.

Clients use one configured convention (``{base}/{quote}`` by default, so ``BTC/USDT``); each venue adapter
maps the normalized symbol to its own spelling from its instrument list. This map is built from that same
list, so no symbol is ever written into code. It also keeps each instrument's tick size, which bounds
the decimals of its reported average price (``decimals.avg_px_places``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable, Mapping

from .decimals import AVG_PX_PLACES, avg_px_places

__all__ = ["SymbolMap"]


class SymbolMap:
    """Two-way map between client symbols and normalized symbols."""

    __slots__ = ("_to_norm", "_to_client", "_avg_px_places")

    def __init__(self, instruments: Iterable[tuple[str, str, str]], symbol_format: str = "{base}/{quote}",
                 *, tick_sizes: Mapping[str, Decimal | None] | None = None) -> None:
        """``instruments`` yields ``(normalized_symbol, base, quote)``; ``tick_sizes`` by normalized symbol."""
        self._to_norm: dict[str, str] = {}
        self._to_client: dict[str, str] = {}
        for norm, base, quote in instruments:
            client = symbol_format.format(base=base, quote=quote)
            self._to_norm[client] = norm
            self._to_client[norm] = client
        self._avg_px_places = {norm: avg_px_places(tick) for norm, tick in (tick_sizes or {}).items()}

    def avg_px_places(self, normalized_symbol: str) -> int:
        """Return the decimals of AvgPx (6) on an instrument (10 unless its tick is finer)."""
        return self._avg_px_places.get(normalized_symbol, AVG_PX_PLACES)

    def normalized(self, client_symbol: str) -> str | None:
        """Return the normalized symbol, or ``None`` when the venue lists no such instrument."""
        return self._to_norm.get(client_symbol)

    def client(self, normalized_symbol: str) -> str:
        """Return the client spelling (the normalized one when the instrument is not listed)."""
        return self._to_client.get(normalized_symbol, normalized_symbol)

    def __contains__(self, client_symbol: object) -> bool:
        return client_symbol in self._to_norm

    def __len__(self) -> int:
        return len(self._to_norm)
